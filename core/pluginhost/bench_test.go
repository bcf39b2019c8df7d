package pluginhost_test

import (
	"context"
	"testing"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
)

// BenchmarkEvaluate is a call through the host to a running plug-in
// process, with the host's default limits: one case, and a batch of 1,000.
func BenchmarkEvaluate(b *testing.B) {
	opts, d := fast(), pluginhost.DefaultOptions("")
	opts.CPUs, opts.GCPercent, opts.MemoryBytes = d.CPUs, d.GCPercent, d.MemoryBytes
	f := newFixture(b, store.SQLite, opts)
	ev := f.enable(b, "66", "contract", map[string]any{})
	for _, n := range []int{1, 1000} {
		cases := measuretest.Cases(n)
		if _, err := ev.Evaluate(context.Background(), cases); err != nil {
			b.Fatal(err)
		}
		b.Run(map[int]string{1: "one", 1000: "batch1000"}[n], func(b *testing.B) {
			for b.Loop() {
				if _, err := ev.Evaluate(context.Background(), cases); err != nil {
					b.Fatal(err)
				}
			}
		})
		// As a simulation calls: without explanations.
		d := ev.(interface {
			Decide(context.Context, []measure.Case) ([]measure.Outcome, error)
		})
		b.Run(map[int]string{1: "decide-one", 1000: "decide-batch1000"}[n], func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Decide(context.Background(), cases); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
