package registry

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// fact is a row of one of the fact tables.
type fact interface {
	*Relation | *Income | *Disability | *Category
	meta() (id *uuid.UUID, person *uuid.UUID, origin *Origin, recorded *time.Time)
	// key narrows a query to the current row with the same natural key.
	key(db *gorm.DB) *gorm.DB
	// same reports whether two rows of one key say the same thing.
	same(other any) bool
	kind() string
	empty() any // a new zero row of the same type
}

func (*Relation) empty() any   { return &Relation{} }
func (*Income) empty() any     { return &Income{} }
func (*Disability) empty() any { return &Disability{} }
func (*Category) empty() any   { return &Category{} }

func (r *Relation) meta() (*uuid.UUID, *uuid.UUID, *Origin, *time.Time) {
	return &r.ID, &r.PersonID, &r.Origin, &r.RecordedAt
}
func (r *Relation) key(db *gorm.DB) *gorm.DB {
	return db.Where("person_id = ? AND relative_id = ? AND kind = ? AND valid_from = ?", r.PersonID, r.RelativeID, r.Kind, r.ValidFrom)
}
func (r *Relation) same(o any) bool {
	x := o.(*Relation)
	return sameDatePtr(r.ValidTo, x.ValidTo)
}
func (r *Relation) kind() string { return KindRelation }

func (i *Income) meta() (*uuid.UUID, *uuid.UUID, *Origin, *time.Time) {
	return &i.ID, &i.PersonID, &i.Origin, &i.RecordedAt
}
func (i *Income) key(db *gorm.DB) *gorm.DB {
	return db.Where("person_id = ? AND month = ? AND kind = ? AND source = ?", i.PersonID, i.Month, i.Kind, i.Source)
}
func (i *Income) same(o any) bool { return i.AmountKopecks == o.(*Income).AmountKopecks }
func (i *Income) kind() string    { return KindIncome }

func (d *Disability) meta() (*uuid.UUID, *uuid.UUID, *Origin, *time.Time) {
	return &d.ID, &d.PersonID, &d.Origin, &d.RecordedAt
}
func (d *Disability) key(db *gorm.DB) *gorm.DB {
	return db.Where("person_id = ? AND valid_from = ?", d.PersonID, d.ValidFrom)
}
func (d *Disability) same(o any) bool {
	x := o.(*Disability)
	return d.Group == x.Group && sameDatePtr(d.ValidTo, x.ValidTo)
}
func (d *Disability) kind() string { return KindDisability }

func (c *Category) meta() (*uuid.UUID, *uuid.UUID, *Origin, *time.Time) {
	return &c.ID, &c.PersonID, &c.Origin, &c.RecordedAt
}
func (c *Category) key(db *gorm.DB) *gorm.DB {
	return db.Where("person_id = ? AND code = ? AND valid_from = ?", c.PersonID, c.Code, c.ValidFrom)
}
func (c *Category) same(o any) bool { return sameDatePtr(c.ValidTo, o.(*Category).ValidTo) }
func (c *Category) kind() string    { return KindCategory }

// put records row as the current fact of its key: Added when there was
// none, Unchanged when the current one says the same (row becomes it),
// Corrected when it differed (it is superseded, not changed).
func put[T fact](tx *gorm.DB, row T, now time.Time) (Outcome, error) {
	id, _, _, recorded := row.meta()
	cur := row.empty().(T)
	err := row.key(tx.Model(cur)).Where("superseded_at IS NULL").Take(cur).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		*id, *recorded = uuid.Must(uuid.NewV7()), now
		return Added, tx.Create(row).Error
	case err != nil:
		return 0, err
	}
	if row.same(cur) {
		copyFact(row, cur)
		return Unchanged, nil
	}
	curID, _, _, _ := cur.meta()
	if err := tx.Model(cur).Where("id = ?", *curID).Update("superseded_at", now).Error; err != nil {
		return 0, err
	}
	*id, *recorded = uuid.Must(uuid.NewV7()), now
	return Corrected, tx.Create(row).Error
}

func copyFact[T fact](dst, src T) {
	reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(src).Elem())
}

// live checks, in tx, that the persons named exist and were not merged away.
func live(tx *gorm.DB, ids ...uuid.UUID) error {
	for _, id := range ids {
		var row struct {
			ID         uuid.UUID
			MergedInto *uuid.UUID
		}
		err := tx.Model(&personRow{}).Select("id, merged_into").Where("id = ?", id).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return notFound(id)
		}
		if err != nil {
			return err
		}
		if row.MergedInto != nil {
			return fault.Conflictf("person %s was merged into %s; record facts of that person", id, *row.MergedInto)
		}
	}
	return nil
}

func (s *Service) putFact(ctx context.Context, personIDs []uuid.UUID, check func(codeSets, *fault.Invalid), do func(tx *gorm.DB, now time.Time) (Outcome, error), kind string) (Outcome, error) {
	codes, err := s.codeSets(ctx)
	if err != nil {
		return 0, err
	}
	v := &fault.Invalid{}
	check(codes, v)
	if err := v.Err(); err != nil {
		return 0, err
	}
	var out Outcome
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := live(tx, personIDs...); err != nil {
			return err
		}
		var err error
		if out, err = do(tx, time.Now().UTC()); err != nil {
			return err
		}
		if out == Unchanged {
			return nil
		}
		return record(ctx, tx, "person.fact."+out.String(), personIDs[0], "kind="+kind)
	})
	return out, err
}

// PutRelation records a relation of r.PersonID (see put for the outcome).
func (s *Service) PutRelation(ctx context.Context, r Relation) (Relation, Outcome, error) {
	r.TenantID = uuid.Nil
	out, err := s.putFact(ctx, []uuid.UUID{r.PersonID, r.RelativeID},
		func(c codeSets, v *fault.Invalid) { c.checkRelation(v, &r); checkOrigin(v, r.Origin) },
		func(tx *gorm.DB, now time.Time) (Outcome, error) { return put(tx, &r, now) }, KindRelation)
	return r, out, err
}

// PutIncome records a month's income of r.PersonID.
func (s *Service) PutIncome(ctx context.Context, in Income) (Income, Outcome, error) {
	in.TenantID = uuid.Nil
	out, err := s.putFact(ctx, []uuid.UUID{in.PersonID},
		func(c codeSets, v *fault.Invalid) { c.checkIncome(v, &in, s.today()); checkOrigin(v, in.Origin) },
		func(tx *gorm.DB, now time.Time) (Outcome, error) { return put(tx, &in, now) }, KindIncome)
	return in, out, err
}

// PutDisability records a disability of d.PersonID.
func (s *Service) PutDisability(ctx context.Context, d Disability) (Disability, Outcome, error) {
	d.TenantID = uuid.Nil
	out, err := s.putFact(ctx, []uuid.UUID{d.PersonID},
		func(c codeSets, v *fault.Invalid) { c.checkDisability(v, &d); checkOrigin(v, d.Origin) },
		func(tx *gorm.DB, now time.Time) (Outcome, error) { return put(tx, &d, now) }, KindDisability)
	return d, out, err
}

// PutCategory records a category of c.PersonID.
func (s *Service) PutCategory(ctx context.Context, c Category) (Category, Outcome, error) {
	c.TenantID = uuid.Nil
	out, err := s.putFact(ctx, []uuid.UUID{c.PersonID},
		func(cs codeSets, v *fault.Invalid) { cs.checkCategory(v, &c); checkOrigin(v, c.Origin) },
		func(tx *gorm.DB, now time.Time) (Outcome, error) { return put(tx, &c, now) }, KindCategory)
	return c, out, err
}

func checkOrigin(v *fault.Invalid, o Origin) {
	if !o.valid() {
		v.Add("origin", "must be manual, import, connector or event", string(o))
	}
}

// Retract supersedes a current fact without a replacement: it was recorded
// in error. The row stays, as history.
func (s *Service) Retract(ctx context.Context, personID uuid.UUID, kind string, id uuid.UUID) error {
	table, ok := factTables[kind]
	if !ok {
		return fault.NotFoundf("fact kind %s", kind)
	}
	return tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Table(table).Where("id = ? AND person_id = ? AND superseded_at IS NULL", id, personID).
			Update("superseded_at", time.Now().UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.NotFoundf("current %s %s of person %s", kind, id, personID)
		}
		return record(ctx, tx, "person.fact.retracted", personID, "kind="+kind)
	})
}

var factTables = map[string]string{
	KindRelation: "relations", KindIncome: "incomes", KindDisability: "disabilities", KindCategory: "person_categories",
}

// Facts are a person's facts.
type Facts struct {
	Relations    []Relation
	Incomes      []Income
	Disabilities []Disability
	Categories   []Category
}

// FactsOf returns a person's current facts, or every fact ever recorded
// with history (superseded ones carry SupersededAt). Audited as person.read.
func (s *Service) FactsOf(ctx context.Context, personID uuid.UUID, history bool) (Facts, error) {
	var f Facts
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Model(&personRow{}).Where("id = ?", personID).Select("id").Take(&struct{ ID uuid.UUID }{}).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return notFound(personID)
			}
			return err
		}
		q := func() *gorm.DB {
			q := tx.Where("person_id = ?", personID)
			if !history {
				q = q.Where("superseded_at IS NULL")
			}
			return q
		}
		var err error
		if f.Relations, err = relationsOf(tx, personID, history, civil.Date{}); err != nil {
			return err
		}
		if err := q().Order("month, kind, source, id").Find(&f.Incomes).Error; err != nil {
			return err
		}
		if err := q().Order("valid_from, id").Find(&f.Disabilities).Error; err != nil {
			return err
		}
		if err := q().Order("code, valid_from, id").Find(&f.Categories).Error; err != nil {
			return err
		}
		return record(ctx, tx, "person.read", personID, "facts")
	})
	return f, err
}
