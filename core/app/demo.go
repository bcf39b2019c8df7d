package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// demoRegion is a demo region and its first assigning body.
type demoRegion struct {
	tenant tenancy.NewTenant
	agency agency.Fields
}

func strp(s string) *string { return &s }

var demoRegions = []demoRegion{
	{
		tenant: tenancy.NewTenant{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000", Mode: tenancy.ModeFull},
		agency: agency.Fields{
			OSZCode: strp("6601.000001"), Name: strp("Министерство социальной политики Свердловской области (демо)"),
			ShortName: strp("Минсоцполитики (демо)"), INN: strp("6658021579"), OKTMO: strp("65701000"),
		},
	},
	{
		tenant: tenancy.NewTenant{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000", Mode: tenancy.ModeHybrid},
		agency: agency.Fields{
			OSZCode: strp("1601.000001"), Name: strp("Министерство труда, занятости и социальной защиты Республики Татарстан (демо)"),
			ShortName: strp("Минтруда РТ (демо)"), INN: strp("1654002946"), OKTMO: strp("92701000"),
		},
	},
}

// DemoInfo tells the person who started a demo what it holds.
type DemoInfo struct {
	Regions []tenancy.Tenant
}

// Print writes the demo's summary.
func (d *DemoInfo) Print(w io.Writer) {
	fmt.Fprintln(w, "  Demo regions:")
	for _, t := range d.Regions {
		fmt.Fprintf(w, "    %s  %s (%s, %s)\n", t.Code, t.Name, t.Mode, t.Status)
	}
}

// SeedDemo creates the demo content; running it again changes nothing.
func SeedDemo(ctx context.Context, p *Platform) (*DemoInfo, error) {
	info := &DemoInfo{}
	for _, r := range demoRegions {
		t, err := p.Tenants.Ensure(ctx, r.tenant)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.tenant.Code, err)
		}
		if t.Status == tenancy.StatusOnboarding {
			active := tenancy.StatusActive
			if t, err = p.Tenants.Update(ctx, t.Code, t.Version, tenancy.Change{Status: &active}); err != nil && !errors.Is(err, fault.ErrStale) {
				return nil, fmt.Errorf("region %s: %w", r.tenant.Code, err)
			}
		}
		tctx := tenancy.WithTenant(ctx, t.ID)
		existing, _, err := p.Agencies.List(tctx, page.Request{Limit: page.MaxLimit})
		if err != nil {
			return nil, err
		}
		if !hasAgency(existing, *r.agency.OSZCode) {
			if _, err := p.Agencies.Create(tctx, r.agency); err != nil && !errors.Is(err, fault.ErrConflict) {
				return nil, fmt.Errorf("region %s agency: %w", r.tenant.Code, err)
			}
		}
		info.Regions = append(info.Regions, t)
	}
	return info, nil
}

func hasAgency(as []agency.Agency, osz string) bool {
	for _, a := range as {
		if a.OSZCode == osz {
			return true
		}
	}
	return false
}
