package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// directoryCodes gives the registry the codes a region sees in a directory.
type directoryCodes struct{ dirs *directory.Service }

func (d directoryCodes) Codes(ctx context.Context, dir string) (map[string]map[string]any, error) {
	es, _, err := d.dirs.RegionEntries(ctx, dir, directory.Query{})
	if err != nil {
		return nil, err
	}
	set := make(map[string]map[string]any, len(es))
	for _, e := range es {
		set[e.Code] = e.Attributes
	}
	return set, nil
}

// caseSource assembles what a measure's case needs from the registry, the
// region and its directories.
type caseSource struct {
	persons     *registry.Service
	tenants     *tenancy.Cache
	dirs        *directory.Service
	assignments *assignment.Service
}

func (c caseSource) Case(ctx context.Context, person uuid.UUID, on civil.Date) (*facts.Record, measure.Inputs, error) {
	var in measure.Inputs
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, in, tenancy.ErrNoTenant
	}
	region, err := c.tenants.ByID(ctx, tid)
	if err != nil {
		return nil, in, err
	}
	p, err := c.persons.Get(ctx, person)
	if err != nil {
		return nil, in, err
	}
	rec, err := c.persons.Record(ctx, person, on)
	if err != nil {
		return nil, in, err
	}
	if in, err = c.shared(ctx, region, on); err != nil {
		return nil, in, err
	}
	in.OKTMO = p.Address.OKTMO
	as, err := c.assignments.OfPerson(ctx, person)
	if err != nil {
		return nil, in, err
	}
	in.Assignments = caseAssignments(as)
	return rec, in, nil
}

func (c caseSource) Shared(ctx context.Context, on civil.Date) (measure.Inputs, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return measure.Inputs{}, tenancy.ErrNoTenant
	}
	region, err := c.tenants.ByID(ctx, tid)
	if err != nil {
		return measure.Inputs{}, err
	}
	return c.shared(ctx, region, on)
}

func (c caseSource) shared(ctx context.Context, region tenancy.Tenant, on civil.Date) (measure.Inputs, error) {
	in := measure.Inputs{RegionOKTMO: region.OKTMO}
	var err error
	if in.Minimum, err = c.minimums(ctx, region.Code, on); err != nil {
		return in, err
	}
	kinds, _, err := c.dirs.RegionEntries(ctx, "income_kinds", directory.Query{AsOf: on})
	if err != nil {
		return in, err
	}
	excluded := map[string]bool{}
	for _, k := range kinds {
		if k.Attributes["counted"] == false {
			excluded[k.Code] = true
		}
	}
	in.Counted = func(kind string) bool { return !excluded[kind] }
	return in, nil
}

func (c caseSource) IDs(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	return c.persons.IDs(ctx, after, min(limit, registry.MaxRecordsBatch))
}

// Load reads persons with their records: the incomes of the months the
// case schema's windows cover, no others.
func (c caseSource) Load(ctx context.Context, ids []uuid.UUID, on civil.Date) ([]measure.Person, error) {
	from, to := measure.IncomeMonths(on)
	ss, err := c.persons.RecordsPage(ctx, ids, on, from, to)
	if err != nil {
		return nil, err
	}
	as, err := c.assignments.OfPersons(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]measure.Person, len(ss))
	for i, s := range ss {
		out[i] = measure.Person{ID: ids[i], Record: s.Record, OKTMO: s.OKTMO, Assignments: caseAssignments(as[ids[i]])}
	}
	return out, nil
}

// minimums are the region's subsistence minimums in force on a date.
func (c caseSource) minimums(ctx context.Context, region string, on civil.Date) (measure.Minimums, error) {
	es, _, err := c.dirs.RegionEntries(ctx, "subsistence_minimums", directory.Query{AsOf: on, Code: region})
	if err != nil {
		return measure.Minimums{}, err
	}
	if len(es) == 0 {
		return measure.Minimums{}, fault.NotFoundf("the subsistence minimums of region %s on %s", region, on)
	}
	a := es[0].Attributes
	var m measure.Minimums
	for name, dst := range map[string]*int64{"per_capita_kopecks": &m.PerCapita, "working_age_kopecks": &m.WorkingAge,
		"pensioners_kopecks": &m.Pensioners, "children_kopecks": &m.Children} {
		n, ok := a[name].(json.Number)
		if !ok {
			return m, fmt.Errorf("subsistence minimums of region %s: %s is %T", region, name, a[name])
		}
		if *dst, err = n.Int64(); err != nil {
			return m, fmt.Errorf("subsistence minimums of region %s: %s: %w", region, name, err)
		}
	}
	return m, nil
}

// caseAssignments are a person's assignments as a case shows them.
func caseAssignments(as []assignment.Assignment) []measure.Assignment {
	out := make([]measure.Assignment, 0, len(as))
	for _, a := range as {
		out = append(out, measure.Assignment{Measure: a.MeasureCode, Status: string(a.Status), AmountKopecks: a.AmountKopecks})
	}
	return out
}
