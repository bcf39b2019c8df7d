package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// PullBatch is the most persons one call to a data source asks about.
const PullBatch = 1000

// MaxProblems is how many refused facts a PullResult lists.
const MaxProblems = 100

// DefaultSource names the system in the registry when a source's facts do
// not.
const DefaultSource = "connector"

// PullResult is what a Pull did.
type PullResult struct {
	Asked    int // persons (distinct SNILS) given
	Unknown  int // of them, not in the region's registry: skipped, not asked about
	Answered int // persons the source had facts of
	// The facts recorded, by what recording them did.
	Added, Corrected, Unchanged int
	// Rejected counts the facts the registry refused (an unknown category
	// code, an income in the future); Problems lists the first MaxProblems.
	Rejected int
	Problems []Problem
}

// Problem is a fact the registry refused.
type Problem struct {
	PersonID uuid.UUID
	Fact     string // "category large_family from 2024-02-01", "income salary 2025-03"
	Reason   string
}

// Pull asks ds for the facts of the persons with these SNILS (11 digits or
// XXX-XXX-XXX YY) as of asOf (the zero date: today), and records them in
// the context's region's registry as facts from a connector — categories
// with their periods, incomes by month and kind under the source's name —
// through the registry's own methods, so that they are checked against the
// region's directories and audited like any other. A person not in the
// registry is counted and skipped (and not sent to the source); a merged
// duplicate's facts go to the person it was merged into. The source is
// asked PullBatch persons a call.
//
// A fact the registry refuses is counted in the result and the others are
// recorded; a source that fails, or answers against the contract, stops
// the pull with its error, and the result counts what was recorded before.
// Pulling again is safe: a fact recorded already is Unchanged.
func Pull(ctx context.Context, ds DataSource, reg *registry.Service, snils []string, asOf civil.Date) (PullResult, error) {
	var res PullResult
	if _, ok := tenancy.FromContext(ctx); !ok {
		return res, tenancy.ErrNoTenant
	}
	v := &fault.Invalid{}
	var all []string
	seen := make(map[string]bool, len(snils))
	for i, s := range snils {
		n, err := ident.NormalizeSNILS(s)
		if err != nil {
			v.Add(fmt.Sprintf("snils[%d]", i), "is not a valid SNILS: "+err.Error(), nil)
			continue
		}
		if !seen[n] {
			seen[n] = true
			all = append(all, n)
		}
	}
	if err := v.Err(); err != nil {
		return res, err
	}
	res.Asked = len(all)
	for len(all) > 0 {
		n := min(len(all), PullBatch)
		if err := pullBatch(ctx, ds, reg, all[:n], asOf, &res); err != nil {
			return res, err
		}
		all = all[n:]
	}
	return res, nil
}

func pullBatch(ctx context.Context, ds DataSource, reg *registry.Service, snils []string, asOf civil.Date, res *PullResult) error {
	ids, err := reg.IDsBySNILS(ctx, snils)
	if err != nil {
		return err
	}
	refs := make([]PersonRef, 0, len(ids))
	for _, s := range snils {
		if _, ok := ids[s]; ok {
			refs = append(refs, PersonRef{SNILS: s})
		}
	}
	res.Unknown += len(snils) - len(refs)
	if len(refs) == 0 {
		return nil
	}
	var at time.Time
	if !asOf.IsZero() {
		at = asOf.Time()
	}
	answer, err := ds.Facts(ctx, refs, at)
	if err != nil {
		return err
	}
	// Whatever the source, its answer is held to the contract: a fact on a
	// person not asked about must not reach the registry.
	answer, err = checkFacts(refs, answer)
	if err != nil {
		return err
	}
	for _, pf := range answer {
		res.Answered++
		if err := record(ctx, reg, ids[pf.SNILS], &pf, res); err != nil {
			return err
		}
	}
	return nil
}

// record puts one person's facts into the registry.
func record(ctx context.Context, reg *registry.Service, id uuid.UUID, pf *PersonFacts, res *PullResult) error {
	source := pf.Source
	if source == "" {
		source = DefaultSource
	}
	for _, c := range pf.Categories {
		cat := registry.Category{PersonID: id, Code: c.Code, Origin: registry.Connector}
		if !c.Period.From.IsZero() {
			cat.ValidFrom = civil.Of(c.Period.From)
		}
		if !c.Period.To.IsZero() {
			to := civil.Of(c.Period.To)
			cat.ValidTo = &to
		}
		_, out, err := reg.PutCategory(ctx, cat)
		what := fmt.Sprintf("category %s from %s", echo(c.Code), cat.ValidFrom)
		if err := tally(res, id, what, out, err); err != nil {
			return err
		}
	}
	for _, in := range pf.Incomes {
		_, out, err := reg.PutIncome(ctx, registry.Income{PersonID: id, Month: in.Month, Kind: in.Kind,
			AmountKopecks: in.AmountKopecks, Source: source, Origin: registry.Connector})
		if err := tally(res, id, fmt.Sprintf("income %s %s", echo(in.Kind), in.Month), out, err); err != nil {
			return err
		}
	}
	return nil
}

// tally counts a fact's outcome. The registry refusing the fact — it is
// invalid, or the person was merged or is gone since it was found — is a
// problem of that fact; anything else (the database) stops the pull.
func tally(res *PullResult, id uuid.UUID, what string, out registry.Outcome, err error) error {
	switch {
	case err == nil:
		switch out {
		case registry.Added:
			res.Added++
		case registry.Corrected:
			res.Corrected++
		case registry.Unchanged:
			res.Unchanged++
		}
		return nil
	case errors.Is(err, fault.ErrInvalid), errors.Is(err, fault.ErrConflict), errors.Is(err, fault.ErrNotFound):
		res.Rejected++
		if len(res.Problems) < MaxProblems {
			res.Problems = append(res.Problems, Problem{PersonID: id, Fact: what, Reason: err.Error()})
		}
		return nil
	}
	return err
}
