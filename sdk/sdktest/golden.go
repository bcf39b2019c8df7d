package sdktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// A golden file is YAML: the region the cases are for, then cases, each
// with the case (the case schema's names, as in docs/rules.md; dates
// YYYY-MM-DD) and what is expected of its outcome. Only what expect names
// is checked.
//
//	region: "16"
//	cases:
//	  - name: a family of four below the minimum
//	    case:
//	      date: 2026-06-15
//	      person: {age: 34, resident: true}
//	      household: {size: 4, per_capita_income: 1500000}
//	      minimum: {per_capita: 1800000}
//	    expect:
//	      eligible: true
//	      amount_kopecks: 500000
//	      failed: []          # the conditions that must not hold, by name
//	      explained:          # what a condition's explanation says (Russian
//	        income: "15 000"  # or English, figures written in; a no-break
//	                          # space matches a space)
//
// Every condition's explanation is checked to have a figure for each of
// its placeholders (measure.Outcome.CheckFigures).
type goldenFile struct {
	Region string       `yaml:"region"`
	Cases  []goldenCase `yaml:"cases"`
}

type goldenCase struct {
	Name   string       `yaml:"name"`
	Case   yamlCase     `yaml:"case"`
	Expect goldenExpect `yaml:"expect"`
	line   int
}

type goldenExpect struct {
	Eligible      *bool     `yaml:"eligible"`
	AmountKopecks *int64    `yaml:"amount_kopecks"`
	Start         *yamlDate `yaml:"start"`
	End           *yamlDate `yaml:"end"`
	Failed        *[]string `yaml:"failed"`
	Error         *string   `yaml:"error"`
	// Explained: by condition, a text its explanation contains.
	Explained map[string]string `yaml:"explained"`
}

type yamlDate struct{ time.Time }

func (d *yamlDate) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a date YYYY-MM-DD", n.Line, n.Value)
	}
	d.Time = t
	return nil
}

type yamlCase struct {
	ID     string   `yaml:"id"`
	Date   yamlDate `yaml:"date"`
	Person struct {
		Age             int64    `yaml:"age"`
		AgeMonths       int64    `yaml:"age_months"`
		Sex             string   `yaml:"sex"`
		BirthDate       yamlDate `yaml:"birth_date"`
		Alive           *bool    `yaml:"alive"`
		Resident        bool     `yaml:"resident"`
		OKTMO           string   `yaml:"oktmo"`
		Categories      []string `yaml:"categories"`
		DisabilityGroup int64    `yaml:"disability_group"`
		IncomeKopecks   int64    `yaml:"income_kopecks"`
		Working         bool     `yaml:"working"`
	} `yaml:"person"`
	Household struct {
		Members []struct {
			Relation        string   `yaml:"relation"`
			Age             int64    `yaml:"age"`
			AgeMonths       int64    `yaml:"age_months"`
			Sex             string   `yaml:"sex"`
			BirthDate       yamlDate `yaml:"birth_date"`
			Categories      []string `yaml:"categories"`
			DisabilityGroup int64    `yaml:"disability_group"`
		} `yaml:"members"`
		Size              int64 `yaml:"size"`
		PerCapitaIncome   int64 `yaml:"per_capita_income"`
		PerCapitaIncome3m int64 `yaml:"per_capita_income_3m"`
	} `yaml:"household"`
	Minimum struct {
		PerCapita  int64 `yaml:"per_capita"`
		WorkingAge int64 `yaml:"working_age"`
		Pensioners int64 `yaml:"pensioners"`
		Children   int64 `yaml:"children"`
	} `yaml:"minimum"`
	Assignments []struct {
		Measure string `yaml:"measure"`
		Status  string `yaml:"status"`
		Amount  int64  `yaml:"amount"`
	} `yaml:"assignments"`
	Application map[string]string `yaml:"application"`
}

func (y yamlCase) toCase(id string) measure.Case {
	c := measure.Case{ID: id, Date: y.Date.Time, Application: y.Application,
		Person: measure.Subject{Age: y.Person.Age, AgeMonths: y.Person.AgeMonths, Sex: y.Person.Sex, BirthDate: y.Person.BirthDate.Time,
			Alive: y.Person.Alive == nil || *y.Person.Alive, Resident: y.Person.Resident, OKTMO: y.Person.OKTMO,
			Categories: y.Person.Categories, DisabilityGroup: y.Person.DisabilityGroup, IncomeKopecks: y.Person.IncomeKopecks,
			Working: y.Person.Working},
		Household: measure.Household{Size: y.Household.Size, PerCapitaKopecks: y.Household.PerCapitaIncome,
			PerCapita3Kopecks: y.Household.PerCapitaIncome3m},
		Minimum: measure.Minimums{PerCapita: y.Minimum.PerCapita, WorkingAge: y.Minimum.WorkingAge,
			Pensioners: y.Minimum.Pensioners, Children: y.Minimum.Children},
	}
	if y.ID != "" {
		c.ID = y.ID
	}
	for _, m := range y.Household.Members {
		c.Household.Members = append(c.Household.Members, measure.Member{Relation: m.Relation, Age: m.Age, AgeMonths: m.AgeMonths,
			Sex: m.Sex, BirthDate: m.BirthDate.Time, Categories: m.Categories, DisabilityGroup: m.DisabilityGroup})
	}
	if c.Household.Size == 0 {
		c.Household.Size = int64(len(c.Household.Members))
	}
	for _, a := range y.Assignments {
		c.Assignments = append(c.Assignments, measure.Assignment{Measure: a.Measure, Status: a.Status, AmountKopecks: a.Amount})
	}
	return c
}

// ReadGolden reads a golden file: its region and its cases, each with its
// file's line as its id ("line 12") unless the case names one. A field the
// format does not have is an error with its line.
func ReadGolden(path string) (region string, cases []measure.Case, err error) {
	f, err := readGolden(path)
	if err != nil {
		return "", nil, err
	}
	for _, g := range f.Cases {
		cases = append(cases, g.Case.toCase(fmt.Sprintf("line %d", g.line)))
	}
	return f.Region, cases, nil
}

func readGolden(path string) (goldenFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return goldenFile{}, err
	}
	f, err := parseGolden(b)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func parseGolden(b []byte) (goldenFile, error) {
	var f goldenFile
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return f, err
	}
	if err := plainValues(&doc); err != nil {
		return f, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return f, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return f, fmt.Errorf("line %d: a second YAML document, which would not be read", more.Line)
	}
	// Each case's line, for its id and the messages.
	if len(doc.Content) == 1 {
		root := doc.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "cases" {
				for j, n := range root.Content[i+1].Content {
					if j < len(f.Cases) {
						f.Cases[j].line = n.Line
					}
				}
			}
		}
	}
	if len(f.Cases) == 0 {
		return f, errors.New("no cases")
	}
	return f, nil
}

// plainValues refuses what YAML would take in silently: a fraction where
// every number of the format is whole (money is kopecks: 1234.56 would be
// read as 1234), and a key with no value (an empty "eligible:" would read
// as nothing expected, a check that cannot fail).
func plainValues(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!float":
		return fmt.Errorf("line %d: %s is not a whole number (money is in kopecks)", n.Line, n.Value)
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return fmt.Errorf("line %d: %s has no value", v.Line, n.Content[i].Value)
			}
		}
	case n.Kind == yaml.AliasNode:
		return fmt.Errorf("line %d: an alias (*%s): write the value out", n.Line, n.Value)
	}
	for _, c := range n.Content {
		if err := plainValues(c); err != nil {
			return err
		}
	}
	return nil
}

// Golden evaluates the golden file's cases with m in one batch, for the
// file's region, and fails the test for every expectation an outcome
// does not meet, naming the case and its line.
//
// A measure given as it is (not a client of Measure, Start or
// StartWithConfig) is served over a real gRPC pair first, so that its
// answers meet the platform's checks (an outcome per case, with its id, no
// negative amount, no period ending before it starts) here rather than on
// the platform.
func Golden(t testing.TB, m measure.Measure, path string) {
	t.Helper()
	f, err := readGolden(path)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	if _, ok := m.(*grpcplugin.MeasureClient); !ok {
		m = Measure(t, m)
	}
	cases := make([]measure.Case, len(f.Cases))
	for i, g := range f.Cases {
		cases[i] = g.Case.toCase(fmt.Sprintf("line %d", g.line))
	}
	ctx := Context(t, f.Region)
	d, err := m.Describe(ctx)
	if err != nil {
		t.Fatalf("sdktest: %s: describe: %v", path, err)
	}
	out, err := m.Evaluate(ctx, cases)
	if err != nil {
		t.Fatalf("sdktest: %s: evaluate: %v", path, err)
	}
	if len(out) != len(cases) {
		t.Fatalf("sdktest: %s: %d outcomes for %d cases", path, len(out), len(cases))
	}
	for i, g := range f.Cases {
		for _, problem := range g.Expect.check(out[i]) {
			t.Errorf("%s:%d (%s): %s", path, g.line, g.Name, problem)
		}
	}
	if len(d.Reads) > 0 {
		// The platform sends only the fields in Reads: a measure that
		// reads another sees it zero there, and decides otherwise.
		whole, err := m.Evaluate(grpcplugin.WithEveryField(ctx), cases)
		if err != nil {
			t.Fatalf("sdktest: %s: evaluate with every field: %v", path, err)
		}
		for i, g := range f.Cases {
			if !reflect.DeepEqual(out[i], whole[i]) {
				t.Errorf("%s:%d (%s): the outcome with only the fields in Reads (%v) differs from the one with every field: "+
					"the measure reads a field it does not list\n  Reads only: %+v\n every field: %+v", path, g.line, g.Name, d.Reads, out[i], whole[i])
			}
		}
	}
}

func (e goldenExpect) check(o measure.Outcome) []string {
	var out []string
	if e.Eligible != nil && o.Eligible != *e.Eligible {
		out = append(out, fmt.Sprintf("eligible %t, want %t (failed: %s)", o.Eligible, *e.Eligible, strings.Join(failed(o), ", ")))
	}
	if e.AmountKopecks != nil && o.AmountKopecks != *e.AmountKopecks {
		out = append(out, fmt.Sprintf("amount %d kopecks, want %d", o.AmountKopecks, *e.AmountKopecks))
	}
	if e.Start != nil && !o.Start.Equal(e.Start.Time) {
		out = append(out, fmt.Sprintf("start %s, want %s", o.Start.Format(time.DateOnly), e.Start.Format(time.DateOnly)))
	}
	if e.End != nil && !o.End.Equal(e.End.Time) {
		out = append(out, fmt.Sprintf("end %s, want %s", o.End.Format(time.DateOnly), e.End.Format(time.DateOnly)))
	}
	if e.Failed != nil {
		got, want := failed(o), slices.Clone(*e.Failed)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			out = append(out, fmt.Sprintf("failed conditions %v, want %v", got, want))
		}
	}
	if e.Error != nil && !strings.Contains(o.Error, *e.Error) {
		out = append(out, fmt.Sprintf("error %q, want one containing %q", o.Error, *e.Error))
	}
	for _, name := range slices.Sorted(maps.Keys(e.Explained)) {
		want := spaced(e.Explained[name])
		i := slices.IndexFunc(o.Conditions, func(c measure.ConditionResult) bool { return c.Name == name })
		if i < 0 {
			out = append(out, fmt.Sprintf("no condition %s to be explained", name))
			continue
		}
		if x := o.Explained(i); !strings.Contains(spaced(x.RU), want) && !strings.Contains(spaced(x.EN), want) {
			out = append(out, fmt.Sprintf("condition %s explained as %q / %q, want one containing %q", name, x.RU, x.EN, e.Explained[name]))
		}
	}
	if err := o.CheckFigures(); err != nil {
		out = append(out, err.Error())
	}
	return out
}

// spaced is s with its no-break spaces (money's thousands) as spaces.
func spaced(s string) string { return strings.ReplaceAll(s, "\u00a0", " ") }

func failed(o measure.Outcome) []string {
	out := []string{}
	for _, c := range o.Conditions {
		if !c.Held {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}
