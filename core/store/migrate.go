package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrationFiles embed.FS

// versionTable is goose's bookkeeping table.
const versionTable = "goose_db_version"

var (
	// ErrSchemaNewer means the database was migrated by a newer binary.
	ErrSchemaNewer = errors.New("database schema is newer than this binary")
	// ErrSchemaBehind means migrations are pending.
	ErrSchemaBehind = errors.New("database schema has pending migrations")
)

// Migrator applies and reverses the embedded migrations of the DB's dialect.
type Migrator struct {
	db       *DB
	provider *goose.Provider
	latest   int64
}

// MigrationStep reports one applied or pending migration.
type MigrationStep struct {
	Version int64
	Name    string
	Applied bool
}

// NewMigrator prepares the migrations for db's dialect.
func NewMigrator(db *DB, log *slog.Logger) (*Migrator, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, err
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if log != nil {
		opts = append(opts, goose.WithSlog(log.With("component", "migrate")))
	}
	dialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// Replicas starting together must not run the same migration twice.
		locker, lerr := lock.NewPostgresSessionLocker()
		if lerr != nil {
			return nil, lerr
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.SQL, sub, opts...)
	if err != nil {
		return nil, err
	}
	var latest int64
	for _, s := range p.ListSources() {
		latest = max(latest, s.Version)
	}
	return &Migrator{db: db, provider: p, latest: latest}, nil
}

// Latest is the newest migration version this binary carries.
func (m *Migrator) Latest() int64 { return m.latest }

// Current is the version the database is at (0 when never migrated).
func (m *Migrator) Current(ctx context.Context) (int64, error) {
	exists, err := m.tableExists(ctx, versionTable)
	if err != nil || !exists {
		return 0, err
	}
	var v int64
	err = m.db.SQL.QueryRowContext(ctx,
		"SELECT COALESCE(MAX(version_id), 0) FROM "+versionTable+" WHERE is_applied").Scan(&v)
	return v, err
}

// Check tells whether the schema is exactly what this binary expects.
func (m *Migrator) Check(ctx context.Context) error {
	cur, err := m.Current(ctx)
	if err != nil {
		return err
	}
	switch {
	case cur > m.latest:
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade treasury", ErrSchemaNewer, cur, m.latest)
	case cur < m.latest:
		return fmt.Errorf("%w: database is at version %d, this binary expects %d; run treasury migrate up", ErrSchemaBehind, cur, m.latest)
	}
	return nil
}

// Up applies every pending migration. It refuses a database that is ahead of
// the binary rather than guessing what the unknown versions did.
func (m *Migrator) Up(ctx context.Context) ([]MigrationStep, error) {
	if err := m.Check(ctx); errors.Is(err, ErrSchemaNewer) {
		return nil, err
	}
	res, err := m.provider.Up(ctx)
	return steps(res), migrationError(err)
}

// Down reverses the newest applied migration.
func (m *Migrator) Down(ctx context.Context) ([]MigrationStep, error) {
	res, err := m.provider.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return nil, nil
	}
	if res == nil {
		return nil, migrationError(err)
	}
	return steps([]*goose.MigrationResult{res}), migrationError(err)
}

// DownTo reverses migrations until the database is at version.
func (m *Migrator) DownTo(ctx context.Context, version int64) ([]MigrationStep, error) {
	res, err := m.provider.DownTo(ctx, version)
	return steps(res), migrationError(err)
}

// Status lists every known migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStep, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, migrationError(err)
	}
	out := make([]MigrationStep, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStep{Version: s.Source.Version, Name: baseName(s.Source.Path), Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

func (m *Migrator) tableExists(ctx context.Context, name string) (bool, error) {
	var n int
	var err error
	if m.db.Dialect == Postgres {
		err = m.db.SQL.QueryRowContext(ctx,
			"SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1", name).Scan(&n)
	} else {
		err = m.db.SQL.QueryRowContext(ctx,
			"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&n)
	}
	return n > 0, err
}

func steps(res []*goose.MigrationResult) []MigrationStep {
	out := make([]MigrationStep, 0, len(res))
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, MigrationStep{Version: r.Source.Version, Name: baseName(r.Source.Path), Applied: r.Direction == "up"})
	}
	return out
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// migrationError flattens goose's partial-error wrapper into one line that
// names the failing migration.
func migrationError(err error) error {
	if err == nil {
		return nil
	}
	var pe *goose.PartialError
	if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
		return fmt.Errorf("migration %s failed: %s", baseName(pe.Failed.Source.Path), oneLine(pe.Err))
	}
	return errors.New(oneLine(err))
}
