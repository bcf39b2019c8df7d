package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// Every migration goes up, down and up again, one step at a time, and the
// schema after the second climb is the same as after the first.
func TestMigrationsUpDownUp(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			env := storetest.Empty(t, d)
			ctx := context.Background()
			m, err := store.NewMigrator(env.Owner, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Latest() < 2 {
				t.Fatalf("latest migration %d: expected at least two", m.Latest())
			}
			up, err := m.Up(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(up)) != m.Latest() {
				t.Fatalf("applied %d migrations, want %d", len(up), m.Latest())
			}
			first := schemaOf(t, env.Owner)
			for v := m.Latest(); v > 0; v-- {
				steps, err := m.Down(ctx)
				if err != nil {
					t.Fatalf("down from %d: %v", v, err)
				}
				if len(steps) != 1 || steps[0].Version != v {
					t.Fatalf("down from %d reversed %+v", v, steps)
				}
				if cur, _ := m.Current(ctx); cur != v-1 {
					t.Fatalf("after down from %d the database is at %d", v, cur)
				}
			}
			if left := schemaOf(t, env.Owner); len(left) != 0 {
				t.Fatalf("tables left after all downs: %v", left)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatal(err)
			}
			second := schemaOf(t, env.Owner)
			if len(first) != len(second) {
				t.Fatalf("schema differs after up/down/up: %v vs %v", first, second)
			}
			for k, v := range first {
				if second[k] != v {
					t.Fatalf("table %s differs after up/down/up:\n%s\n%s", k, v, second[k])
				}
			}
			if err := m.Check(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A database migrated by a newer binary is refused with ErrSchemaNewer; one
// behind reports ErrSchemaBehind.
func TestSchemaVersionChecks(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			env := storetest.Empty(t, d)
			ctx := context.Background()
			m, err := store.NewMigrator(env.Owner, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Check(ctx); !errors.Is(err, store.ErrSchemaBehind) {
				t.Fatalf("fresh database: %v, want ErrSchemaBehind", err)
			}
			if _, err := m.Up(ctx); err != nil {
				t.Fatal(err)
			}
			future := m.Latest() + 10
			if err := env.Owner.Gorm.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, ?)", future, true).Error; err != nil {
				t.Fatal(err)
			}
			if err := m.Check(ctx); !errors.Is(err, store.ErrSchemaNewer) {
				t.Fatalf("Check: %v, want ErrSchemaNewer", err)
			}
			if _, err := m.Up(ctx); !errors.Is(err, store.ErrSchemaNewer) {
				t.Fatalf("Up: %v, want ErrSchemaNewer", err)
			}
		})
	}
}

// schemaOf maps every table to a description of its columns.
func schemaOf(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	type col struct{ Table, Def string }
	var cols []col
	var err error
	if db.Dialect == store.Postgres {
		err = db.Gorm.Raw(`SELECT table_name AS "table", string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', ' ORDER BY ordinal_position) AS def
			FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'goose_db_version'
			GROUP BY table_name`).Scan(&cols).Error
	} else {
		err = db.Gorm.Raw(`SELECT name AS "table", sql AS def FROM sqlite_master
			WHERE type = 'table' AND name NOT IN ('goose_db_version', 'sqlite_sequence')`).Scan(&cols).Error
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cols {
		out[c.Table] = c.Def
	}
	return out
}
