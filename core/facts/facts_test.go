package facts

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/socialtreasury/treasury/core/civil"
)

func id(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012d", n)) }

func d(s string) civil.Date { return civil.MustParse(s) }

func dp(s string) *civil.Date { v := civil.MustParse(s); return &v }

func TestParseMonth(t *testing.T) {
	for _, good := range []struct {
		in   string
		want Month
	}{
		{"2026-01", Month{2026, time.January}},
		{"1900-12", Month{1900, time.December}},
		{"2200-01", Month{2200, time.January}},
	} {
		t.Run(good.in, func(t *testing.T) {
			m, err := ParseMonth(good.in)
			if err != nil || m != good.want || m.String() != good.in {
				t.Fatalf("ParseMonth(%q) = %v, %v", good.in, m, err)
			}
		})
	}
	for _, bad := range []string{
		"", "2026-13", "2026-00", "2026-1", "26-01", "2026-01-01", "2026/01", " 2026-01",
		"2026-01 ", "1899-12", "2201-01", "+202-01", "2026--1", "２０２６-01",
	} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if m, err := ParseMonth(bad); err == nil {
				t.Fatalf("ParseMonth(%q) accepted as %v", bad, m)
			} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
				t.Fatalf("error does not name the input: %v", err)
			}
		})
	}
}

func TestMonthArithmetic(t *testing.T) {
	for _, c := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-03", 0, "2026-03"},
		{"2026-03", -1, "2026-02"},
		{"2026-01", -1, "2025-12"},
		{"2026-01", -13, "2024-12"},
		{"2025-12", 1, "2026-01"},
		{"2025-11", 14, "2027-01"},
		{"2026-03", -27, "2023-12"},
	} {
		t.Run(fmt.Sprintf("%s%+d", c.from, c.n), func(t *testing.T) {
			m, _ := ParseMonth(c.from)
			if got := m.Add(c.n).String(); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
	a, b := Month{2025, time.December}, Month{2026, time.January}
	if !a.Before(b) || b.Before(a) || a.Before(a) || a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Fatal("Before/Compare disagree with the calendar")
	}
	if got := MonthOf(d("2024-02-29")); got != (Month{2024, time.February}) {
		t.Fatalf("MonthOf = %v", got)
	}
}

func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2026-01", "1900-01", "2200-12", "2026-13", "2026-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMonth(s)
		if err != nil {
			return
		}
		if m.String() != s {
			t.Fatalf("accepted %q but writes it as %q", s, m.String())
		}
		again, err := ParseMonth(m.String())
		if err != nil || again != m {
			t.Fatalf("%q does not round-trip: %v, %v", s, again, err)
		}
		if m.Add(1).Add(-1) != m || !m.Before(m.Add(1)) {
			t.Fatalf("Add is not consistent around %v", m)
		}
	})
}

func TestAgeAt(t *testing.T) {
	for _, c := range []struct {
		name      string
		birth, at string
		want      int
	}{
		{"day before the third birthday", "2023-05-10", "2026-05-09", 2},
		{"third birthday", "2023-05-10", "2026-05-10", 3},
		{"day after", "2023-05-10", "2026-05-11", 3},
		{"day of birth", "2023-05-10", "2023-05-10", 0},
		{"before birth", "2023-05-10", "2023-05-09", 0},
		{"years before birth", "2023-05-10", "2001-01-01", 0},
		{"earlier month", "2000-12-31", "2018-01-01", 17},
		{"18th birthday on 31 Dec", "2000-12-31", "2018-12-31", 18},
		{"29 Feb, non-leap year, 28 Feb", "2008-02-29", "2026-02-28", 17},
		{"29 Feb, non-leap year, 1 Mar", "2008-02-29", "2026-03-01", 18},
		{"29 Feb, leap year, 28 Feb", "2008-02-29", "2028-02-28", 19},
		{"29 Feb, leap year, 29 Feb", "2008-02-29", "2028-02-29", 20},
		{"29 Feb, first non-leap year", "2024-02-29", "2025-02-28", 0},
		{"29 Feb, first birthday", "2024-02-29", "2025-03-01", 1},
		{"28 Feb birth, leap year 28 Feb", "2023-02-28", "2024-02-28", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := AgeAt(d(c.birth), d(c.at)); got != c.want {
				t.Fatalf("AgeAt(%s, %s) = %d, want %d", c.birth, c.at, got, c.want)
			}
		})
	}
}

// family: subject 1; spouse 2 (married 2015, divorced 2024-06-30); spouse 3
// (since 2025); child 4 recorded from the child's side; adopted child 5;
// child 6 died 2025-10-01; sibling 7; grandparent 8; ward 9; child 10 not
// yet born on some dates; 11 a relative missing from Persons.
func family() *Record {
	return &Record{
		Subject: id(1),
		Persons: map[uuid.UUID]Person{
			id(1):  {ID: id(1), BirthDate: d("1990-04-01"), Sex: "female"},
			id(2):  {ID: id(2), BirthDate: d("1988-01-01"), Sex: "male"},
			id(3):  {ID: id(3), BirthDate: d("1989-07-15"), Sex: "male"},
			id(4):  {ID: id(4), BirthDate: d("2016-09-01"), Sex: "male"},
			id(5):  {ID: id(5), BirthDate: d("2023-03-16"), Sex: "female"},
			id(6):  {ID: id(6), BirthDate: d("2020-01-01"), DeathDate: dp("2025-10-01"), Sex: "female"},
			id(7):  {ID: id(7), BirthDate: d("1993-02-02"), Sex: "male"},
			id(8):  {ID: id(8), BirthDate: d("1950-02-02"), Sex: "female"},
			id(9):  {ID: id(9), BirthDate: d("2012-12-12"), Sex: "male"},
			id(10): {ID: id(10), BirthDate: d("2026-02-01"), Sex: "male"},
		},
		Relations: []Relation{
			{PersonID: id(1), RelativeID: id(2), Kind: "spouse", ValidFrom: d("2015-06-01"), ValidTo: dp("2024-06-30")},
			{PersonID: id(3), RelativeID: id(1), Kind: "spouse", ValidFrom: d("2025-01-01")},
			{PersonID: id(4), RelativeID: id(1), Kind: "parent", ValidFrom: d("2016-09-01")},
			{PersonID: id(1), RelativeID: id(5), Kind: "adopted_child", ValidFrom: d("2024-01-10")},
			{PersonID: id(1), RelativeID: id(6), Kind: "child", ValidFrom: d("2020-01-01")},
			{PersonID: id(1), RelativeID: id(6), Kind: "child", ValidFrom: d("2020-01-01")}, // duplicate row
			{PersonID: id(1), RelativeID: id(7), Kind: "sibling", ValidFrom: d("1993-02-02")},
			{PersonID: id(8), RelativeID: id(1), Kind: "grandchild", ValidFrom: d("1990-04-01")},
			{PersonID: id(1), RelativeID: id(9), Kind: "ward", ValidFrom: d("2022-01-01"), ValidTo: dp("2030-12-11")},
			{PersonID: id(1), RelativeID: id(10), Kind: "child", ValidFrom: d("2026-02-01")},
			{PersonID: id(1), RelativeID: id(11), Kind: "child", ValidFrom: d("2010-01-01")},
		},
	}
}

func ids(ns ...int) []uuid.UUID {
	var out []uuid.UUID
	for _, n := range ns {
		out = append(out, id(n))
	}
	return out
}

func TestRelatives(t *testing.T) {
	r := family()
	for _, c := range []struct {
		name  string
		who   int
		at    string
		kinds []string
		want  []uuid.UUID
	}{
		{"spouse while married", 1, "2020-01-01", []string{"spouse"}, ids(2)},
		{"spouse on the last day", 1, "2024-06-30", []string{"spouse"}, ids(2)},
		{"no spouse the day after the divorce", 1, "2024-07-01", []string{"spouse"}, nil},
		{"new spouse recorded from their side", 1, "2025-01-01", []string{"spouse"}, ids(3)},
		{"child recorded as the child's parent", 1, "2026-03-15", []string{"child"}, ids(4, 6, 10, 11)},
		{"parent recorded as the parent's child", 6, "2021-01-01", []string{"parent"}, ids(1)},
		{"adoptive parent from the adopted side", 5, "2025-01-01", []string{"adoptive_parent"}, ids(1)},
		{"guardian from the ward's side", 9, "2025-01-01", []string{"guardian"}, ids(1)},
		{"grandchild read back as grandparent", 1, "2025-01-01", []string{"grandparent"}, ids(8)},
		{"several kinds", 1, "2025-01-01", []string{"sibling", "grandparent"}, ids(7, 8)},
		{"any kind", 1, "2025-01-01", nil, ids(3, 4, 5, 6, 7, 8, 9, 11)},
		{"relation not begun", 5, "2024-01-09", nil, nil},
		{"kind that does not match", 1, "2025-01-01", []string{"stepchild"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Relatives(id(c.who), d(c.at), c.kinds...); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestAliveAt(t *testing.T) {
	r := family()
	for _, c := range []struct {
		name string
		who  int
		at   string
		want bool
	}{
		{"living", 1, "2026-01-01", true},
		{"day before birth", 10, "2026-01-31", false},
		{"day of birth", 10, "2026-02-01", true},
		{"day before death", 6, "2025-09-30", true},
		{"day of death", 6, "2025-10-01", false},
		{"after death", 6, "2026-01-01", false},
		{"unknown person", 11, "2026-01-01", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := r.AliveAt(id(c.who), d(c.at)); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
	if _, ok := r.AgeAt(id(11), d("2026-01-01")); ok {
		t.Fatal("age of an unknown person")
	}
	if a, ok := r.AgeAt(id(5), d("2026-03-16")); !ok || a != 3 {
		t.Fatalf("AgeAt = %d, %v", a, ok)
	}
}

func TestHousehold(t *testing.T) {
	r := family()
	for _, c := range []struct {
		name string
		at   string
		want []uuid.UUID
	}{
		// 2 (spouse), 4 (child from its side), 5, 6, 9; not 7 (sibling), 8
		// (grandparent), 10 (unborn), 11 (not loaded).
		{"married, before the death", "2024-06-30", ids(1, 2, 4, 5, 6, 9)},
		{"spouse's relation ended", "2024-07-01", ids(1, 4, 5, 6, 9)},
		{"new spouse, dead child excluded", "2025-10-01", ids(1, 3, 4, 5, 9)},
		{"newborn counted", "2026-02-01", ids(1, 3, 4, 5, 9, 10)},
		{"ward's guardianship ended", "2030-12-12", ids(1, 3, 4, 5, 10)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := r.Household(d(c.at)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("subject first even when its UUID sorts last", func(t *testing.T) {
		r := &Record{
			Subject: id(99),
			Persons: map[uuid.UUID]Person{id(99): {BirthDate: d("1980-01-01")}, id(1): {BirthDate: d("2010-01-01")}},
			Relations: []Relation{
				{PersonID: id(99), RelativeID: id(1), Kind: "stepchild", ValidFrom: d("2015-01-01")},
			},
		}
		if got := r.Household(d("2026-01-01")); !slices.Equal(got, ids(99, 1)) {
			t.Fatalf("got %v", got)
		}
	})
}

func TestIncomeWindow(t *testing.T) {
	for _, c := range []struct {
		name           string
		at             string
		months, lag    int
		wantFrom, want string
	}{
		{"12 months, no lag", "2026-03-15", 12, 0, "2025-03", "2026-02"},
		{"12 months, lag 3", "2026-03-15", 12, 3, "2024-12", "2025-11"},
		{"first of the month", "2026-03-01", 12, 0, "2025-03", "2026-02"},
		{"crossing a year from January", "2026-01-31", 3, 0, "2025-10", "2025-12"},
		{"one month", "2026-01-10", 1, 0, "2025-12", "2025-12"},
		{"six months lag 1 across the year", "2026-02-28", 6, 1, "2025-07", "2025-12"},
	} {
		t.Run(c.name, func(t *testing.T) {
			from, to := IncomeWindow(d(c.at), c.months, c.lag)
			if from.String() != c.wantFrom || to.String() != c.want {
				t.Fatalf("got %s..%s, want %s..%s", from, to, c.wantFrom, c.want)
			}
		})
	}
	if from, to := IncomeWindow(d("2026-03-15"), 0, 0); !to.Before(from) {
		t.Fatalf("zero months should be empty, got %s..%s", from, to)
	}
}

func TestIncomesByKind(t *testing.T) {
	m := func(s string) Month { v, _ := ParseMonth(s); return v }
	r := &Record{Incomes: []Income{
		{id(1), m("2025-02"), "salary", 1_000_00}, // before the window
		{id(1), m("2025-03"), "salary", 50_000_00},
		{id(1), m("2026-02"), "salary", 50_000_00},
		{id(1), m("2026-03"), "salary", 1_000_00}, // after it
		{id(2), m("2025-12"), "pension", 20_000_00},
		{id(2), m("2025-12"), "salary", 7},
		{id(3), m("2025-12"), "salary", 1_000_000_00}, // not asked for
	}}
	got := r.IncomesByKind(ids(1, 2, 2), m("2025-03"), m("2026-02"))
	want := map[string]int64{"salary": 100_000_00 + 7, "pension": 20_000_00}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestPerCapitaIncome(t *testing.T) {
	m := func(s string) Month { v, _ := ParseMonth(s); return v }
	three := func(incomes ...Income) *Record {
		return &Record{
			Subject: id(1),
			Persons: map[uuid.UUID]Person{
				id(1): {BirthDate: d("1990-01-01")}, id(2): {BirthDate: d("1990-01-01")}, id(3): {BirthDate: d("2020-01-01")},
				id(4): {BirthDate: d("1960-01-01")},
			},
			Relations: []Relation{
				{PersonID: id(1), RelativeID: id(2), Kind: "spouse", ValidFrom: d("2015-01-01")},
				{PersonID: id(3), RelativeID: id(1), Kind: "parent", ValidFrom: d("2020-01-01")},
				{PersonID: id(1), RelativeID: id(4), Kind: "grandparent", ValidFrom: d("2020-01-01")},
			},
			Incomes: incomes,
		}
	}
	noBenefits := func(kind string) bool { return kind != "child_benefit" }
	for _, c := range []struct {
		name        string
		r           *Record
		months, lag int
		counted     func(string) bool
		want        PerCapita
	}{
		{
			"truncates: 100 kopecks, 3 members, 1 month", three(Income{id(2), m("2026-02"), "salary", 100}), 1, 0, nil,
			PerCapita{From: m("2026-02"), To: m("2026-02"), Members: 3, TotalKopecks: 100, MonthlyKopecks: 33},
		},
		{
			"truncates over months too: 1000 / 3 / 3 = 111", three(
				Income{id(1), m("2025-12"), "salary", 500},
				Income{id(2), m("2026-01"), "salary", 400},
				Income{id(3), m("2026-02"), "alimony", 100},
			), 3, 0, nil,
			PerCapita{From: m("2025-12"), To: m("2026-02"), Members: 3, TotalKopecks: 1000, MonthlyKopecks: 111},
		},
		{
			"counted filter excludes a kind", three(
				Income{id(1), m("2026-02"), "salary", 90_000_00},
				Income{id(1), m("2026-02"), "child_benefit", 15_000_00},
			), 1, 0, noBenefits,
			PerCapita{From: m("2026-02"), To: m("2026-02"), Members: 3, TotalKopecks: 90_000_00, MonthlyKopecks: 30_000_00},
		},
		{
			"grandparent's income is not the household's", three(
				Income{id(1), m("2026-02"), "salary", 300},
				Income{id(4), m("2026-02"), "pension", 9_000_000},
			), 1, 0, nil,
			PerCapita{From: m("2026-02"), To: m("2026-02"), Members: 3, TotalKopecks: 300, MonthlyKopecks: 100},
		},
		{
			"lag moves the window", three(
				Income{id(1), m("2026-02"), "salary", 999},
				Income{id(1), m("2025-11"), "salary", 600},
			), 1, 3, nil,
			PerCapita{From: m("2025-11"), To: m("2025-11"), Members: 3, TotalKopecks: 600, MonthlyKopecks: 200},
		},
		{
			"zero months", three(Income{id(1), m("2026-02"), "salary", 999}), 0, 0, nil,
			PerCapita{Members: 3},
		},
		{
			"negative months", three(Income{id(1), m("2026-02"), "salary", 999}), -1, 0, nil,
			PerCapita{Members: 3},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.r.PerCapitaIncome(d("2026-03-15"), c.months, c.lag, c.counted); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCategories(t *testing.T) {
	r := &Record{Categories: []Category{
		{id(1), "large_family", d("2020-01-01"), nil},
		{id(1), "large_family", d("2024-01-01"), dp("2024-12-31")}, // overlapping duplicate
		{id(1), "low_income", d("2025-01-01"), dp("2025-06-30")},
		{id(1), "chernobyl", d("2010-01-01"), nil},
		{id(2), "veteran", d("2010-01-01"), nil},
	}}
	for _, c := range []struct {
		at   string
		want []string
	}{
		{"2019-12-31", []string{"chernobyl"}},
		{"2024-06-01", []string{"chernobyl", "large_family"}},
		{"2025-06-30", []string{"chernobyl", "large_family", "low_income"}},
		{"2025-07-01", []string{"chernobyl", "large_family"}},
	} {
		t.Run(c.at, func(t *testing.T) {
			if got := r.CategoriesAt(id(1), d(c.at)); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for _, code := range []string{"chernobyl", "large_family", "low_income", "veteran"} {
				if got, want := r.HasCategory(id(1), code, d(c.at)), slices.Contains(c.want, code); got != want {
					t.Errorf("HasCategory(%s) = %v", code, got)
				}
			}
		})
	}
}

func TestDisabilityAt(t *testing.T) {
	r := &Record{Disabilities: []Disability{
		{id(1), 2, d("2020-01-01"), dp("2023-12-31")},
		{id(1), 1, d("2023-06-01"), nil}, // re-examined while the old one ran
		{id(2), 7, d("2024-01-01"), nil},
		{id(3), 3, d("2024-01-01"), dp("2024-12-31")},
	}}
	for _, c := range []struct {
		name      string
		who       int
		at        string
		wantGroup int
		wantOK    bool
	}{
		{"single", 1, "2022-01-01", 2, true},
		{"overlap: the later start wins", 1, "2023-07-01", 1, true},
		{"after the old one ended", 1, "2024-07-01", 1, true},
		{"before any", 1, "2019-12-31", 0, false},
		{"group 7 as recorded", 2, "2025-01-01", 7, true},
		{"ended", 3, "2025-01-01", 0, false},
		{"on the last day", 3, "2024-12-31", 3, true},
		{"none recorded", 4, "2025-01-01", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if g, ok := r.DisabilityAt(id(c.who), d(c.at)); g != c.wantGroup || ok != c.wantOK {
				t.Fatalf("got %d, %v", g, ok)
			}
		})
	}
}

func TestChildrenUnder(t *testing.T) {
	r := family()
	for _, c := range []struct {
		name string
		at   string
		age  int
		want []uuid.UUID
	}{
		// 5 born 2023-03-16: 2 the day before the third birthday, 3 on it.
		{"adopted child the day before turning three", "2026-03-15", 3, ids(5, 10)},
		{"adopted child turns three", "2026-03-16", 3, ids(10)},
		// 4 (child, recorded from its side) is 9; 6 is dead; 9 is a ward; 11 is unknown.
		{"under 18", "2026-03-16", 18, ids(4, 5, 10)},
		{"dead child counted while alive", "2025-09-30", 18, ids(4, 5, 6)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := r.ChildrenUnder(id(1), d(c.at), c.age); !slices.Equal(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func ExampleRecord_PerCapitaIncome() {
	parent, spouse, child := uuid.New(), uuid.New(), uuid.New()
	r := &Record{
		Subject: parent,
		Persons: map[uuid.UUID]Person{
			parent: {ID: parent, BirthDate: civil.MustParse("1990-04-01")},
			spouse: {ID: spouse, BirthDate: civil.MustParse("1991-08-20")},
			child:  {ID: child, BirthDate: civil.MustParse("2024-11-03")},
		},
		Relations: []Relation{
			{PersonID: parent, RelativeID: spouse, Kind: "spouse", ValidFrom: civil.MustParse("2015-06-01")},
			{PersonID: child, RelativeID: parent, Kind: "parent", ValidFrom: civil.MustParse("2024-11-03")},
		},
		Incomes: []Income{
			{PersonID: parent, Month: Month{2025, time.December}, Kind: "salary", AmountKopecks: 60_000_00},
			{PersonID: spouse, Month: Month{2026, time.January}, Kind: "salary", AmountKopecks: 40_000_00},
			{PersonID: spouse, Month: Month{2026, time.January}, Kind: "child_benefit", AmountKopecks: 15_000_00},
		},
	}
	pc := r.PerCapitaIncome(civil.MustParse("2026-03-15"), 3, 0, func(kind string) bool { return kind != "child_benefit" })
	fmt.Printf("%s..%s: %d kopecks for %d members, %d a month each\n",
		pc.From, pc.To, pc.TotalKopecks, pc.Members, pc.MonthlyKopecks)
	// Output: 2025-12..2026-02: 10000000 kopecks for 3 members, 1111111 a month each
}
