package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// derived is what the rules engine derives from a subject's record.
func derived(rec *facts.Record, on civil.Date) string {
	var out string
	for _, m := range rec.Household(on) {
		age, _ := rec.AgeAt(m, on)
		g, _ := rec.DisabilityAt(m, on)
		out += fmt.Sprintf("%s age %d disability %d categories %v; ", m, age, g, rec.CategoriesAt(m, on))
	}
	return out + fmt.Sprintf("per capita %+v %+v", rec.PerCapitaIncome(on, 12, 0, nil), rec.PerCapitaIncome(on, 3, 1, nil))
}

// records24 are Records with the incomes of the 24 months before on's
// month and of the month itself.
func records24(ctx context.Context, f *fixture, ids []uuid.UUID, on civil.Date, page bool) ([]registry.Subject, error) {
	from, to := facts.MonthOf(on).Add(-24), facts.MonthOf(on)
	if page {
		return f.reg.RecordsPage(ctx, ids, on, from, to)
	}
	return f.reg.Records(ctx, ids, on, from, to)
}

// A batch of records derives what each person's own record does, and sees
// only its region.
func TestRecordsOfABatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		mk := func(n int, birth, oktmo string) registry.Person {
			p, err := f.reg.Create(f.a, registry.PersonFields{SNILS: ptr(snils(n)), FamilyName: ptr("Белова"), FirstName: ptr("Ая"),
				BirthDate: ptr(civil.MustParse(birth)), Sex: ptr("female"), Address: &registry.Address{OKTMO: oktmo}}, registry.Manual)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		mother, father, kid, granny, alone := mk(7300001, "1990-01-01", "65701000"), mk(7300002, "1988-01-01", "65701000"),
			mk(7300003, "2024-02-02", "65701000"), mk(7300004, "1955-01-01", "45000000"), mk(7300005, "1970-01-01", "")
		must := func(_ any, _ registry.Outcome, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(f.reg.PutRelation(f.a, registry.Relation{PersonID: mother.ID, RelativeID: father.ID, Kind: "spouse", ValidFrom: civil.MustParse("2015-01-01"), Origin: registry.Manual}))
		must(f.reg.PutRelation(f.a, registry.Relation{PersonID: kid.ID, RelativeID: mother.ID, Kind: "parent", ValidFrom: civil.MustParse("2024-02-02"), Origin: registry.Manual}))
		must(f.reg.PutRelation(f.a, registry.Relation{PersonID: mother.ID, RelativeID: granny.ID, Kind: "parent", ValidFrom: civil.MustParse("1990-01-01"), ValidTo: ptr(civil.MustParse("2025-12-31")), Origin: registry.Manual}))
		for i, p := range []registry.Person{mother, father, granny, alone} {
			for _, m := range []string{"2025-09", "2025-10", "2025-11", "2026-04", "2026-05"} {
				must(f.reg.PutIncome(f.a, registry.Income{PersonID: p.ID, Month: m, Kind: "salary", AmountKopecks: int64(1_000_000 * (i + 1)), Source: "fns", Origin: registry.Manual}))
			}
		}
		must(f.reg.PutIncome(f.a, registry.Income{PersonID: father.ID, Month: "2026-05", Kind: "salary", AmountKopecks: 5, Source: "fns", Origin: registry.Manual})) // a correction
		must(f.reg.PutCategory(f.a, registry.Category{PersonID: mother.ID, Code: "low_income", ValidFrom: civil.MustParse("2025-01-01"), Origin: registry.Manual}))
		must(f.reg.PutDisability(f.a, registry.Disability{PersonID: kid.ID, Group: 4, ValidFrom: civil.MustParse("2025-01-01"), Origin: registry.Manual}))
		ids := []uuid.UUID{mother.ID, father.ID, kid.ID, granny.ID, alone.ID, uuid.New()}
		for _, on := range []string{"2025-06-01", "2026-06-15"} {
			d := civil.MustParse(on)
			batch, err := records24(f.a, f, ids, d, false)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range ids[:5] {
				one, err := f.reg.Record(f.a, id, d)
				if err != nil {
					t.Fatal(err)
				}
				if got, want := derived(batch[i].Record, d), derived(one, d); got != want {
					t.Errorf("%s on %s: in a batch %s\nalone %s", id, on, got, want)
				}
			}
			if batch[0].OKTMO != "65701000" || batch[3].OKTMO != "45000000" || len(batch[5].Record.Persons) != 0 {
				t.Errorf("OKTMO %q %q, unknown id's persons %v", batch[0].OKTMO, batch[3].OKTMO, batch[5].Record.Persons)
			}
		}
		// Pages of IDs read by ranges derive the same, relatives outside
		// the page included.
		all, err := f.reg.IDs(f.a, uuid.Nil, 100)
		if err != nil || len(all) != 5 {
			t.Fatalf("%v %v", all, err)
		}
		for _, page := range [][]uuid.UUID{all[:2], all[2:4], all[4:]} {
			for _, on := range []string{"2025-06-01", "2026-06-15"} {
				d := civil.MustParse(on)
				got, err := records24(f.a, f, page, d, true)
				if err != nil {
					t.Fatal(err)
				}
				for i, id := range page {
					one, err := f.reg.Record(f.a, id, d)
					if err != nil {
						t.Fatal(err)
					}
					if g, w := derived(got[i].Record, d), derived(one, d); g != w {
						t.Errorf("%s on %s: in a page %s\nalone %s", id, on, g, w)
					}
				}
			}
		}
		// Region 16 asking for 66's persons gets nobody.
		batch, err := records24(f.b, f, ids, today, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range batch {
			if len(s.Record.Persons) != 0 || len(s.Record.Incomes) != 0 || s.OKTMO != "" {
				t.Fatalf("region 16 sees %+v", s.Record)
			}
		}
		// Pages of ids walk the region.
		page, err := f.reg.IDs(f.a, uuid.Nil, 3)
		if err != nil || len(page) != 3 {
			t.Fatalf("%v %v", page, err)
		}
		rest, err := f.reg.IDs(f.a, page[2], 100)
		if err != nil || len(rest) != 2 {
			t.Fatalf("%v %v", rest, err)
		}
		if other, err := f.reg.IDs(f.b, uuid.Nil, 100); err != nil || len(other) != 0 {
			t.Fatalf("region 16's ids: %v %v", other, err)
		}
	})
}
