package grpcplugin

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// schemaPaths are the case schema's fields by their names in the rules:
// the cel tags of measure.Case, a nested struct's fields under its name.
func schemaPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("cel")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			out = append(out, schemaPaths(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

// Every field of the case schema has its columns, and no column is
// named for a field the schema does not have: a field added to the
// schema cannot be left out of what Reads can name.
func TestReadsNameTheCaseSchema(t *testing.T) {
	want := schemaPaths(reflect.TypeFor[measure.Case](), "")
	var got []string
	var all columnSet = 1 << colID
	for _, f := range caseFields {
		got = append(got, f.name)
		for _, c := range f.columns {
			all |= 1 << c
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("columns for %q,\nthe schema has %q", got, want)
	}
	if all != everyColumn {
		t.Fatalf("the fields' columns are %b, every column %b", all, everyColumn)
	}
}

func TestColumnsRead(t *testing.T) {
	for _, tc := range []struct {
		reads []string
		want  []int
	}{
		{nil, nil},
		{[]string{"person.age"}, []int{colID, 3}},
		{[]string{"household.members.age", "minimum"}, []int{colID, colMembersEnd, 20, 27, 28, 29, 30}},
		{[]string{"household.members.categories"}, []int{colID, colMembersEnd, colMemberCatsEnd, 25}},
		{[]string{"application", "person.categories"}, []int{colID, colCategoriesEnd, 11, colAppEnd, 36, 37}},
	} {
		got, err := columnsRead(tc.reads)
		if err != nil {
			t.Fatal(err)
		}
		want := everyColumn
		if tc.want != nil {
			want = 0
			for _, c := range tc.want {
				want |= 1 << c
			}
		}
		if got != want {
			t.Errorf("%q: %b, want %b", tc.reads, got, want)
		}
	}
	for _, bad := range []string{"person.agе", "person.", "", "household.member", "id"} {
		if _, err := columnsRead([]string{"person.age", bad}); err == nil || !strings.Contains(err.Error(), "not a field of the case schema") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A batch with only the columns a measure reads crosses smaller, and
// reads as the cases with every other field zero.
func TestCasesWithTheFieldsRead(t *testing.T) {
	cs := mixedCases()
	cs[3].Household.Members = append(cs[3].Household.Members, measure.Member{Relation: "parent", Age: 70, Sex: "male"})
	reads := []string{"date", "person.age", "person.categories", "household.members.relation", "household.members.age", "minimum.children", "assignments.measure"}
	sent, err := columnsRead(reads)
	if err != nil {
		t.Fatal(err)
	}
	whole, some := casesInto(new(pluginv1.Cases), cs, everyColumn), casesInto(new(pluginv1.Cases), cs, sent)
	if w, s := proto.Size(whole), proto.Size(some); s > w/2 {
		t.Errorf("%d bytes with the fields read, %d with every field", s, w)
	}
	var arrays caseArrays
	// Read after a batch of every field, on the same arrays: nothing of it
	// is left in the fields not sent.
	if _, err := arrays.read(whole, 0); err != nil {
		t.Fatal(err)
	}
	got, err := arrays.read(some, everyColumn&^sent)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		want := measure.Case{ID: c.ID, Date: c.Date, Person: measure.Subject{Age: c.Person.Age, Categories: c.Person.Categories},
			Household: measure.Household{Members: []measure.Member{}}, Minimum: measure.Minimums{Children: c.Minimum.Children}}
		for _, m := range c.Household.Members {
			want.Household.Members = append(want.Household.Members, measure.Member{Relation: m.Relation, Age: m.Age, Categories: []string{}})
		}
		for _, a := range c.Assignments {
			want.Assignments = append(want.Assignments, measure.Assignment{Measure: a.Measure})
		}
		if want = normal(want); !reflect.DeepEqual(normal(got[i]), want) {
			t.Fatalf("case %d:\n%+v\nwant\n%+v", i, got[i], want)
		}
	}
	// A column left out is refused if it is sent short; one not left out
	// is refused when it is missing.
	if _, err := arrays.read(some, 0); err == nil || !strings.Contains(err.Error(), "column age_months has 0 values for 7 cases") {
		t.Errorf("a column missing, not left out: %v", err)
	}
	some.Sex = &pluginv1.Strings{Data: []byte("male"), Ends: []uint32{4}}
	if _, err := arrays.read(some, everyColumn&^sent); err == nil || !strings.Contains(err.Error(), "column sex has 1 values for 7 cases") {
		t.Errorf("a column left out but sent short: %v", err)
	}
}

// reading lists what it reads, and answers each case eligible when its
// person is an adult with a child under three.
type reading struct {
	plain
	reads []string
}

func (r reading) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "reading", Reads: r.reads}, nil
}

func (reading) Evaluate(_ context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cs))
	for i, c := range cs {
		child := slices.ContainsFunc(c.Household.Members, func(m measure.Member) bool { return m.Relation == "child" && m.Age < 3 })
		out[i] = measure.Outcome{CaseID: c.ID, Eligible: c.Person.Age >= 18 && child}
	}
	return out, nil
}

// The host asks a measure what it reads once, sends only that, and the
// plug-in refuses a batch that leaves out a field its measure reads.
func TestClientSendsTheFieldsRead(t *testing.T) {
	reads := []string{"person.age", "household.members.relation", "household.members.age"}
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: &MeasurePlugin{Impl: reading{reads: reads}}})
	t.Cleanup(func() { server.Stop(); client.Close() })
	raw, err := client.Dispense(KindMeasure)
	if err != nil {
		t.Fatal(err)
	}
	m := raw.(*MeasureClient)
	ctx := sdk.WithTenant(context.Background(), "16")
	cs := benchCases(600) // over two parts of a stream
	cs[5].Household.Members[2].Age = 4
	for _, unary := range []bool{false, true} {
		m.unary.Store(unary)
		for _, every := range []bool{false, true} {
			c := ctx
			if every {
				c = WithEveryField(ctx)
			}
			out, err := m.Evaluate(c, cs)
			if err != nil {
				t.Fatalf("unary %t, every field %t: %v", unary, every, err)
			}
			for i, o := range out {
				if o.Eligible != (i != 5) {
					t.Fatalf("unary %t, every field %t: outcome %d is %+v", unary, every, i, o)
				}
			}
		}
	}
	if want, _ := columnsRead(reads); columnSet(m.sent.Load()) != want {
		t.Errorf("the client sends %b, the measure reads %b", m.sent.Load(), want)
	}
	m.sent.Store(uint64(columnSet(1<<colID | 1<<3))) // as a host that got Reads wrong
	for _, unary := range []bool{false, true} {
		m.unary.Store(unary)
		_, err := m.Evaluate(ctx, cs[:3])
		var pe *sdk.Error
		if errors.As(err, &pe) || err == nil || !strings.Contains(err.Error(), "left out fields the measure reads: household.members.relation, household.members.age") {
			t.Errorf("unary %t: a batch without a field the measure reads: %v", unary, err)
		}
	}
}
