package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/synth"

	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
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

// seedRegionData installs a demo region's measures from its files and,
// into an empty registry, its synthetic persons.
func seedRegionData(ctx context.Context, p *Platform, t tenancy.Tenant) error {
	if p.cfg.Regions != nil {
		dirs, err := iofs.Glob(p.cfg.Regions, t.Code+"-*")
		if err != nil {
			return err
		}
		for _, dir := range dirs {
			plugins, err := seedRegionPlugins(ctx, p, t, dir)
			if err != nil {
				return err
			}
			ms, err := measure.LoadDir(p.cfg.Regions, path.Join(dir, "measures"))
			if err != nil {
				return err
			}
			for _, m := range ms {
				if namesPlugin(m) && !plugins {
					continue
				}
				if err := p.Measures.Install(ctx, m); err != nil {
					return err
				}
			}
		}
	}
	if p.cfg.DemoPersons == 0 {
		return nil
	}
	some, err := p.Persons.IDs(ctx, uuid.Nil, 1)
	if err != nil || len(some) > 0 {
		return err
	}
	code, _ := strconv.Atoi(t.Code)
	var file bytes.Buffer
	if _, err := synth.Write(&file, synth.Options{Seed: uint64(code), Persons: p.cfg.DemoPersons, RegionOKTMO: t.OKTMO,
		Today: civil.Today(), FirstSNILS: demoSNILSFrom(code)}); err != nil {
		return err
	}
	im, err := p.Persons.ImportFile(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, &file, nil)
	if err != nil {
		return err
	}
	if im.Progress.Rejected > 0 {
		return fmt.Errorf("the demo registry: %d lines rejected", im.Progress.Rejected)
	}
	return nil
}

// demoSNILSFrom is the first nine digits of a demo region's first
// synthetic person's SNILS: each region numbers its own from here.
func demoSNILSFrom(code int) int { return 100_000_000 + code*1_000_000 }

// DemoInfo tells the person who started a demo what it holds.
type DemoInfo struct {
	Regions []tenancy.Tenant
	// FirstSNILS is each region's first synthetic person, by region code:
	// someone to look up and try a measure on (none without --demo-persons).
	FirstSNILS map[string]string
	// Plugins are the plug-ins each region runs, by region code.
	Plugins  map[string][]string
	Password string
	// PasswordFrom says where the password came from.
	PasswordFrom string
}

// Print writes the demo's summary.
func (d *DemoInfo) Print(w io.Writer, url string) {
	fmt.Fprintln(w, "  Demo regions:")
	for _, t := range d.Regions {
		fmt.Fprintf(w, "    %s  %s (%s, %s)\n", t.Code, t.Name, t.Mode, t.Status)
	}
	for _, t := range d.Regions {
		if ps := d.Plugins[t.Code]; len(ps) > 0 {
			fmt.Fprintf(w, "  Region %s runs plug-ins: %s   (GET %s/api/v1/tenants/%s/plugins)\n", t.Code, strings.Join(ps, ", "), url, t.Code)
		}
	}
	for _, t := range d.Regions {
		if snils := d.FirstSNILS[t.Code]; snils != "" {
			fmt.Fprintf(w, "  Region %s's synthetic persons have SNILS from %s   (GET %s/api/v1/tenants/%s/persons?snils=%s)\n", t.Code, snils, url, t.Code, snils)
		}
	}
	fmt.Fprintln(w, "  Demo users: <role>@<region> and <role>@federal, for example")
	fmt.Fprintln(w, "    federal_admin@federal  tenant_admin@66  specialist@66  approver@16  auditor@16")
	fmt.Fprintf(w, "    roles: %s; federal: %s\n", strings.Join(access.TenantRoles, ", "), strings.Join(access.FederalRoles, ", "))
	fmt.Fprintf(w, "  Password for all of them: %s   (%s)\n", d.Password, d.PasswordFrom)
	fmt.Fprintf(w, "  Log in:    curl -s -XPOST %s/api/v1/auth/login -H 'Content-Type: application/json' -d '{\"username\":\"tenant_admin@66\",\"password\":\"%s\"}'\n", url, d.Password)
}

// SeedDemo creates the demo content; running it again changes nothing.
func SeedDemo(ctx context.Context, p *Platform) (*DemoInfo, error) {
	info := &DemoInfo{}
	var err error
	if info.Password, info.PasswordFrom, err = demoPassword(p.cfg); err != nil {
		return nil, err
	}
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
		for _, role := range access.TenantRoles {
			u, err := ensureDemoUser(ctx, p, role+"@"+t.Code, t.ID, info.Password)
			if err != nil {
				return nil, err
			}
			if err := p.Access.SetTenantRoles(ctx, u, t.Code, []string{role}); err != nil {
				return nil, err
			}
		}
		if err := seedRegionData(tctx, p, t); err != nil {
			return nil, fmt.Errorf("region %s: %w", t.Code, err)
		}
		ens, err := p.Catalog.EnabledAll(tctx)
		if err != nil {
			return nil, err
		}
		for _, en := range ens {
			if info.Plugins == nil {
				info.Plugins = map[string][]string{}
			}
			info.Plugins[t.Code] = append(info.Plugins[t.Code], en.Name)
		}
		if code, err := strconv.Atoi(t.Code); err == nil && p.cfg.DemoPersons > 0 {
			if info.FirstSNILS == nil {
				info.FirstSNILS = map[string]string{}
			}
			info.FirstSNILS[t.Code] = ident.SNILSOf(demoSNILSFrom(code))
		}
		info.Regions = append(info.Regions, t)
	}
	for _, role := range access.FederalRoles {
		u, err := ensureDemoUser(ctx, p, role+"@federal", uuid.Nil, info.Password)
		if err != nil {
			return nil, err
		}
		if err := p.Access.SetFederalRoles(ctx, u, []string{role}); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// demoPassword is the configured one, or one generated on first use and kept
// in the data directory so that every later start prints the same.
func demoPassword(cfg Config) (string, string, error) {
	if cfg.DemoPassword != "" {
		return cfg.DemoPassword, "from TREASURY_DEMO_PASSWORD", nil
	}
	path := filepath.Join(cfg.DataDir, "demo-password")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 8 {
		return strings.TrimSpace(string(b)), "kept in " + path, nil
	}
	raw := make([]byte, 12)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", "", err
	}
	return pw, "generated, kept in " + path, nil
}

// ensureDemoUser creates the user, or resets its password to the demo one.
func ensureDemoUser(ctx context.Context, p *Platform, username string, tenant uuid.UUID, password string) (uuid.UUID, error) {
	u, err := p.Auth.UserByName(ctx, username)
	if errors.Is(err, fault.ErrNotFound) {
		u, err = p.Auth.CreateUser(ctx, auth.NewUser{Username: username, Tenant: tenant, Password: password,
			DisplayName: "Demo " + strings.ReplaceAll(username, "@", " of ")})
		return u.ID, err
	}
	if err != nil {
		return uuid.Nil, err
	}
	if ok, _ := p.Auth.CheckPassword(u, password); !ok {
		_, err = p.Auth.UpdateUser(ctx, tenant, u.ID, u.Version, auth.UserChange{Password: &password})
	}
	return u.ID, err
}

func hasAgency(as []agency.Agency, osz string) bool {
	for _, a := range as {
		if a.OSZCode == osz {
			return true
		}
	}
	return false
}
