package bench

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/store/storetest"
)

// lastLine is the output's final line, which must be the BENCH line.
func lastLine(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	f, ok := ParseLine(lines[len(lines)-1])
	if !ok {
		t.Fatalf("the last line is not a BENCH line:\n%s", out)
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "BENCH") {
			t.Fatalf("more than one BENCH line:\n%s", out)
		}
	}
	return f
}

func positive(t *testing.T, f map[string]string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, err := strconv.ParseFloat(f[k], 64)
		if err != nil || v <= 0 {
			t.Errorf("%s=%q, want a positive number", k, f[k])
		}
	}
}

func TestAuthzSmall(t *testing.T) {
	o := DefaultAuthz()
	o.Tenants, o.Users, o.Seconds, o.Rounds = 3, 30, 0.4, 2
	var out bytes.Buffer
	l, err := Authz(context.Background(), o, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	f := lastLine(t, out.String())
	if got := lastLine(t, l+"\n"); len(got) != len(f) {
		t.Fatalf("returned line %q differs from the printed one", l)
	}
	want := []string{"name", "db", "tenants", "users", "n", "ours_p50_us", "ours_p99_us", "baseline_p50_us", "baseline_p99_us", "ratio", "changes", "errors"}
	if len(f) != len(want) {
		t.Errorf("fields %v, want %v", f, want)
	}
	if f["name"] != "authz" || f["db"] != "sqlite" || f["tenants"] != "3" || f["users"] != "30" || f["errors"] != "0" {
		t.Errorf("BENCH line %v", f)
	}
	positive(t, f, "n", "ours_p50_us", "ours_p99_us", "baseline_p50_us", "baseline_p99_us", "ratio", "changes")
	t.Log(out.String())
}

func TestAPISmall(t *testing.T) {
	for _, auth := range []string{"password", "apikey"} {
		t.Run(auth, func(t *testing.T) {
			o := DefaultAPI()
			o.Conns, o.Seconds, o.Rounds, o.Auth = 4, 0.2, 1, auth
			var out bytes.Buffer
			if _, err := API(context.Background(), o, &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			f := lastLine(t, out.String())
			if f["name"] != "api" || f["db"] != "sqlite" || f["conns"] != "4" || f["errors"] != "0" {
				t.Errorf("BENCH line %v", f)
			}
			if (f["auth"] == "apikey") != (auth == "apikey") {
				t.Errorf("auth=%q for %s", f["auth"], auth)
			}
			positive(t, f, "n", "rate_per_s", "p50_ms", "p99_ms", "baseline_rate_per_s", "ratio")
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	a := DefaultAuthz()
	a.Tenants = 0
	if _, err := Authz(context.Background(), a, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--tenants") {
		t.Errorf("tenants 0: %v", err)
	}
	p := DefaultAPI()
	p.Auth = "cookie"
	if _, err := API(context.Background(), p, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--auth") {
		t.Errorf("auth cookie: %v", err)
	}
	p = DefaultAPI()
	p.DatabaseURL = "mysql://x"
	if _, err := API(context.Background(), p, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--database-url") {
		t.Errorf("mysql URL: %v", err)
	}
}

func TestNum(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 0.3362: "0.336", 1.2649: "1.26", 205.4: "205", 23806.2: "23806", 0.0016345: "0.00163"} {
		if got := num(x); got != want {
			t.Errorf("num(%v) = %q, want %q", x, got, want)
		}
	}
}

// On PostgreSQL the run gets a database and an app role of its own, runs as
// the unprivileged role, and leaves neither behind.
func TestPostgresScratch(t *testing.T) {
	url := os.Getenv(storetest.EnvURL)
	if url == "" {
		t.Skipf("set %s to run against PostgreSQL", storetest.EnvURL)
	}
	ctx := context.Background()
	s, err := openScratch(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	role, err := s.db.CurrentRole(ctx)
	if err != nil {
		s.close()
		t.Fatal(err)
	}
	if err := s.db.RequireUnprivileged(ctx); err != nil || !strings.HasPrefix(role.Name, "treasury_bench_app_") {
		t.Errorf("runs as %+v: %v", role, err)
	}
	s.close()
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var left int
	if err := admin.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) +
		(SELECT count(*) FROM pg_roles WHERE rolname = $2)`, s.name, role.Name).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("database %s or role %s left behind", s.name, role.Name)
	}

	o := DefaultAuthz()
	o.DatabaseURL, o.Tenants, o.Users, o.Seconds, o.Rounds = url, 2, 10, 0.2, 1
	var out bytes.Buffer
	if _, err := Authz(ctx, o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if f := lastLine(t, out.String()); f["db"] != "postgres" || f["errors"] != "0" {
		t.Errorf("BENCH line %v", f)
	}
}
