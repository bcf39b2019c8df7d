package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Activities of a social contract (Federal Law No. 178-FZ, art. 8.1, and
// Government Resolution No. 1931 of 2022) as the regions fund them.
const (
	JobSearch     = "job_search"     // look for work: monthly while searching and for 3 months after employment
	Business      = "business"       // register as an entrepreneur or self-employed: a lump sum
	Farm          = "farm"           // run a personal subsidiary farm: a lump sum
	HardSituation = "hard_situation" // other measures to overcome a hard life situation: monthly
)

var activities = []string{JobSearch, Business, Farm, HardSituation}

// stepKinds are the steps an individual plan is made of.
var stepKinds = []string{"registration", "training", "job_search", "employment", "business_registration", "equipment", "farm_start", "report"}

// Step is one step of the individual plan: what is to be done in a month.
type Step struct {
	Month time.Time // the first of the month
	Kind  string
}

// ParsePlan reads an individual plan as the application carries it:
// steps separated by ";", each "YYYY-MM:kind", in the order of months
// (two steps may share a month). The error names the step by its number.
func ParsePlan(s string) ([]Step, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("the plan has no steps")
	}
	parts := strings.Split(s, ";")
	if len(parts) > 24 {
		return nil, fmt.Errorf("the plan has %d steps; at most 24", len(parts))
	}
	out := make([]Step, 0, len(parts))
	for i, p := range parts {
		month, kind, ok := strings.Cut(strings.TrimSpace(p), ":")
		if !ok {
			return nil, fmt.Errorf("step %d %q: want YYYY-MM:kind", i+1, p)
		}
		m, err := time.Parse("2006-01", month)
		if err != nil || len(month) != 7 {
			return nil, fmt.Errorf("step %d: %q is not a month YYYY-MM", i+1, month)
		}
		if !slices.Contains(stepKinds, kind) {
			return nil, fmt.Errorf("step %d: %q is not a step (%s)", i+1, kind, strings.Join(stepKinds, ", "))
		}
		if len(out) > 0 && m.Before(out[len(out)-1].Month) {
			return nil, fmt.Errorf("step %d: %s comes before the step above it", i+1, month)
		}
		out = append(out, Step{Month: m, Kind: kind})
	}
	return out, nil
}

// parseKopecks reads a non-negative whole number of kopecks.
func parseKopecks(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a whole non-negative number of kopecks", s)
	}
	return n, nil
}
