package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

// registryCases are 1,000 cases as a registry gives them: most persons
// eligible for nothing, each for a reason of their own (an age, an
// income).
func registryCases() []measure.Case {
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	out := make([]measure.Case, 1000)
	for i := range out {
		age := int64(i % 90)
		c := measure.Case{ID: fmt.Sprintf("019a0000-0000-7000-8000-%012d", i), Date: d,
			Person: measure.Subject{Age: age, Resident: i%10 != 0, OKTMO: "65701000", Categories: []string{}},
			Household: measure.Household{Size: 2, PerCapitaKopecks: int64(1_000_000 + i*7_919), Members: []measure.Member{
				{Relation: "self", Age: age}, {Relation: "child", Age: int64(i % 7)}}},
			Minimum: measure.Minimums{PerCapita: 1_893_900, Children: 1_837_100}}
		if i%3 == 0 {
			c.Person.Categories = []string{"low_income"}
		}
		out[i] = c
	}
	return out
}

// BenchmarkEvaluate is the measure's own cost for 1,000 cases, and the
// same over the protocol in this process (both sides' encoding).
func BenchmarkEvaluate(b *testing.B) {
	cases := registryCases()
	ctx := context.Background()
	for _, explain := range []bool{true, false} {
		b.Run(fmt.Sprint("measure/explain=", explain), func(b *testing.B) {
			ctx := measure.WithExplanations(ctx, explain)
			for b.Loop() {
				if _, err := (lowIncomeChild{}).Evaluate(ctx, cases); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	client := sdktest.Measure(b, lowIncomeChild{})
	ctx = sdktest.Context(b, "66")
	b.Run("protocol/explain=true", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Evaluate(ctx, cases); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protocol/explain=false", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Decide(ctx, cases); err != nil {
				b.Fatal(err)
			}
		}
	})
}
