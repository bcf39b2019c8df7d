package registry

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Subject is what a run over the registry needs of one person: the record
// the rules engine reads and the registered address's OKTMO.
type Subject struct {
	Record *facts.Record
	OKTMO  string
}

// MaxRecordsBatch bounds Records' batch: its statements list the ids.
const MaxRecordsBatch = 2000

// Records loads the records of many persons as of a date — each with its
// relatives then and their current facts, and their incomes of the months
// from..to inclusive (only what the run reads: a month is a row a person) — in four
// statements for the whole batch, in the order of ids (an unknown id gets
// a record without its person). Sealed columns are not read; nothing is
// audited: it is for runs over the registry (simulations, benchmarks)
// whose results carry no personal data.
func (s *Service) Records(ctx context.Context, ids []uuid.UUID, asOf civil.Date, from, to facts.Month) ([]Subject, error) {
	return s.records(ctx, ids, asOf, from, to, false)
}

// RecordsPage is Records for a page of IDs: ids consecutive in the
// region's id order. The page's own rows are read by ranges of the indexes
// rather than by thousands of look-ups; only relatives outside the page
// are looked up by id (families are mostly registered together, so few).
func (s *Service) RecordsPage(ctx context.Context, ids []uuid.UUID, asOf civil.Date, from, to facts.Month) ([]Subject, error) {
	return s.records(ctx, ids, asOf, from, to, true)
}

func (s *Service) records(ctx context.Context, ids []uuid.UUID, asOf civil.Date, from, to facts.Month, page bool) ([]Subject, error) {
	if len(ids) > MaxRecordsBatch {
		ids = ids[:MaxRecordsBatch]
	}
	var (
		rels    []facts.Relation
		persons = map[uuid.UUID]facts.Person{}
		oktmo   = map[uuid.UUID]string{}
		incomes []facts.Income
		dis     []facts.Disability
		cats    []facts.Category
	)
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// An id list is one uuid[] parameter on PostgreSQL (thousands of
	// parameters cost more to bind and plan than the look-ups), an IN list
	// on SQLite.
	body := func(q querier, in string) error {
		// The page's persons: a range of ids, or the list.
		lo, hi := ids[0], ids[len(ids)-1]
		subj := func(col string) (string, []any) {
			if page {
				return col + " BETWEEN ? AND ?", []any{lo, hi}
			}
			return col + " " + in, []any{ids}
		}
		const cols = "person_id, relative_id, kind, valid_from, valid_to"
		const when = " AND superseded_at IS NULL AND valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)"
		sp, spArgs := subj("person_id")
		sr, srArgs := subj("relative_id")
		args := append(append([]any{tid}, spArgs...), asOf, asOf, tid)
		args = append(append(append(args, srArgs...), spArgs...), asOf, asOf)
		rrow, err := q("SELECT "+cols+" FROM relations WHERE tenant_id = ? AND "+sp+when+
			" UNION ALL SELECT "+cols+" FROM relations WHERE tenant_id = ? AND "+sr+" AND NOT "+sp+when, args...)
		if err != nil {
			return err
		}
		defer rrow.Close()
		inPage := func(x uuid.UUID) bool {
			return page && bytes.Compare(x[:], lo[:]) >= 0 && bytes.Compare(x[:], hi[:]) <= 0
		}
		all := slices.Clone(ids)
		var outside []uuid.UUID // relatives the page's range does not cover
		seen := make(map[uuid.UUID]bool, len(ids)*3)
		for _, id := range ids {
			seen[id] = true
		}
		for rrow.Next() {
			var r facts.Relation
			if err := rrow.Scan(&r.PersonID, &r.RelativeID, &r.Kind, &r.ValidFrom, &r.ValidTo); err != nil {
				return err
			}
			rels = append(rels, r)
			for _, x := range []uuid.UUID{r.PersonID, r.RelativeID} {
				if !seen[x] {
					seen[x] = true
					all = append(all, x)
					if !inPage(x) {
						outside = append(outside, x)
					}
				}
			}
		}
		if err := rrow.Err(); err != nil {
			return err
		}
		// Everyone whose facts the records need: the page (or the list) and
		// the relatives outside it.
		whose := func(col string) (string, []any) {
			if !page {
				return col + " " + in, []any{all}
			}
			c, a := subj(col)
			if len(outside) == 0 {
				return c, a
			}
			return "(" + c + " OR " + col + " " + in + ")", append(a, outside)
		}
		pc, pArgs := whose("id")
		prow, err := q("SELECT id, birth_date, death_date, sex, address_oktmo FROM persons WHERE tenant_id = ? AND "+pc, append([]any{tid}, pArgs...)...)
		if err != nil {
			return err
		}
		defer prow.Close()
		for prow.Next() {
			var p facts.Person
			var o string
			if err := prow.Scan(&p.ID, &p.BirthDate, &p.DeathDate, &p.Sex, &o); err != nil {
				return err
			}
			persons[p.ID], oktmo[p.ID] = p, o
		}
		if err := prow.Err(); err != nil {
			return err
		}
		ic, iArgs := whose("person_id")
		irow, err := q("SELECT person_id, month, kind, amount_kopecks FROM incomes WHERE tenant_id = ? AND "+ic+" AND superseded_at IS NULL AND month >= ? AND month <= ?",
			append(append([]any{tid}, iArgs...), from.String(), to.String())...)
		if err != nil {
			return err
		}
		defer irow.Close()
		kinds := map[string]string{} // one string per kind for the whole page
		for irow.Next() {
			var in facts.Income
			if raw, ok := rawIncome(irow); ok {
				// A page reads tens of thousands of incomes: decoded from
				// pgx's binary values without an allocation a row.
				if in, err = incomeFromRaw(raw, kinds); err != nil {
					return err
				}
				incomes = append(incomes, in)
				continue
			}
			var month string
			if err := irow.Scan(&in.PersonID, &month, &in.Kind, &in.AmountKopecks); err != nil {
				return err
			}
			if in.Month, err = facts.ParseMonth(month); err != nil {
				return err
			}
			incomes = append(incomes, in)
		}
		if err := irow.Err(); err != nil {
			return err
		}
		sc, sArgs := whose("person_id")
		ds, cs, err := statusesQ(q, tid, sc, sArgs)
		for _, d := range ds {
			dis = append(dis, facts.Disability{PersonID: d.PersonID, Group: d.Group, ValidFrom: d.ValidFrom, ValidTo: d.ValidTo})
		}
		for _, c := range cs {
			cats = append(cats, facts.Category{PersonID: c.PersonID, Code: c.Code, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo})
		}
		return err
	}
	var err error
	if s.db.Dialector.Name() == "postgres" {
		err = s.onPgx(ctx, tid, func(q querier) error { return body(q, "= ANY(?)") })
	} else {
		err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error { return body(gormQuerier(tx), "IN ?") })
	}
	if err != nil {
		return nil, err
	}
	return assembleRecords(ids, rels, persons, oktmo, incomes, dis, cats), nil
}

// rawIncome gives an income row's binary values when pgx read it: person
// id (16 bytes), month (text), kind (text), amount (8 bytes, big-endian).
func rawIncome(r rows) ([][]byte, bool) {
	pr, ok := r.(pgx.Rows)
	if !ok {
		return nil, false
	}
	fds := pr.FieldDescriptions()
	if len(fds) != 4 || fds[0].Format != pgx.BinaryFormatCode || fds[3].Format != pgx.BinaryFormatCode {
		return nil, false
	}
	return pr.RawValues(), true
}

// incomeFromRaw decodes rawIncome's values; kinds interns the kind codes.
func incomeFromRaw(raw [][]byte, kinds map[string]string) (facts.Income, error) {
	var in facts.Income
	if len(raw) != 4 || len(raw[0]) != 16 || len(raw[3]) != 8 {
		return in, errors.New("registry: an income row of unexpected shape")
	}
	copy(in.PersonID[:], raw[0])
	m, err := facts.ParseMonth(string(raw[1]))
	if err != nil {
		return in, err
	}
	in.Month = m
	kind, ok := kinds[string(raw[2])]
	if !ok {
		kind = string(raw[2])
		kinds[kind] = kind
	}
	in.Kind = kind
	in.AmountKopecks = int64(binary.BigEndian.Uint64(raw[3]))
	return in, nil
}

// rows are a query's answer, from database/sql or from pgx.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// querier runs a query with ? placeholders.
type querier func(query string, args ...any) (rows, error)

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

func gormQuerier(tx *gorm.DB) querier {
	return func(query string, args ...any) (rows, error) {
		r, err := tx.Raw(query, args...).Rows()
		if err != nil {
			return nil, err
		}
		return sqlRows{r}, nil
	}
}

// onPgx runs fn in a read-only transaction of the region on a pgx
// connection of the pool: rows decoded by pgx itself, ids as 16 bytes,
// rather than through database/sql as text.
func (s *Service) onPgx(ctx context.Context, tid uuid.UUID, fn func(querier) error) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("registry: not a pgx connection")
		}
		return pgx.BeginTxFunc(ctx, c.Conn(), pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			// No parallel workers: a page's statements read a few thousand
			// rows each in about a millisecond, and starting workers for them
			// (which the planner likes on these tables) takes several.
			if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true), set_config('max_parallel_workers_per_gather', '0', true)", tid.String()); err != nil {
				return err
			}
			return fn(func(query string, args ...any) (rows, error) { return tx.Query(ctx, dollars(query), args...) })
		})
	})
}

// dollars numbers a query's ? placeholders as PostgreSQL's $1, $2, ….
func dollars(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// assembleRecords cuts a batch's facts into each subject's record.
func assembleRecords(ids []uuid.UUID, rels []facts.Relation, persons map[uuid.UUID]facts.Person, oktmo map[uuid.UUID]string,
	incomes []facts.Income, dis []facts.Disability, cats []facts.Category) []Subject {
	relsOf := map[uuid.UUID][]facts.Relation{}
	for _, r := range rels {
		relsOf[r.PersonID] = append(relsOf[r.PersonID], r)
		if r.RelativeID != r.PersonID {
			relsOf[r.RelativeID] = append(relsOf[r.RelativeID], r)
		}
	}
	// A page has tens of thousands of incomes, mostly read in person order
	// already: each person's are a run of the one slice, not a copy.
	byPerson := func(a, b facts.Income) int { return bytes.Compare(a.PersonID[:], b.PersonID[:]) }
	if !slices.IsSortedFunc(incomes, byPerson) {
		slices.SortStableFunc(incomes, byPerson)
	}
	incomesOf := make(map[uuid.UUID][]facts.Income, len(ids))
	for i := 0; i < len(incomes); {
		j := i + 1
		for j < len(incomes) && incomes[j].PersonID == incomes[i].PersonID {
			j++
		}
		incomesOf[incomes[i].PersonID] = incomes[i:j:j]
		i = j
	}
	disOf := map[uuid.UUID][]facts.Disability{}
	for _, d := range dis {
		disOf[d.PersonID] = append(disOf[d.PersonID], d)
	}
	catsOf := map[uuid.UUID][]facts.Category{}
	for _, c := range cats {
		catsOf[c.PersonID] = append(catsOf[c.PersonID], c)
	}
	out := make([]Subject, len(ids))
	for i, id := range ids {
		rec := &facts.Record{Subject: id, Persons: make(map[uuid.UUID]facts.Person, 1+len(relsOf[id]))}
		members := []uuid.UUID{id}
		for _, r := range relsOf[id] {
			rec.Relations = append(rec.Relations, r)
			other := r.RelativeID
			if other == id {
				other = r.PersonID
			}
			if !slices.Contains(members, other) {
				members = append(members, other)
			}
		}
		// A record is only read: a person alone shares the batch's slices;
		// a household's are joined once, at their full size.
		if len(members) == 1 {
			rec.Incomes, rec.Disabilities, rec.Categories = incomesOf[id], disOf[id], catsOf[id]
		} else {
			n := 0
			for _, m := range members {
				n += len(incomesOf[m])
			}
			rec.Incomes = make([]facts.Income, 0, n)
			for _, m := range members {
				rec.Incomes = append(rec.Incomes, incomesOf[m]...)
				rec.Disabilities = append(rec.Disabilities, disOf[m]...)
				rec.Categories = append(rec.Categories, catsOf[m]...)
			}
		}
		for _, m := range members {
			if p, ok := persons[m]; ok {
				rec.Persons[m] = p
			}
		}
		out[i] = Subject{Record: rec, OKTMO: oktmo[id]}
	}
	return out
}
