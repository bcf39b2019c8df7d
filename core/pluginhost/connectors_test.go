package pluginhost_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
)

type examplePlugin struct {
	once sync.Once
	bin  []byte
	err  error
}

var examplePlugins = map[string]*examplePlugin{"largefamilies": {}, "bankregistry": {}}

// example is an example plug-in's binary (plugins/<name>), built once per
// test run in the plugins module.
func example(t testing.TB, name string) []byte {
	t.Helper()
	e := examplePlugins[name]
	e.once.Do(func() {
		dir, err := os.MkdirTemp("", name)
		if err != nil {
			e.err = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join("..", "..", "plugins", name)
		if out, err := cmd.CombinedOutput(); err != nil {
			e.err = fmt.Errorf("go build %s: %v\n%s", name, err, out)
			return
		}
		e.bin, e.err = os.ReadFile(bin)
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.bin
}

// connEnv is a host over a plug-in directory holding one example plug-in,
// registered as name-1.0.0 of kind, with regions 66 and 16 (in66, in16).
type connEnv struct {
	catalog    *pluginhost.Catalog
	host       *pluginhost.Host
	regions    [2]tenancy.Tenant
	in66, in16 context.Context
}

func newConnEnv(t *testing.T, env *storetest.Env, name, kind string) *connEnv {
	t.Helper()
	ctx := context.Background()
	db := env.App.Gorm
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := example(t, name)
	if err := os.WriteFile(filepath.Join(dir, name+"-1.0.0"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	c := &connEnv{catalog: pluginhost.NewCatalog(db)}
	if _, err := c.catalog.Register(ctx, pluginhost.NewEntry{Name: name, Version: "1.0.0", Kind: kind,
		SHA256: hex.EncodeToString(sum[:]), File: name + "-1.0.0"}); err != nil {
		t.Fatal(err)
	}
	ts := tenancy.NewService(db)
	for i, nt := range []tenancy.NewTenant{
		{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"},
		{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000"},
	} {
		var err error
		if c.regions[i], err = ts.Create(ctx, nt); err != nil {
			t.Fatal(err)
		}
	}
	c.in66, c.in16 = tenancy.WithTenant(ctx, c.regions[0].ID), tenancy.WithTenant(ctx, c.regions[1].ID)
	h, err := pluginhost.New(c.catalog, ts, pluginhost.Options{Dir: dir, CallTimeout: 20 * time.Second, StartTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	c.host = h
	return c
}

// enable enables the plug-in in region 66 with a configuration.
func (c *connEnv) enable(t *testing.T, name string, config any) {
	t.Helper()
	b, _ := json.Marshal(config)
	if _, err := c.catalog.Enable(c.in66, c.regions[0], name, "1.0.0", b); err != nil {
		t.Fatal(err)
	}
}

type connDirCodes struct{ d *directory.Service }

func (c connDirCodes) Codes(ctx context.Context, dir string) (map[string]map[string]any, error) {
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

// The example large-families plug-in, enabled in region 66 over a CSV of
// the register, fills that region's registry through Pull: the category
// lands on the right person, in that region only.
func TestDataSourcePluginPull(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		db := env.App.Gorm
		c := newConnEnv(t, env, "largefamilies", grpcplugin.KindDataSource)
		in66, in16, host := c.in66, c.in16, c.host

		m, err := pdcrypt.NewMasterKey(make([]byte, pdcrypt.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		crypt, err := pdcrypt.New(db, m, pdcrypt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := registry.NewService(db, crypt, connDirCodes{directory.NewService(db)}, registry.Options{})
		large, small, absent := ident.SNILSOf(112233445), ident.SNILSOf(123456789), ident.SNILSOf(200300400)
		register := func(rctx context.Context, snils string) registry.Person {
			name, sex, birth := "Иванова", "female", civil.MustParse("1988-03-02")
			p, err := reg.Create(rctx, registry.PersonFields{SNILS: &snils, FamilyName: &name, FirstName: &name, BirthDate: &birth, Sex: &sex}, registry.Manual)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		pLarge, pSmall, pLarge16 := register(in66, large), register(in66, small), register(in16, large)

		csv := filepath.Join(t.TempDir(), "large-families.csv")
		dashed := large[0:3] + "-" + large[3:6] + "-" + large[6:9] + " " + large[9:]
		if err := os.WriteFile(csv, []byte("snils,children,valid_from,valid_to\n"+
			dashed+",3,2024-02-01,2027-01-31\n"+
			small+",2,2023-01-01,\n"+
			absent+",4,2020-05-15,\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c.enable(t, "largefamilies", map[string]string{"csv": csv})

		ds, err := host.DataSource(in66, "largefamilies")
		if err != nil {
			t.Fatal(err)
		}
		res, err := connector.Pull(in66, ds, reg, []string{large, small, absent}, civil.MustParse("2026-06-15"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Asked != 3 || res.Unknown != 1 || res.Answered != 2 || res.Added != 1 || res.Rejected != 0 {
			t.Fatalf("result %+v", res)
		}
		f, err := reg.FactsOf(in66, pLarge.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Categories) != 1 || f.Categories[0].Code != "large_family" || f.Categories[0].Origin != registry.Connector ||
			f.Categories[0].ValidFrom != civil.MustParse("2024-02-01") || f.Categories[0].ValidTo == nil || *f.Categories[0].ValidTo != civil.MustParse("2027-01-31") {
			t.Fatalf("the large family's categories %+v", f.Categories)
		}
		if f, err := reg.FactsOf(in66, pSmall.ID, false); err != nil || len(f.Categories) != 0 {
			t.Fatalf("two children are a large family: %+v %v", f.Categories, err)
		}
		if f, err := reg.FactsOf(in16, pLarge16.ID, false); err != nil || len(f.Categories) != 0 {
			t.Fatalf("region 16 sees %+v %v", f.Categories, err)
		}

		// Region 16 has not enabled the plug-in; in 66 it is no sink.
		if _, err := host.DataSource(in16, "largefamilies"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("region 16 uses 66's data source: %v", err)
		}
		if _, err := host.PaymentSink(in66, "largefamilies"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("a data source used as a payment sink: %v", err)
		}
		if _, err := host.DataSource(ctx, "largefamilies"); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("no region: %v", err)
		}

		// The register unreadable is its failure, reported as upstream
		// through the plug-in's error.
		if err := os.Remove(csv); err != nil {
			t.Fatal(err)
		}
		_, err = connector.Pull(in66, ds, reg, []string{large}, civil.MustParse("2026-06-15"))
		var ce *pluginhost.CallError
		if !errors.As(err, &ce) || !sdk.IsUpstream(err) {
			t.Fatalf("a missing register: %v", err)
		}
	})
}

// The example bank-registry plug-in behind the PaymentSink interface: an
// order submitted again — as a retry on a restarted process submits it —
// is answered its status and not written twice.
func TestPaymentSinkPlugin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		c := newConnEnv(t, env, "bankregistry", grpcplugin.KindPaymentSink)
		out := t.TempDir()
		c.enable(t, "bankregistry", map[string]string{"dir": out, "bank": "ПАО Банк"})
		sink, err := c.host.PaymentSink(c.in66, "bankregistry")
		if err != nil {
			t.Fatal(err)
		}
		order := func(id string) connector.PaymentOrder {
			return connector.PaymentOrder{ID: id, SNILS: ident.SNILSOf(112233445), Recipient: "Иванова Мария Петровна",
				Account: "40817810099910004312", BIK: "044525225", AmountKopecks: 1_234_567, Measure: "child_allowance",
				Purpose: "Пособие за июнь 2026"}
		}
		bad := order("o3")
		bad.Account = "1"
		orders := []connector.PaymentOrder{order("o1"), order("o2"), bad}
		first, err := sink.Submit(c.in66, orders)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != 3 || first[0].Status != "accepted" || first[2].Status != "rejected" {
			t.Fatalf("statuses %+v", first)
		}
		again, err := sink.Submit(c.in66, orders)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			if again[i].Status != first[i].Status {
				t.Fatalf("resubmitted: %+v, first %+v", again, first)
			}
		}
		regs, _ := filepath.Glob(filepath.Join(out, "*.reg"))
		if len(regs) != 1 {
			t.Fatalf("%d registries written for one batch submitted twice", len(regs))
		}
		sts, err := sink.Statuses(c.in66, []string{"o9", "o2", "o1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) != 2 || sts[0].OrderID != "o2" || sts[1].OrderID != "o1" {
			t.Fatalf("statuses read back %+v", sts)
		}
		if _, err := sink.Submit(c.in66, []connector.PaymentOrder{order("o4"), order("o4")}); err == nil {
			t.Fatal("an order id twice")
		}
		if _, err := c.host.PaymentSink(c.in16, "bankregistry"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("region 16 uses 66's sink: %v", err)
		}
	})
}
