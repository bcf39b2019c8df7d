package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// The statements of a card on PostgreSQL. Parameters: $1 the region, $2
// the subject, $3 the card's date; every statement finds the subject's
// relatives itself, so none waits for another's answer.
const (
	cardCurrent = "superseded_at IS NULL AND valid_from <= $3 AND (valid_to IS NULL OR valid_to >= $3)"

	cardRelationCols = "id, person_id, relative_id, kind, valid_from, valid_to, origin, recorded_at"

	cardRelationsPG = "SELECT " + cardRelationCols + " FROM relations WHERE tenant_id = $1 AND person_id = $2 AND " + cardCurrent +
		" UNION ALL SELECT " + cardRelationCols + " FROM relations WHERE tenant_id = $1 AND relative_id = $2 AND person_id <> $2 AND " + cardCurrent +
		" ORDER BY valid_from, id"

	// cardPersonsPG is the subject and everyone related to it at $3.
	cardPersonsPG = "SELECT $2::uuid UNION SELECT relative_id FROM relations WHERE tenant_id = $1 AND person_id = $2 AND " + cardCurrent +
		" UNION SELECT person_id FROM relations WHERE tenant_id = $1 AND relative_id = $2 AND " + cardCurrent

	cardPersonRowsPG = "SELECT " + personCols + " FROM persons WHERE tenant_id = $1 AND id IN (" + cardPersonsPG + ")"

	// $4 and $5: the first and last months of the income window.
	cardIncomesPG = "SELECT id, person_id, month, kind, amount_kopecks, source, origin, recorded_at FROM incomes " +
		"WHERE tenant_id = $1 AND person_id IN (" + cardPersonsPG + ") AND superseded_at IS NULL AND month >= $4 AND month <= $5 " +
		"ORDER BY person_id, month, kind, source"

	cardStatusesPG = "SELECT 'd', id, person_id, disability_group, '', valid_from, valid_to, origin, recorded_at FROM disabilities " +
		"WHERE tenant_id = $1 AND person_id IN (" + cardPersonsPG + ") AND superseded_at IS NULL " +
		"UNION ALL SELECT 'c', id, person_id, 0, code, valid_from, valid_to, origin, recorded_at FROM person_categories " +
		"WHERE tenant_id = $1 AND person_id IN (" + cardPersonsPG + ") AND superseded_at IS NULL ORDER BY 3, 6, 5"
)

// cardAuditPG appends the read's record when the subject exists: its
// parameters are the record's, then the region and the subject.
var cardAuditPG = audit.PendingInsertPG(fmt.Sprintf("persons WHERE tenant_id = $%d AND id = $%d", len(audit.PendingColumns)+1, len(audit.PendingColumns)+2))

// loadCardPG is loadCard on PostgreSQL: the tenant setting, the reads and
// the audit record go in one pipeline ended by a single Sync, which
// PostgreSQL runs as one implicit transaction — committed whole, or on any
// error (the audit record's included) rolled back whole with nothing
// returned. Eight round trips of a GORM transaction become one, which is
// most of what a card costs the database.
func (s *Service) loadCardPG(ctx context.Context, id uuid.UUID, asOf civil.Date, a audit.Record) (loaded, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return loaded{}, tenancy.ErrNoTenant
	}
	vals, err := audit.PendingValues(ctx, a)
	if err != nil {
		return loaded{}, err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return loaded{}, err
	}
	if s.cardGate != nil {
		select {
		case s.cardGate <- struct{}{}:
			defer func() { <-s.cardGate }()
		case <-ctx.Done():
			return loaded{}, ctx.Err()
		}
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return loaded{}, err
	}
	defer conn.Close()
	var l loaded
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("registry: not a pgx connection")
		}
		from, to := facts.MonthOf(asOf).Add(-IncomeWindowMonths), facts.MonthOf(asOf)
		b := &pgx.Batch{}
		b.Queue("SELECT set_config('app.tenant_id', $1, true)", tid.String())
		b.Queue(cardRelationsPG, tid, id, asOf)
		b.Queue(cardPersonRowsPG, tid, id, asOf)
		b.Queue(cardIncomesPG, tid, id, asOf, from.String(), to.String())
		b.Queue(cardStatusesPG, tid, id, asOf)
		b.Queue(cardAuditPG, append(vals, tid, id)...)
		br := c.Conn().SendBatch(ctx, b)
		err := l.readCardBatch(br, tid)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return loaded{}, err
	}
	if _, ok := l.persons[id]; !ok {
		return loaded{}, notFound(id)
	}
	audit.Appended(s.db, tid)
	return l, nil
}

// readCardBatch reads the answers of loadCardPG's pipeline in its order.
func (l *loaded) readCardBatch(br pgx.BatchResults, tid uuid.UUID) error {
	if _, err := br.Exec(); err != nil {
		return err
	}
	var err error
	if l.relations, err = collect(br, func(r pgx.CollectableRow) (Relation, error) {
		x := Relation{TenantID: tid}
		return x, r.Scan(&x.ID, &x.PersonID, &x.RelativeID, &x.Kind, &x.ValidFrom, &x.ValidTo, &x.Origin, &x.RecordedAt)
	}); err != nil {
		return err
	}
	persons, err := collect(br, scanPersonRow)
	if err != nil {
		return err
	}
	l.persons = make(map[uuid.UUID]personRow, len(persons))
	for _, p := range persons {
		l.persons[p.ID] = p
	}
	if l.incomes, err = collect(br, func(r pgx.CollectableRow) (Income, error) {
		x := Income{TenantID: tid}
		return x, r.Scan(&x.ID, &x.PersonID, &x.Month, &x.Kind, &x.AmountKopecks, &x.Source, &x.Origin, &x.RecordedAt)
	}); err != nil {
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	if l.disabilities, l.categories, err = scanStatuses(rows, tid); err != nil {
		return err
	}
	_, err = br.Exec()
	return err
}

func collect[T any](br pgx.BatchResults, scan func(pgx.CollectableRow) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

// cardGateFor is the admission of card reads to a pool: database/sql hands
// a freed connection to a random waiter, so under load some requests wait
// turn after turn (p99 was 2.5 × p50); goroutines blocked sending on a
// channel are let through in arrival order. Half the pool: the rest stays
// for writes and the audit chainer, and fewer busy backends contend less
// for the database's CPUs. Nil (no gate) for an unbounded pool.
func cardGateFor(db *gorm.DB) chan struct{} {
	sqlDB, err := db.DB()
	if err != nil {
		return nil
	}
	n := sqlDB.Stats().MaxOpenConnections
	if n <= 0 {
		return nil
	}
	return make(chan struct{}, max(1, n/2))
}
