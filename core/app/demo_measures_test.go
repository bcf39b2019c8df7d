package app_test

import (
	"context"
	"os"
	"testing"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/civil"
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
	applications := map[string]map[string]string{"utility_subsidy": {"utility_costs_kopecks": "600000"}}
	for _, region := range info.Regions {
		rctx := tenancy.WithTenant(ctx, region.ID)
		ms, err := p.Measures.List(rctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) < 5 {
			t.Fatalf("region %s has %d measures", region.Code, len(ms))
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
