package tenancy_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// probe is a tenant-owned table made by these tests, shaped like every
// tenant-owned table of the schema.
type probe struct {
	TenantID uuid.UUID `gorm:"primaryKey"`
	ID       uuid.UUID `gorm:"primaryKey"`
	Note     string
}

func (probe) TableName() string { return "tenancy_probe" }

func withProbe(t *testing.T, d store.Dialect) *storetest.Env {
	t.Helper()
	env := storetest.New(t, d)
	ddl := []string{`CREATE TABLE tenancy_probe (tenant_id TEXT NOT NULL, id TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, id))`}
	if d == store.Postgres {
		ddl = []string{
			`CREATE TABLE tenancy_probe (tenant_id uuid NOT NULL REFERENCES tenants (id), id uuid NOT NULL, note text NOT NULL DEFAULT '', PRIMARY KEY (tenant_id, id))`,
			`ALTER TABLE tenancy_probe ENABLE ROW LEVEL SECURITY`,
			`ALTER TABLE tenancy_probe FORCE ROW LEVEL SECURITY`,
			`CREATE POLICY tenant_isolation ON tenancy_probe
			   USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
			   WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)`,
		}
	}
	for _, s := range ddl {
		if err := env.Owner.Gorm.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	env.GrantApp(t)
	if err := env.Scope.Refresh(context.Background(), env.App); err != nil {
		t.Fatal(err)
	}
	return env
}

func twoTenants(t *testing.T, env *storetest.Env) (a, b tenancy.Tenant) {
	t.Helper()
	svc := tenancy.NewService(env.App.Gorm)
	ctx := context.Background()
	a, err := svc.Create(ctx, tenancy.NewTenant{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"})
	if err != nil {
		t.Fatal(err)
	}
	b, err = svc.Create(ctx, tenancy.NewTenant{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000", Mode: tenancy.ModeHybrid})
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestScopeFailsClosed(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			env := withProbe(t, d)
			a, b := twoTenants(t, env)
			db := env.App.Gorm
			bg := context.Background()
			ctxA := tenancy.WithTenant(bg, a.ID)

			// No tenant: every kind of statement is refused before it runs.
			for name, run := range map[string]func(*gorm.DB) error{
				"find":        func(db *gorm.DB) error { var ps []probe; return db.Find(&ps).Error },
				"table count": func(db *gorm.DB) error { var n int64; return db.Table("tenancy_probe").Count(&n).Error },
				"create":      func(db *gorm.DB) error { return db.Create(&probe{ID: uuid.New()}).Error },
				"update":      func(db *gorm.DB) error { return db.Model(&probe{}).Where("1 = 1").Update("note", "x").Error },
				"delete":      func(db *gorm.DB) error { return db.Where("1 = 1").Delete(&probe{}).Error },
				"rows": func(db *gorm.DB) error {
					rows, err := db.Table("tenancy_probe").Select("count(*)").Rows()
					if err == nil {
						_ = rows.Close()
					}
					return err
				},
				"map create": func(db *gorm.DB) error {
					return db.Table("tenancy_probe").Create(map[string]any{"id": uuid.NewString()}).Error
				},
			} {
				if err := run(db.WithContext(bg)); !errors.Is(err, tenancy.ErrNoTenant) {
					t.Errorf("%s without tenant: %v, want ErrNoTenant", name, err)
				}
				// A tenant in the context but no tenant transaction: refused too.
				if err := run(db.WithContext(ctxA)); !errors.Is(err, tenancy.ErrNotBound) {
					t.Errorf("%s outside Tx: %v, want ErrNotBound", name, err)
				}
			}
			if err := tenancy.Tx(bg, db, func(*gorm.DB) error { return nil }); !errors.Is(err, tenancy.ErrNoTenant) {
				t.Fatalf("Tx without tenant: %v", err)
			}

			// Rows are stamped with the context's tenant; naming another is refused.
			inTx := func(ctx context.Context, fn func(tx *gorm.DB) error) error { return tenancy.Tx(ctx, db, fn) }
			if err := inTx(ctxA, func(tx *gorm.DB) error { return tx.Create(&probe{ID: uuid.New(), Note: "a"}).Error }); err != nil {
				t.Fatal(err)
			}
			err := inTx(ctxA, func(tx *gorm.DB) error { return tx.Create(&probe{TenantID: b.ID, ID: uuid.New()}).Error })
			if !errors.Is(err, tenancy.ErrCrossTenant) {
				t.Fatalf("create for another tenant: %v", err)
			}
			err = inTx(ctxA, func(tx *gorm.DB) error {
				return tx.Model(&probe{}).Where("1 = 1").Updates(map[string]any{"tenant_id": b.ID}).Error
			})
			if !errors.Is(err, tenancy.ErrCrossTenant) {
				t.Fatalf("moving rows to another tenant: %v", err)
			}
			ctxB := tenancy.WithTenant(bg, b.ID)
			if err := inTx(ctxB, func(tx *gorm.DB) error { return tx.Create(&probe{ID: uuid.New(), Note: "b"}).Error }); err != nil {
				t.Fatal(err)
			}

			// Each tenant sees, changes and deletes only its own rows.
			for _, c := range []struct {
				ctx  context.Context
				note string
			}{{ctxA, "a"}, {ctxB, "b"}} {
				var ps []probe
				if err := inTx(c.ctx, func(tx *gorm.DB) error { return tx.Find(&ps).Error }); err != nil {
					t.Fatal(err)
				}
				if len(ps) != 1 || ps[0].Note != c.note {
					t.Fatalf("tenant %s sees %+v", c.note, ps)
				}
			}
			var updated int64
			_ = inTx(ctxA, func(tx *gorm.DB) error {
				res := tx.Model(&probe{}).Where("1 = 1").Update("note", "a2")
				updated = res.RowsAffected
				return res.Error
			})
			if updated != 1 {
				t.Fatalf("tenant A's blanket update touched %d rows, want 1", updated)
			}
			var deleted int64
			_ = inTx(ctxA, func(tx *gorm.DB) error {
				res := tx.Where("1 = 1").Delete(&probe{})
				deleted = res.RowsAffected
				return res.Error
			})
			if deleted != 1 {
				t.Fatalf("tenant A's blanket delete removed %d rows, want 1", deleted)
			}
			var left []probe
			_ = inTx(ctxB, func(tx *gorm.DB) error { return tx.Find(&left).Error })
			if len(left) != 1 || left[0].Note != "b" {
				t.Fatalf("tenant B's row after A's update and delete: %+v", left)
			}
		})
	}
}

// With a pool of two connections, 64 goroutines alternate tenants over
// 10,000 transactions, a random third of them rolled back. No transaction may
// see another tenant's row — through the GORM scope and, on PostgreSQL, through
// raw SQL that only row-level security guards — and no idle connection may
// keep a tenant setting.
func TestPoolNeverLeaksTenant(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			env := withProbe(t, d)
			env.App.SQL.SetMaxOpenConns(2)
			env.App.SQL.SetMaxIdleConns(2)
			a, b := twoTenants(t, env)
			tenants := []uuid.UUID{a.ID, b.ID}
			db := env.App.Gorm
			const total, workers = 10_000, 64
			var (
				next, wrong, committed [2]atomic.Int64
				wg                     sync.WaitGroup
				failures               atomic.Int64
				firstErr               atomic.Value
			)
			errRollback := errors.New("rollback")
			var seq atomic.Int64
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := seq.Add(1)
						if n > total {
							return
						}
						i := int(n % 2)
						ctx := tenancy.WithTenant(context.Background(), tenants[i])
						rollback := rand.IntN(3) == 0
						err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
							if err := tx.Create(&probe{ID: uuid.Must(uuid.NewV7()), Note: fmt.Sprint(i)}).Error; err != nil {
								return err
							}
							var foreign int64
							if err := tx.Model(&probe{}).Where("note <> ?", fmt.Sprint(i)).Count(&foreign).Error; err != nil {
								return err
							}
							if d == store.Postgres {
								// Raw SQL bypasses the GORM scope: only RLS stands guard.
								var raw int64
								if err := tx.Raw("SELECT count(*) FROM tenancy_probe WHERE tenant_id <> ?", tenants[i]).Scan(&raw).Error; err != nil {
									return err
								}
								foreign += raw
							}
							wrong[i].Add(foreign)
							if rollback {
								return errRollback
							}
							return nil
						})
						switch {
						case err == nil:
							committed[i].Add(1)
						case errors.Is(err, errRollback):
						default:
							failures.Add(1)
							firstErr.CompareAndSwap(nil, err)
						}
						next[i].Add(1)
					}
				}()
			}
			wg.Wait()
			if f := failures.Load(); f > 0 {
				t.Fatalf("%d transactions failed; first: %v", f, firstErr.Load())
			}
			if w := wrong[0].Load() + wrong[1].Load(); w != 0 {
				t.Fatalf("%d wrong-tenant rows seen", w)
			}
			if next[0].Load()+next[1].Load() != total {
				t.Fatalf("ran %d transactions", next[0].Load()+next[1].Load())
			}
			// What each tenant committed is exactly what it sees.
			for i, tid := range tenants {
				var n int64
				ctx := tenancy.WithTenant(context.Background(), tid)
				if err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error { return tx.Model(&probe{}).Count(&n).Error }); err != nil {
					t.Fatal(err)
				}
				if n != committed[i].Load() {
					t.Fatalf("tenant %d sees %d rows, committed %d", i, n, committed[i].Load())
				}
			}
			if d == store.Postgres {
				assertIdleConnsClean(t, env.App)
			}
		})
	}
}

// assertIdleConnsClean takes every pooled connection at once and checks that
// none carries app.tenant_id outside a transaction, and that RLS then shows
// no rows at all.
func assertIdleConnsClean(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	conns := make([]interface {
		Close() error
	}, 0, 2)
	for i := 0; i < 2; i++ {
		c, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var setting *string
		if err := c.QueryRowContext(ctx, "SELECT nullif(current_setting('app.tenant_id', true), '')").Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting != nil {
			t.Fatalf("idle connection %d still has app.tenant_id = %s", i, *setting)
		}
		var visible int
		if err := c.QueryRowContext(ctx, "SELECT count(*) FROM tenancy_probe").Scan(&visible); err != nil {
			t.Fatal(err)
		}
		if visible != 0 {
			t.Fatalf("idle connection %d sees %d rows with no tenant set", i, visible)
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
