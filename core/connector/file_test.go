package connector_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/core/ident"
)

// Two persons' SNILS, each with the check number.
var (
	snilsA = ident.SNILSOf(112233445)
	snilsB = ident.SNILSOf(123456789)
	snilsC = ident.SNILSOf(200300400)
)

// wrongCheck is s with a check number that does not hold.
func wrongCheck(s string) string {
	if s[9:] == "00" {
		return s[:9] + "01"
	}
	return s[:9] + "00"
}

// dashed is a SNILS written XXX-XXX-XXX YY.
func dashed(s string) string { return s[0:3] + "-" + s[3:6] + "-" + s[6:9] + " " + s[9:] }

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFileSourceAnswers(t *testing.T) {
	t.Parallel()
	csv := "\ufeffSNILS, Fact, Code, From, To, Amount_Kopecks\r\n" +
		dashed(snilsA) + ",category,large_family,2024-02-01,2027-01-31,\r\n" +
		snilsA + ",income,salary,2025-03,,5400000\r\n" +
		snilsA + ",income,salary,2026-09,,100\r\n" + // after asOf
		snilsA + ",category,veteran,2026-08-01,,\r\n" + // begins after asOf
		`"` + snilsB + `",income,"pension",2025-04,,0` + "\n"
	ds, err := connector.OpenDataSource(connector.Spec{Type: "file", Path: writeFile(t, "facts.csv", csv), Source: "ЕГР"})
	if err != nil {
		t.Fatal(err)
	}
	asked := []connector.PersonRef{{SNILS: snilsC}, {SNILS: dashed(snilsB)}, {SNILS: snilsA}}
	got, err := ds.Facts(context.Background(), asked, date("2026-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].SNILS != dashed(snilsB) || got[1].SNILS != snilsA {
		t.Fatalf("answer %+v: want B (as asked) then A, C left out", got)
	}
	a := got[1]
	if a.Source != "ЕГР" || len(a.Categories) != 1 || len(a.Incomes) != 1 {
		t.Fatalf("A's facts %+v", a)
	}
	if c := a.Categories[0]; c.Code != "large_family" || !c.Period.From.Equal(date("2024-02-01")) || !c.Period.To.Equal(date("2027-01-31")) {
		t.Fatalf("category %+v", c)
	}
	if in := a.Incomes[0]; in.Month != "2025-03" || in.Kind != "salary" || in.AmountKopecks != 5_400_000 {
		t.Fatalf("income %+v", in)
	}
	if in := got[0].Incomes; len(in) != 1 || in[0].Kind != "pension" || in[0].AmountKopecks != 0 {
		t.Fatalf("B's incomes %+v", in)
	}
}

// A malformed line is refused when the file is opened, naming the line
// and never the SNILS.
func TestFileSourceRefusesBadLines(t *testing.T) {
	t.Parallel()
	const header = "snils,fact,code,from,to,amount_kopecks\n"
	good := snilsA + ",category,large_family,2024-02-01,,\n"
	for _, c := range []struct {
		name, body, want string
	}{
		{"empty", "", "empty"},
		{"header", "snils,kind,code,from,to,amount\n", "line 1: the header"},
		{"columns", header + good + snilsA + ",income,salary,2025-03,,1,extra\n", "line 3: 7 columns"},
		{"check number", header + good + wrongCheck(snilsA) + ",category,large_family,2024-02-01,,\n", "line 3: snils is not a SNILS"},
		{"snils letters", header + "x" + good, "line 2: snils"},
		{"kind", header + snilsA + ",benefit,x,2024-02-01,,\n", `line 2: fact "benefit"`},
		{"date", header + snilsA + ",category,large_family,2024-02-30,,\n", "line 2: from of a category"},
		{"backwards", header + snilsA + ",category,large_family,2024-02-01,2024-01-01,\n", "line 2: to 2024-01-01 is before"},
		{"month", header + snilsA + ",income,salary,2025-3,,100\n", "line 2: from of an income"},
		{"fraction", header + snilsA + ",income,salary,2025-03,,12.50\n", "line 2: amount_kopecks must be whole kopecks"},
		{"negative", header + snilsA + ",income,salary,2025-03,,-5\n", "line 2: amount_kopecks"},
		{"no amount", header + snilsA + ",income,salary,2025-03,,\n", "line 2: amount_kopecks"},
		{"amount on category", header + snilsA + ",category,large_family,2024-02-01,,5\n", "line 2: amount_kopecks must be empty"},
		{"to on income", header + snilsA + ",income,salary,2025-03,2025-04,5\n", "line 2: to must be empty"},
		{"no code", header + snilsA + ",category,,2024-02-01,,\n", "line 2: code"},
		{"repeat", header + good + snilsC + ",income,salary,2025-03,,1\n" + dashed(snilsA) + ",category,large_family,2024-02-01,2025-01-01,\n", "line 4 repeats line 2"},
		{"quote", header + good + snilsA + `,income,"salary,2025-03,,1` + "\n", "line 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := connector.OpenDataSource(connector.Spec{Type: "file", Path: writeFile(t, "f.csv", c.body)})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), snilsA[:9]) {
				t.Fatalf("the error echoes a SNILS: %v", err)
			}
		})
	}
	if _, err := connector.OpenDataSource(connector.Spec{Type: "file", Path: filepath.Join(t.TempDir(), "none.csv")}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{`{"type":"file","path":"/srv/facts.csv"}`, true},
		{`{"type":"http","url":"https://x.example/facts","timeout":"10s","source":"ЕГР"}`, true},
		{`{"type":"plugin","name":"largefamilies"}`, true},
		{`{"type":"file","path":"facts.csv"}`, false},                       // relative
		{`{"type":"file","path":"/srv/f.csv","url":"http://x"}`, false},     // another type's setting
		{`{"type":"http","url":"ftp://x.example/"}`, false},                 // not http
		{`{"type":"http","url":"http://x.example/","timeout":"1y"}`, false}, // not a duration
		{`{"type":"http","url":"http://x.example/","timeout":"-1s"}`, false},
		{`{"type":"plugin"}`, false},
		{`{"type":"smtp"}`, false},
		{`{"type":"file","path":"/srv/f.csv","pth":"/x"}`, false}, // misspelt
		{`{"type":"file","path":"/srv/f.csv"} {}`, false},
	} {
		_, err := connector.ParseSpec([]byte(c.json))
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok %v", c.json, err, c.ok)
		}
	}
	_, err := connector.OpenDataSource(connector.Spec{Type: "plugin", Name: "largefamilies"})
	if !errors.Is(err, connector.ErrPlugin) {
		t.Fatalf("a plug-in spec opened as a built-in: %v", err)
	}
	if _, err := connector.OpenPaymentSink(connector.Spec{Type: "file", Path: t.TempDir(), Source: "x"}); err == nil {
		t.Fatal("a payment sink took a source")
	}
	if _, err := connector.OpenNotifier(connector.Spec{Type: "file", Path: t.TempDir()}); err == nil {
		t.Fatal("a file notifier opened")
	}
}
