package measure

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/socialtreasury/treasury/core/civil"
	sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"
)

// Evaluator decides batches of cases: one outcome per case, in the order of
// the cases. A rule that fails on a case (a division by zero, a missing
// application field) makes that case's outcome ineligible with Error set;
// the error returned is for the batch as a whole (a cancelled context, a
// plug-in that is down). Plug-in measures implement it too, so nothing in
// it is CEL's.
type Evaluator interface {
	Evaluate(ctx context.Context, cases []Case) ([]Outcome, error)
}

// ApplicationValidator is an evaluator that also checks an application's
// data before it is registered: a plug-in measure's optional extra. A CEL
// version's evaluator is not one.
type ApplicationValidator interface {
	ValidateApplication(ctx context.Context, data map[string]string) ([]FieldProblem, error)
}

// FieldProblem is what is wrong with one field of an application's data.
type FieldProblem = sdkmeasure.FieldProblem

// Outcome is the decision on one case and its explanation.
type Outcome struct {
	CaseID   string `json:"case_id"`
	Eligible bool   `json:"eligible"`
	// AmountKopecks, Start and End are set when Eligible; End is zero for
	// an open-ended period.
	AmountKopecks int64             `json:"amount_kopecks"`
	Start         civil.Date        `json:"start,omitzero"`
	End           civil.Date        `json:"end,omitzero"`
	Conditions    []ConditionResult `json:"conditions"`
	// Figures are the case's figures a plug-in's explanations name by
	// their placeholders ({1}, {2}…), written in when the outcome is read:
	// by Failed, and in its JSON.
	Figures []sdkmeasure.Figure `json:"-"`
	Error   string              `json:"error,omitempty"`
}

// MarshalJSON writes the outcome with its figures written into its
// conditions' explanations, as the platform stores and shows it.
func (o Outcome) MarshalJSON() ([]byte, error) {
	type plain Outcome // without this method
	p := plain(o)
	if len(o.Figures) > 0 {
		p.Conditions = make([]ConditionResult, len(o.Conditions))
		for i, c := range o.Conditions {
			c.Explanation = c.Explanation.With(o.Figures)
			p.Conditions[i] = c
		}
	}
	return json.Marshal(p)
}

// ConditionResult says whether a condition held and why. It is the SDK's,
// as Text is: a plug-in's 1,000-case batch then hands its six thousand
// results over as they are.
type ConditionResult = sdkmeasure.ConditionResult

// Failed lists the conditions that did not hold, their explanations
// with the figures written in.
func (o Outcome) Failed() []ConditionResult {
	var out []ConditionResult
	for _, c := range o.Conditions {
		if !c.Held {
			c.Explanation = c.Explanation.With(o.Figures)
			out = append(out, c)
		}
	}
	return out
}

// parallelFrom is the batch size from which Evaluate spreads a batch over
// the CPUs.
const parallelFrom = 2048

// Evaluate implements Evaluator for a compiled version.
func (p *Program) Evaluate(ctx context.Context, cases []Case) ([]Outcome, error) {
	return p.run(ctx, cases, true)
}

// Decide is Evaluate without the reasons of failed conditions (their
// explanations are empty): for runs over a registry that keep counts.
func (p *Program) Decide(ctx context.Context, cases []Case) ([]Outcome, error) {
	return p.run(ctx, cases, false)
}

func (p *Program) run(ctx context.Context, cases []Case, explain bool) ([]Outcome, error) {
	out := make([]Outcome, len(cases))
	workers := min(runtime.GOMAXPROCS(0), len(cases)/parallelFrom+1)
	chunk := (len(cases) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		from, to := w*chunk, min(len(cases), (w+1)*chunk)
		wg.Go(func() {
			for i := from; i < to; i++ {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				out[i] = p.evaluate(&cases[i], explain)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Program) evaluate(c *Case, explain bool) Outcome {
	a := &activation{c: c, date: types.Timestamp{Time: c.Date}}
	o := Outcome{CaseID: c.ID, Eligible: true, Conditions: make([]ConditionResult, len(p.conditions))}
	if err := fits(c); err != nil {
		o.Conditions = nil
		return failed(o, err.Error())
	}
	for i := range p.conditions {
		pc := &p.conditions[i]
		r := ConditionResult{Name: pc.name}
		v, _, err := pc.cond.prog.Eval(a)
		if err != nil {
			return failed(o, fmt.Sprintf("condition %s: %v", pc.name, err))
		}
		r.Held = v == types.True
		if r.Held {
			r.Explanation = pc.title
		} else {
			o.Eligible = false
			if explain {
				r.Explanation = Text{RU: pc.reasonRU.render(a), EN: pc.reasonEN.render(a)}
			}
		}
		o.Conditions[i] = r
	}
	if !o.Eligible {
		return o
	}
	v, _, err := p.amount.prog.Eval(a)
	if err != nil {
		return failed(o, fmt.Sprintf("amount: %v", err))
	}
	o.AmountKopecks = int64(v.(types.Int))
	if o.AmountKopecks < 0 {
		return failed(o, fmt.Sprintf("amount: %d kopecks is negative", o.AmountKopecks))
	}
	if o.Start, err = dateOf(p.start, a); err != nil {
		return failed(o, fmt.Sprintf("period.start: %v", err))
	}
	if p.end.prog != nil {
		if o.End, err = dateOf(p.end, a); err != nil {
			return failed(o, fmt.Sprintf("period.end: %v", err))
		}
		if o.End.Before(o.Start) {
			return failed(o, fmt.Sprintf("period: ends %s before it starts %s", o.End, o.Start))
		}
	}
	return o
}

func failed(o Outcome, msg string) Outcome {
	o.Eligible, o.AmountKopecks, o.Start, o.End, o.Error = false, 0, civil.Date{}, civil.Date{}, msg
	return o
}

func dateOf(x expr, a interpreter.Activation) (civil.Date, error) {
	v, _, err := x.prog.Eval(a)
	if err != nil {
		return civil.Date{}, err
	}
	return civil.Of(v.(types.Timestamp).Time.UTC()), nil
}

func (t template) render(a interpreter.Activation) string {
	var b strings.Builder
	for i, part := range t.parts {
		b.WriteString(part)
		if i < len(t.exprs) && t.exprs[i].prog != nil {
			v, _, err := t.exprs[i].prog.Eval(a)
			if err != nil {
				b.WriteString("?")
				continue
			}
			b.WriteString(display(v))
		}
	}
	return b.String()
}

func display(v ref.Val) string {
	switch x := v.(type) {
	case types.String:
		return string(x)
	case types.Timestamp:
		return civil.Of(x.Time.UTC()).String()
	case types.Int:
		return fmt.Sprint(int64(x))
	}
	return fmt.Sprint(v.Value())
}

// activation resolves the case schema's variables for one case.
type activation struct {
	c    *Case
	date types.Timestamp
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "date":
		return a.date, true
	case "person":
		return &a.c.Person, true
	case "household":
		return &a.c.Household, true
	case "minimum":
		return &a.c.Minimum, true
	case "assignments":
		return a.c.Assignments, true
	case "application":
		if a.c.Application == nil {
			return map[string]string{}, true
		}
		return a.c.Application, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// fits checks a case against the sizes the rules' cost estimates assume.
func fits(c *Case) error {
	long := func(ss []string) bool {
		for _, s := range ss {
			if len(s) > MaxStringSize {
				return true
			}
		}
		return false
	}
	switch {
	case len(c.Household.Members) > maxMembers:
		return fmt.Errorf("the case has %d household members, above %d", len(c.Household.Members), maxMembers)
	case len(c.Assignments) > maxAssignments:
		return fmt.Errorf("the case has %d assignments, above %d", len(c.Assignments), maxAssignments)
	case len(c.Application) > maxFields:
		return fmt.Errorf("the application has %d fields, above %d", len(c.Application), maxFields)
	case len(c.Person.Categories) > maxCategories || long(c.Person.Categories) || len(c.Person.OKTMO) > MaxStringSize || len(c.Person.Sex) > MaxStringSize:
		return fmt.Errorf("the person's categories or codes exceed the case schema's sizes")
	}
	for _, m := range c.Household.Members {
		if len(m.Categories) > maxCategories || long(m.Categories) || len(m.Relation) > MaxStringSize || len(m.Sex) > MaxStringSize {
			return fmt.Errorf("a household member's categories or codes exceed the case schema's sizes")
		}
	}
	for _, a := range c.Assignments {
		if len(a.Measure) > MaxStringSize || len(a.Status) > MaxStringSize {
			return fmt.Errorf("an assignment's codes exceed the case schema's sizes")
		}
	}
	for k, v := range c.Application {
		if len(k) > MaxStringSize || len(v) > MaxStringSize {
			return fmt.Errorf("an application field exceeds %d bytes", MaxStringSize)
		}
	}
	return nil
}
