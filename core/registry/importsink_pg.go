package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// sink picks the writer: the COPY protocol on PostgreSQL, GORM on SQLite.
func (s *Service) sink(ctx context.Context) (sink, error) {
	if s.db.Dialector.Name() == "postgres" {
		return newPGSink(ctx, s.db)
	}
	return gormSink{s.db}, nil
}

// pgSink holds one connection for the whole import and writes each batch
// with COPY into session-local staging tables, then INSERT … SELECT into
// the registry's tables: PostgreSQL refuses COPY FROM into a table with
// row-level security, and the INSERT keeps its policies in force.
type pgSink struct {
	conn   *sql.Conn
	tenant uuid.UUID
}

func newPGSink(ctx context.Context, db *gorm.DB) (*pgSink, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	ok = false
	_ = conn.Raw(func(dc any) error { _, ok = dc.(*stdlib.Conn); return nil })
	if !ok {
		_ = conn.Close()
		return nil, errors.New("registry: not a pgx connection")
	}
	return &pgSink{conn: conn, tenant: tid}, nil
}

func (s *pgSink) close() { _ = s.conn.Close() }

func (s *pgSink) tx(ctx context.Context, fn func(sinkTx) error) error {
	return s.conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", s.tenant.String()); err != nil {
				return err
			}
			return fn(&pgTx{tx: tx, tenant: s.tenant, staged: map[string]bool{}})
		})
	})
}

type pgTx struct {
	tx     pgx.Tx
	tenant uuid.UUID
	staged map[string]bool
}

const personCols = "tenant_id, id, snils_index, snils_enc, family_name, name_key, first_name, patronymic, birth_date, sex, citizenship, " +
	"death_date, address_oktmo, address_text, document_enc, contacts_enc, bank_enc, origin, merged_into, version, created_at, updated_at"

func (t *pgTx) persons(ctx context.Context, idx [][]byte) ([]personRow, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(ctx, "SELECT "+personCols+" FROM persons WHERE tenant_id = $1 AND snils_index = ANY($2)", t.tenant, idx)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanPersonRow)
}

// scanPersonRow reads a row of personCols.
func scanPersonRow(r pgx.CollectableRow) (personRow, error) {
	var p personRow
	err := r.Scan(&p.TenantID, &p.ID, &p.SNILSIndex, &p.SNILSEnc, &p.FamilyName, &p.NameKey, &p.FirstName, &p.Patronymic, &p.BirthDate,
		&p.Sex, &p.Citizenship, &p.DeathDate, &p.AddressOKTMO, &p.AddressText, &p.DocumentEnc, &p.ContactsEnc, &p.BankEnc,
		&p.Origin, &p.MergedInto, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

func currentPG[T any](ctx context.Context, t *pgTx, table, cols string, ids []uuid.UUID, scan func(pgx.CollectableRow) (T, error)) ([]T, error) {
	rows, err := t.tx.Query(ctx, "SELECT "+cols+" FROM "+table+" WHERE tenant_id = $1 AND person_id = ANY($2) AND superseded_at IS NULL", t.tenant, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

func (t *pgTx) relationsOf(ctx context.Context, ids []uuid.UUID) ([]Relation, error) {
	return currentPG(ctx, t, "relations", "id, person_id, relative_id, kind, valid_from, valid_to", ids, func(r pgx.CollectableRow) (Relation, error) {
		var x Relation
		return x, r.Scan(&x.ID, &x.PersonID, &x.RelativeID, &x.Kind, &x.ValidFrom, &x.ValidTo)
	})
}

func (t *pgTx) incomesOf(ctx context.Context, ids []uuid.UUID) ([]Income, error) {
	return currentPG(ctx, t, "incomes", "id, person_id, month, kind, amount_kopecks, source", ids, func(r pgx.CollectableRow) (Income, error) {
		var x Income
		return x, r.Scan(&x.ID, &x.PersonID, &x.Month, &x.Kind, &x.AmountKopecks, &x.Source)
	})
}

func (t *pgTx) disabilitiesOf(ctx context.Context, ids []uuid.UUID) ([]Disability, error) {
	return currentPG(ctx, t, "disabilities", "id, person_id, disability_group, valid_from, valid_to", ids, func(r pgx.CollectableRow) (Disability, error) {
		var x Disability
		var g int16
		err := r.Scan(&x.ID, &x.PersonID, &g, &x.ValidFrom, &x.ValidTo)
		x.Group = int(g)
		return x, err
	})
}

func (t *pgTx) categoriesOf(ctx context.Context, ids []uuid.UUID) ([]Category, error) {
	return currentPG(ctx, t, "person_categories", "id, person_id, code, valid_from, valid_to", ids, func(r pgx.CollectableRow) (Category, error) {
		var x Category
		return x, r.Scan(&x.ID, &x.PersonID, &x.Code, &x.ValidFrom, &x.ValidTo)
	})
}

func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

func pgUUIDPtr(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return pgUUID(*id)
}

func pgDate(d civil.Date) pgtype.Date { return pgtype.Date{Time: d.Time(), Valid: !d.IsZero()} }

func pgDatePtr(d *civil.Date) any {
	if d == nil {
		return nil
	}
	return pgDate(*d)
}

func bytesOrNil(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// copyInsert stages rows with COPY and moves them into table.
func (t *pgTx) copyInsert(ctx context.Context, table string, cols []string, n int, row func(i int) []any) error {
	if n == 0 {
		return nil
	}
	stage := "st_" + table
	if !t.staged[table] {
		// Session-local and emptied at every commit; created once per connection.
		if _, err := t.tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+" (LIKE "+table+") ON COMMIT DELETE ROWS"); err != nil {
			return err
		}
		t.staged[table] = true
	}
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{stage}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) { return row(i), nil })); err != nil {
		return fmt.Errorf("staging %s: %w", table, err)
	}
	list := strings.Join(cols, ", ")
	if _, err := t.tx.Exec(ctx, "INSERT INTO "+table+" ("+list+") SELECT "+list+" FROM "+stage); err != nil {
		return fmt.Errorf("storing %s: %w", table, err)
	}
	// The staging table is emptied at commit; an all_or_nothing import
	// stages many batches in one transaction.
	_, err := t.tx.Exec(ctx, "DELETE FROM "+stage)
	return err
}

func (t *pgTx) write(ctx context.Context, w *writes) error {
	tid := pgUUID(t.tenant)
	ps := w.persons
	if err := t.copyInsert(ctx, "persons", strings.Split(strings.ReplaceAll(personCols, " ", ""), ","), len(ps), func(i int) []any {
		p := &ps[i]
		return []any{tid, pgUUID(p.ID), p.SNILSIndex, p.SNILSEnc, p.FamilyName, p.NameKey, p.FirstName, p.Patronymic, pgDate(p.BirthDate),
			p.Sex, p.Citizenship, pgDatePtr(p.DeathDate), p.AddressOKTMO, p.AddressText, bytesOrNil(p.DocumentEnc),
			bytesOrNil(p.ContactsEnc), bytesOrNil(p.BankEnc), string(p.Origin), pgUUIDPtr(p.MergedInto), p.Version, p.CreatedAt, p.UpdatedAt}
	}); err != nil {
		return err
	}
	hs := w.history
	if err := t.copyInsert(ctx, "person_history", []string{"tenant_id", "id", "person_id", "version", "data_enc", "changed_by", "changed_at", "reason"}, len(hs), func(i int) []any {
		h := &hs[i]
		return []any{tid, pgUUID(h.ID), pgUUID(h.PersonID), h.Version, h.DataEnc, pgUUIDPtr(h.ChangedBy), h.ChangedAt, h.Reason}
	}); err != nil {
		return err
	}
	for _, r := range w.updates {
		if _, err := t.tx.Exec(ctx, `UPDATE persons SET snils_enc = $3, family_name = $4, first_name = $5, patronymic = $6,
			birth_date = $7, sex = $8, citizenship = $9, death_date = $10, address_oktmo = $11, address_text = $12,
			document_enc = $13, contacts_enc = $14, bank_enc = $15, version = $16, updated_at = $17, name_key = $18
			WHERE tenant_id = $1 AND id = $2 AND version = $16 - 1`,
			tid, pgUUID(r.ID), r.SNILSEnc, r.FamilyName, r.FirstName, r.Patronymic, pgDate(r.BirthDate), r.Sex, r.Citizenship,
			pgDatePtr(r.DeathDate), r.AddressOKTMO, r.AddressText, bytesOrNil(r.DocumentEnc), bytesOrNil(r.ContactsEnc),
			bytesOrNil(r.BankEnc), r.Version, r.UpdatedAt, r.NameKey); err != nil {
			return err
		}
	}
	for table, ids := range w.supersede {
		if _, err := t.tx.Exec(ctx, "UPDATE "+table+" SET superseded_at = $1 WHERE tenant_id = $2 AND id = ANY($3)", w.now, tid, ids); err != nil {
			return err
		}
	}
	rs := w.relations
	if err := t.copyInsert(ctx, "relations", []string{"tenant_id", "id", "person_id", "relative_id", "kind", "valid_from", "valid_to", "origin", "recorded_at"}, len(rs), func(i int) []any {
		r := &rs[i]
		return []any{tid, pgUUID(r.ID), pgUUID(r.PersonID), pgUUID(r.RelativeID), r.Kind, pgDate(r.ValidFrom), pgDatePtr(r.ValidTo), string(r.Origin), r.RecordedAt}
	}); err != nil {
		return err
	}
	is := w.incomes
	if err := t.copyInsert(ctx, "incomes", []string{"tenant_id", "id", "person_id", "month", "kind", "amount_kopecks", "source", "origin", "recorded_at"}, len(is), func(i int) []any {
		r := &is[i]
		return []any{tid, pgUUID(r.ID), pgUUID(r.PersonID), r.Month, r.Kind, r.AmountKopecks, r.Source, string(r.Origin), r.RecordedAt}
	}); err != nil {
		return err
	}
	ds := w.disabilities
	if err := t.copyInsert(ctx, "disabilities", []string{"tenant_id", "id", "person_id", "disability_group", "valid_from", "valid_to", "origin", "recorded_at"}, len(ds), func(i int) []any {
		r := &ds[i]
		return []any{tid, pgUUID(r.ID), pgUUID(r.PersonID), int16(r.Group), pgDate(r.ValidFrom), pgDatePtr(r.ValidTo), string(r.Origin), r.RecordedAt}
	}); err != nil {
		return err
	}
	cs := w.categories
	if err := t.copyInsert(ctx, "person_categories", []string{"tenant_id", "id", "person_id", "code", "valid_from", "valid_to", "origin", "recorded_at"}, len(cs), func(i int) []any {
		r := &cs[i]
		return []any{tid, pgUUID(r.ID), pgUUID(r.PersonID), r.Code, pgDate(r.ValidFrom), pgDatePtr(r.ValidTo), string(r.Origin), r.RecordedAt}
	}); err != nil {
		return err
	}
	es := w.errors
	if err := t.copyInsert(ctx, "import_errors", []string{"tenant_id", "import_id", "seq", "line", "location", "message"}, len(es), func(i int) []any {
		r := &es[i]
		return []any{tid, pgUUID(r.ImportID), r.Seq, r.Line, r.Location, r.Message}
	}); err != nil {
		return err
	}
	if w.audit != nil {
		vals, err := audit.PendingValues(ctx, *w.audit)
		if err != nil {
			return err
		}
		ph := make([]string, len(vals))
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+1)
		}
		if _, err := t.tx.Exec(ctx, "INSERT INTO audit_pending ("+strings.Join(audit.PendingColumns, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", vals...); err != nil {
			return fmt.Errorf("audit: writing the record: %w", err)
		}
	}
	p := w.progress
	_, err := t.tx.Exec(ctx, `UPDATE imports SET lines = $3, imported = $4, unchanged = $5, rejected = $6, bytes_done = $7,
		lease_until = $8 WHERE tenant_id = $1 AND id = $2`,
		tid, pgUUID(w.importID), p.Lines, p.Imported, p.Unchanged, p.Rejected, p.Bytes, time.Now().UTC().Add(w.lease))
	return err
}

func (t *pgTx) analyze(ctx context.Context) error {
	_, err := t.tx.Exec(ctx, "SELECT registry_analyze()")
	return err
}
