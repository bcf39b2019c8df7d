package grpcplugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/socialtreasury/treasury/sdk/measure"
)

// benchCases are cases of the size the platform sends: a household of
// three with categories and a date each.
func benchCases(n int) []measure.Case {
	out := make([]measure.Case, n)
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = measure.Case{ID: fmt.Sprintf("019a0000-0000-7000-8000-%012d", i), Date: d,
			Person: measure.Subject{Age: 30, AgeMonths: 360, Sex: "female", BirthDate: d.AddDate(-30, 0, 0), Alive: true, Resident: true,
				OKTMO: "65701000", Categories: []string{"low_income"}, IncomeKopecks: 12_000_000, Working: true},
			Household: measure.Household{Size: 3, PerCapitaKopecks: 1_500_000, PerCapita3Kopecks: 1_400_000, Members: []measure.Member{
				{Relation: "self", Age: 30, AgeMonths: 360, Sex: "female", BirthDate: d.AddDate(-30, 0, 0), Categories: []string{"low_income"}},
				{Relation: "spouse", Age: 32, AgeMonths: 384, Sex: "male", BirthDate: d.AddDate(-32, 0, 0), Categories: []string{}},
				{Relation: "child", Age: 1, AgeMonths: 14, Sex: "male", BirthDate: d.AddDate(-1, -2, 0), Categories: []string{}},
			}},
			Minimum: measure.Minimums{PerCapita: 1_893_900, WorkingAge: 2_064_400, Pensioners: 1_628_800, Children: 1_837_100},
		}
	}
	return out
}

// echo answers every case eligible with six held conditions, titles as
// explanations: the protocol's own cost.
type echo struct{ plain }

func (echo) Evaluate(_ context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cs))
	title := measure.Text{RU: "Условие выполнено", EN: "The condition holds"}
	names := []string{"resident", "adult", "child_under_three", "low_income_category", "income_below_minimum", "not_yet_assigned"}
	for i, c := range cs {
		conds := make([]measure.ConditionResult, len(names))
		for k, name := range names {
			conds[k] = measure.ConditionResult{Name: name, Held: true, Explanation: title}
		}
		out[i] = measure.Outcome{CaseID: c.ID, Eligible: true, AmountKopecks: 1_837_100, Start: c.Date, End: c.Date.AddDate(1, 0, 0), Conditions: conds}
		// Every fifth case fails a condition for reasons with its
		// figures in them.
		if i%5 == 4 {
			out[i] = measure.Outcome{CaseID: c.ID, Conditions: conds, Figures: []measure.Figure{measure.Money(c.Household.PerCapitaKopecks),
				measure.Money(c.Minimum.PerCapita), measure.Plain(c.Person.OKTMO), measure.Day(c.Date), measure.Number(c.Person.Age)}}
			conds[4] = measure.ConditionResult{Name: names[4], Explanation: notBelow}
			conds[0] = measure.ConditionResult{Name: names[0], Explanation: elsewhere}
		}
	}
	return out, nil
}

var (
	notBelow  = measure.Text{RU: "доход на человека {1} не ниже минимума {2}", EN: "per-capita income {1} is not below the minimum {2}"}
	elsewhere = measure.Text{RU: "ОКТМО {3} на {4} (возраст {5}) не в регионе", EN: "OKTMO {3} on {4} (age {5}) is not in the region"}
)

// BenchmarkMeasureCall is a call over a real gRPC connection in this
// process (no TLS, no second process): conversions and encoding.
func BenchmarkMeasureCall(b *testing.B) {
	client, server := plugin.TestPluginGRPCConn(b, false, map[string]plugin.Plugin{KindMeasure: &MeasurePlugin{Impl: echo{}}})
	defer client.Close()
	defer server.Stop()
	raw, err := client.Dispense(KindMeasure)
	if err != nil {
		b.Fatal(err)
	}
	m := raw.(*MeasureClient)
	for _, n := range []int{1, 1000} {
		cases := benchCases(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Evaluate(context.Background(), cases); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprint("decide", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Decide(context.Background(), cases); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
