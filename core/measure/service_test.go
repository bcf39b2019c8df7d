package measure_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

func regionsOf(t *testing.T, env *storetest.Env) (a, b context.Context) {
	t.Helper()
	ts := tenancy.NewService(env.App.Gorm)
	var ctxs []context.Context
	for _, nt := range []tenancy.NewTenant{
		{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"},
		{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000"},
	} {
		tn, err := ts.Create(context.Background(), nt)
		if err != nil {
			t.Fatal(err)
		}
		ctxs = append(ctxs, tenancy.WithTenant(context.Background(), tn.ID))
	}
	return ctxs[0], ctxs[1]
}

// A draft is saved only with rules that work, publishing makes it final,
// and one region never sees another's measures.
func TestDraftPublishAndIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, b := regionsOf(t, env)
		s := measure.NewService(env.App.Gorm, nil)
		v := measuretest.Spec()
		bad := v
		bad.Conditions = append([]measure.Condition(nil), v.Conditions...)
		bad.Conditions[1].Expr = "person.agee >= 18"
		_, err := s.PutDraft(a, "contract", bad)
		var inv *fault.Invalid
		if !errors.As(err, &inv) || !inv.Has("conditions[1].expr") {
			t.Fatalf("a draft with an unknown field: %v", err)
		}
		if _, err := s.Get(a, "contract"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("the refused draft was saved: %v", err)
		}
		st, err := s.PutDraft(a, "contract", v)
		if err != nil || st.Status != measure.Draft || len(st.SHA256) != 64 {
			t.Fatalf("%+v, %v", st, err)
		}
		v.Name.EN = "The contract measure, revised"
		if st, err = s.PutDraft(a, "contract", v); err != nil || st.Name.EN != v.Name.EN {
			t.Fatalf("changing the draft: %+v, %v", st, err)
		}
		if _, err := s.InForce(a, "contract", civil.MustParse("2026-03-10")); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("a draft is in force: %v", err)
		}
		if _, err := s.Publish(a, "contract", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(a, "contract", 1); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("publishing twice: %v", err)
		}
		if _, err := s.PutDraft(a, "contract", v); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("changing a published version: %v", err)
		}
		// The database refuses it too, whoever asks.
		if err := env.Owner.Gorm.Exec("UPDATE measure_versions SET body = '{}' WHERE code = 'contract'").Error; err == nil {
			t.Fatal("the database let a published version change")
		}
		// Version 2 overlapping version 1's open period cannot be published.
		v2 := measuretest.Spec()
		v2.Number, v2.EffectiveFrom = 2, civil.MustParse("2027-01-01")
		if _, err := s.PutDraft(a, "contract", v2); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(a, "contract", 2); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("an overlapping version was published: %v", err)
		}
		in, err := s.InForce(a, "contract", civil.MustParse("2026-03-10"))
		if err != nil || in.Number != 1 || in.Status != measure.Published {
			t.Fatalf("in force: %+v, %v", in, err)
		}
		p, err := s.Program(in)
		if err != nil {
			t.Fatal(err)
		}
		measuretest.Contract(t, p)
		// Region 16 sees nothing of 66's.
		if l, err := s.List(b); err != nil || len(l) != 0 {
			t.Fatalf("region 16 lists %v, %v", l, err)
		}
		if _, err := s.Get(b, "contract"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("region 16 reads 66's measure: %v", err)
		}
		if _, err := s.Publish(b, "contract", 2); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("region 16 publishes 66's draft: %v", err)
		}
		if _, err := s.List(context.Background()); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("a list without a region: %v", err)
		}
	})
}

// enabledPlugins stands for the plug-in host: the names a region has
// enabled (any version); nothing is evaluated.
type enabledPlugins map[string]bool

func (e enabledPlugins) Measure(_ context.Context, name, _ string) (measure.Evaluator, error) {
	if !e[name] {
		return nil, fault.NotFoundf("plug-in %s is not enabled", name)
	}
	return nil, nil
}

// The demo regions' files install once: a second install changes nothing.
// Region 16's social contract names its plug-in, which it has enabled.
func TestInstallDemoMeasures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		a, b := regionsOf(t, env)
		s := measure.NewService(env.App.Gorm, nil)
		s.UsePlugins(enabledPlugins{"social-contract": true})
		for ctx, dir := range map[context.Context]string{a: "66-sverdlovsk", b: "16-tatarstan"} {
			ms, err := measure.LoadDir(os.DirFS("../../tenants"), dir+"/measures")
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				for _, m := range ms {
					if err := s.Install(ctx, m); err != nil {
						t.Fatal(err)
					}
				}
			}
			l, err := s.List(ctx)
			if err != nil || len(l) != len(ms) {
				t.Fatalf("%s: %d measures, %v", dir, len(l), err)
			}
			for _, m := range l {
				if len(m.Versions) != 1 || m.Versions[0].Status != measure.Published || !strings.HasPrefix(m.Versions[0].EffectiveFrom.String(), "2025") {
					t.Fatalf("%s: %+v", dir, m)
				}
			}
		}
	})
}
