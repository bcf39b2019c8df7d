package registry

import (
	"bytes"
	"context"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
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
// relatives then and their current facts, and incomes of the given number
// of months before the date's month (and of the month itself) — in four
// statements for the whole batch, in the order of ids (an unknown id gets
// a record without its person). Sealed columns are not read; nothing is
// audited: it is for runs over the registry (simulations, benchmarks)
// whose results carry no personal data.
func (s *Service) Records(ctx context.Context, ids []uuid.UUID, asOf civil.Date, months int) ([]Subject, error) {
	return s.records(ctx, ids, asOf, months, false)
}

// RecordsPage is Records for a page of IDs: ids consecutive in the
// region's id order. The page's own rows are read by ranges of the indexes
// rather than by thousands of look-ups; only relatives outside the page
// are looked up by id (families are mostly registered together, so few).
func (s *Service) RecordsPage(ctx context.Context, ids []uuid.UUID, asOf civil.Date, months int) ([]Subject, error) {
	return s.records(ctx, ids, asOf, months, true)
}

func (s *Service) records(ctx context.Context, ids []uuid.UUID, asOf civil.Date, months int, page bool) ([]Subject, error) {
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
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if len(ids) == 0 {
			return nil
		}
		// An id list is one array parameter on PostgreSQL (thousands of
		// parameters cost more to bind and plan than the look-ups), an IN
		// list on SQLite.
		in, list := "IN ?", func(ids []uuid.UUID) any { return ids }
		if tx.Dialector.Name() == "postgres" {
			in, list = "= ANY(?)", func(ids []uuid.UUID) any { return pgIDs{ids} }
		}
		// The page's persons: a range of ids, or the list.
		lo, hi := ids[0], ids[len(ids)-1]
		subj := func(col string) (string, []any) {
			if page {
				return col + " BETWEEN ? AND ?", []any{lo, hi}
			}
			return col + " " + in, []any{list(ids)}
		}
		const cols = "person_id, relative_id, kind, valid_from, valid_to"
		const when = " AND superseded_at IS NULL AND valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)"
		sp, spArgs := subj("person_id")
		sr, srArgs := subj("relative_id")
		args := append(append([]any{tid}, spArgs...), asOf, asOf, tid)
		args = append(append(append(args, srArgs...), spArgs...), asOf, asOf)
		rrow, err := tx.Raw("SELECT "+cols+" FROM relations WHERE tenant_id = ? AND "+sp+when+
			" UNION ALL SELECT "+cols+" FROM relations WHERE tenant_id = ? AND "+sr+" AND NOT "+sp+when, args...).Rows()
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
				return col + " " + in, []any{list(all)}
			}
			c, a := subj(col)
			if len(outside) == 0 {
				return c, a
			}
			return "(" + c + " OR " + col + " " + in + ")", append(a, list(outside))
		}
		pc, pArgs := whose("id")
		prow, err := tx.Raw("SELECT id, birth_date, death_date, sex, address_oktmo FROM persons WHERE tenant_id = ? AND "+pc, append([]any{tid}, pArgs...)...).Rows()
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
		irow, err := tx.Raw("SELECT person_id, month, kind, amount_kopecks FROM incomes WHERE tenant_id = ? AND "+ic+" AND superseded_at IS NULL AND month >= ? AND month <= ?",
			append(append([]any{tid}, iArgs...), facts.MonthOf(asOf).Add(-months).String(), facts.MonthOf(asOf).String())...).Rows()
		if err != nil {
			return err
		}
		defer irow.Close()
		for irow.Next() {
			var in facts.Income
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
		ds, cs, err := statusesWhere(tx, sc, sArgs)
		for _, d := range ds {
			dis = append(dis, facts.Disability{PersonID: d.PersonID, Group: d.Group, ValidFrom: d.ValidFrom, ValidTo: d.ValidTo})
		}
		for _, c := range cs {
			cats = append(cats, facts.Category{PersonID: c.PersonID, Code: c.Code, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return assembleRecords(ids, rels, persons, oktmo, incomes, dis, cats), nil
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
	incomesOf := map[uuid.UUID][]facts.Income{}
	for _, in := range incomes {
		incomesOf[in.PersonID] = append(incomesOf[in.PersonID], in)
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
		rec := &facts.Record{Subject: id, Persons: map[uuid.UUID]facts.Person{}}
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
		for _, m := range members {
			if p, ok := persons[m]; ok {
				rec.Persons[m] = p
			}
			rec.Incomes = append(rec.Incomes, incomesOf[m]...)
			rec.Disabilities = append(rec.Disabilities, disOf[m]...)
			rec.Categories = append(rec.Categories, catsOf[m]...)
		}
		out[i] = Subject{Record: rec, OKTMO: oktmo[id]}
	}
	return out
}

// pgIDs is a list of ids as one PostgreSQL uuid[] parameter: a struct, so
// that GORM binds it whole instead of expanding it, and a pgtype array, so
// that pgx encodes it in binary.
type pgIDs struct{ ids []uuid.UUID }

func (a pgIDs) Dimensions() []pgtype.ArrayDimension {
	return []pgtype.ArrayDimension{{Length: int32(len(a.ids)), LowerBound: 1}}
}

func (a pgIDs) Index(i int) any { return a.ids[i] }

func (a pgIDs) IndexType() any { return uuid.UUID{} }
