// Package measuretest is the contract every measure.Evaluator keeps — a
// CEL version compiled by the core and a plug-in measure behind its
// adapter alike. Contract runs it against an evaluator of the contract
// measure, whose logic is fixed here in words and in Spec, so that the
// same logic written as a plug-in can be held to the same outcomes.
package measuretest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
)

// Spec is the contract measure as rules. In words: a recipient living in
// the region, 18 or older, with a child under three in the household and a
// per-capita income below the per-capita subsistence minimum gets the
// children's minimum for each child under three, for 12 months from the
// decision date; conditions are named resident, adult, child_under_three
// and low_income, in that order.
func Spec() measure.Version {
	t := func(ru, en string) measure.Text { return measure.Text{RU: ru, EN: en} }
	return measure.Version{
		Number: 1, EffectiveFrom: civil.MustParse("2025-01-01"), Name: t("Контрактная мера", "The contract measure"),
		LegalBasis: []measure.LegalAct{{Number: "0", Date: civil.MustParse("2025-01-01"), Title: "Контракт", Authority: "Платформа"}},
		KMSZ:       "0101", Form: "01", Periodicity: "monthly", Funding: []measure.Funding{{Source: "0002", SharePercent: 100}},
		Conditions: []measure.Condition{
			{Name: "resident", Expr: "person.resident", Title: t("Проживает в регионе", "Lives in the region"),
				Reason: t("ОКТМО {person.oktmo} не в регионе", "OKTMO {person.oktmo} is not in the region")},
			{Name: "adult", Expr: "person.age >= 18", Title: t("Совершеннолетний", "An adult"),
				Reason: t("возраст {person.age}", "age {person.age}")},
			{Name: "child_under_three", Expr: "household.members.exists(m, m.relation == 'child' && m.age < 3)",
				Title: t("Есть ребёнок до трёх лет", "A child under three"), Reason: t("нет ребёнка до трёх лет", "no child under three")},
			{Name: "low_income", Expr: "household.per_capita_income < minimum.per_capita",
				Title: t("Доход ниже ПМ", "Income below the minimum"),
				Reason: t("доход {rub(household.per_capita_income)} не ниже ПМ {rub(minimum.per_capita)}",
					"income {rub(household.per_capita_income)} is not below the minimum {rub(minimum.per_capita)}")},
		},
		Amount: "minimum.children * household.members.filter(m, m.relation == 'child' && m.age < 3).size()",
		Period: measure.Period{Start: "date", End: "add_months(date, 12)"},
	}
}

// Expected is the contract measure's outcome for a case, computed by hand:
// what any evaluator of Spec must answer (explanations aside).
func Expected(c measure.Case) measure.Outcome {
	under3 := 0
	for _, m := range c.Household.Members {
		if m.Relation == "child" && m.Age < 3 {
			under3++
		}
	}
	held := []bool{c.Person.Resident, c.Person.Age >= 18, under3 > 0, c.Household.PerCapitaKopecks < c.Minimum.PerCapita}
	o := measure.Outcome{CaseID: c.ID, Eligible: !slices.Contains(held, false)}
	for i, name := range []string{"resident", "adult", "child_under_three", "low_income"} {
		o.Conditions = append(o.Conditions, measure.ConditionResult{Name: name, Held: held[i]})
	}
	if o.Eligible {
		d := civil.Of(c.Date)
		o.AmountKopecks = c.Minimum.Children * int64(under3)
		o.Start, o.End = d, d.AddDate(0, 12, 0)
	}
	return o
}

// Cases are n deterministic cases that cover every condition failing alone
// and together, edges included (a child of 2 years and 364 days, income one
// kopeck below the minimum).
func Cases(n int) []measure.Case {
	base := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	min := measure.Minimums{PerCapita: 1_893_900, WorkingAge: 2_064_400, Pensioners: 1_628_800, Children: 1_837_100}
	out := make([]measure.Case, n)
	for i := range out {
		c := measure.Case{ID: fmt.Sprintf("case-%d", i), Date: base.AddDate(0, 0, i%400), Minimum: min}
		c.Person = measure.Subject{Age: int64(16 + i%5), Resident: i%7 != 3, OKTMO: "65701000", Categories: []string{}}
		c.Household.Members = []measure.Member{{Relation: "self", Age: c.Person.Age, Categories: []string{}}}
		for k := range i % 4 {
			c.Household.Members = append(c.Household.Members, measure.Member{Relation: "child", Age: int64((i/4 + k*2) % 6), Categories: []string{}})
		}
		if i%11 == 5 {
			c.Household.Members = append(c.Household.Members, measure.Member{Relation: "spouse", Age: 40, Categories: []string{}})
		}
		c.Household.Size = int64(len(c.Household.Members))
		c.Household.PerCapitaKopecks = min.PerCapita - 1 + int64(i%3)
		out[i] = c
	}
	return out
}

// Contract runs the batch interface's contract against ev, an evaluator
// of Spec.
func Contract(t *testing.T, ev measure.Evaluator) {
	ctx := context.Background()
	t.Run("outcomes match the measure, in order", func(t *testing.T) {
		cases := Cases(500)
		out, err := ev.Evaluate(ctx, cases)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(cases) {
			t.Fatalf("%d outcomes for %d cases", len(out), len(cases))
		}
		eligible := 0
		for i, o := range out {
			want := Expected(cases[i])
			if o.CaseID != want.CaseID || o.Eligible != want.Eligible || o.AmountKopecks != want.AmountKopecks ||
				o.Start != want.Start || o.End != want.End || o.Error != "" {
				t.Fatalf("case %d: %+v, want %+v", i, o, want)
			}
			if len(o.Conditions) != len(want.Conditions) {
				t.Fatalf("case %d: conditions %+v, want %+v", i, o.Conditions, want.Conditions)
			}
			for k, c := range o.Conditions {
				x := c.Explanation.With(o.Figures)
				if c.Name != want.Conditions[k].Name || c.Held != want.Conditions[k].Held || x.RU == "" || x.EN == "" {
					t.Fatalf("case %d condition %d: %+v, want %+v with explanations", i, k, c, want.Conditions[k])
				}
				if strings.Contains(x.RU+x.EN, "{") {
					t.Fatalf("case %d condition %d: explained as %q / %q, a placeholder not written in", i, k, x.RU, x.EN)
				}
			}
			if o.Eligible {
				eligible++
			}
		}
		if eligible == 0 || eligible == len(out) {
			t.Fatalf("%d of %d eligible: the cases must cover both", eligible, len(out))
		}
	})
	t.Run("an empty batch", func(t *testing.T) {
		out, err := ev.Evaluate(ctx, nil)
		if err != nil || len(out) != 0 {
			t.Fatalf("%v, %v", out, err)
		}
	})
	t.Run("a large batch equals its cases one by one", func(t *testing.T) {
		cases := Cases(5000)
		all, err := ev.Evaluate(ctx, cases)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 1, 2047, 2048, 4999} {
			one, err := ev.Evaluate(ctx, cases[i:i+1])
			if err != nil || len(one) != 1 || one[0].Eligible != all[i].Eligible || one[0].AmountKopecks != all[i].AmountKopecks || one[0].CaseID != all[i].CaseID {
				t.Fatalf("case %d alone: %+v, %v; in the batch %+v", i, one, err, all[i])
			}
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		cases := Cases(300)
		a, err1 := ev.Evaluate(ctx, cases)
		b, err2 := ev.Evaluate(ctx, cases)
		if err1 != nil || err2 != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("two evaluations differ: %v %v", err1, err2)
		}
	})
	t.Run("a cancelled context fails the batch", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		out, err := ev.Evaluate(cctx, Cases(10_000))
		if !errors.Is(err, context.Canceled) || out != nil {
			t.Fatalf("%d outcomes, %v; want none and context.Canceled", len(out), err)
		}
	})
}
