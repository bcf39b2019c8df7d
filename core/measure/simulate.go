package measure

import (
	"context"
	"errors"
	"reflect"
	"sync"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
)

// Person is one person of a run over the registry.
type Person struct {
	ID          uuid.UUID
	Record      *facts.Record
	OKTMO       string
	Assignments []Assignment
}

// Population is a region's registry as a run over it reads it.
type Population interface {
	// Shared gives what every case of the region on a date shares (the
	// region, its subsistence minimums, the income kinds counted).
	Shared(ctx context.Context, on civil.Date) (Inputs, error)
	// IDs gives the ids of the next persons after the given id (uuid.Nil:
	// from the start), in order; none at the end.
	IDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
	// Load gives the persons of ids, in their order, as of a date.
	Load(ctx context.Context, ids []uuid.UUID, on civil.Date) ([]Person, error)
}

// Totals sum a version's outcomes.
type Totals struct {
	Eligible      int   `json:"eligible"`
	AmountKopecks int64 `json:"amount_kopecks"` // the sum of the eligible persons' amounts: a month's cost of a monthly measure
}

// Change is one kind of difference between two versions' outcomes.
type Change struct {
	Count int `json:"count"`
	// CostKopecks is what the change adds to the cost (negative: saves).
	CostKopecks int64 `json:"cost_kopecks"`
	// Sample names some of the persons (ids), in registry order.
	Sample []string `json:"sample"`
}

// SimulationResult compares a version with the one in force over a whole
// registry at a date.
type SimulationResult struct {
	Date    civil.Date `json:"date"`
	Persons int        `json:"persons"`
	Version Totals     `json:"version"`
	// Active is the version in force on the date; zero when there is none.
	Active  Totals `json:"active"`
	Gained  Change `json:"gained"`
	Lost    Change `json:"lost"`
	Changed Change `json:"amount_changed"`
	// Errors counts the cases a rule failed on (ineligible by either).
	Errors int `json:"errors"`
}

// evaluatePage assembles and decides a page's cases in two halves at once:
// the database and the loaders leave the second CPU room.
func evaluatePage(ctx context.Context, persons []Person, shared Inputs, on civil.Date, version, active Evaluator) (outs, was []Outcome, err error) {
	n := len(persons)
	cases := make([]Case, n)
	outs = make([]Outcome, n)
	if same(version, active) {
		// The version simulated is the one in force: its outcomes are the
		// active ones, not to be decided twice.
		defer func() { was = outs }()
		active = nil
	}
	if active != nil {
		was = make([]Outcome, n)
	}
	var errs [2]error
	var wg sync.WaitGroup
	for part := range 2 {
		lo, hi := part*n/2, (part+1)*n/2
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				in := shared
				in.OKTMO, in.Assignments = persons[i].OKTMO, persons[i].Assignments
				cases[i] = Assemble(persons[i].ID.String(), persons[i].Record, on, in)
			}
			o, err := decide(ctx, version, cases[lo:hi])
			if err != nil {
				errs[part] = err
				return
			}
			copy(outs[lo:hi], o)
			if active != nil {
				w, err := decide(ctx, active, cases[lo:hi])
				if err != nil {
					errs[part] = err
					return
				}
				copy(was[lo:hi], w)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, nil, err
	}
	return outs, was, nil
}

// same tells whether two evaluators are one (a version simulated against
// itself).
func same(a, b Evaluator) bool {
	ta := reflect.TypeOf(a)
	return a != nil && ta == reflect.TypeOf(b) && ta.Comparable() && a == b
}

// loaders is how many pages a run reads at once.
const loaders = 2

// quiet is an evaluator that can decide without writing the reasons of
// failed conditions (a run over the registry keeps only counts).
type quiet interface {
	Decide(ctx context.Context, cases []Case) ([]Outcome, error)
}

func decide(ctx context.Context, ev Evaluator, cases []Case) ([]Outcome, error) {
	if q, ok := ev.(quiet); ok {
		return q.Decide(ctx, cases)
	}
	return ev.Evaluate(ctx, cases)
}

// SampleSize bounds each change's sample.
const SampleSize = 20

// PageSize is how many persons a run reads at a time.
const PageSize = 2000

// Simulate evaluates a version (and the active one, when not nil) over a
// whole population at a date, reading the next page while it evaluates
// this one. progress, when not nil, is told how many persons are done;
// sink, when not nil, gets every page's subjects and the version's outcomes.
func Simulate(ctx context.Context, pop Population, version, active Evaluator, on civil.Date,
	progress func(done int), sink func([]Person, []Outcome) error) (SimulationResult, error) {
	res := SimulationResult{Date: on}
	shared, err := pop.Shared(ctx, on)
	if err != nil {
		return res, err
	}
	// A pager walks the ids; loaders read pages of persons concurrently
	// (the database has CPUs of its own); pages are evaluated in order.
	type page struct {
		persons []Person
		err     error
		ready   chan struct{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan *page, loaders)
	go func() {
		defer close(pages)
		sem := make(chan struct{}, loaders)
		after := uuid.Nil
		for {
			ids, err := pop.IDs(ctx, after, PageSize)
			pg := &page{err: err, ready: make(chan struct{})}
			if err != nil || len(ids) == 0 {
				close(pg.ready)
				if err != nil {
					select {
					case pages <- pg:
					case <-ctx.Done():
					}
				}
				return
			}
			after = ids[len(ids)-1]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				pg.persons, pg.err = pop.Load(ctx, ids, on)
				close(pg.ready)
			}()
			select {
			case pages <- pg:
			case <-ctx.Done():
				return
			}
		}
	}()
	for pg := range pages {
		<-pg.ready
		if pg.err != nil {
			return res, pg.err
		}
		outs, was, err := evaluatePage(ctx, pg.persons, shared, on, version, active)
		if err != nil {
			return res, err
		}
		for i, o := range outs {
			res.add(o, was, i)
		}
		if sink != nil {
			if err := sink(pg.persons, outs); err != nil {
				return res, err
			}
		}
		res.Persons += len(outs)
		if progress != nil {
			progress(res.Persons)
		}
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, nil
}

func (r *SimulationResult) add(o Outcome, was []Outcome, i int) {
	if o.Error != "" {
		r.Errors++
	}
	if o.Eligible {
		r.Version.Eligible++
		r.Version.AmountKopecks += o.AmountKopecks
	}
	if was == nil {
		return
	}
	w := was[i]
	if w.Error != "" && o.Error == "" {
		r.Errors++
	}
	if w.Eligible {
		r.Active.Eligible++
		r.Active.AmountKopecks += w.AmountKopecks
	}
	switch {
	case o.Eligible && !w.Eligible:
		r.Gained.note(o.CaseID, o.AmountKopecks)
	case !o.Eligible && w.Eligible:
		r.Lost.note(o.CaseID, -w.AmountKopecks)
	case o.Eligible && o.AmountKopecks != w.AmountKopecks:
		r.Changed.note(o.CaseID, o.AmountKopecks-w.AmountKopecks)
	}
}

func (c *Change) note(id string, cost int64) {
	c.Count++
	c.CostKopecks += cost
	if len(c.Sample) < SampleSize {
		c.Sample = append(c.Sample, id)
	}
	if c.Sample == nil {
		c.Sample = []string{}
	}
}

// Cases assembles the cases of a page of a population (for benchmarks and
// tools that evaluate in bulk outside a simulation).
func Cases(ctx context.Context, pop Population, after uuid.UUID, limit int, on civil.Date) ([]Case, error) {
	shared, err := pop.Shared(ctx, on)
	if err != nil {
		return nil, err
	}
	ids, err := pop.IDs(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	ps, err := pop.Load(ctx, ids, on)
	if err != nil {
		return nil, err
	}
	out := make([]Case, len(ps))
	for i, p := range ps {
		in := shared
		in.OKTMO, in.Assignments = p.OKTMO, p.Assignments
		out[i] = Assemble(p.ID.String(), p.Record, on, in)
	}
	return out, nil
}
