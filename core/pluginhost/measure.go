package pluginhost

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"
)

// MaxBatch is the most cases one Evaluate call carries; a larger batch is
// sent in several calls.
const MaxBatch = 2000

// Measure is the evaluator of a measure plug-in the context's region has
// enabled, at that version: measure.Evaluator, as a CEL version's is. The
// process starts on the first evaluation.
func (h *Host) Measure(ctx context.Context, name, version string) (measure.Evaluator, error) {
	p, err := h.enabled(ctx, name, version, grpcplugin.KindMeasure)
	if err != nil {
		return nil, err
	}
	return measureEvaluator{p}, nil
}

// Describe asks a measure plug-in the region has enabled to describe
// itself.
func (h *Host) Describe(ctx context.Context, name string) (sdkmeasure.Description, error) {
	p, err := h.enabled(ctx, name, "", grpcplugin.KindMeasure)
	if err != nil {
		return sdkmeasure.Description{}, err
	}
	var d sdkmeasure.Description
	err = p.call(ctx, "Describe", func(ctx context.Context, raw any) error {
		var err error
		d, err = raw.(*grpcplugin.MeasureClient).Describe(ctx)
		return err
	})
	return d, err
}

type measureEvaluator struct{ p *proc }

// Evaluate sends the cases in calls of at most MaxBatch. A call whose
// process dies is sent again, whole, to the restarted process: each
// case gets exactly one outcome.
func (e measureEvaluator) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	return e.evaluate(ctx, cases, true)
}

// Decide is Evaluate without the explanations (runs over the registry).
func (e measureEvaluator) Decide(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	return e.evaluate(ctx, cases, false)
}

func (e measureEvaluator) evaluate(ctx context.Context, cases []measure.Case, explain bool) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, 0, len(cases))
	b := batches.Get().(*batch)
	defer batches.Put(b)
	for len(cases) > 0 {
		n := min(len(cases), MaxBatch)
		in := b.of(cases[:n])
		var res []sdkmeasure.Outcome
		err := e.p.call(ctx, "Evaluate", func(ctx context.Context, raw any) error {
			var err error
			if explain {
				res, err = raw.(*grpcplugin.MeasureClient).Evaluate(ctx, in)
			} else {
				res, err = raw.(*grpcplugin.MeasureClient).Decide(ctx, in)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(res) != n {
			return nil, fmt.Errorf("plug-in %s: %d outcomes for %d cases", e.p.entry.Name, len(res), n)
		}
		out = outcomesFromSDK(out, res)
		cases = cases[n:]
	}
	return out, nil
}

// batch holds a batch's cases as the SDK has them. The cases are the
// core's, field for field; what is copied is the structs, strings and
// lists stay shared. Batches are kept for the next call, so that a
// simulation over millions does not make the collector clear up a copy
// of each of its pages.
type batch struct {
	cases       []sdkmeasure.Case
	members     []sdkmeasure.Member
	assignments []sdkmeasure.Assignment
}

var batches = sync.Pool{New: func() any { return new(batch) }}

func (b *batch) of(cases []measure.Case) []sdkmeasure.Case {
	b.cases, b.members, b.assignments = b.cases[:0], b.members[:0], b.assignments[:0]
	var members, assignments int
	for i := range cases {
		members += len(cases[i].Household.Members)
		assignments += len(cases[i].Assignments)
	}
	// Members and assignments are cut from one array each, which must not
	// move while the cases are built.
	b.members = slices.Grow(b.members, members)
	b.assignments = slices.Grow(b.assignments, assignments)
	for i := range cases {
		c, p := &cases[i], &cases[i].Person
		lo := len(b.members)
		for _, m := range c.Household.Members {
			b.members = append(b.members, sdkmeasure.Member(m))
		}
		alo := len(b.assignments)
		for _, a := range c.Assignments {
			b.assignments = append(b.assignments, sdkmeasure.Assignment(a))
		}
		b.cases = append(b.cases, sdkmeasure.Case{ID: c.ID, Date: c.Date, Application: c.Application,
			Person: sdkmeasure.Subject{Age: p.Age, AgeMonths: p.AgeMonths, Sex: p.Sex, BirthDate: p.BirthDate, Alive: p.Alive,
				Resident: p.Resident, OKTMO: p.OKTMO, Categories: p.Categories, DisabilityGroup: p.DisabilityGroup,
				IncomeKopecks: p.IncomeKopecks, Working: p.Working},
			Household: sdkmeasure.Household{Size: c.Household.Size, PerCapitaKopecks: c.Household.PerCapitaKopecks,
				PerCapita3Kopecks: c.Household.PerCapita3Kopecks, Members: b.members[lo:len(b.members):len(b.members)]},
			Minimum:     sdkmeasure.Minimums(c.Minimum),
			Assignments: b.assignments[alo:len(b.assignments):len(b.assignments)],
		})
	}
	return b.cases
}

// outcomesFromSDK appends a batch's outcomes to out. The conditions are
// the SDK's type, and are kept as they came.
func outcomesFromSDK(out []measure.Outcome, res []sdkmeasure.Outcome) []measure.Outcome {
	for i := range res {
		o := &res[i]
		x := measure.Outcome{CaseID: o.CaseID, Eligible: o.Eligible, AmountKopecks: o.AmountKopecks, Error: o.Error,
			Conditions: o.Conditions}
		if !o.Start.IsZero() {
			x.Start = civil.Of(o.Start)
		}
		if !o.End.IsZero() {
			x.End = civil.Of(o.End)
		}
		out = append(out, x)
	}
	return out
}
