package measure

import (
	"context"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
)

// randomRecord is a household of up to five persons, some relations ended
// or not yet begun, and incomes of several kinds over three years.
func randomRecord(r *rand.Rand) *facts.Record {
	n := 1 + r.IntN(5)
	ids := make([]uuid.UUID, n)
	rec := &facts.Record{Persons: map[uuid.UUID]facts.Person{}}
	for i := range ids {
		ids[i] = uuid.New()
		rec.Persons[ids[i]] = facts.Person{ID: ids[i], BirthDate: civil.MustParse("1960-01-01").AddDays(r.IntN(20000)), Sex: "female"}
	}
	rec.Subject = ids[0]
	kinds := []string{"spouse", "child", "parent", "sibling"}
	for _, m := range ids[1:] {
		rel := facts.Relation{PersonID: ids[0], RelativeID: m, Kind: kinds[r.IntN(len(kinds))], ValidFrom: civil.MustParse("2020-01-01")}
		if r.IntN(4) == 0 {
			end := civil.MustParse("2025-06-30")
			rel.ValidTo = &end
		}
		rec.Relations = append(rec.Relations, rel)
	}
	incomeKinds := []string{"salary", "pension", "business", "alimony", "benefit_excluded"}
	for i := 0; i < r.IntN(60); i++ {
		rec.Incomes = append(rec.Incomes, facts.Income{
			PersonID: ids[r.IntN(n)], Month: facts.Month{Year: 2024 + r.IntN(3), Month: time.Month(1 + r.IntN(12))},
			Kind: incomeKinds[r.IntN(len(incomeKinds))], AmountKopecks: int64(r.IntN(10_000_000)) - 1_000_000,
		})
	}
	return rec
}

// Assemble's one pass over the incomes counts what the record's own
// derivations count, and reads no month outside IncomeMonths.
func TestAssembleCountsAsTheRecord(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	counted := func(kind string) bool { return kind != "benefit_excluded" }
	for i := range 2000 {
		rec := randomRecord(r)
		at := civil.MustParse("2026-01-01").AddDays(r.IntN(365))
		c := Assemble("x", rec, at, Inputs{Counted: counted})

		var own int64
		ownFrom, ownTo := ownIncomeWindow.at(at)
		for kind, k := range rec.IncomesByKind([]uuid.UUID{rec.Subject}, ownFrom, ownTo) {
			if counted(kind) {
				own += k
			}
		}
		working := false
		workFrom, workTo := workingWindow.at(at)
		for kind, k := range rec.IncomesByKind([]uuid.UUID{rec.Subject}, workFrom, workTo) {
			working = working || earnedKinds[kind] && k > 0
		}
		pc := rec.PerCapitaIncome(at, int(perCapitaWindow.months), int(perCapitaWindow.lag), counted).MonthlyKopecks
		pc3 := rec.PerCapitaIncome(at, int(perCapita3Window.months), int(perCapita3Window.lag), counted).MonthlyKopecks
		if c.Person.IncomeKopecks != own || c.Person.Working != working || c.Household.PerCapitaKopecks != pc || c.Household.PerCapita3Kopecks != pc3 {
			t.Fatalf("case %d on %s: assembled own %d working %t per capita %d %d; the record says %d %t %d %d",
				i, at, c.Person.IncomeKopecks, c.Person.Working, c.Household.PerCapitaKopecks, c.Household.PerCapita3Kopecks, own, working, pc, pc3)
		}

		from, to := IncomeMonths(at)
		trimmed := *rec
		trimmed.Incomes = nil
		for _, x := range rec.Incomes {
			if !x.Month.Before(from) && !to.Before(x.Month) {
				trimmed.Incomes = append(trimmed.Incomes, x)
			}
		}
		if got := Assemble("x", &trimmed, at, Inputs{Counted: counted}); !reflect.DeepEqual(got, c) {
			t.Fatalf("case %d on %s: with only the incomes of %s..%s\n%+v\nwith all\n%+v", i, at, from, to, got, c)
		}
	}
}

func TestIncomeMonths(t *testing.T) {
	from, to := IncomeMonths(civil.MustParse("2026-03-15"))
	if from.String() != "2024-09" || to.String() != "2026-02" {
		t.Fatalf("%s..%s, want 2024-09..2026-02 (the 12 months ending 6 before February 2026, to February)", from, to)
	}
}

// counting decides every case eligible and counts the cases it saw.
type counting struct{ n int }

func (c *counting) Evaluate(_ context.Context, cases []Case) ([]Outcome, error) {
	out := make([]Outcome, len(cases))
	for i := range cases {
		out[i] = Outcome{CaseID: cases[i].ID, Eligible: true}
	}
	c.n += len(cases)
	return out, nil
}

// A version simulated against itself — the version in force — is decided
// once a case, and its outcomes are the active ones; another active
// version is decided as well.
func TestSimulateItself(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	persons := make([]Person, 100)
	for i := range persons {
		rec := randomRecord(r)
		persons[i] = Person{ID: rec.Subject, Record: rec}
	}
	at := civil.MustParse("2026-06-15")
	for _, tc := range []struct {
		name     string
		twice    bool
		evaluate func(v, a Evaluator) ([]Outcome, []Outcome, error)
	}{
		{"itself", false, func(v, _ Evaluator) ([]Outcome, []Outcome, error) {
			return evaluatePage(context.Background(), persons, Inputs{}, at, v, v)
		}},
		{"another", true, func(v, a Evaluator) ([]Outcome, []Outcome, error) {
			return evaluatePage(context.Background(), persons, Inputs{}, at, v, a)
		}},
	} {
		v, a := &lockedCounting{}, &lockedCounting{}
		outs, was, err := tc.evaluate(v, a)
		if err != nil {
			t.Fatal(err)
		}
		seen := v.count() + a.count()
		if want := map[bool]int{false: 100, true: 200}[tc.twice]; seen != want || len(outs) != 100 || len(was) != 100 || !reflect.DeepEqual(outs, was) {
			t.Fatalf("%s: %d cases decided, want %d; %d outcomes, %d active", tc.name, seen, want, len(outs), len(was))
		}
	}
	c := &counting{}
	if same(nil, nil) || same(&counting{}, &counting{}) || same(c, nil) || !same(c, c) {
		t.Fatal("same tells one evaluator from two")
	}
}

type lockedCounting struct {
	mu sync.Mutex
	c  counting
}

func (l *lockedCounting) Evaluate(ctx context.Context, cases []Case) ([]Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.Evaluate(ctx, cases)
}

func (l *lockedCounting) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.c.n
}
