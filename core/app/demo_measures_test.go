package app_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// The demo regions' registries give every demo measure eligible and
// ineligible people (simulated over the whole registry).
func TestDemoMeasuresFindBothSides(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { demoMeasuresFindBothSides(t, d) })
	}
}

func demoMeasuresFindBothSides(t *testing.T, d store.Dialect) {
	const persons = 3000
	p := apptest.NewWith(t, d, func(c *app.Config) {
		c.Regions, c.DemoPersons = os.DirFS("../../tenants"), persons
		c.DemoPluginSources = "../../plugins" // region 16 runs the example plug-ins
	})
	ctx := context.Background()
	info, err := app.SeedDemo(ctx, p.Platform)
	if err != nil {
		t.Fatal(err)
	}
	// Seeding again changes nothing.
	if _, err := app.SeedDemo(ctx, p.Platform); err != nil {
		t.Fatal(err)
	}
	applications := map[string]map[string]string{
		"utility_subsidy": {"utility_costs_kopecks": "600000"},
		"social_contract": {"activity": "hard_situation", "plan": civil.Today().Time().Format("2006-01") + ":registration", "expected_income": "7000000"},
	}
	for _, region := range info.Regions {
		rctx := tenancy.WithTenant(ctx, region.ID)
		ms, err := p.Measures.List(rctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) < 5 {
			t.Fatalf("region %s has %d measures", region.Code, len(ms))
		}
		if region.Code == "16" && !slices.ContainsFunc(ms, func(m measure.Summary) bool { return m.Code == "social_contract" }) {
			t.Fatalf("region 16 has no social contract, the measure its plug-in decides: %+v", ms)
		}
		for _, m := range ms {
			res, err := p.Measures.SimulateVersion(rctx, m.Code, 1, civil.Today(), applications[m.Code], nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("region %s %s: %d of %d eligible, %d kopecks", region.Code, m.Code, res.Version.Eligible, res.Persons, res.Version.AmountKopecks)
			if res.Persons != persons || res.Version.Eligible == 0 || res.Version.Eligible == persons || res.Errors != 0 {
				t.Errorf("region %s %s: %+v", region.Code, m.Code, res)
			}
			// Against itself (it is the version in force) nothing changes.
			if res.Active != res.Version || res.Gained.Count+res.Lost.Count+res.Changed.Count != 0 {
				t.Errorf("region %s %s against itself: %+v", region.Code, m.Code, res)
			}
		}
	}
}

// A draft that no longer asks for the low-income category (the means test
// stays), simulated as a job over the registry: people gain, nobody loses,
// and it costs more.
func TestSimulationJob(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { simulationJob(t, d) })
	}
}

func simulationJob(t *testing.T, d store.Dialect) {
	p := apptest.NewWith(t, d, func(c *app.Config) {
		c.Regions, c.DemoPersons = os.DirFS("../../tenants"), 2000
	})
	ctx := context.Background()
	info, err := app.SeedDemo(ctx, p.Platform)
	if err != nil {
		t.Fatal(err)
	}
	rctx := tenancy.WithTenant(ctx, info.Regions[0].ID)
	st, err := p.Measures.Version(rctx, "low_income_child", 1)
	if err != nil {
		t.Fatal(err)
	}
	v := st.Version
	v.Number, v.EffectiveFrom = 2, civil.MustParse("2027-01-01")
	v.Conditions = slices.DeleteFunc(slices.Clone(v.Conditions), func(c measure.Condition) bool { return c.Name == "low_income_category" })
	if _, err := p.Measures.PutDraft(rctx, "low_income_child", v); err != nil {
		t.Fatal(err)
	}
	sim, err := p.Measures.SubmitSimulation(rctx, "low_income_child", 2, civil.Today(), nil)
	if err != nil || sim.Status != "queued" {
		t.Fatalf("%+v, %v", sim, err)
	}
	rctx2, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Measures.RunSimulations(rctx2, 20*time.Millisecond, nil); close(done) }()
	defer func() { stop(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for sim.Status != "done" && sim.Status != "failed" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if sim, err = p.Measures.GetSimulation(rctx, "low_income_child", sim.ID); err != nil {
			t.Fatal(err)
		}
	}
	r := sim.Outcome
	if sim.Status != "done" || r == nil || r.Persons != 2000 || sim.Persons != 2000 {
		t.Fatalf("%+v", sim)
	}
	t.Logf("gained %d (cost %d), lost %d, changed %d", r.Gained.Count, r.Gained.CostKopecks, r.Lost.Count, r.Changed.Count)
	if r.Gained.Count == 0 || r.Lost.Count != 0 || r.Gained.CostKopecks <= 0 || r.Version.Eligible != r.Active.Eligible+r.Gained.Count ||
		r.Version.AmountKopecks-r.Active.AmountKopecks != r.Gained.CostKopecks+r.Changed.CostKopecks || len(r.Gained.Sample) == 0 {
		t.Fatalf("without the category: %+v", *r)
	}
	// The eligible persons are written, one row each.
	var all []uuid.UUID
	for after := uuid.Nil; ; {
		ids, err := p.Measures.SimulationEligible(rctx, sim.ID, after, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		all, after = append(all, ids...), ids[len(ids)-1]
	}
	if len(all) != r.Version.Eligible {
		t.Fatalf("%d eligible persons written, the result counts %d", len(all), r.Version.Eligible)
	}
}
