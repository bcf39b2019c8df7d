package connector_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
	"github.com/socialtreasury/treasury/sdk"
)

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

// regions is a registry checked against the directories, with regions 66
// and 16 (contexts a and b).
func regions(t *testing.T, env *storetest.Env) (reg *registry.Service, a, b context.Context) {
	t.Helper()
	db := env.App.Gorm
	m, err := pdcrypt.NewMasterKey(make([]byte, pdcrypt.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	crypt, err := pdcrypt.New(db, m, pdcrypt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg = registry.NewService(db, crypt, dirCodes{directory.NewService(db)}, registry.Options{})
	ts := tenancy.NewService(db)
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
	return reg, ctxs[0], ctxs[1]
}

func person(t *testing.T, reg *registry.Service, ctx context.Context, snils, name string) registry.Person {
	t.Helper()
	sex, birth := "female", civil.MustParse("1990-04-12")
	p, err := reg.Create(ctx, registry.PersonFields{SNILS: &snils, FamilyName: &name, FirstName: &name, BirthDate: &birth, Sex: &sex}, registry.Manual)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// counting is a data source that counts its calls and the persons asked.
type counting struct {
	connector.DataSource
	calls, most int
}

func (c *counting) Facts(ctx context.Context, persons []connector.PersonRef, asOf time.Time) ([]connector.PersonFacts, error) {
	c.calls++
	c.most = max(c.most, len(persons))
	return c.DataSource.Facts(ctx, persons, asOf)
}

func TestPullRecordsFacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		reg, a, b := regions(t, env)
		pa := person(t, reg, a, snilsA, "Иванова")
		pb := person(t, reg, a, snilsB, "Петрова")
		other := person(t, reg, b, snilsA, "Иванова") // the same SNILS in region 16
		csv := "snils,fact,code,from,to,amount_kopecks\n" +
			dashed(snilsA) + ",category,large_family,2024-02-01,2027-01-31,\n" +
			snilsA + ",income,salary,2025-03,,5400000\n" +
			snilsA + ",income,pension,2025-03,,1200000\n" +
			snilsB + ",category,no_such_category,2024-01-01,,\n" + // the registry refuses it
			snilsC + ",category,large_family,2024-01-01,,\n" // not in the registry
		src, err := connector.OpenDataSource(connector.Spec{Type: "file", Path: writeFile(t, "facts.csv", csv), Source: "ЕГР многодетных"})
		if err != nil {
			t.Fatal(err)
		}
		ds := &counting{DataSource: src}
		asOf := civil.MustParse("2026-06-15")
		res, err := connector.Pull(a, ds, reg, []string{snilsA, dashed(snilsB), snilsC, snilsA}, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if res.Asked != 3 || res.Unknown != 1 || res.Answered != 2 || res.Added != 3 || res.Rejected != 1 || ds.most != 2 {
			t.Fatalf("result %+v, persons asked %d", res, ds.most)
		}
		if p := res.Problems[0]; p.PersonID != pb.ID || !strings.Contains(p.Fact, "no_such_category") || !strings.Contains(p.Reason, "recipient_categories") {
			t.Fatalf("problem %+v", p)
		}
		f, err := reg.FactsOf(a, pa.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Categories) != 1 || f.Categories[0].Code != "large_family" || f.Categories[0].Origin != registry.Connector ||
			f.Categories[0].ValidFrom != civil.MustParse("2024-02-01") || f.Categories[0].ValidTo == nil || *f.Categories[0].ValidTo != civil.MustParse("2027-01-31") {
			t.Fatalf("categories %+v", f.Categories)
		}
		if len(f.Incomes) != 2 || f.Incomes[0].Kind != "pension" || f.Incomes[1].AmountKopecks != 5_400_000 ||
			f.Incomes[1].Source != "ЕГР многодетных" || f.Incomes[1].Origin != registry.Connector {
			t.Fatalf("incomes %+v", f.Incomes)
		}
		if f, err := reg.FactsOf(a, pb.ID, false); err != nil || len(f.Categories) != 0 {
			t.Fatalf("B's categories %+v %v", f.Categories, err)
		}
		// Region 16's person of the same SNILS got nothing.
		if f, err := reg.FactsOf(b, other.ID, false); err != nil || len(f.Categories)+len(f.Incomes) != 0 {
			t.Fatalf("region 16 sees %+v %v", f, err)
		}
		// Again: the same facts are unchanged, nothing is added.
		res, err = connector.Pull(a, ds, reg, []string{snilsA}, asOf)
		if err != nil || res.Unchanged != 3 || res.Added != 0 {
			t.Fatalf("again: %+v %v", res, err)
		}
	})
}

// fixed answers what it is given, whatever it is asked.
type fixed struct {
	answer []connector.PersonFacts
	err    error
}

func (f fixed) Facts(context.Context, []connector.PersonRef, time.Time) ([]connector.PersonFacts, error) {
	return f.answer, f.err
}

func TestPullRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		reg, a, _ := regions(t, env)
		pa := person(t, reg, a, snilsA, "Иванова")
		asOf := civil.MustParse("2026-06-15")
		if _, err := connector.Pull(context.Background(), fixed{}, reg, []string{snilsA}, asOf); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("no region: %v", err)
		}
		_, err := connector.Pull(a, fixed{}, reg, []string{snilsA, wrongCheck(snilsB)}, asOf)
		var inv *fault.Invalid
		if !errors.As(err, &inv) || !inv.Has("snils[1]") || strings.Contains(err.Error(), snilsB[:9]) {
			t.Fatalf("a bad SNILS: %v", err)
		}
		// A source answering about a person it was not asked about (here
		// one not in the registry) is refused whole.
		cat := []connector.CategoryFact{{Code: "large_family", Period: connector.Period{From: date("2024-01-01")}}}
		_, err = connector.Pull(a, fixed{answer: []connector.PersonFacts{{SNILS: snilsA, Categories: cat}, {SNILS: snilsC, Categories: cat}}}, reg, []string{snilsA, snilsC}, asOf)
		if !errors.Is(err, connector.ErrBadAnswer) {
			t.Fatalf("facts of a person not asked about: %v", err)
		}
		if f, _ := reg.FactsOf(a, pa.ID, false); len(f.Categories) != 0 {
			t.Fatalf("a refused answer recorded %+v", f.Categories)
		}
		down := sdk.Upstream(errors.New("the register is down"))
		if _, err := connector.Pull(a, fixed{err: down}, reg, []string{snilsA}, asOf); !sdk.IsUpstream(err) {
			t.Fatalf("a failing source: %v", err)
		}
	})
}

// The source is asked at most PullBatch persons a call.
func TestPullBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("registers a thousand persons")
	}
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		reg, a, _ := regions(t, env)
		var all []string
		for i := range connector.PullBatch + 5 {
			s := ident.SNILSOf(300_000_000 + i)
			all = append(all, s)
			person(t, reg, a, s, "Сидорова")
		}
		all = append(all, snilsC) // unknown
		ds := &counting{DataSource: fixed{}}
		res, err := connector.Pull(a, ds, reg, all, civil.MustParse("2026-06-15"))
		if err != nil {
			t.Fatal(err)
		}
		if ds.calls != 2 || ds.most != connector.PullBatch || res.Asked != connector.PullBatch+6 || res.Unknown != 1 {
			t.Fatalf("%d calls of at most %d persons; %+v", ds.calls, ds.most, res)
		}
	})
}

// A merged duplicate's SNILS finds the person it was merged into: the
// facts go there, not to the duplicate.
func TestPullToTheMergedPerson(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		reg, a, _ := regions(t, env)
		into := person(t, reg, a, snilsA, "Иванова")
		dup := person(t, reg, a, snilsB, "Иванова")
		if _, err := reg.Merge(a, dup.ID, into.ID); err != nil {
			t.Fatal(err)
		}
		csv := "snils,fact,code,from,to,amount_kopecks\n" + snilsB + ",category,large_family,2024-02-01,,\n"
		src, err := connector.OpenDataSource(connector.Spec{Type: "file", Path: writeFile(t, "facts.csv", csv)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := connector.Pull(a, src, reg, []string{snilsB}, civil.MustParse("2026-06-15"))
		if err != nil || res.Asked != 1 || res.Unknown != 0 || res.Added != 1 {
			t.Fatalf("%+v, %v", res, err)
		}
		if f, err := reg.FactsOf(a, into.ID, false); err != nil || len(f.Categories) != 1 || f.Categories[0].Code != "large_family" {
			t.Fatalf("the person merged into: %+v, %v", f.Categories, err)
		}
		if f, err := reg.FactsOf(a, dup.ID, false); err != nil || len(f.Categories) != 0 {
			t.Fatalf("the duplicate: %+v, %v", f.Categories, err)
		}
	})
}
