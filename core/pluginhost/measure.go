package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/sdk"
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

// ValidateApplication asks the plug-in what is wrong with an application's
// data: nothing when it does not check (sdk.ErrUnsupported).
func (e measureEvaluator) ValidateApplication(ctx context.Context, data map[string]string) ([]measure.FieldProblem, error) {
	var out []measure.FieldProblem
	err := e.p.call(ctx, "ValidateApplication", func(ctx context.Context, raw any) error {
		var err error
		out, err = raw.(*grpcplugin.MeasureClient).ValidateApplication(ctx, data)
		return err
	})
	if errors.Is(err, sdk.ErrUnsupported) {
		return nil, nil
	}
	return out, err
}

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
	keep := func(o *sdkmeasure.Outcome) { out = append(out, outcomeFromSDK(o)) }
	for len(cases) > 0 {
		n := min(len(cases), MaxBatch)
		in := cases[:n] // the core's cases are the SDK's
		start := len(out)
		err := e.p.call(ctx, "Evaluate", func(ctx context.Context, raw any) error {
			out = out[:start] // a call sent again to a restarted process starts its batch again
			return raw.(*grpcplugin.MeasureClient).EvaluateEach(ctx, in, explain, keep)
		})
		if err != nil {
			return nil, err
		}
		if len(out)-start != n {
			return nil, fmt.Errorf("plug-in %s: %d outcomes for %d cases", e.p.entry.Name, len(out)-start, n)
		}
		cases = cases[n:]
	}
	return out, nil
}

// outcomeFromSDK is an outcome in the core's type. The conditions are the
// SDK's type, and are kept as they came.
func outcomeFromSDK(o *sdkmeasure.Outcome) measure.Outcome {
	x := measure.Outcome{CaseID: o.CaseID, Eligible: o.Eligible, AmountKopecks: o.AmountKopecks, Error: o.Error,
		Conditions: o.Conditions, Figures: o.Figures}
	if !o.Start.IsZero() {
		x.Start = civil.Of(o.Start)
	}
	if !o.End.IsZero() {
		x.End = civil.Of(o.End)
	}
	return x
}
