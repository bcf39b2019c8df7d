package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func testdata(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "register.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newRegister(t *testing.T, cfg Config) *Register {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func large(from, to time.Time) connector.CategoryFact {
	return connector.CategoryFact{Code: Category, Period: connector.Period{From: from, To: to}}
}

// asked covers testdata/register.csv: persons written either way on both
// sides, one with two periods, one with too few children, one whose
// status begins later, one not in the register and one that is no SNILS.
var asked = []connector.PersonRef{
	{SNILS: "11223344595"},    // "112-233-445 95" in the register
	{SNILS: "123-456-789 64"}, // "12345678964" in the register
	{SNILS: "20000000119"},    // two children
	{SNILS: "20000000220"},    // two periods
	{SNILS: "20000000321"},    // from 2027
	{SNILS: "20000000422"},    // not in the register
	{SNILS: "not a snils"},
}

func wantFacts(asOfLate bool) []connector.PersonFacts {
	f := []connector.PersonFacts{
		{SNILS: "11223344595", Source: Source, Categories: []connector.CategoryFact{large(day(2024, 2, 1), day(2027, 1, 31))}},
		{SNILS: "123-456-789 64", Source: Source, Categories: []connector.CategoryFact{large(day(2020, 5, 15), time.Time{})}},
		{SNILS: "20000000119", Source: Source},
		{SNILS: "20000000220", Source: Source, Categories: []connector.CategoryFact{
			large(day(2019, 1, 1), day(2022, 12, 31)), large(day(2023, 1, 1), time.Time{})}},
		{SNILS: "20000000321", Source: Source},
	}
	if asOfLate {
		f[4].Categories = []connector.CategoryFact{large(day(2027, 1, 1), time.Time{})}
	}
	return f
}

func TestFactsFromCSV(t *testing.T) {
	c := sdktest.DataSource(t, newRegister(t, Config{CSV: testdata(t)}))
	got, err := c.Facts(sdktest.Context(t, "16"), asked, day(2026, 6, 15))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantFacts(false); !reflect.DeepEqual(got, want) {
		t.Errorf("Facts as of 2026-06-15 =\n%+v\nwant\n%+v", got, want)
	}

	// A status that begins later is a fact once its day has come; no date
	// is every period.
	for _, asOf := range []time.Time{day(2027, 1, 1), {}} {
		got, err = c.Facts(sdktest.Context(t, "16"), asked, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if want := wantFacts(true); !reflect.DeepEqual(got, want) {
			t.Errorf("Facts as of %v =\n%+v\nwant\n%+v", asOf, got, want)
		}
	}
}

func TestFactsFromURL(t *testing.T) {
	body, err := os.ReadFile(testdata(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/register" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/csv")
		_, _ = w.Write(body)
	}))
	defer srv.Close()

	c := sdktest.DataSource(t, newRegister(t, Config{URL: srv.URL + "/register"}))
	got, err := c.Facts(sdktest.Context(t, "16"), asked, day(2026, 6, 15))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantFacts(false); !reflect.DeepEqual(got, want) {
		t.Errorf("Facts =\n%+v\nwant\n%+v", got, want)
	}

	// A register that answers anything but 200 has failed, not the
	// plug-in.
	c = sdktest.DataSource(t, newRegister(t, Config{URL: srv.URL + "/elsewhere"}))
	_, err = c.Facts(sdktest.Context(t, "16"), asked, time.Time{})
	wantUpstream(t, err, "answered 404 Not Found")
}

func TestRegisterUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there now

	c := sdktest.DataSource(t, newRegister(t, Config{URL: addr + "/register"}))
	_, err := c.Facts(sdktest.Context(t, "16"), asked, time.Time{})
	wantUpstream(t, err, "the register does not answer")

	c = sdktest.DataSource(t, newRegister(t, Config{CSV: filepath.Join(t.TempDir(), "missing.csv")}))
	_, err = c.Facts(sdktest.Context(t, "16"), asked, time.Time{})
	wantUpstream(t, err, "the register's export")
}

func TestMalformedRegister(t *testing.T) {
	const snils = "11223344595"
	for _, tc := range []struct {
		name, csv, want string
	}{
		{"empty", "", "it is empty"},
		{"no header", snils + ",3,2024-01-01,\n", "line 1: the header is not"},
		{"a column short", header + "\n" + snils + ",3,2024-01-01,\n" + snils + ",3,2024-01-01\n", "line 3: wrong number of fields"},
		{"a column too many", header + "\n" + snils + ",3,2024-01-01,,x\n", "line 2: wrong number of fields"},
		{"a short snils", header + "\n1122334459,3,2024-01-01,\n", "line 2: snils is not 11 digits"},
		{"a snils with letters", header + "\n\n\n112233445AB,3,2024-01-01,\n", "line 4: snils is not 11 digits"},
		{"children not a number", header + "\n" + snils + ",three,2024-01-01,\n", "line 2: children is not a whole number"},
		{"negative children", header + "\n" + snils + ",-3,2024-01-01,\n", "line 2: children is not a whole number from 0 to 99"},
		{"no valid_from", header + "\n" + snils + ",3,,\n", "line 2: valid_from is not a date"},
		{"a Russian date", header + "\n" + snils + ",3,01.02.2024,\n", "line 2: valid_from is not a date"},
		{"February 30", header + "\n" + snils + ",3,2024-01-01,2024-02-30\n", "line 2: valid_to is not a date"},
		{"ending before it starts", header + "\n" + snils + ",3,2024-01-01,2023-12-31\n", "line 2: valid_to is before valid_from"},
		{"a bare quote", header + "\n" + snils + `,3,2024"-01-01,` + "\n", "line 2:"},
		// A SNILS in another column is not echoed either.
		{"a snils for children", header + "\n" + snils + "," + snils + ",2024-01-01,\n", "line 2: children is not"},
		{"a snils for a date", header + "\n" + snils + ",3," + snils + ",\n", "line 2: valid_from is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "register.csv")
			if err := os.WriteFile(path, []byte(tc.csv), 0o600); err != nil {
				t.Fatal(err)
			}
			c := sdktest.DataSource(t, newRegister(t, Config{CSV: path}))
			_, err := c.Facts(sdktest.Context(t, "16"), []connector.PersonRef{{SNILS: snils}}, time.Time{})
			wantUpstream(t, err, tc.want)
			if err != nil && strings.Contains(err.Error(), snils) {
				t.Errorf("error %q echoes a SNILS", err)
			}
		})
	}
}

// TestRegisterLayout: what the register may look like besides the
// testdata: a BOM, spaces, CRLF, quoted fields.
func TestRegisterLayout(t *testing.T) {
	in := "\ufeffSNILS, Children, Valid_From, Valid_To\r\n" +
		"\"112-233-445 95\", 3 ,2024-02-01 , 2027-01-31\r\n"
	var got []family
	if err := readRegister(strings.NewReader(in), func(f family) { got = append(got, f) }); err != nil {
		t.Fatal(err)
	}
	want := []family{{line: 2, snils: "11223344595", children: 3, from: day(2024, 2, 1), to: day(2027, 1, 31)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func wantUpstream(t *testing.T, err error, part string) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) || !e.Upstream || !strings.Contains(e.Message, part) {
		t.Errorf("error %v, want the register's failure with %q", err, part)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{CSV: "/a.csv", URL: "http://register/"},
		{CSV: "register.csv"},
		{URL: "ftp://register/file.csv"},
		{URL: "register/file.csv"},
		{URL: "http://"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}

	// A wrong configuration fails every call as the plug-in's error.
	for _, env := range []string{`{"csv": "relative.csv"}`, `{"file": "/a.csv"}`, `not json`, ``} {
		t.Setenv(sdk.ConfigEnv, env)
		_, err := sdktest.DataSource(t, fromEnv()).Facts(sdktest.Context(t, "16"), asked, time.Time{})
		var e *sdk.Error
		if !errors.As(err, &e) || e.Upstream || !strings.Contains(e.Message, "largefamilies configuration") {
			t.Errorf("config %q: error %v, want the plug-in's configuration error", env, err)
		}
	}

	t.Setenv(sdk.ConfigEnv, fmt.Sprintf(`{"csv": %q}`, testdata(t)))
	if _, ok := fromEnv().(*Register); !ok {
		t.Errorf("a good configuration gives %T", fromEnv())
	}
}

func TestNormalizeSNILS(t *testing.T) {
	for in, want := range map[string]string{
		"11223344595":      "11223344595",
		"112-233-445 95":   "11223344595",
		"112 233 445 95":   "11223344595",
		"112-233-445-95":   "11223344595",
		"1122334459":       "",
		"112233445951":     "",
		"112-233-445 9x":   "",
		"":                 "",
		"١١٢٢٣٣٤٤٥٩٥":      "", // other scripts' digits are not digits here
		"11223344595\x00":  "",
		"  11223344595  ":  "11223344595",
		"11223344595 0000": "",
	} {
		got, ok := NormalizeSNILS(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeSNILS(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func FuzzNormalizeSNILS(f *testing.F) {
	for _, s := range []string{"11223344595", "112-233-445 95", "1122334459", "", "--11223344595--", "1١"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeSNILS(s)
		if !ok {
			return
		}
		if len(n) != 11 || strings.Trim(n, "0123456789") != "" {
			t.Fatalf("NormalizeSNILS(%q) = %q", s, n)
		}
		if again, ok := NormalizeSNILS(n); !ok || again != n {
			t.Fatalf("NormalizeSNILS(%q) = %q, but NormalizeSNILS(%q) = %q, %v", s, n, n, again, ok)
		}
	})
}

// FuzzReadRegister: whatever the register holds, reading it never panics,
// and what it accepts is well formed: 11-digit SNILS, no negative
// children, periods in order, lines counted forward.
func FuzzReadRegister(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "register.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(seed))
	f.Add(header + "\n")
	f.Add("")
	f.Add(header + "\n\"112-233-445 95\",3,2024-02-01,\n")
	f.Add(header + "\n11223344595,3,2024-02-01,2024-01-01\n")
	f.Add(header + "\r\n11223344595,3,2024-02-01,\"\n\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		last := 1
		_ = readRegister(strings.NewReader(in), func(fm family) {
			switch {
			case len(fm.snils) != 11 || strings.Trim(fm.snils, "0123456789") != "":
				t.Fatalf("snils %q", fm.snils)
			case fm.children < 0:
				t.Fatalf("children %d", fm.children)
			case fm.from.IsZero():
				t.Fatal("no valid_from")
			case !fm.to.IsZero() && fm.to.Before(fm.from):
				t.Fatalf("period %v..%v", fm.from, fm.to)
			case fm.line <= last:
				t.Fatalf("line %d after line %d", fm.line, last)
			}
			last = fm.line
		})
	})
}

func TestLimited(t *testing.T) {
	for _, tc := range []struct {
		in      string
		limit   int64
		wantErr bool
	}{{"12345", 5, false}, {"123456", 5, true}, {"", 0, false}, {"1", 0, true}} {
		got, err := io.ReadAll(&limited{r: strings.NewReader(tc.in), n: tc.limit, limit: tc.limit})
		if tc.wantErr != (err != nil) || (!tc.wantErr && string(got) != tc.in) {
			t.Errorf("%q limited to %d: %q, %v", tc.in, tc.limit, got, err)
		}
	}
}

// TestBinary builds the plug-in and calls it once as the platform does: a
// process of its own, configured through its environment.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plug-in")
	}
	bin := sdktest.Build(t, ".")
	raw := sdktest.StartWithConfig(t, bin, grpcplugin.KindDataSource, fmt.Sprintf(`{"csv": %q}`, testdata(t)))
	got, err := raw.(*grpcplugin.DataSourceClient).Facts(sdktest.Context(t, "16"), asked, day(2026, 6, 15))
	if err != nil {
		t.Fatal(err)
	}
	if want := wantFacts(false); !reflect.DeepEqual(got, want) {
		t.Errorf("Facts =\n%+v\nwant\n%+v", got, want)
	}
}
