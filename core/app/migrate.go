package app

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/socialtreasury/treasury/core/store"
)

// MigrateDirection selects what Migrate does.
type MigrateDirection int

const (
	MigrateUp MigrateDirection = iota
	MigrateDown
	MigrateDownTo
	MigrateStatus
)

// MigrateOptions are the migrate command's options.
type MigrateOptions struct {
	To          int64
	AppRole     string
	AppPassword string
}

// Migrate runs one migrate command as the schema owner: the migrate URL
// when set, otherwise the database URL.
func Migrate(ctx context.Context, cfg Config, dir MigrateDirection, opts MigrateOptions, out io.Writer) error {
	log := NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	url := cfg.MigrateDatabaseURL
	if url == "" {
		url = cfg.DatabaseURL
	}
	// Checked before opening, so that the mistake creates no SQLite file.
	if d, _ := store.DialectOf(url); opts.AppRole != "" && d != store.Postgres {
		return configErrorf("--app-role: an app role exists only on PostgreSQL")
	}
	db, err := store.Open(ctx, store.Options{URL: url, DataDir: cfg.DataDir, MaxOpenConns: 2, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := store.NewMigrator(db, nil)
	if err != nil {
		return err
	}
	var steps []store.MigrationStep
	switch dir {
	case MigrateUp:
		steps, err = m.Up(ctx)
	case MigrateDown:
		steps, err = m.Down(ctx)
	case MigrateDownTo:
		steps, err = m.DownTo(ctx, opts.To)
	case MigrateStatus:
		steps, err = m.Status(ctx)
	}
	if err != nil {
		return err
	}
	for _, s := range steps {
		mark := "applied "
		switch {
		case dir == MigrateStatus && !s.Applied:
			mark = "pending "
		case dir == MigrateDown || dir == MigrateDownTo:
			mark = "reversed"
		}
		fmt.Fprintf(out, "%s %05d %s\n", mark, s.Version, s.Name)
	}
	cur, err := m.Current(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "database at version %d of %d (%s)\n", cur, m.Latest(), db.Dialect)
	if opts.AppRole != "" {
		if err := db.GrantAppRole(ctx, opts.AppRole, opts.AppPassword); err != nil {
			return err
		}
		fmt.Fprintf(out, "app role %s: granted data access, no ownership, no BYPASSRLS\n", opts.AppRole)
	}
	return nil
}
