package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// databases are the servers the registry benchmarks are tried on: SQLite,
// and PostgreSQL when the test database URL is set.
func databases() map[string]string {
	dbs := map[string]string{"sqlite": ""}
	if url := os.Getenv(storetest.EnvURL); url != "" {
		dbs["postgres"] = url
	}
	return dbs
}

func TestImportSmall(t *testing.T) {
	for dialect, url := range databases() {
		t.Run(dialect, func(t *testing.T) {
			o := DefaultImport()
			o.DatabaseURL, o.Persons = url, 150
			var out bytes.Buffer
			if _, err := Import(context.Background(), o, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			f := lastLine(t, out.String())
			if f["name"] != "import" || f["db"] != dialect || f["persons"] != "150" || f["errors"] != "0" {
				t.Errorf("BENCH line %v\n%s", f, out.String())
			}
			positive(t, f, "rows", "ours_s", "baseline_s", "ratio", "rate_per_s", "peak_rss_mb")
		})
	}
}

func TestCardSmall(t *testing.T) {
	for dialect, url := range databases() {
		for _, via := range []string{"http", "direct"} {
			t.Run(dialect+"/"+via, func(t *testing.T) {
				o := DefaultCard()
				o.DatabaseURL, o.Persons, o.Conns, o.Seconds, o.Via = url, 60, 4, 0.3, via
				var out bytes.Buffer
				if _, err := Card(context.Background(), o, &out); err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				f := lastLine(t, out.String())
				if f["name"] != "card" || f["db"] != dialect || f["conns"] != "4" || f["errors"] != "0" || f["audit_verified"] != "true" {
					t.Errorf("BENCH line %v\n%s", f, out.String())
				}
				if (f["via"] == "direct") != (via == "direct") {
					t.Errorf("via=%q for %s", f["via"], via)
				}
				positive(t, f, "n", "rate_per_s", "p50_ms", "p99_ms", "audit_records")
			})
		}
	}
}

// The synthetic registry is the same for a seed, valid, and about two
// relations and exactly twelve incomes a person, every relation after its
// persons.
func TestPopulation(t *testing.T) {
	today := civil.MustParse("2026-06-15")
	walk := func(seed uint64) (persons, relations, incomes int, first string) {
		seen := map[int]bool{}
		_ = newPopulation(seed, 1003, today).walk(func(f *family) error {
			for _, g := range f.persons {
				if seen[g.idx] || g.idx != persons {
					t.Fatalf("person %d out of order", g.idx)
				}
				seen[g.idx] = true
				persons++
				if first == "" {
					first = g.family + " " + g.birth.String()
				}
				if _, err := ident.NormalizeSNILS(newPopulation(seed, 1003, today).snilsOf(g.idx)); err != nil {
					t.Fatalf("SNILS of %d: %v", g.idx, err)
				}
				if !g.birth.Before(today) {
					t.Fatalf("person %d born %s", g.idx, g.birth)
				}
			}
			for _, r := range f.relations {
				if !seen[r.from] || !seen[r.to] || r.from == r.to {
					t.Fatalf("relation %+v before its persons", r)
				}
			}
			relations += len(f.relations)
			incomes += len(f.incomes)
			return nil
		})
		return
	}
	p, r, i, first := walk(7)
	if p != 1003 || i != 12*1003 || r < 1900 || r > 2200 {
		t.Errorf("%d persons, %d relations, %d incomes", p, r, i)
	}
	if _, r2, _, first2 := walk(7); r2 != r || first2 != first {
		t.Errorf("seed 7 twice: %d/%q then %d/%q", r, first, r2, first2)
	}
	if _, _, _, other := walk(8); other == first {
		t.Logf("seeds 7 and 8 start alike: %q", first)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"1000000": 1_000_000, "100k": 100_000, "1m": 1_000_000, "small": 10_000, "1_000": 1000} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1g", "1000m"} {
		if _, err := ParseCount(in); err == nil {
			t.Errorf("ParseCount(%q): no error", in)
		}
	}
}

func TestRegistryOptionsRefused(t *testing.T) {
	o := DefaultImport()
	o.Persons = 0
	if _, err := Import(context.Background(), o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--persons") {
		t.Errorf("persons 0: %v", err)
	}
	c := DefaultCard()
	c.Via = "grpc"
	if _, err := Card(context.Background(), c, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--via") {
		t.Errorf("via grpc: %v", err)
	}
}

// The plug-in benchmark, small: the rules and the plug-in find the same
// people and every figure is reported.
func TestPluginSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two plug-ins")
	}
	o := DefaultPlugin()
	o.Persons, o.Rounds, o.Calls, o.Source = 2000, 1, 100, "../../.."
	o.Regions = os.DirFS("../../../tenants")
	o.CPUProfile = filepath.Join(t.TempDir(), "calls.pprof")
	var out strings.Builder
	l, err := Plugin(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	f, ok := ParseLine(l)
	if !ok || f["sets_equal"] != "true" || f["persons"] != "2000" || f["eligible"] == "0" || f["hang_killed_s"] == "" {
		t.Fatalf("%s\n%s", l, out.String())
	}
	if st, err := os.Stat(o.CPUProfile); err != nil || st.Size() == 0 {
		t.Errorf("--cpuprofile: no profile of the calls written: %v", err)
	}
}
