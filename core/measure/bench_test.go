package measure

import (
	"context"
	"os"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
)

// BenchmarkEvaluate is raw rule evaluation: the six-condition means-tested
// measure of region 66 over prepared cases, on every CPU.
func BenchmarkEvaluate(b *testing.B) {
	ms, err := LoadDir(os.DirFS("../../tenants"), "66-sverdlovsk/measures")
	if err != nil {
		b.Fatal(err)
	}
	var p *Program
	for _, m := range ms {
		if m.Code == "low_income_child" {
			if p, err = Compile(&m.Versions[0]); err != nil {
				b.Fatal(err)
			}
		}
	}
	cases := make([]Case, 4096)
	for i := range cases {
		// Babies of 2 years and older, half of them eligible.
		cases[i] = newFamily(civil.MustParse("2024-01-15").AddDays(-i%800)).at("2026-03-10", "66-sverdlovsk")
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := p.Evaluate(context.Background(), cases); err != nil {
			b.Fatal(err)
		}
		n += len(cases)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cases/s")
	b.ReportMetric(float64(n*len(p.conditions))/b.Elapsed().Seconds(), "conditions/s")
}
