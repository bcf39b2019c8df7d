package measure

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
)

var regions = map[string]string{"66-sverdlovsk": "65000000", "16-tatarstan": "92000000"}

func loadRegion(t *testing.T, dir string) map[string]*Measure {
	t.Helper()
	ms, err := LoadDir(os.DirFS("../../tenants"), dir+"/measures")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 5 {
		t.Fatalf("%s has %d measures, want at least 5", dir, len(ms))
	}
	out := map[string]*Measure{}
	for _, m := range ms {
		out[m.Code] = m
	}
	return out
}

var minimum2026 = Minimums{PerCapita: 1_893_900, WorkingAge: 2_064_400, Pensioners: 1_628_800, Children: 1_837_100}

// family is a low-income family of five on the decision date 2026-03-10:
// the mother (the subject), the father, children of 2, 10 and 13.
type family struct {
	rec                          *facts.Record
	mother, father, baby, c1, c2 uuid.UUID
}

func newFamily(babyBirth civil.Date) *family {
	f := &family{mother: uuid.New(), father: uuid.New(), baby: uuid.New(), c1: uuid.New(), c2: uuid.New()}
	d := civil.MustParse
	f.rec = &facts.Record{Subject: f.mother, Persons: map[uuid.UUID]facts.Person{
		f.mother: {ID: f.mother, BirthDate: d("1990-05-10"), Sex: "female"},
		f.father: {ID: f.father, BirthDate: d("1988-01-20"), Sex: "male"},
		f.baby:   {ID: f.baby, BirthDate: babyBirth, Sex: "male"},
		f.c1:     {ID: f.c1, BirthDate: d("2015-09-01"), Sex: "female"},
		f.c2:     {ID: f.c2, BirthDate: d("2012-11-11"), Sex: "male"},
	}}
	f.rec.Relations = []facts.Relation{{PersonID: f.mother, RelativeID: f.father, Kind: "spouse", ValidFrom: d("2011-06-01")}}
	for _, c := range []uuid.UUID{f.baby, f.c1, f.c2} {
		f.rec.Relations = append(f.rec.Relations, facts.Relation{PersonID: c, RelativeID: f.mother, Kind: "parent", ValidFrom: f.rec.Persons[c].BirthDate})
	}
	f.rec.Categories = []facts.Category{{PersonID: f.mother, Code: "low_income", ValidFrom: d("2025-01-01")}}
	// 40,000 ₽ a month for the family: 8,000 ₽ per capita, below the minimum.
	for m := facts.MonthOf(d("2024-01-01")); m.Before(facts.MonthOf(d("2026-12-01"))); m = m.Add(1) {
		f.rec.Incomes = append(f.rec.Incomes, facts.Income{PersonID: f.father, Month: m, Kind: "salary", AmountKopecks: 4_000_000})
	}
	return f
}

func (f *family) at(on string, region string) Case {
	return Assemble("family", f.rec, civil.MustParse(on), Inputs{OKTMO: regions[region][:2] + "701000", RegionOKTMO: regions[region], Minimum: minimum2026})
}

// elder is a single pensioner, 70 on 2026-03-10, a labour veteran.
func elder(region string, on string) Case {
	id := uuid.New()
	rec := &facts.Record{Subject: id, Persons: map[uuid.UUID]facts.Person{id: {ID: id, BirthDate: civil.MustParse("1956-03-10"), Sex: "female"}},
		Categories: []facts.Category{{PersonID: id, Code: "pensioner", ValidFrom: civil.MustParse("2011-03-10")},
			{PersonID: id, Code: "labour_veteran", ValidFrom: civil.MustParse("2011-03-10")}}}
	for m := facts.MonthOf(civil.MustParse("2025-01-01")); m.Before(facts.MonthOf(civil.MustParse("2026-12-01"))); m = m.Add(1) {
		rec.Incomes = append(rec.Incomes, facts.Income{PersonID: id, Month: m, Kind: "pension", AmountKopecks: 1_400_000})
	}
	return Assemble("elder", rec, civil.MustParse(on), Inputs{OKTMO: regions[region][:2] + "401000", RegionOKTMO: regions[region], Minimum: minimum2026})
}

type demoCase struct {
	eligible func(region string) Case
	amount   int64 // of the eligible case, kopecks (per region, when it differs: by region)
	byRegion map[string]int64
	// breaks makes one condition fail, by the condition's name.
	breaks map[string]func(*Case)
}

var notResident = func(c *Case) { c.Person.Resident, c.Person.OKTMO = false, "45000000" }

var demoCases = map[string]demoCase{
	"low_income_child": {
		eligible: func(r string) Case { return newFamily(civil.MustParse("2024-01-15")).at("2026-03-10", r) },
		amount:   minimum2026.Children,
		breaks: map[string]func(*Case){
			"resident": notResident,
			"adult":    func(c *Case) { c.Person.Age = 17 },
			"child_under_three": func(c *Case) {
				c.Household.Members = slices.DeleteFunc(c.Household.Members, func(m Member) bool { return m.Relation == "child" && m.Age < 3 })
			},
			"low_income_category":  func(c *Case) { c.Person.Categories = []string{} },
			"income_below_minimum": func(c *Case) { c.Household.PerCapitaKopecks, c.Household.PerCapita3Kopecks = 1_893_900, 1_893_900 },
			"not_yet_assigned":     func(c *Case) { c.Assignments = []Assignment{{Measure: "low_income_child", Status: "active"}} },
		},
	},
	"birth_lump_sum": {
		eligible: func(r string) Case { return newFamily(civil.MustParse("2026-01-20")).at("2026-03-10", r) },
		amount:   1_000_000,
		breaks: map[string]func(*Case){
			"resident": notResident,
			"newborn": func(c *Case) {
				for i := range c.Household.Members {
					c.Household.Members[i].AgeMonths = max(c.Household.Members[i].AgeMonths, 6)
				}
			},
			"not_yet_paid": func(c *Case) { c.Assignments = []Assignment{{Measure: "birth_lump_sum", Status: "active"}} },
		},
	},
	"large_family_monthly": {
		eligible: func(r string) Case { return newFamily(civil.MustParse("2024-01-15")).at("2026-03-10", r) },
		byRegion: map[string]int64{"66-sverdlovsk": 3 * 150_000, "16-tatarstan": 3 * 200_000},
		breaks: map[string]func(*Case){
			"resident": notResident,
			"three_children": func(c *Case) {
				i := slices.IndexFunc(c.Household.Members, func(m Member) bool { return m.Relation == "child" && m.Age > 3 })
				c.Household.Members[i].Age = 18
			},
		},
	},
	"labour_veteran_monthly": {
		eligible: func(r string) Case { return elder(r, "2026-03-10") },
		byRegion: map[string]int64{"66-sverdlovsk": 85_000, "16-tatarstan": 96_000},
		breaks: map[string]func(*Case){
			"resident":       notResident,
			"labour_veteran": func(c *Case) { c.Person.Categories = []string{"pensioner"} },
		},
	},
	"jubilee_payment": {
		eligible: func(r string) Case { return elder(r, "2026-03-10") },
		amount:   500_000,
		breaks: map[string]func(*Case){
			"resident":         notResident,
			"jubilee_age":      func(c *Case) { c.Person.Age = 71 },
			"not_yet_assigned": func(c *Case) { c.Assignments = []Assignment{{Measure: "jubilee_payment", Status: "active"}} },
		},
	},
	"pensioner_supplement": {
		eligible: func(r string) Case { return elder(r, "2026-03-10") },
		amount:   minimum2026.Pensioners - 1_400_000,
		breaks: map[string]func(*Case){
			"resident":             notResident,
			"pensioner":            func(c *Case) { c.Person.Categories = []string{"labour_veteran"} },
			"not_working":          func(c *Case) { c.Person.Working = true },
			"income_below_minimum": func(c *Case) { c.Person.IncomeKopecks = 12 * minimum2026.Pensioners },
		},
	},
	"utility_subsidy": {
		eligible: func(r string) Case {
			c := newFamily(civil.MustParse("2024-01-15")).at("2026-03-10", r)
			c.Application = map[string]string{"utility_costs_kopecks": "1200000"}
			return c
		},
		// 12,000 ₽ of costs, 22 % of 40,000 ₽ is 8,800 ₽: 3,200 ₽.
		amount: 320_000,
		breaks: map[string]func(*Case){
			"resident":          notResident,
			"costs_stated":      func(c *Case) { c.Application = map[string]string{"utility_costs_kopecks": "много"} },
			"costs_above_share": func(c *Case) { c.Application = map[string]string{"utility_costs_kopecks": "880000"} },
		},
	},
}

// Every demo measure: its eligible case is eligible with the expected
// amount, and breaking each condition in turn makes exactly that condition
// fail, with its explanation in both languages.
func TestDemoMeasures(t *testing.T) {
	ctx := context.Background()
	for region := range regions {
		for code, m := range loadRegion(t, region) {
			t.Run(region+"/"+code, func(t *testing.T) {
				if m.Versions[0].Plugin != nil {
					// Its plug-in's own golden cases test it
					// (plugins/socialcontract/testdata/cases.yaml).
					t.Skipf("decided by plug-in %s", m.Versions[0].Plugin.Name)
				}
				dc, ok := demoCases[code]
				if !ok {
					t.Fatalf("no table for demo measure %s", code)
				}
				v, _ := m.At(civil.MustParse("2026-03-10"))
				if v == nil {
					t.Fatalf("no version in force on 2026-03-10")
				}
				p, err := Compile(v)
				if err != nil {
					t.Fatal(err)
				}
				want := dc.amount
				if dc.byRegion != nil {
					want = dc.byRegion[region]
				}
				out, err := p.Evaluate(ctx, []Case{dc.eligible(region)})
				if err != nil {
					t.Fatal(err)
				}
				if o := out[0]; !o.Eligible || o.AmountKopecks != want || o.Error != "" || o.Start.String() != "2026-03-10" {
					t.Fatalf("eligible case: %+v; want eligible, %d kopecks from 2026-03-10", o, want)
				}
				for _, c := range v.Conditions {
					brk, ok := dc.breaks[c.Name]
					if !ok {
						t.Errorf("condition %s has no case that breaks it", c.Name)
						continue
					}
					cs := dc.eligible(region)
					brk(&cs)
					out, err := p.Evaluate(ctx, []Case{cs})
					if err != nil {
						t.Fatal(err)
					}
					o := out[0]
					var failed []string
					for _, f := range o.Failed() {
						failed = append(failed, f.Name)
						if f.Explanation.RU == "" || f.Explanation.EN == "" || f.Explanation.RU == c.Title.RU {
							t.Errorf("%s failed without its reason: %+v", f.Name, f.Explanation)
						}
					}
					if o.Eligible || o.AmountKopecks != 0 || !slices.Equal(failed, []string{c.Name}) {
						t.Errorf("breaking %s: eligible %v, %d kopecks, failed %v", c.Name, o.Eligible, o.AmountKopecks, failed)
					}
				}
			})
		}
	}
}

// The day a child turns three ends the low-income child payment: the day
// before, the child is 2.
func TestChildTurningThree(t *testing.T) {
	m := loadRegion(t, "66-sverdlovsk")["low_income_child"]
	p, err := Compile(&m.Versions[0])
	if err != nil {
		t.Fatal(err)
	}
	f := newFamily(civil.MustParse("2023-03-10"))
	out, err := p.Evaluate(context.Background(), []Case{f.at("2026-03-09", "66-sverdlovsk"), f.at("2026-03-10", "66-sverdlovsk")})
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Eligible || out[1].Eligible || out[1].Failed()[0].Name != "child_under_three" {
		t.Fatalf("the day before three: %v; the birthday: %v %+v", out[0].Eligible, out[1].Eligible, out[1].Failed())
	}
}

// Income windows cross a year: on 2026-02-05 Tatarstan's three-month
// window is 2025-11..2026-01, and the family window of 12 months six
// months back is 2024-08..2025-07.
func TestIncomeWindowAcrossAYear(t *testing.T) {
	f := newFamily(civil.MustParse("2024-01-15"))
	f.rec.Incomes = nil
	put := func(month string, k int64) {
		m, _ := facts.ParseMonth(month)
		f.rec.Incomes = append(f.rec.Incomes, facts.Income{PersonID: f.father, Month: m, Kind: "salary", AmountKopecks: k})
	}
	put("2025-10", 99_000_000) // before the three-month window
	put("2025-11", 3_000_000)
	put("2025-12", 3_000_000)
	put("2026-01", 3_000_000)
	put("2026-02", 99_000_000) // the decision month: not over
	put("2024-07", 77_000_000) // before the 12-month window
	put("2024-08", 6_000_000)
	put("2025-07", 6_000_000)
	put("2025-08", 55_000_000) // after it
	c := f.at("2026-02-05", "16-tatarstan")
	if c.Household.PerCapita3Kopecks != 9_000_000/3/5 {
		t.Errorf("3-month per capita %d, want %d", c.Household.PerCapita3Kopecks, 9_000_000/3/5)
	}
	if c.Household.PerCapitaKopecks != 12_000_000/12/5 {
		t.Errorf("12-month per capita %d, want %d", c.Household.PerCapitaKopecks, 12_000_000/12/5)
	}
	m := loadRegion(t, "16-tatarstan")["low_income_child"]
	p, err := Compile(&m.Versions[0])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := p.Evaluate(context.Background(), []Case{c})
	if !out[0].Eligible {
		t.Fatalf("%+v", out[0])
	}
}
