package registry_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
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

// On PostgreSQL a card is read in one pipelined round trip; it must read
// what the transaction every dialect runs reads: current facts only, both
// sides of relations, relatives' facts, nobody two hops away.
func TestCardPipelineReadsWhatTheTransactionReads(t *testing.T) {
	env := storetest.New(t, store.Postgres)
	f := newFixture(t, env)
	mk := func(n int, name, birth string) registry.Person {
		p, err := f.reg.Create(f.a, registry.PersonFields{SNILS: ptr(snils(n)), FamilyName: ptr("Орлова"), FirstName: ptr(name),
			BirthDate: ptr(civil.MustParse(birth)), Sex: ptr("female"), Document: &registry.Document{Type: "21", Series: "6500", Number: "123456"}}, registry.Manual)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	granny, mother, child, ex, stranger := mk(7100001, "Нина", "1950-01-01"), mk(7100002, "Ольга", "1980-01-01"),
		mk(7100003, "Вера", "2015-03-03"), mk(7100004, "Ирина", "1979-01-01"), mk(7100005, "Зоя", "1981-01-01")
	must := func(_ any, _ registry.Outcome, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.reg.PutRelation(f.a, registry.Relation{PersonID: mother.ID, RelativeID: granny.ID, Kind: "parent", ValidFrom: civil.MustParse("1980-01-01"), Origin: registry.Manual}))
	must(f.reg.PutRelation(f.a, registry.Relation{PersonID: child.ID, RelativeID: mother.ID, Kind: "parent", ValidFrom: civil.MustParse("2015-03-03"), Origin: registry.Manual}))
	must(f.reg.PutRelation(f.a, registry.Relation{PersonID: mother.ID, RelativeID: ex.ID, Kind: "spouse", ValidFrom: civil.MustParse("2005-01-01"), ValidTo: ptr(civil.MustParse("2020-12-31")), Origin: registry.Manual}))
	for _, p := range []registry.Person{granny, mother, child, ex, stranger} {
		must(f.reg.PutIncome(f.a, registry.Income{PersonID: p.ID, Month: "2025-11", Kind: "salary", AmountKopecks: 1_000_000, Source: "fns", Origin: registry.Manual}))
		must(f.reg.PutIncome(f.a, registry.Income{PersonID: p.ID, Month: "2025-11", Kind: "salary", AmountKopecks: 1_200_000, Source: "fns", Origin: registry.Manual})) // a correction
		must(f.reg.PutIncome(f.a, registry.Income{PersonID: p.ID, Month: "2024-01", Kind: "salary", AmountKopecks: 900_000, Source: "fns", Origin: registry.Manual}))   // outside the window
		must(f.reg.PutCategory(f.a, registry.Category{PersonID: p.ID, Code: "large_family", ValidFrom: civil.MustParse("2020-01-01"), Origin: registry.Manual}))
		must(f.reg.PutDisability(f.a, registry.Disability{PersonID: p.ID, Group: 3, ValidFrom: civil.MustParse("2021-01-01"), Origin: registry.Manual}))
	}
	cat, _, err := f.reg.PutCategory(f.a, registry.Category{PersonID: child.ID, Code: "low_income", ValidFrom: civil.MustParse("2024-01-01"), Origin: registry.Manual})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.reg.Retract(f.a, child.ID, registry.KindCategory, cat.ID); err != nil {
		t.Fatal(err)
	}
	for _, who := range []registry.Person{granny, mother, child, ex, stranger} {
		for _, on := range []string{"2019-06-30", "2026-06-15"} {
			diff, err := registry.CardPathsDiffer(f.a, f.reg, who.ID, civil.MustParse(on))
			if err != nil {
				t.Fatal(err)
			}
			if diff != "" {
				t.Errorf("%s on %s: %s", who.FirstName, on, diff)
			}
		}
	}
}

// A card is read with its audit record or not at all: a person that does
// not exist is not found and leaves no record, and a record that cannot be
// written fails the read.
func TestCardIsAuditedOrFails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env)
		p, err := f.reg.Create(f.a, registry.PersonFields{SNILS: ptr(snils(7200001)), FamilyName: ptr("Ким"), FirstName: ptr("Ан"),
			BirthDate: ptr(civil.MustParse("1990-01-01")), Sex: ptr("male")}, registry.Manual)
		if err != nil {
			t.Fatal(err)
		}
		count := func() int64 {
			t.Helper()
			var n int64
			if err := env.Owner.Gorm.Raw("SELECT (SELECT count(*) FROM audit_pending WHERE action = 'person.card') + (SELECT count(*) FROM audit_records WHERE action = 'person.card')").Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := f.reg.Card(f.a, p.ID, today); err != nil || count() != 1 {
			t.Fatalf("card: %v; %d records, want 1", err, count())
		}
		if _, err := f.reg.Card(f.a, uuid.New(), today); !errors.Is(err, fault.ErrNotFound) || count() != 1 {
			t.Fatalf("card of nobody: %v; %d records, want not found and still 1", err, count())
		}
		if _, err := f.reg.Card(f.b, p.ID, today); !errors.Is(err, fault.ErrNotFound) || count() != 1 {
			t.Fatalf("card from another region: %v; %d records, want not found and still 1", err, count())
		}
		breakAuditAppends(t, env)
		if c, err := f.reg.Card(f.a, p.ID, today); err == nil || c.Person.ID != uuid.Nil || count() != 1 {
			t.Fatalf("card without its record: %+v, %v; %d records, want an error, no card and still 1", c.Person.ID, err, count())
		}
	})
}

// breakAuditAppends makes every later append of an audit record fail.
func breakAuditAppends(t *testing.T, env *storetest.Env) {
	t.Helper()
	stmts := []string{"CREATE TRIGGER audit_broken BEFORE INSERT ON audit_pending BEGIN SELECT RAISE(ABORT, 'audit is broken'); END"}
	if env.Owner.Dialect == store.Postgres {
		stmts = []string{
			"CREATE FUNCTION audit_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit is broken'; END $$",
			"CREATE TRIGGER audit_broken BEFORE INSERT ON audit_pending FOR EACH ROW EXECUTE FUNCTION audit_broken()",
		}
	}
	for _, s := range stmts {
		if err := env.Owner.Gorm.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
}
