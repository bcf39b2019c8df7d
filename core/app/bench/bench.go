// Package bench holds the platform's end-to-end benchmarks behind
// `treasury bench NAME` (see docs: QUALITY.md). Each builds its own data
// deterministically from a seed on a scratch database — embedded SQLite in a
// temporary directory, or a database created for the run on a PostgreSQL
// server and dropped after it — measures the platform's real code path
// against a baseline in alternating rounds, and prints human lines followed
// by one BENCH line.
//
// It lives under core/app because it wires the whole platform, which only
// the composition root may do.
package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/store"
)

// Common are the options every benchmark shares.
type Common struct {
	// DatabaseURL names a PostgreSQL server as a role that may create
	// databases and roles; empty runs on embedded SQLite in a temporary
	// directory.
	DatabaseURL string
	// Seconds each side (ours, baseline) is measured for, split in Rounds.
	Seconds float64
	// Rounds per side, alternated ours/baseline/ours/baseline….
	Rounds int
	Seed   uint64
	// Log receives the platform's warnings and errors (nil: discarded).
	Log *slog.Logger
	// CPUProfile, when set, names a file that receives a CPU profile of the
	// first round of ours (the whole process: server and load generator).
	CPUProfile string
}

// profile starts the CPU profile of round r if one is wanted; the returned
// function stops it.
func (c *Common) profile(r int) (stop func() error, err error) {
	if c.CPUProfile == "" || r != 1 {
		return func() error { return nil }, nil
	}
	f, err := os.Create(c.CPUProfile)
	if err != nil {
		return nil, configErrorf("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func (c *Common) validate() error {
	if _, err := store.DialectOf(c.DatabaseURL); err != nil {
		return configErrorf("--database-url: %v", err)
	}
	if c.Seconds <= 0 || c.Seconds > 3600 {
		return configErrorf("--seconds: %g is outside (0, 3600]", c.Seconds)
	}
	if c.Rounds < 1 || c.Rounds > 100 {
		return configErrorf("--rounds: %d is outside 1..100", c.Rounds)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

func (c *Common) round() time.Duration {
	return time.Duration(c.Seconds / float64(c.Rounds) * float64(time.Second))
}

func configErrorf(format string, args ...any) error {
	return &app.ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// lightArgon2 keeps setup quick; no benchmark measures password hashing.
var lightArgon2 = auth.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}

// scratch is one run's database and data directory, gone after close.
type scratch struct {
	db      *store.DB
	dialect store.Dialect
	dataDir string
	// name is the PostgreSQL database created for the run.
	name    string
	cleanup []func()
}

// openScratch makes a fresh, migrated database. On PostgreSQL it creates
// treasury_bench_<random> on the server adminURL names, migrates it as that
// (owner) role, creates and grants an app role of its own, and connects as
// the app role, so that the benchmark runs under row-level security as
// production does. close drops the database and the role.
func openScratch(ctx context.Context, adminURL string, log *slog.Logger) (s *scratch, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s = &scratch{}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if s.dataDir, err = os.MkdirTemp("", "treasury-bench-"); err != nil {
		return s, err
	}
	dir := s.dataDir
	s.cleanup = append(s.cleanup, func() { _ = os.RemoveAll(dir) })
	if adminURL == "" {
		s.dialect = store.SQLite
		if s.db, err = store.Open(ctx, store.Options{DataDir: s.dataDir, Logger: log}); err != nil {
			return s, err
		}
		db := s.db
		s.cleanup = append(s.cleanup, func() { _ = db.Close() })
		return s, migrate(ctx, s.db)
	}
	s.dialect = store.Postgres
	suffix := randomHex(6)
	s.name = "treasury_bench_" + suffix
	role, password := "treasury_bench_app_"+suffix, randomHex(16)
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return s, fmt.Errorf("--database-url: %w", err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{s.name}.Sanitize()); err != nil {
		return s, fmt.Errorf("creating the scratch database: %w", err)
	}
	name := s.name
	s.cleanup = append(s.cleanup, func() {
		// A fresh context: the run's may be cancelled (Ctrl-C) by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := sql.Open("pgx", adminURL)
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			log.Warn("could not drop the scratch database", "database", name, "error", err.Error())
			return
		}
		if _, err := a.ExecContext(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
			log.Warn("could not drop the scratch role", "role", role, "error", err.Error())
		}
	})
	ownerURL, err := withDatabase(adminURL, s.name, "", "")
	if err != nil {
		return s, err
	}
	owner, err := store.Open(ctx, store.Options{URL: ownerURL, MaxOpenConns: 2, Logger: log})
	if err != nil {
		return s, err
	}
	s.cleanup = append(s.cleanup, func() { _ = owner.Close() })
	if err := migrate(ctx, owner); err != nil {
		return s, err
	}
	if err := owner.GrantAppRole(ctx, role, password); err != nil {
		return s, err
	}
	appURL, err := withDatabase(adminURL, s.name, role, password)
	if err != nil {
		return s, err
	}
	if s.db, err = store.Open(ctx, store.Options{URL: appURL, Logger: log}); err != nil {
		return s, err
	}
	db := s.db
	s.cleanup = append(s.cleanup, func() { _ = db.Close() })
	return s, nil
}

// close releases everything openScratch made, newest first.
func (s *scratch) close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
	s.cleanup = nil
}

func migrate(ctx context.Context, db *store.DB) error {
	m, err := store.NewMigrator(db, nil)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

func withDatabase(base, db, user, password string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", configErrorf("--database-url: cannot parse")
	}
	u.Path = "/" + db
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wire builds the whole platform on the scratch database, as serve does.
// openPlatform opens a scratch database and wires the platform on it; the
// caller closes the scratch.
func openPlatform(ctx context.Context, adminURL string, log *slog.Logger) (*scratch, *app.Platform, error) {
	s, err := openScratch(ctx, adminURL, log)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.wire(ctx, log)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, p, nil
}

func (s *scratch) wire(ctx context.Context, log *slog.Logger) (*app.Platform, error) {
	// A token key of the run's own (rather than the development key, which
	// serve warns about).
	keyFile := filepath.Join(s.dataDir, "token.key")
	if err := os.WriteFile(keyFile, []byte(randomHex(32)), 0o600); err != nil {
		return nil, err
	}
	cfg := app.Config{
		DataDir: s.dataDir, TokenKeyFile: keyFile, NoMigrate: true, AccessTokenTTL: 24 * time.Hour, PolicyPoll: 500 * time.Millisecond,
		BodyLimit: 1 << 20, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		PasswordCost: lightArgon2,
	}
	return app.Wire(ctx, s.db, cfg, log)
}

// latencies are durations in nanoseconds (uint32: up to 4.29 s, larger
// values are clamped), kept whole so percentiles are exact.
type latencies []uint32

func (l *latencies) add(d time.Duration) {
	if d > math.MaxUint32 {
		d = math.MaxUint32
	}
	*l = append(*l, uint32(d))
}

// summary is the percentiles of a set of latencies.
type summary struct {
	n             int
	p50, p99, max time.Duration
}

func summarize(l latencies) summary {
	if len(l) == 0 {
		return summary{}
	}
	s := slices.Clone(l)
	slices.Sort(s)
	rank := func(q float64) time.Duration {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return time.Duration(s[max(i, 0)])
	}
	return summary{n: len(s), p50: rank(0.50), p99: rank(0.99), max: time.Duration(s[len(s)-1])}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// num renders a number with three significant digits and no exponent.
func num(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "0"
	}
	digits := int(math.Floor(math.Log10(math.Abs(x)))) + 1
	prec := max(3-digits, 0)
	return strconv.FormatFloat(x, 'f', prec, 64)
}

// line is a BENCH line's fields in order.
type line [][2]string

func (l line) String() string {
	var b strings.Builder
	b.WriteString("BENCH")
	for _, kv := range l {
		b.WriteString(" " + kv[0] + "=" + kv[1])
	}
	return b.String()
}

// ParseLine reads a BENCH line's fields; ok is false for any other line.
func ParseLine(s string) (fields map[string]string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "BENCH ")
	if !ok {
		return nil, false
	}
	fields = map[string]string{}
	for _, f := range strings.Fields(rest) {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, false
		}
		fields[k] = v
	}
	return fields, true
}

func printf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }
