package sdktest

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/socialtreasury/treasury/sdk/measure"
)

const goldenHead = "region: \"16\"\ncases:\n  - name: one\n    case:\n      date: 2026-06-15\n"

// A golden file that YAML would read into something other than what it
// says is refused, with the line: a fraction of a kopeck, a key with no
// value, a second document, a field the format does not have.
func TestGoldenFileRefusals(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"a fraction", goldenHead + "    expect:\n      amount_kopecks: 1234.56\n", "line 7: 1234.56 is not a whole number"},
		{"a fraction in the case", goldenHead + "      person: {income_kopecks: 9223372036854775807.0}\n", "line 6: 9223372036854775807.0 is not a whole number"},
		{"no value", goldenHead + "    expect:\n      eligible:\n", "line 7: eligible has no value"},
		{"null", goldenHead + "    expect:\n      amount_kopecks: ~\n", "line 7: amount_kopecks has no value"},
		{"a second document", goldenHead + "---\nregion: \"66\"\n", "line 6: a second YAML document"},
		{"an unknown field", goldenHead + "    expect:\n      eligble: true\n", "line 7: field eligble not found"},
		{"an alias", "region: &r \"16\"\ncases:\n  - name: *r\n    case: {date: 2026-06-15}\n", "line 3: an alias"},
		{"no cases", "region: \"16\"\ncases: []\n", "no cases"},
	} {
		if _, err := parseGolden([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
	f, err := parseGolden([]byte(goldenHead + "    expect:\n      eligible: false\n      amount_kopecks: 0\n      failed: []\n"))
	if err != nil || len(f.Cases) != 1 || f.Cases[0].line != 3 || f.Cases[0].Expect.Eligible == nil || *f.Cases[0].Expect.AmountKopecks != 0 {
		t.Errorf("a good file: %+v, %v", f, err)
	}
}

// negative answers with a negative amount, which the platform refuses.
type negative struct{}

func (negative) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "negative"}, nil
}

func (negative) Evaluate(_ context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cases))
	for i, c := range cases {
		out[i] = measure.Outcome{CaseID: c.ID, Eligible: true, AmountKopecks: -1}
	}
	return out, nil
}

// failures records a test's failures instead of failing it.
type failures struct {
	testing.TB
	mu  sync.Mutex
	got []string
}

func (f *failures) Helper() {}
func (f *failures) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.got = append(f.got, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}
func (f *failures) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }

// Golden holds a measure given as it is to the platform's checks of its
// answers: a golden file passing here does not fail on the platform.
func TestGoldenChecksAnswersAsThePlatform(t *testing.T) {
	path := t.TempDir() + "/cases.yaml"
	if err := writeFile(path, goldenHead+"    expect:\n      eligible: true\n"); err != nil {
		t.Fatal(err)
	}
	f := &failures{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); Golden(f, negative{}, path) }()
	<-done
	if len(f.got) != 1 || !strings.Contains(f.got[0], "answered against the protocol") || !strings.Contains(f.got[0], "amount -1") {
		t.Errorf("Golden of a measure answering a negative amount: %q", f.got)
	}
}

func FuzzParseGolden(f *testing.F) {
	f.Add([]byte(goldenHead + "    expect:\n      eligible: true\n      failed: [adult]\n"))
	f.Add([]byte("region: \"16\"\ncases:\n  - {name: x, case: {date: 2026-06-15, person: {age: 3}}, expect: {amount_kopecks: 5}}\n"))
	f.Add([]byte(goldenHead + "---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := parseGolden(b)
		if err == nil && len(g.Cases) == 0 {
			t.Error("a file without cases read")
		}
	})
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// unlisted lists that it reads the person's age, but decides on the
// residence too.
type unlisted struct{ reads []string }

func (u unlisted) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "unlisted", Reads: u.reads}, nil
}

func (unlisted) Evaluate(_ context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cases))
	for i, c := range cases {
		out[i] = measure.Outcome{CaseID: c.ID, Eligible: c.Person.Age >= 18 && c.Person.Resident}
	}
	return out, nil
}

// Golden evaluates a measure that lists what it reads both ways, and
// fails one that reads a field it does not list, naming the case; a
// measure listing a field the schema does not have fails its Describe.
func TestGoldenFindsAFieldReadButNotListed(t *testing.T) {
	path := t.TempDir() + "/cases.yaml"
	if err := writeFile(path, goldenHead+"      person: {age: 30, resident: true}\n    expect:\n      eligible: true\n"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		reads []string
		want  string // "": passes
	}{
		{[]string{"person.age", "person.resident"}, ""},
		{[]string{"person"}, ""},
		{nil, ""},
		{[]string{"person.age"}, "cases.yaml:3 (one): the outcome with only the fields in Reads ([person.age]) differs"},
		{[]string{"person.agе"}, `reads "person.agе", which is not a field of the case schema`},
	} {
		f := &failures{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Golden(f, unlisted{tc.reads}, path) }()
		<-done
		switch {
		case tc.want == "" && len(f.got) > 0:
			t.Errorf("reads %q: %q", tc.reads, f.got)
		case tc.want != "" && (len(f.got) == 0 || !strings.Contains(strings.Join(f.got, "\n"), tc.want)):
			t.Errorf("reads %q: %q, want one with %q", tc.reads, f.got, tc.want)
		}
	}
}

// figured explains its one condition by the person's age, with a figure
// for each placeholder or, when short, with one too few.
type figured struct{ short bool }

func (figured) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "figured"}, nil
}

func (f figured) Evaluate(_ context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cases))
	for i, c := range cases {
		r := measure.ConditionResult{Name: "adult", Held: c.Person.Age >= 18,
			Explanation: measure.Text{RU: "возраст {1}, доход {2}", EN: "age {1}, income {2}"}}
		out[i] = measure.Outcome{CaseID: c.ID, Conditions: []measure.ConditionResult{r},
			Figures: []measure.Figure{measure.Number(c.Person.Age), measure.Money(c.Person.IncomeKopecks)}}
		if f.short {
			out[i].Figures = out[i].Figures[:1]
		}
	}
	return out, nil
}

// Golden checks what explanations say, with their figures written in,
// and fails a placeholder with no figure.
func TestGoldenChecksExplanations(t *testing.T) {
	path := t.TempDir() + "/cases.yaml"
	for _, tc := range []struct {
		explained string
		short     bool
		want      string // "": passes
	}{
		{`{adult: "возраст 17"}`, false, ""},
		{`{adult: "income 1 234 567 ₽"}`, false, ""}, // a space matches money's no-break space
		{`{adult: "возраст 18"}`, false, `condition adult explained as "возраст 17, доход 1\u00a0234\u00a0567\u00a0₽"`},
		{`{child: "x"}`, false, "no condition child to be explained"},
		{`{adult: "возраст 17"}`, true, `has {2} and the outcome 1 figures`},
	} {
		if err := writeFile(path, goldenHead+"      person: {age: 17, income_kopecks: 123456700}\n    expect:\n      explained: "+tc.explained+"\n"); err != nil {
			t.Fatal(err)
		}
		f := &failures{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); Golden(f, figured{tc.short}, path) }()
		<-done
		switch {
		case tc.want == "" && len(f.got) > 0:
			t.Errorf("%s: %q", tc.explained, f.got)
		case tc.want != "" && (len(f.got) == 0 || !strings.Contains(strings.Join(f.got, "\n"), tc.want)):
			t.Errorf("%s, short %t: %q, want one with %q", tc.explained, tc.short, f.got, tc.want)
		}
	}
}
