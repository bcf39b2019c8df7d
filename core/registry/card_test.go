package registry_test

import (
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// The card counts the household's incomes over the twelve months before
// its date, leaving out kinds the region marked counted: false, and shows
// relations from either side.
func TestCardPerCapitaIncome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		if _, err := directory.NewService(env.App.Gorm).RegionCreate(f.a, "income_kinds", directory.Fields{
			Code: "humanitarian_aid", Name: "Гуманитарная помощь", EffectiveFrom: civil.MustParse("2024-01-01"),
			Attributes: directory.Attrs{"counted": false},
		}); err != nil {
			t.Fatal(err)
		}
		mk := func(n int, name, birth, sex string) registry.Person {
			p, err := f.reg.Create(f.a, registry.PersonFields{SNILS: ptr(snils(n)), FamilyName: ptr("Лебедев"), FirstName: ptr(name),
				BirthDate: ptr(civil.MustParse(birth)), Sex: ptr(sex)}, registry.Manual)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		mother, father, child := mk(7000001, "Анна", "1990-01-01", "female"), mk(7000002, "Олег", "1989-01-01", "male"), mk(7000003, "Лев", "2023-06-15", "male")
		for _, r := range []registry.Relation{
			{PersonID: mother.ID, RelativeID: father.ID, Kind: "spouse", ValidFrom: civil.MustParse("2015-01-01"), Origin: registry.Manual},
			{PersonID: child.ID, RelativeID: mother.ID, Kind: "parent", ValidFrom: civil.MustParse("2023-06-15"), Origin: registry.Manual},
		} {
			if _, _, err := f.reg.PutRelation(f.a, r); err != nil {
				t.Fatal(err)
			}
		}
		put := func(p registry.Person, month, kind string, kop int64) {
			if _, _, err := f.reg.PutIncome(f.a, registry.Income{PersonID: p.ID, Month: month, Kind: kind, AmountKopecks: kop, Source: "fns", Origin: registry.Manual}); err != nil {
				t.Fatal(err)
			}
		}
		// Window for 2026-06-15: 2025-06 … 2026-05.
		put(mother, "2025-06", "salary", 3_600_000)
		put(father, "2026-05", "salary", 7_200_000)
		put(father, "2026-06", "salary", 99_999_999)        // the month of the date: outside
		put(mother, "2025-05", "salary", 99_999_999)        // before the window
		put(mother, "2026-01", "humanitarian_aid", 500_000) // not counted
		if _, _, err := f.reg.PutCategory(f.a, registry.Category{PersonID: mother.ID, Code: "large_family", ValidFrom: civil.MustParse("2024-01-01"), Origin: registry.Manual}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.reg.PutCategory(f.a, registry.Category{PersonID: mother.ID, Code: "low_income", ValidFrom: civil.MustParse("2020-01-01"), ValidTo: ptr(civil.MustParse("2020-12-31")), Origin: registry.Manual}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.reg.PutDisability(f.a, registry.Disability{PersonID: father.ID, Group: 2, ValidFrom: civil.MustParse("2025-01-01"), Origin: registry.Manual}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.reg.PutDisability(f.a, registry.Disability{PersonID: mother.ID, Group: 3, ValidFrom: civil.MustParse("2025-02-01"), Origin: registry.Manual}); err != nil {
			t.Fatal(err)
		}
		c, err := f.reg.Card(f.a, mother.ID, today)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Categories) != 1 || c.Categories[0].Code != "large_family" || c.Categories[0].RecordedAt.IsZero() ||
			len(c.Disabilities) != 1 || c.Disabilities[0].Group != 3 || c.Disabilities[0].ValidFrom.String() != "2025-02-01" {
			t.Fatalf("card categories %+v, disabilities %+v", c.Categories, c.Disabilities)
		}
		pc := c.PerCapita
		if pc.From.String() != "2025-06" || pc.To.String() != "2026-05" || pc.Members != 3 || pc.TotalKopecks != 10_800_000 || pc.MonthlyKopecks != 300_000 {
			t.Fatalf("per capita %+v", pc)
		}
		if c.Age != 36 || len(c.Relatives) != 2 || len(c.Household) != 3 {
			t.Fatalf("card: age %d, %d relatives, household %v", c.Age, len(c.Relatives), c.Household)
		}
		kinds := map[string]bool{}
		for _, r := range c.Relatives {
			kinds[r.Kind] = true
		}
		if !kinds["spouse"] || !kinds["child"] {
			t.Fatalf("relatives seen as %v, want spouse and child (the child's parent relation read backwards)", kinds)
		}
		// The day before the child's relation starts, the household is two.
		c, err = f.reg.Card(f.a, mother.ID, civil.MustParse("2023-06-14"))
		if err != nil || c.PerCapita.Members != 2 {
			t.Fatalf("before the birth: %+v, %v", c.PerCapita, err)
		}
	})
}
