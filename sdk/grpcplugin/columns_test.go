package grpcplugin

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"google.golang.org/protobuf/proto"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// mixedCases vary every list's length, zero included, so that a column's
// ends are tested where they matter.
func mixedCases() []measure.Case {
	cs := benchCases(7)
	cs[1].Household.Members = nil
	cs[2].Person.Categories = []string{"veteran", "low_income", "large_family"}
	cs[3].Assignments = []measure.Assignment{{Measure: "a", Status: "active", AmountKopecks: 5}, {Measure: "b", Status: "suspended"}}
	cs[4].Application = map[string]string{"plan": "2026-07:training", "activity": "job_search"}
	cs[5].Household.Members[2].Categories = []string{"disabled_child"}
	cs[6].Date, cs[6].Person.BirthDate = time.Time{}, time.Time{}
	return cs
}

// normal is a case as it comes out of columns: empty lists where nil.
func normal(c measure.Case) measure.Case {
	if c.Person.Categories == nil {
		c.Person.Categories = []string{}
	}
	if c.Household.Members == nil {
		c.Household.Members = []measure.Member{}
	}
	for i := range c.Household.Members {
		if c.Household.Members[i].Categories == nil {
			c.Household.Members[i].Categories = []string{}
		}
	}
	return c
}

func TestCasesCrossAsTheyAre(t *testing.T) {
	cs := mixedCases()
	b, err := proto.Marshal(casesInto(new(pluginv1.Cases), cs, everyColumn))
	if err != nil {
		t.Fatal(err)
	}
	var wire pluginv1.Cases
	if err := proto.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	got, err := casesFrom(&wire)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cs {
		want := normal(cs[i])
		g := normal(got[i])
		if !reflect.DeepEqual(g, want) {
			t.Fatalf("case %d:\n%+v\nwant\n%+v", i, g, want)
		}
	}
}

// A request's columns are reused from call to call: a batch written over
// a larger one carries nothing of it.
func TestCasesWrittenOverAnotherBatch(t *testing.T) {
	c := casesInto(new(pluginv1.Cases), benchCases(50), everyColumn)
	small := mixedCases()
	small[0].Household.Members = append(small[0].Household.Members, measure.Member{Relation: "parent", Categories: []string{"pensioner"}})
	got, err := casesFrom(casesInto(c, small, everyColumn))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(small) {
		t.Fatalf("%d cases for %d", len(got), len(small))
	}
	for i := range small {
		if want := normal(small[i]); !reflect.DeepEqual(normal(got[i]), want) {
			t.Fatalf("case %d:\n%+v\nwant\n%+v", i, got[i], want)
		}
	}
}

// A stream reads batch after batch into the same arrays: each batch
// reads as it would into new ones, with nothing of the one before — more
// members, assignments, an application — left in its cases.
func TestCasesReadOverAnotherBatch(t *testing.T) {
	big := benchCases(40)
	for i := range big {
		big[i].Assignments = []measure.Assignment{{Measure: "a", Status: "active", AmountKopecks: int64(i)}}
		big[i].Application = map[string]string{"plan": "x"}
		big[i].Household.Members = append(big[i].Household.Members, measure.Member{Relation: "parent", Age: 70, Categories: []string{}})
	}
	var arrays caseArrays
	for round, cs := range [][]measure.Case{big, mixedCases(), big[:3], mixedCases()} {
		got, err := arrays.read(casesInto(new(pluginv1.Cases), cs, everyColumn), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(cs) {
			t.Fatalf("round %d: %d cases for %d", round, len(got), len(cs))
		}
		for i := range cs {
			if want := normal(cs[i]); !reflect.DeepEqual(normal(got[i]), want) {
				t.Fatalf("round %d, case %d:\n%+v\nwant\n%+v", round, i, got[i], want)
			}
		}
	}
}

// A condition explained by its title for some cases and by a reason for
// others sends each text once, also when it has reasons with the case's
// figures in them between; one explained by more texts than are kept
// still gets its own text every time.
func TestExplanationsSentOnce(t *testing.T) {
	title, reason := measure.Text{RU: "выполнено", EN: "holds"}, measure.Text{RU: "не выполнено", EN: "does not hold"}
	var outs []measure.Outcome
	for i := range 100 {
		x := measure.ConditionResult{Name: "x", Held: i%3 != 0, Explanation: title}
		switch {
		case i%3 == 0:
			x.Explanation = reason
		case i%3 == 1 && i > 50:
			x.Held, x.Explanation = false, measure.Text{RU: fmt.Sprint("доход ", i), EN: fmt.Sprint("income ", i)}
		}
		n := fmt.Sprint(i % 7)
		y := measure.ConditionResult{Name: "y", Explanation: measure.Text{RU: "причина " + n, EN: "reason " + n}}
		outs = append(outs, measure.Outcome{CaseID: fmt.Sprint(i), Conditions: []measure.ConditionResult{x, y}})
	}
	wire := outcomesInto(new(pluginv1.Outcomes), outs, true, true, true)
	sent := map[string]int{}
	texts, err := textsFrom(wire.GetExplanationEn(), "explanation_en")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		sent[s]++
	}
	if sent["holds"] != 1 || sent["does not hold"] != 1 {
		t.Errorf("the title sent %d times and the reason %d times, want once each", sent["holds"], sent["does not hold"])
	}
	got, err := outcomesFrom(nil, wire, casesOf(outs), true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, outs) {
		t.Fatalf("outcomes changed on the way:\n%+v\nwant\n%+v", got, outs)
	}
}

func TestOutcomesCrossAsTheyAre(t *testing.T) {
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	outs := []measure.Outcome{
		{CaseID: "a", Eligible: true, AmountKopecks: 100, Start: d, End: d.AddDate(1, 0, 0),
			Conditions: []measure.ConditionResult{{Name: "x", Held: true, Explanation: measure.Text{RU: "да", EN: "yes"}}, {Name: "y", Held: true}}},
		{CaseID: "b", Error: "no data", Conditions: []measure.ConditionResult{}},
		{CaseID: "c", Conditions: []measure.ConditionResult{{Name: "y", Held: false, Explanation: measure.Text{RU: "нет", EN: "no"}}}},
		// Texts repeated, in another order, changed in one language only,
		// changed back: each condition still gets its own.
		{CaseID: "d", Conditions: []measure.ConditionResult{{Name: "y", Explanation: measure.Text{RU: "нет", EN: "no"}},
			{Name: "x", Explanation: measure.Text{RU: "да", EN: "yes"}}}},
		{CaseID: "e", Conditions: []measure.ConditionResult{{Name: "x", Explanation: measure.Text{RU: "да", EN: "YES"}},
			{Name: "y", Explanation: measure.Text{RU: "да", EN: "yes"}}}},
		{CaseID: "f", Conditions: []measure.ConditionResult{{Name: "x", Explanation: measure.Text{RU: "да", EN: "yes"}},
			{Name: "y", Explanation: measure.Text{RU: "нет", EN: "no"}}}},
	}
	for _, explain := range []bool{true, false} {
		wire := outcomesInto(new(pluginv1.Outcomes), outs, explain, true, true)
		if explain && len(wire.GetExplanationRu().GetEnds()) >= len(wire.GetCondition()) {
			t.Errorf("%d texts sent for %d conditions, some repeated", len(wire.GetExplanationRu().GetEnds()), len(wire.GetCondition()))
		}
		got, err := outcomesFrom(nil, wire, casesOf(outs), explain)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			want := o
			want.Conditions = append([]measure.ConditionResult{}, o.Conditions...)
			if !explain {
				for k := range want.Conditions {
					want.Conditions[k].Explanation = measure.Text{}
				}
			}
			if !reflect.DeepEqual(got[i], want) {
				t.Fatalf("explain %t, outcome %d:\n%+v\nwant\n%+v", explain, i, got[i], want)
			}
		}
	}
}

// Columns that do not line up are refused, naming what is wrong.
func TestColumnsThatDoNotLineUp(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(c *pluginv1.Cases)
	}{
		{"a short column", "column age has 6 values for 7 cases", func(c *pluginv1.Cases) { c.Age = c.Age[1:] }},
		{"members past the end", "members: row 6 ends at", func(c *pluginv1.Cases) { c.MembersEnd[len(c.MembersEnd)-1] += 5 }},
		{"ends going backwards", "members: row 1 ends at", func(c *pluginv1.Cases) { c.MembersEnd[0], c.MembersEnd[1] = c.MembersEnd[1]+1, c.MembersEnd[0] }},
		{"a date not in calendar", "case 0 date: 20260230 is not a date", func(c *pluginv1.Cases) { c.Date[0] = 20260230 }},
		{"an application key too many", "column application_value has 2 values for 3 application fields", func(c *pluginv1.Cases) {
			c.ApplicationKey.Data = append(c.ApplicationKey.Data, 'x')
			c.ApplicationKey.Ends = append(c.ApplicationKey.Ends, uint32(len(c.ApplicationKey.Data)))
		}},
		{"text that is not UTF-8", "column sex is not UTF-8", func(c *pluginv1.Cases) { c.Sex.Data[0] = 0xff }},
		{"a value cut inside a character", "column oktmo: value 0 ends at byte 1", func(c *pluginv1.Cases) {
			c.Oktmo.Data = append([]byte("ё"), c.Oktmo.Data...)
			for i := range c.Oktmo.Ends {
				c.Oktmo.Ends[i] += 2
			}
			c.Oktmo.Ends[0] = 1
		}},
		{"a value past the text", "column id: value 6 ends at byte", func(c *pluginv1.Cases) { c.Id.Ends[6] += 100 }},
		{"text after the last value", "column id: its values hold", func(c *pluginv1.Cases) { c.Id.Data = append(c.Id.Data, 'x') }},
	} {
		c := casesInto(new(pluginv1.Cases), mixedCases(), everyColumn)
		tc.spoil(c)
		if _, err := casesFrom(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	good := []measure.Outcome{{CaseID: "a", Eligible: true, AmountKopecks: 1, Start: d, Conditions: []measure.ConditionResult{{Name: "x", Held: true}}}}
	for _, tc := range []struct {
		name, want string
		spoil      func(o *pluginv1.Outcomes)
	}{
		{"a condition name out of range", "condition 0 names index 9 of 1 names", func(o *pluginv1.Outcomes) { o.Condition[0] = 9 }},
		{"a negative amount", "outcome 0: amount -1 kopecks", func(o *pluginv1.Outcomes) { o.AmountKopecks[0] = -1 }},
		{"an end before the start", "period ends 2026-01-01 before it starts 2026-06-15", func(o *pluginv1.Outcomes) { o.End[0] = 20260101 }},
		{"missing explanations", "column explanation has 0 values for 1 conditions", func(o *pluginv1.Outcomes) { o.Explanation = nil }},
		{"an English text too few", "column explanation_en has 0 values for 1 Russian texts", func(o *pluginv1.Outcomes) { o.ExplanationEn = nil }},
		{"an explanation out of range", "condition 0 is explained by text 3 of 1", func(o *pluginv1.Outcomes) { o.Explanation[0] = 3 }},
		{"held values too few", "column held has 0 values for 1 conditions", func(o *pluginv1.Outcomes) { o.Held = nil }},
		{"an outcome too few", "0 outcomes for 1 cases", func(o *pluginv1.Outcomes) { o.Eligible = nil }},
		{"another case's outcome", `outcome 0 is of case "b", not "a"`, func(o *pluginv1.Outcomes) { o.CaseId.Data[0] = 'b' }},
		{"a case id too many", "2 case ids for 1 cases", func(o *pluginv1.Outcomes) { addText(o.CaseId, "a") }},
	} {
		o := outcomesInto(new(pluginv1.Outcomes), good, true, true, true)
		tc.spoil(o)
		if _, err := outcomesFrom(nil, o, casesOf(good), true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// fromYMD computes dates; time.Date is the reference, over every day of
// three centuries and the ends of the calendar, and the days that are not.
func TestDatesAsTimeHasThem(t *testing.T) {
	check := func(day time.Time) {
		got, err := fromYMD(ymd(day))
		if err != nil || !got.Equal(day) || got.Location() != time.UTC {
			t.Fatalf("%s: %s, %v", day.Format(time.DateOnly), got, err)
		}
	}
	for day := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); day.Year() < 2200; day = day.AddDate(0, 0, 1) {
		check(day)
	}
	check(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	check(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
	check(time.Date(400, 2, 29, 0, 0, 0, 0, time.UTC))
	for _, v := range []int32{19000229, 20230229, 20260431, 20261301, 20260001, 20260100, -20260101, 100000101, 101} {
		if d, err := fromYMD(v); err == nil {
			t.Errorf("%d read as %s", v, d)
		}
	}
}

func FuzzCasesFrom(f *testing.F) {
	b, _ := proto.Marshal(casesInto(new(pluginv1.Cases), mixedCases(), everyColumn))
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var c pluginv1.Cases
		if proto.Unmarshal(b, &c) != nil {
			return
		}
		cs, err := casesFrom(&c)
		if err == nil && len(cs) != len(c.GetId().GetEnds()) {
			t.Fatalf("%d cases for %d ids", len(cs), len(c.GetId().GetEnds()))
		}
	})
}

func FuzzOutcomesFrom(f *testing.F) {
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	b, _ := proto.Marshal(outcomesInto(new(pluginv1.Outcomes), []measure.Outcome{{CaseID: "a", Eligible: true, Start: d,
		Conditions: []measure.ConditionResult{{Name: "x", Held: true, Explanation: measure.Text{RU: "а", EN: "a"}}}}}, true, true, true))
	f.Add(b, 1, true)
	f.Add([]byte{}, 0, false)
	b, _ = proto.Marshal(outcomesInto(new(pluginv1.Outcomes), figuredOutcomes(4), true, false, true))
	f.Add(b, 4, true)
	f.Fuzz(func(t *testing.T, b []byte, n int, explain bool) {
		var o pluginv1.Outcomes
		if n < 0 || n > 1000 || proto.Unmarshal(b, &o) != nil {
			return
		}
		cs := make([]measure.Case, n)
		for i := range cs {
			cs[i].ID = "a"
		}
		out, err := outcomesFrom(nil, &o, cs, explain)
		if err == nil && len(out) != n {
			t.Fatal(fmt.Sprint(len(out), " outcomes for ", n))
		}
		for _, x := range out { // explanations are written out without a panic
			for k := range x.Conditions {
				x.Explained(k)
			}
		}
	})
}

// casesOf are cases with the outcomes' ids, for reading the outcomes as
// their answer.
func casesOf(outs []measure.Outcome) []measure.Case {
	cs := make([]measure.Case, len(outs))
	for i, o := range outs {
		cs[i].ID = o.CaseID
	}
	return cs
}

// An answer by position leaves the ids out, and each outcome gets its
// case's id: the host's own string, not a part of the answer.
func TestOutcomesByPosition(t *testing.T) {
	outs := []measure.Outcome{{CaseID: "019a-1", Eligible: true}, {CaseID: "019a-2"}}
	wire := outcomesInto(new(pluginv1.Outcomes), outs, false, false, true)
	if wire.GetCaseId() != nil {
		t.Fatalf("ids sent: %q", wire.GetCaseId().GetData())
	}
	cs := casesOf(outs)
	got, err := outcomesFrom(nil, wire, cs, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i].CaseID != cs[i].ID || unsafe.StringData(got[i].CaseID) != unsafe.StringData(cs[i].ID) || got[i].Eligible != outs[i].Eligible {
			t.Fatalf("outcome %d: %+v, not the case's", i, got[i])
		}
	}
}

// Outcomes whose conditions came out alike share one list, each still
// reading as its own; an outcome explained by a text of its own has its
// own list.
func TestAlikeConditionsShareAList(t *testing.T) {
	names := []string{"resident", "adult", "income"}
	outs := make([]measure.Outcome, 1000)
	for i := range outs {
		cs := make([]measure.ConditionResult, len(names))
		for k, name := range names {
			cs[k] = measure.ConditionResult{Name: name, Held: i>>k&1 == 1, Explanation: measure.Text{RU: "условие " + name, EN: "condition " + name}}
		}
		if i%10 == 0 { // a reason with the case's figures
			cs[2].Explanation = measure.Text{RU: fmt.Sprint("доход ", i), EN: fmt.Sprint("income ", i)}
		}
		outs[i] = measure.Outcome{CaseID: fmt.Sprint(i), Conditions: cs}
	}
	for _, explain := range []bool{false, true} {
		got, err := outcomesFrom(nil, outcomesInto(new(pluginv1.Outcomes), outs, explain, false, true), casesOf(outs), explain)
		if err != nil {
			t.Fatal(err)
		}
		lists := map[*measure.ConditionResult]bool{}
		for i, o := range got {
			want := slices.Clone(outs[i].Conditions)
			for k := range want {
				if !explain {
					want[k].Explanation = measure.Text{}
				}
			}
			if !reflect.DeepEqual(o.Conditions, want) {
				t.Fatalf("explain %t, outcome %d: %+v, want %+v", explain, i, o.Conditions, want)
			}
			lists[&o.Conditions[0]] = true
		}
		// Without explanations: the eight ways three conditions come out.
		// With them: those (each made at most twice, once while its texts
		// are new), and a list for each outcome with a text of its own.
		if most := map[bool]int{false: 8, true: 2*8 + len(outs)/10}[explain]; len(lists) > most {
			t.Errorf("explain %t: %d lists for %d outcomes, want at most %d", explain, len(lists), len(outs), most)
		}
	}
}
