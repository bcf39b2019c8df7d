package measure

import (
	"slices"
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
	household := rec.Household(at)
	sums := incomeSums(rec, household, at, in.Counted)
	c.Person.IncomeKopecks, c.Person.Working = sums.own, sums.earned
	for _, m := range household {
		mp := rec.Persons[m]
		a, _ := rec.AgeAt(m, at)
		g, _ := rec.DisabilityAt(m, at)
		c.Household.Members = append(c.Household.Members, Member{
			Relation: relationOf(rec, s, m, at), Age: int64(a), AgeMonths: monthsBetween(mp.BirthDate, at), Sex: mp.Sex,
			BirthDate: mp.BirthDate.Time(), Categories: nonNil(rec.CategoriesAt(m, at)), DisabilityGroup: int64(g),
		})
	}
	c.Household.Size = int64(len(c.Household.Members))
	members := int64(len(household))
	c.Household.PerCapitaKopecks = sums.household / perCapitaWindow.months / members
	c.Household.PerCapita3Kopecks = sums.household3 / perCapita3Window.months / members
	return c
}

// window is a span of whole months before a decision month: see
// facts.IncomeWindow.
type window struct{ months, lag int64 }

func (w window) at(d civil.Date) (from, to facts.Month) {
	return facts.IncomeWindow(d, int(w.months), int(w.lag))
}

// The case schema's income windows; IncomeMonths is their union.
var (
	ownIncomeWindow  = window{12, 0}
	workingWindow    = window{3, 0}
	perCapitaWindow  = window{12, 6}
	perCapita3Window = window{3, 0}
	incomeWindows    = []window{ownIncomeWindow, workingWindow, perCapitaWindow, perCapita3Window}
)

// IncomeMonths are the months of incomes a case at the date reads: a
// record loaded for Assemble needs no others.
func IncomeMonths(at civil.Date) (from, to facts.Month) {
	for i, w := range incomeWindows {
		f, t := w.at(at)
		if i == 0 || f.Before(from) {
			from = f
		}
		if i == 0 || to.Before(t) {
			to = t
		}
	}
	return from, to
}

type sums struct {
	own                   int64 // the subject's counted income, ownIncomeWindow
	earned                bool  // the subject's earned income in workingWindow is positive
	household, household3 int64 // the household's counted income, perCapitaWindow and perCapita3Window
}

// incomeSums is what Assemble needs of the incomes, in one pass over them
// (a run over the registry assembles a million cases). It counts as
// facts.Record.PerCapitaIncome and IncomesByKind do; a test holds them
// equal.
func incomeSums(rec *facts.Record, household []uuid.UUID, at civil.Date, counted func(string) bool) sums {
	in := func(m, from, to facts.Month) bool { return !m.Before(from) && !to.Before(m) }
	ownFrom, ownTo := ownIncomeWindow.at(at)
	workFrom, workTo := workingWindow.at(at)
	pcFrom, pcTo := perCapitaWindow.at(at)
	pc3From, pc3To := perCapita3Window.at(at)
	var s sums
	earned := map[string]int64{}
	for _, x := range rec.Incomes {
		if !slices.Contains(household, x.PersonID) {
			continue
		}
		if x.PersonID == rec.Subject && earnedKinds[x.Kind] && in(x.Month, workFrom, workTo) {
			earned[x.Kind] += x.AmountKopecks
		}
		if counted != nil && !counted(x.Kind) {
			continue
		}
		if x.PersonID == rec.Subject && in(x.Month, ownFrom, ownTo) {
			s.own += x.AmountKopecks
		}
		if in(x.Month, pcFrom, pcTo) {
			s.household += x.AmountKopecks
		}
		if in(x.Month, pc3From, pc3To) {
			s.household3 += x.AmountKopecks
		}
	}
	for _, k := range earned {
		s.earned = s.earned || k > 0
	}
	return s
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
