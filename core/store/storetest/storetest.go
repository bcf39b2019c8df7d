// Package storetest gives each test a database of its own: a fresh SQLite
// file always, and a fresh PostgreSQL database — created for the test and
// dropped after it — when TREASURY_TEST_DATABASE_URL names a server.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

const (
	// EnvURL names a PostgreSQL server (as a role that may create databases).
	EnvURL = "TREASURY_TEST_DATABASE_URL"
	// EnvRequire makes a missing PostgreSQL a failure instead of a skip (CI).
	EnvRequire = "TREASURY_TEST_REQUIRE_POSTGRES"
	// AppRole is the unprivileged role the tests' servers connect as.
	AppRole = "treasury_test_app"
)

// Env is one test's database.
type Env struct {
	// App is the connection the platform's services use: on PostgreSQL the
	// unprivileged app role, subject to row-level security.
	App *store.DB
	// Owner is the migrating owner's connection (the same as App on SQLite).
	Owner *store.DB
	// Scope is the tenancy guard installed on App.
	Scope *tenancy.Scope
	// AppURL and OwnerURL are the connection strings (empty on SQLite).
	AppURL, OwnerURL string
	// DataDir is the SQLite data directory.
	DataDir string
}

// Dialects lists the dialects a test should cover: SQLite always,
// PostgreSQL when configured.
func Dialects() []store.Dialect {
	if os.Getenv(EnvURL) == "" && os.Getenv(EnvRequire) == "" {
		return []store.Dialect{store.SQLite}
	}
	return []store.Dialect{store.SQLite, store.Postgres}
}

// Each runs fn as a subtest per dialect, each with a fresh migrated database.
// On a machine without PostgreSQL the PostgreSQL subtest is skipped with the
// reason, so the gap is visible in -v output.
func Each(t *testing.T, fn func(t *testing.T, env *Env)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, New(t, d))
		})
	}
}

// New returns a fresh, migrated database of the dialect with the tenancy
// guard installed.
func New(t testing.TB, d store.Dialect) *Env {
	t.Helper()
	env := Empty(t, d)
	ctx := context.Background()
	m, err := store.NewMigrator(env.Owner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if d == store.Postgres {
		grantApp(t, env.Owner)
	}
	if env.Scope, err = tenancy.Guard(ctx, env.App); err != nil {
		t.Fatal(err)
	}
	return env
}

// Empty returns a fresh database with no migrations applied; on PostgreSQL
// the App connection exists but has no grants until GrantApp is called.
func Empty(t testing.TB, d store.Dialect) *Env {
	t.Helper()
	if d == store.SQLite {
		dir := t.TempDir()
		db, err := store.Open(context.Background(), store.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return &Env{App: db, Owner: db, DataDir: dir}
	}
	return postgres(t)
}

// GrantApp grants the app role access to what has been migrated so far.
func (e *Env) GrantApp(t testing.TB) {
	t.Helper()
	if e.Owner.Dialect == store.Postgres {
		grantApp(t, e.Owner)
	}
}

func grantApp(t testing.TB, owner *store.DB) {
	t.Helper()
	var err error
	// Parallel test binaries may race to create the cluster-wide role.
	for i := 0; i < 5; i++ {
		if err = owner.GrantAppRole(context.Background(), AppRole, AppRole); err == nil {
			return
		}
		time.Sleep(time.Duration(50*(i+1)) * time.Millisecond)
	}
	t.Fatalf("grant app role: %v", err)
}

func postgres(t testing.TB) *Env {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("%s is set but %s is not: PostgreSQL tests cannot be skipped here", EnvRequire, EnvURL)
		}
		t.Skipf("PostgreSQL tests skipped: set %s=postgres://user@host/db (a role that may create databases) to run them", EnvURL)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	defer admin.Close()
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "treasury_t_" + hex.EncodeToString(suffix)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	ownerURL := withDatabase(t, base, name, "", "")
	appURL := withDatabase(t, base, name, AppRole, AppRole)
	owner, err := store.Open(ctx, store.Options{URL: ownerURL, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = owner.Close() })
	grantApp(t, owner) // the role must exist before the app can connect
	app, err := store.Open(ctx, store.Options{URL: appURL, MaxOpenConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	return &Env{App: app, Owner: owner, AppURL: appURL, OwnerURL: ownerURL}
}

func withDatabase(t testing.TB, base, db, user, password string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	u.Path = "/" + db
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}
