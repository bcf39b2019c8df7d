package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

// The golden cases hold in this process over gRPC, as the platform calls.
func TestGolden(t *testing.T) {
	sdktest.Golden(t, sdktest.Measure(t, socialContract{}), "testdata/cases.yaml")
}

// The built binary, started as the platform starts it, answers the same.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plug-in")
	}
	m := sdktest.Start(t, sdktest.Build(t, "."), "measure").(measure.Measure)
	d, err := m.Describe(sdktest.Context(t, "16"))
	if err != nil || d.Code != "social_contract" || len(d.Conditions) != 6 {
		t.Fatalf("%+v, %v", d, err)
	}
	sdktest.Golden(t, m, "testdata/cases.yaml")
}

// Every refusal explains itself in both languages; a grant explains every
// condition with its title.
func TestExplanations(t *testing.T) {
	_, cases, err := sdktest.ReadGolden("testdata/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := socialContract{}.Evaluate(context.Background(), cases)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		for _, c := range o.Conditions {
			if c.Explanation.RU == "" || c.Explanation.EN == "" {
				t.Fatalf("case %d condition %s: no explanation %+v", i, c.Name, c)
			}
		}
	}
	if got := out[3].Conditions[2].Explanation.RU; !strings.Contains(got, "15 747,00 ₽") {
		t.Fatalf("the low-income refusal says %q", got)
	}
}

func TestValidateApplication(t *testing.T) {
	m := sdktest.Measure(t, socialContract{})
	ps, err := m.ValidateApplication(sdktest.Context(t, "16"), map[string]string{"activity": "business", "plan": "2026-13:training", "expected_income": "-5"})
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = p.Message.RU != "" && p.Message.EN != ""
	}
	for _, f := range []string{"plan", "expected_income", "requested_amount"} {
		if !fields[f] {
			t.Errorf("no problem named for %s: %+v", f, ps)
		}
	}
	if fields["activity"] {
		t.Errorf("a known activity refused: %+v", ps)
	}
	ok, err := m.ValidateApplication(sdktest.Context(t, "16"), map[string]string{"activity": "job_search", "plan": "2026-07:job_search;2026-08:employment", "expected_income": "5000000"})
	if err != nil || len(ok) != 0 {
		t.Fatalf("a good application: %+v, %v", ok, err)
	}
}

func TestParsePlan(t *testing.T) {
	steps, err := ParsePlan(" 2026-07:training ; 2026-07:job_search;2026-09:employment")
	if err != nil || len(steps) != 3 || steps[2].Kind != "employment" || !steps[2].Month.Equal(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v, %v", steps, err)
	}
	for plan, want := range map[string]string{
		"":                                    "no steps",
		"2026-07":                             "step 1",
		"2026-7:training":                     "not a month",
		"2026-07:dancing":                     "not a step",
		"2026-08:training;2026-07:job_search": "step 2: 2026-07 comes before",
	} {
		if _, err := ParsePlan(plan); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", plan, err, want)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{"2026-07:training", "2026-07:training;2026-09:employment", "", ";", "2026-13:x", "9999-12:report"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := ParsePlan(s)
		if err != nil {
			return
		}
		if len(steps) == 0 || len(steps) > 24 {
			t.Fatalf("%q: %d steps", s, len(steps))
		}
		for i := 1; i < len(steps); i++ {
			if steps[i].Month.Before(steps[i-1].Month) {
				t.Fatalf("%q: steps out of order", s)
			}
		}
	})
}

// A case with no application at all is refused with reasons, never a
// panic or an error for the batch.
func FuzzDecide(f *testing.F) {
	f.Add("job_search", "2026-07:job_search;2026-08:employment", "5000000", "0", int64(3), int64(1000))
	f.Add("", "", "", "", int64(0), int64(-5))
	f.Fuzz(func(t *testing.T, activity, plan, expected, requested string, size, income int64) {
		c := measure.Case{ID: "x", Date: time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC),
			Household:   measure.Household{Size: size, PerCapitaKopecks: income},
			Minimum:     measure.Minimums{PerCapita: 1574700, WorkingAge: 1716400},
			Application: map[string]string{"activity": activity, "plan": plan, "expected_income": expected, "requested_amount": requested}}
		o := decide(&c)
		if o.CaseID != "x" || len(o.Conditions) != 6 || o.AmountKopecks < 0 || o.Eligible && o.End.Before(o.Start) {
			t.Fatalf("%+v", o)
		}
	})
}
