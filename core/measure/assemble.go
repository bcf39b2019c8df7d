package measure

import (
	"strings"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
)

// Inputs are what a case needs beyond the registry's record of its subject.
type Inputs struct {
	// OKTMO is the subject's registered address's; RegionOKTMO the
	// region's (its first two digits name the region).
	OKTMO, RegionOKTMO string
	Minimum            Minimums
	Assignments        []Assignment
	Application        map[string]string
	// Counted tells the income kinds the means test counts (nil: all).
	Counted func(kind string) bool
}

// earnedKinds are the income kinds that mean a person works.
var earnedKinds = map[string]bool{"salary": true, "business": true, "self_employed": true}

// Assemble builds the case of a record's subject at a date: ages, the
// household with each member's relation to the subject, the per-capita
// incomes of the schema's windows, categories and disabilities in force.
func Assemble(id string, rec *facts.Record, at civil.Date, in Inputs) Case {
	s := rec.Subject
	p := rec.Persons[s]
	c := Case{ID: id, Date: at.Time(), Minimum: in.Minimum, Assignments: in.Assignments, Application: in.Application}
	age, _ := rec.AgeAt(s, at)
	dg, _ := rec.DisabilityAt(s, at)
	c.Person = Subject{
		Age: int64(age), AgeMonths: monthsBetween(p.BirthDate, at), Sex: p.Sex, BirthDate: p.BirthDate.Time(),
		Alive: rec.AliveAt(s, at), OKTMO: in.OKTMO, Categories: nonNil(rec.CategoriesAt(s, at)), DisabilityGroup: int64(dg),
		Resident: len(in.RegionOKTMO) >= 2 && strings.HasPrefix(in.OKTMO, in.RegionOKTMO[:2]),
	}
	from, to := facts.IncomeWindow(at, 12, 0)
	for kind, k := range rec.IncomesByKind([]uuid.UUID{s}, from, to) {
		if in.Counted == nil || in.Counted(kind) {
			c.Person.IncomeKopecks += k
		}
	}
	from3, to3 := facts.IncomeWindow(at, 3, 0)
	for kind, k := range rec.IncomesByKind([]uuid.UUID{s}, from3, to3) {
		if earnedKinds[kind] && k > 0 {
			c.Person.Working = true
		}
	}
	for _, m := range rec.Household(at) {
		mp := rec.Persons[m]
		a, _ := rec.AgeAt(m, at)
		g, _ := rec.DisabilityAt(m, at)
		c.Household.Members = append(c.Household.Members, Member{
			Relation: relationOf(rec, s, m, at), Age: int64(a), AgeMonths: monthsBetween(mp.BirthDate, at), Sex: mp.Sex,
			BirthDate: mp.BirthDate.Time(), Categories: nonNil(rec.CategoriesAt(m, at)), DisabilityGroup: int64(g),
		})
	}
	c.Household.Size = int64(len(c.Household.Members))
	c.Household.PerCapitaKopecks = rec.PerCapitaIncome(at, 12, 6, in.Counted).MonthlyKopecks
	c.Household.PerCapita3Kopecks = rec.PerCapitaIncome(at, 3, 0, in.Counted).MonthlyKopecks
	return c
}

// relationOf is how m is related to s ("child": m is s's child), by the
// first relation valid at at.
func relationOf(rec *facts.Record, s, m uuid.UUID, at civil.Date) string {
	if s == m {
		return "self"
	}
	for _, r := range rec.Relations {
		if !valid(r, at) {
			continue
		}
		switch {
		case r.PersonID == s && r.RelativeID == m:
			return r.Kind
		case r.RelativeID == s && r.PersonID == m:
			return facts.Inverse(r.Kind)
		}
	}
	return ""
}

func valid(r facts.Relation, at civil.Date) bool {
	return !at.Before(r.ValidFrom) && (r.ValidTo == nil || !at.After(*r.ValidTo))
}

// monthsBetween is the number of full months from birth to at.
func monthsBetween(birth, at civil.Date) int64 {
	if birth.IsZero() || at.Before(birth) {
		return 0
	}
	n := (at.Year()-birth.Year())*12 + int(at.Month()) - int(birth.Month())
	if at.Day() < birth.Day() && !isLastDay(at, birth) {
		n--
	}
	return int64(n)
}

// isLastDay: born on the 31st, a person is a month older on the 30th of a
// 30-day month (its last day).
func isLastDay(at, birth civil.Date) bool {
	return at.AddDays(1).Month() != at.Month() && birth.Day() > at.Day()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
