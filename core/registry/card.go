package registry

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// IncomeWindowMonths is the window of the per-capita income a card shows:
// the twelve whole months before the month of its date.
const IncomeWindowMonths = 12

// Relative is a person a card's subject is related to, as of the card's date.
type Relative struct {
	Relation   Relation
	Kind       string // the kind seen from the subject: "child" means the relative is its child
	ID         uuid.UUID
	FamilyName string
	FirstName  string
	Patronymic string
	BirthDate  civil.Date
	DeathDate  *civil.Date
}

// Card is everything the registry knows of a person as of a date: the
// facts in force then, the incomes of the window before it, and what the
// rules engine derives from them.
type Card struct {
	Person       Person
	AsOf         civil.Date
	Age          int
	Alive        bool
	Relatives    []Relative
	Household    []uuid.UUID
	Incomes      []Income // the subject's, over the income window
	Disabilities []Disability
	Categories   []Category
	PerCapita    facts.PerCapita
}

// Card assembles a person's card as of a date (audited as person.card).
func (s *Service) Card(ctx context.Context, id uuid.UUID, asOf civil.Date) (Card, error) {
	counted, err := s.countedIncome(ctx)
	if err != nil {
		return Card{}, err
	}
	k, err := s.crypt.Keyring(ctx)
	if err != nil {
		return Card{}, err
	}
	l, err := s.loadCard(ctx, id, asOf)
	if err != nil {
		return Card{}, err
	}
	rec, err := l.record(id)
	if err != nil {
		return Card{}, err
	}
	p, err := fromRow(k, l.persons[id])
	if err != nil {
		return Card{}, err
	}
	c := Card{Person: p, AsOf: asOf, Alive: rec.AliveAt(id, asOf)}
	c.Age, _ = rec.AgeAt(id, asOf)
	c.Household = rec.Household(asOf)
	c.PerCapita = rec.PerCapitaIncome(asOf, IncomeWindowMonths, 0, counted)
	for _, r := range l.relations {
		other, kind := r.RelativeID, r.Kind
		if r.PersonID != id {
			other, kind = r.PersonID, facts.Inverse(r.Kind)
		}
		o := l.persons[other]
		c.Relatives = append(c.Relatives, Relative{Relation: r, Kind: kind, ID: other, FamilyName: o.FamilyName,
			FirstName: o.FirstName, Patronymic: o.Patronymic, BirthDate: o.BirthDate, DeathDate: o.DeathDate})
	}
	from, to := facts.IncomeWindow(asOf, IncomeWindowMonths, 0)
	for _, in := range l.incomes {
		if in.PersonID == id && in.Month >= from.String() && in.Month <= to.String() {
			c.Incomes = append(c.Incomes, in)
		}
	}
	for _, d := range l.disabilities {
		if d.PersonID == id && within(asOf, d.ValidFrom, d.ValidTo) {
			c.Disabilities = append(c.Disabilities, d)
		}
	}
	for _, cat := range l.categories {
		if cat.PersonID == id && within(asOf, cat.ValidFrom, cat.ValidTo) {
			c.Categories = append(c.Categories, cat)
		}
	}
	return c, nil
}

// loadCard reads the raw material of a person's card and audits the read
// in the same transaction; a person that does not exist is not found, and
// its read is not recorded. On PostgreSQL it is one round trip (cardpg.go).
func (s *Service) loadCard(ctx context.Context, id uuid.UUID, asOf civil.Date) (loaded, error) {
	detail := "as_of=" + asOf.String()
	if s.db.Dialector.Name() == "postgres" {
		return s.loadCardPG(ctx, id, asOf, audit.Record{Action: "person.card", ObjectType: "person", ObjectID: id.String(), Detail: detail})
	}
	var l loaded
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var err error
		if l, err = loadRaw(tx, id, asOf, IncomeWindowMonths); err != nil {
			return err
		}
		if _, ok := l.persons[id]; !ok {
			return notFound(id)
		}
		return record(ctx, tx, "person.card", id, detail)
	})
	return l, err
}

func within(d, from civil.Date, to *civil.Date) bool {
	return !d.Before(from) && (to == nil || !d.After(*to))
}

// loaded is the raw material of a card.
type loaded struct {
	persons      map[uuid.UUID]personRow
	relations    []Relation
	incomes      []Income
	disabilities []Disability
	categories   []Category
}

// Record loads what the rules engine needs of a person as of a date: the
// person, everyone related to it then (one hop), and their current facts,
// with incomes of the two years before the date.
func (s *Service) Record(ctx context.Context, id uuid.UUID, asOf civil.Date) (*facts.Record, error) {
	var rec *facts.Record
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		l, err := loadRaw(tx, id, asOf, 24)
		if err != nil {
			return err
		}
		rec, err = l.record(id)
		return err
	})
	return rec, err
}

// relationsOf reads the relations on either side of a person: the current
// ones (in force at asOf, unless it is zero), or with history every row ever
// recorded. Two index look-ups in one statement: an OR of the two sides is a
// scan of the region's relations to SQLite's planner.
func relationsOf(tx *gorm.DB, id uuid.UUID, history bool, asOf civil.Date) ([]Relation, error) {
	tid, ok := tenancy.FromContext(tx.Statement.Context)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	const cols = "tenant_id, id, person_id, relative_id, kind, valid_from, valid_to, origin, recorded_at, superseded_at"
	when, args := "", []any{}
	if !history {
		when += " AND superseded_at IS NULL"
	}
	if !asOf.IsZero() {
		when += " AND valid_from <= ? AND (valid_to IS NULL OR valid_to >= ?)"
		args = append(args, asOf, asOf)
	}
	all := append(append([]any{tid, id}, args...), tid, id, id)
	all = append(all, args...)
	var rs []Relation
	err := tx.Raw("SELECT "+cols+" FROM relations WHERE tenant_id = ? AND person_id = ?"+when+
		" UNION ALL SELECT "+cols+" FROM relations WHERE tenant_id = ? AND relative_id = ? AND person_id <> ?"+when+
		" ORDER BY valid_from, id", all...).Scan(&rs).Error
	return rs, err
}

// incomesOf reads the current incomes of persons over months [from, to].
// A card reads a hundred of them: scanned by hand, not by reflection.
func incomesOf(tx *gorm.DB, ids []uuid.UUID, from, to facts.Month) ([]Income, error) {
	tid, ok := tenancy.FromContext(tx.Statement.Context)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	rows, err := tx.Raw("SELECT id, person_id, month, kind, amount_kopecks, source, origin, recorded_at FROM incomes "+
		"WHERE tenant_id = ? AND person_id IN ? AND superseded_at IS NULL AND month >= ? AND month <= ? ORDER BY person_id, month, kind, source",
		tid, ids, from.String(), to.String()).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Income
	for rows.Next() {
		in := Income{TenantID: tid}
		if err := rows.Scan(&in.ID, &in.PersonID, &in.Month, &in.Kind, &in.AmountKopecks, &in.Source, &in.Origin, &in.RecordedAt); err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// statusesOf reads the current disabilities and categories of persons in
// one statement.
func statusesOf(tx *gorm.DB, ids []uuid.UUID) ([]Disability, []Category, error) {
	return statusesWhere(tx, "person_id IN ?", []any{ids})
}

// statusesWhere is statusesOf for the persons a condition on person_id
// selects, with its arguments.
func statusesWhere(tx *gorm.DB, cond string, args []any) ([]Disability, []Category, error) {
	tid, ok := tenancy.FromContext(tx.Statement.Context)
	if !ok {
		return nil, nil, tenancy.ErrNoTenant
	}
	return statusesQ(gormQuerier(tx), tid, cond, args)
}

func statusesQ(q querier, tid uuid.UUID, cond string, args []any) ([]Disability, []Category, error) {
	all := append(append(append([]any{tid}, args...), tid), args...)
	rows, err := q("SELECT 'd', id, person_id, disability_group, '', valid_from, valid_to, origin, recorded_at FROM disabilities "+
		"WHERE tenant_id = ? AND "+cond+" AND superseded_at IS NULL "+
		"UNION ALL SELECT 'c', id, person_id, 0, code, valid_from, valid_to, origin, recorded_at FROM person_categories "+
		"WHERE tenant_id = ? AND "+cond+" AND superseded_at IS NULL ORDER BY 3, 6, 5", all...)
	if err != nil {
		return nil, nil, err
	}
	return scanStatuses(rows, tid)
}

// scanStatuses reads the rows of a statuses query (disabilities marked
// 'd', categories 'c') and closes them.
func scanStatuses(rows rows, tid uuid.UUID) ([]Disability, []Category, error) {
	defer rows.Close()
	var ds []Disability
	var cs []Category
	for rows.Next() {
		var (
			kind     string
			id, pid  uuid.UUID
			group    int
			code     string
			from     civil.Date
			to       *civil.Date
			origin   Origin
			recorded time.Time
		)
		if err := rows.Scan(&kind, &id, &pid, &group, &code, &from, &to, &origin, &recorded); err != nil {
			return nil, nil, err
		}
		if kind == "d" {
			ds = append(ds, Disability{TenantID: tid, ID: id, PersonID: pid, Group: group, ValidFrom: from, ValidTo: to, Origin: origin, RecordedAt: recorded})
		} else {
			cs = append(cs, Category{TenantID: tid, ID: id, PersonID: pid, Code: code, ValidFrom: from, ValidTo: to, Origin: origin, RecordedAt: recorded})
		}
	}
	return ds, cs, rows.Err()
}

// loadRaw reads what a person's record as of a date is made of, with the
// incomes of the given number of months before its month (and of the month
// itself).
func loadRaw(tx *gorm.DB, id uuid.UUID, asOf civil.Date, months int) (loaded, error) {
	var l loaded
	var err error
	if l.relations, err = relationsOf(tx, id, false, asOf); err != nil {
		return l, err
	}
	ids := []uuid.UUID{id}
	for _, r := range l.relations {
		for _, x := range []uuid.UUID{r.PersonID, r.RelativeID} {
			if !slices.Contains(ids, x) {
				ids = append(ids, x)
			}
		}
	}
	// Whole rows: the subject's is the card's person (its relatives'
	// sealed columns come along unopened).
	var rows []personRow
	if err := tx.Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return l, err
	}
	l.persons = make(map[uuid.UUID]personRow, len(rows))
	for _, r := range rows {
		l.persons[r.ID] = r
	}
	if l.incomes, err = incomesOf(tx, ids, facts.MonthOf(asOf).Add(-months), facts.MonthOf(asOf)); err != nil {
		return l, err
	}
	if l.disabilities, l.categories, err = statusesOf(tx, ids); err != nil {
		return l, err
	}
	return l, nil
}

// record is the rules engine's view of what was loaded about a subject.
func (l loaded) record(subject uuid.UUID) (*facts.Record, error) {
	rec := &facts.Record{Subject: subject, Persons: make(map[uuid.UUID]facts.Person, len(l.persons))}
	for _, r := range l.persons {
		rec.Persons[r.ID] = facts.Person{ID: r.ID, BirthDate: r.BirthDate, DeathDate: r.DeathDate, Sex: r.Sex}
	}
	for _, r := range l.relations {
		rec.Relations = append(rec.Relations, facts.Relation{PersonID: r.PersonID, RelativeID: r.RelativeID, Kind: r.Kind, ValidFrom: r.ValidFrom, ValidTo: r.ValidTo})
	}
	for _, in := range l.incomes {
		m, err := facts.ParseMonth(in.Month)
		if err != nil {
			return nil, err
		}
		rec.Incomes = append(rec.Incomes, facts.Income{PersonID: in.PersonID, Month: m, Kind: in.Kind, AmountKopecks: in.AmountKopecks})
	}
	for _, d := range l.disabilities {
		rec.Disabilities = append(rec.Disabilities, facts.Disability{PersonID: d.PersonID, Group: d.Group, ValidFrom: d.ValidFrom, ValidTo: d.ValidTo})
	}
	for _, c := range l.categories {
		rec.Categories = append(rec.Categories, facts.Category{PersonID: c.PersonID, Code: c.Code, ValidFrom: c.ValidFrom, ValidTo: c.ValidTo})
	}
	return rec, nil
}
