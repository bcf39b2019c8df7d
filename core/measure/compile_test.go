package measure

import (
	"errors"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
)

func validVersion() Version {
	return Version{
		Number: 1, EffectiveFrom: civil.MustParse("2026-01-01"), Name: Text{RU: "Мера", EN: "A measure"},
		LegalBasis: []LegalAct{{Number: "1-ОЗ", Date: civil.MustParse("2025-12-01"), Title: "Закон", Authority: "Собрание"}},
		KMSZ:       "0101", Form: "01", Periodicity: "monthly", Funding: []Funding{{Source: "0002", SharePercent: 100}},
		Conditions: []Condition{{Name: "adult", Expr: "person.age >= 18", Title: Text{RU: "Взрослый", EN: "An adult"},
			Reason: Text{RU: "возраст {person.age}", EN: "age {person.age}"}}},
		Amount: "100000", Period: Period{Start: "date"},
	}
}

// A rule that cannot work is refused before it is saved, naming the field,
// the position and the expression.
func TestBadRulesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Version)
		field  string
		msg    string
	}{
		{"unknown field", func(v *Version) { v.Conditions[0].Expr = "person.agee >= 18" }, "conditions[0].expr", "1:7: undefined field 'agee'"},
		{"unknown variable", func(v *Version) { v.Amount = "salary * 2" }, "amount", "undeclared reference to 'salary'"},
		{"not a bool", func(v *Version) { v.Conditions[0].Expr = "person.age" }, "conditions[0].expr", "is of type int, must be bool"},
		{"wrong operand types", func(v *Version) { v.Conditions[0].Expr = "person.age >= '18'" }, "conditions[0].expr", "no matching overload"},
		{"amount not kopecks", func(v *Version) { v.Amount = "1000.50" }, "amount", "is of type double, must be int"},
		{"period not a date", func(v *Version) { v.Period.Start = "'2026-01-01'" }, "period.start", "must be google.protobuf.Timestamp"},
		{"too costly", func(v *Version) {
			v.Conditions[0].Expr = "household.members.all(a, household.members.all(b, household.members.all(c, a.categories.exists(x, x in b.categories && x in c.categories))))"
		}, "conditions[0].expr", "above the limit of 10000"},
		{"reason template", func(v *Version) { v.Conditions[0].Reason.EN = "age {person.agee}" }, "conditions[0].reason.en", "undefined field 'agee'"},
		{"unclosed template", func(v *Version) { v.Conditions[0].Reason.RU = "возраст {person.age" }, "conditions[0].reason.ru", "an unclosed {"},
		{"syntax", func(v *Version) { v.Conditions[0].Expr = "person.age >= " }, "conditions[0].expr", "1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validVersion()
			tc.change(&v)
			_, err := Compile(&v)
			var inv *fault.Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("compiled: %v", err)
			}
			for _, f := range inv.Fields {
				if f.Field == tc.field && strings.Contains(f.Message, tc.msg) && f.Value != "" {
					return
				}
			}
			t.Fatalf("errors %+v; want %s: …%s… with the expression", inv.Fields, tc.field, tc.msg)
		})
	}
	v := validVersion()
	if _, err := Compile(&v); err != nil {
		t.Fatalf("the valid version: %v", err)
	}
}

// What is not CEL is checked too: funding shares, legal basis, names.
func TestMeasureCheck(t *testing.T) {
	m := Measure{Code: "demo", Versions: []Version{validVersion()}}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	m.Versions[0].Funding = []Funding{{Source: "0001", SharePercent: 60}, {Source: "0002", SharePercent: 30}}
	m.Versions[0].LegalBasis = nil
	m.Versions[0].Conditions = append(m.Versions[0].Conditions, m.Versions[0].Conditions[0])
	err := m.Check()
	var inv *fault.Invalid
	if !errors.As(err, &inv) || !inv.Has("versions[0].funding") || !inv.Has("versions[0].legal_basis") || !inv.Has("versions[0].conditions[1].name") {
		t.Fatalf("%v", err)
	}
}

// A file's syntax errors name the line.
func TestParseNamesTheLine(t *testing.T) {
	_, err := Parse([]byte("{\n  \"code\": \"x\",\n  \"versions\": [\n    {\"number\": \"one\"}\n  ]\n}\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 4:") {
		t.Fatalf("%v", err)
	}
	_, err = Parse([]byte("{\n  \"code\": \"x\",\n  \"bogus\": 1\n}"))
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("%v", err)
	}
}

func TestRubles(t *testing.T) {
	for k, want := range map[int64]string{0: "0\u00a0₽", 3_120_000: "31\u00a0200\u00a0₽", 123_450: "1\u00a0234,50\u00a0₽", 5: "0,05\u00a0₽", -100_000_000: "−1\u00a0000\u00a0000\u00a0₽"} {
		if got := Rubles(k); got != want {
			t.Errorf("Rubles(%d) = %q, want %q", k, got, want)
		}
	}
}

// A case beyond the sizes the cost estimate assumes is refused, not
// evaluated at an unbounded cost.
func TestOversizedCasesAreRefused(t *testing.T) {
	v := validVersion()
	p, err := Compile(&v)
	if err != nil {
		t.Fatal(err)
	}
	big := Case{ID: "big", Person: Subject{Age: 40}}
	big.Household.Members = make([]Member, maxMembers+1)
	long := Case{ID: "long", Person: Subject{Age: 40}, Application: map[string]string{"x": strings.Repeat("я", MaxStringSize)}}
	ok := Case{ID: "ok", Person: Subject{Age: 40}}
	out, err := p.Evaluate(t.Context(), []Case{big, long, ok})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Eligible || !strings.Contains(out[0].Error, "household members") || out[1].Eligible || !strings.Contains(out[1].Error, "application field") || !out[2].Eligible {
		t.Fatalf("%+v", out)
	}
}
