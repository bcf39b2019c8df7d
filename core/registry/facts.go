package registry

import (
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/fault"
)

// The kinds of fact a person has besides its own fields.
const (
	KindRelation   = "relation"
	KindIncome     = "income"
	KindDisability = "disability"
	KindCategory   = "category"
)

// Relation says that RelativeID is PersonID's Kind ("child": the relative
// is the person's child) from ValidFrom to ValidTo (open when nil).
type Relation struct {
	TenantID     uuid.UUID `gorm:"primaryKey" json:"-"`
	ID           uuid.UUID `gorm:"primaryKey"`
	PersonID     uuid.UUID
	RelativeID   uuid.UUID
	Kind         string // a kinship_kinds code
	ValidFrom    civil.Date
	ValidTo      *civil.Date
	Origin       Origin
	RecordedAt   time.Time
	SupersededAt *time.Time
}

func (Relation) TableName() string { return "relations" }

// Income is what a person received in a month, of a kind, as reported by
// Source (the payer or the agency that told us: "fns", "sfr", an employer).
type Income struct {
	TenantID      uuid.UUID `gorm:"primaryKey" json:"-"`
	ID            uuid.UUID `gorm:"primaryKey"`
	PersonID      uuid.UUID
	Month         string // YYYY-MM
	Kind          string // an income_kinds code
	AmountKopecks int64
	Source        string
	Origin        Origin
	RecordedAt    time.Time
	SupersededAt  *time.Time
}

func (Income) TableName() string { return "incomes" }

// Disability is a disability group established for a period.
type Disability struct {
	TenantID     uuid.UUID `gorm:"primaryKey" json:"-"`
	ID           uuid.UUID `gorm:"primaryKey"`
	PersonID     uuid.UUID
	Group        int `gorm:"column:disability_group"`
	ValidFrom    civil.Date
	ValidTo      *civil.Date
	Origin       Origin
	RecordedAt   time.Time
	SupersededAt *time.Time
}

func (Disability) TableName() string { return "disabilities" }

// Category is a recipient category a person belongs to for a period.
type Category struct {
	TenantID     uuid.UUID `gorm:"primaryKey" json:"-"`
	ID           uuid.UUID `gorm:"primaryKey"`
	PersonID     uuid.UUID
	Code         string // a recipient_categories code, the platform's or the region's
	ValidFrom    civil.Date
	ValidTo      *civil.Date
	Origin       Origin
	RecordedAt   time.Time
	SupersededAt *time.Time
}

func (Category) TableName() string { return "person_categories" }

// Outcome is what recording a fact did.
type Outcome int

// Outcomes of recording a fact.
const (
	// Added: no current fact had its key; a new one was recorded.
	Added Outcome = iota + 1
	// Corrected: the current fact of its key differed and was superseded.
	Corrected
	// Unchanged: the current fact of its key says the same.
	Unchanged
)

func (o Outcome) String() string {
	switch o {
	case Added:
		return "added"
	case Corrected:
		return "corrected"
	case Unchanged:
		return "unchanged"
	}
	return "unknown"
}

func sameDatePtr(a, b *civil.Date) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

var disabilityGroups = map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 7: true}

// maxIncomeKopecks bounds one month's income of one kind: ten billion
// roubles is a typing error, not an income.
const maxIncomeKopecks = 1_000_000_000_000

// codeSets are the directory codes facts are checked against.
type codeSets struct {
	kinship, incomeKinds, categories, documents map[string]bool
}

func checkPeriod(v *fault.Invalid, prefix string, from civil.Date, to *civil.Date) {
	if from.IsZero() {
		v.Add(prefix+"valid_from", "is required", nil)
		return
	}
	if from.Before(earliestBirth) {
		v.Add(prefix+"valid_from", "is before 1900-01-01", from.String())
	}
	if to != nil && to.Before(from) {
		v.Add(prefix+"valid_to", "is before valid_from", to.String())
	}
}

func (c codeSets) checkRelation(v *fault.Invalid, r *Relation) {
	if !textOK(r.Kind) || (c.kinship != nil && !c.kinship[r.Kind]) {
		v.Add("kind", "is not a code of the kinship_kinds directory", r.Kind)
	}
	if r.PersonID == r.RelativeID && r.PersonID != uuid.Nil {
		v.Add("relative_id", "is the person itself", nil)
	}
	checkPeriod(v, "", r.ValidFrom, r.ValidTo)
}

func (c codeSets) checkIncome(v *fault.Invalid, in *Income, today civil.Date) {
	m, err := facts.ParseMonth(in.Month)
	switch {
	case err != nil:
		v.Add("month", "must be a month YYYY-MM from 1900-01", in.Month)
	case facts.MonthOf(today).Before(m):
		v.Add("month", "is in the future", in.Month)
	}
	if !textOK(in.Kind) || (c.incomeKinds != nil && !c.incomeKinds[in.Kind]) {
		v.Add("kind", "is not a code of the income_kinds directory", in.Kind)
	}
	if in.AmountKopecks < 0 || in.AmountKopecks > maxIncomeKopecks {
		v.Add("amount_kopecks", "must be 0 to 1000000000000", in.AmountKopecks)
	}
	if utf8.RuneCountInString(in.Source) > 100 || !textOK(in.Source) {
		v.Add("source", "must be at most 100 characters", nil)
	}
}

func (c codeSets) checkDisability(v *fault.Invalid, d *Disability) {
	if !disabilityGroups[d.Group] {
		v.Add("group", "must be one of 0, 1, 2, 3, 4, 7", d.Group)
	}
	checkPeriod(v, "", d.ValidFrom, d.ValidTo)
}

func (c codeSets) checkCategory(v *fault.Invalid, cat *Category) {
	if !textOK(cat.Code) || (c.categories != nil && !c.categories[cat.Code]) {
		v.Add("code", "is not a code of the recipient_categories directory", cat.Code)
	}
	checkPeriod(v, "", cat.ValidFrom, cat.ValidTo)
}
