package registry_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// fixture is a registry on a fresh database with regions 66 and 16.
type fixture struct {
	env   *storetest.Env
	reg   *registry.Service
	trail *audit.Trail
	a, b  context.Context // acting for 66 and 16
	ids   [2]uuid.UUID
}

type dirCodes struct{ d *directory.Service }

func (c dirCodes) Codes(ctx context.Context, dir string) (map[string]map[string]any, error) {
	es, _, err := c.d.RegionEntries(ctx, dir, directory.Query{})
	if err != nil {
		return nil, err
	}
	m := map[string]map[string]any{}
	for _, e := range es {
		m[e.Code] = e.Attributes
	}
	return m, nil
}

var today = civil.MustParse("2026-06-15")

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	db := env.App.Gorm
	m, err := pdcrypt.NewMasterKey(make([]byte, pdcrypt.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	crypt, err := pdcrypt.New(db, m, pdcrypt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, trail: audit.New(db, audit.Options{})}
	f.reg = registry.NewService(db, crypt, dirCodes{directory.NewService(db)}, registry.Options{Today: func() civil.Date { return today }})
	ts := tenancy.NewService(db)
	for i, nt := range []tenancy.NewTenant{
		{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"},
		{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000"},
	} {
		tn, err := ts.Create(ctx, nt)
		if err != nil {
			t.Fatal(err)
		}
		f.ids[i] = tn.ID
	}
	f.a, f.b = tenancy.WithTenant(ctx, f.ids[0]), tenancy.WithTenant(ctx, f.ids[1])
	return f
}

func ptr[T any](v T) *T { return &v }
