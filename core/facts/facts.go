package facts

import (
	"bytes"
	"slices"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/civil"
)

// Person is what the facts need of a registry person; the rest (names,
// SNILS, documents) stays sealed in the registry.
type Person struct {
	ID        uuid.UUID
	BirthDate civil.Date
	DeathDate *civil.Date
	Sex       string
}

// Relation says that RelativeID is PersonID's Kind: Kind "child" means
// RelativeID is PersonID's child. A relation is recorded once, from either
// side; Relatives reads it both ways. Kinds: spouse, parent, child,
// adoptive_parent, adopted_child, guardian, ward, stepparent, stepchild,
// sibling, grandparent, grandchild.
type Relation struct {
	PersonID, RelativeID uuid.UUID
	Kind                 string
	ValidFrom            civil.Date
	ValidTo              *civil.Date
}

// Income is one kind of income a person had in one month.
type Income struct {
	PersonID      uuid.UUID
	Month         Month
	Kind          string
	AmountKopecks int64
}

// Disability is a disability group established for a period.
type Disability struct {
	PersonID  uuid.UUID
	Group     int
	ValidFrom civil.Date
	ValidTo   *civil.Date
}

// Category is a recipient category (a code of the categories directory)
// a person belongs to for a period.
type Category struct {
	PersonID  uuid.UUID
	Code      string
	ValidFrom civil.Date
	ValidTo   *civil.Date
}

// Record is what the registry loaded about one subject: the subject, the
// persons related to it (one hop), and their facts. The loader must put
// every person a loaded relation names into Persons: a person missing from
// it is unknown, and an unknown person is neither alive nor of any age.
type Record struct {
	Subject      uuid.UUID
	Persons      map[uuid.UUID]Person
	Relations    []Relation
	Incomes      []Income
	Disabilities []Disability
	Categories   []Category
}

// inverse names what PersonID is to RelativeID, given what RelativeID is
// to PersonID.
var inverse = map[string]string{
	"spouse":          "spouse",
	"parent":          "child",
	"child":           "parent",
	"adoptive_parent": "adopted_child",
	"adopted_child":   "adoptive_parent",
	"guardian":        "ward",
	"ward":            "guardian",
	"stepparent":      "stepchild",
	"stepchild":       "stepparent",
	"sibling":         "sibling",
	"grandparent":     "grandchild",
	"grandchild":      "grandparent",
}

// Inverse is the kind of relation seen from the other side: a parent's
// child is the child's parent. A kind with no known inverse is returned as
// it is.
func Inverse(kind string) string {
	if inv, ok := inverse[kind]; ok {
		return inv
	}
	return kind
}

// householdKinds are the relatives the means test counts as family:
// spouses, parents and children, adoptive, step and under guardianship
// included; siblings and grandparents are not.
var householdKinds = []string{
	"spouse", "parent", "child", "adoptive_parent", "adopted_child",
	"guardian", "ward", "stepparent", "stepchild",
}

// validAt reports whether at falls in [from, to], to nil meaning open.
func validAt(from civil.Date, to *civil.Date, at civil.Date) bool {
	return !at.Before(from) && (to == nil || !at.After(*to))
}

// AgeAt is the age in full years at a date. A year is complete on the
// birthday; someone born on 29 February turns a year older on 1 March in a
// non-leap year. A date before the birth gives 0, not a negative age.
func AgeAt(birth, at civil.Date) int {
	if at.Before(birth) {
		return 0
	}
	age := at.Year() - birth.Year()
	if at.Month() < birth.Month() || at.Month() == birth.Month() && at.Day() < birth.Day() {
		age--
	}
	return age
}

// AgeAt is the person's age at a date; false if the person is unknown.
// It does not look at the death date.
func (r *Record) AgeAt(id uuid.UUID, at civil.Date) (int, bool) {
	p, ok := r.Persons[id]
	if !ok {
		return 0, false
	}
	return AgeAt(p.BirthDate, at), true
}

// AliveAt reports whether the person was born on or before at and had not
// died by then: a person who died on at is not alive at it. An unknown
// person is not alive.
func (r *Record) AliveAt(id uuid.UUID, at civil.Date) bool {
	p, ok := r.Persons[id]
	return ok && !p.BirthDate.After(at) && (p.DeathDate == nil || p.DeathDate.After(at))
}

// Relatives are the persons who are id's relatives of the given kinds (any
// kind if none is given) by relations valid at at. A relation counts from
// both sides: (A, B, child) makes B A's child and A B's parent. A relation
// of a kind with no known inverse is read backwards only when no kinds are
// given. The result never holds id itself, has no duplicates and is sorted
// by UUID (byte order, which is also the order of the UUIDs' text).
func (r *Record) Relatives(id uuid.UUID, at civil.Date, kinds ...string) []uuid.UUID {
	want := func(kind string) bool { return len(kinds) == 0 || slices.Contains(kinds, kind) }
	var out []uuid.UUID
	for _, rel := range r.Relations {
		if !validAt(rel.ValidFrom, rel.ValidTo, at) || rel.PersonID == rel.RelativeID {
			continue
		}
		if rel.PersonID == id && want(rel.Kind) {
			out = append(out, rel.RelativeID)
		}
		if rel.RelativeID == id && want(inverse[rel.Kind]) {
			out = append(out, rel.PersonID)
		}
	}
	return sortUnique(out)
}

func sortUnique(ids []uuid.UUID) []uuid.UUID {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(ids)
}

// Household is the family the means test counts at a date: the subject,
// first and always, then — sorted — its spouses, parents and children
// (adoptive, step and guardianship included; not siblings or
// grandparents) by relations valid at at who are alive at at.
func (r *Record) Household(at civil.Date) []uuid.UUID {
	out := []uuid.UUID{r.Subject}
	for _, id := range r.Relatives(r.Subject, at, householdKinds...) {
		if r.AliveAt(id, at) {
			out = append(out, id)
		}
	}
	return out
}

// IncomeWindow is the window of months whole months the means test looks
// at: it ends lag months before the month before at's month, since the
// month of at is not over yet. At 2026-03-15, 12 months and lag 0 give
// 2025-03..2026-02; lag 3 gives 2024-12..2025-11. With months <= 0 the
// window is empty (from is after to).
func IncomeWindow(at civil.Date, months, lag int) (from, to Month) {
	to = MonthOf(at).Add(-1 - lag)
	return to.Add(1 - months), to
}

// IncomesByKind sums, per kind, the incomes of the given persons in the
// months from..to inclusive, in kopecks. The ids are read as a set.
func (r *Record) IncomesByKind(ids []uuid.UUID, from, to Month) map[string]int64 {
	out := map[string]int64{}
	for _, in := range r.Incomes {
		if slices.Contains(ids, in.PersonID) && !in.Month.Before(from) && !to.Before(in.Month) {
			out[in.Kind] += in.AmountKopecks
		}
	}
	return out
}

// PerCapita is the result of a means test's income count, kept whole so
// a decision can show how it was reached.
type PerCapita struct {
	From, To       Month
	Members        int
	TotalKopecks   int64
	MonthlyKopecks int64
}

// PerCapitaIncome is the average monthly income per household member: the
// counted incomes of the household at at over IncomeWindow(at, months,
// lag), divided by months and by members. Kopecks are integers, never
// floats: the division truncates toward zero and the remainder is dropped,
// which favours the applicant by at most a kopeck. counted says which
// income kinds count; nil counts every kind. With months <= 0 only Members
// is set.
//
// Sums are plain int64: overflow would take a total above 9.2e18 kopecks
// (about 9.2e16 roubles), which no household's incomes reach.
func (r *Record) PerCapitaIncome(at civil.Date, months, lag int, counted func(kind string) bool) PerCapita {
	members := r.Household(at)
	pc := PerCapita{Members: len(members)}
	if months <= 0 {
		return pc
	}
	pc.From, pc.To = IncomeWindow(at, months, lag)
	for kind, sum := range r.IncomesByKind(members, pc.From, pc.To) {
		if counted == nil || counted(kind) {
			pc.TotalKopecks += sum
		}
	}
	pc.MonthlyKopecks = pc.TotalKopecks / int64(months) / int64(pc.Members)
	return pc
}

// CategoriesAt are the codes of the person's categories valid at at,
// sorted and without duplicates.
func (r *Record) CategoriesAt(id uuid.UUID, at civil.Date) []string {
	var out []string
	for _, c := range r.Categories {
		if c.PersonID == id && validAt(c.ValidFrom, c.ValidTo, at) {
			out = append(out, c.Code)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// HasCategory reports whether the person belongs to the category at at.
func (r *Record) HasCategory(id uuid.UUID, code string, at civil.Date) bool {
	for _, c := range r.Categories {
		if c.PersonID == id && c.Code == code && validAt(c.ValidFrom, c.ValidTo, at) {
			return true
		}
	}
	return false
}

// DisabilityAt is the person's disability group valid at at. If periods
// overlap, the one that began last wins (a re-examination supersedes the
// earlier finding); on equal starts, the later in Disabilities. The group
// is returned as recorded: 7 ("not established") is a recorded finding,
// reported with ok true, and the rules decide what it means.
func (r *Record) DisabilityAt(id uuid.UUID, at civil.Date) (group int, ok bool) {
	var from civil.Date
	for _, d := range r.Disabilities {
		if d.PersonID == id && validAt(d.ValidFrom, d.ValidTo, at) && (!ok || !d.ValidFrom.Before(from)) {
			group, from, ok = d.Group, d.ValidFrom, true
		}
	}
	return group, ok
}

// ChildrenUnder are the person's children, born or adopted (not step
// children or wards), by relations valid at at, who are alive at at and
// younger than age years then; sorted by UUID.
func (r *Record) ChildrenUnder(id uuid.UUID, at civil.Date, age int) []uuid.UUID {
	var out []uuid.UUID
	for _, c := range r.Relatives(id, at, "child", "adopted_child") {
		if a, ok := r.AgeAt(c, at); ok && a < age && r.AliveAt(c, at) {
			out = append(out, c)
		}
	}
	return out
}
