package tenancy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Functions registered with AfterTx run once the transaction has ended, told
// whether it committed; a nested Tx hands them to the outermost one.
func TestAfterTx(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			env := withProbe(t, d)
			a, _ := twoTenants(t, env)
			db := env.App.Gorm
			ctx := tenancy.WithTenant(context.Background(), a.ID)
			var got []string
			hook := func(name string) func(bool) {
				return func(committed bool) {
					if committed {
						got = append(got, name+":commit")
					} else {
						got = append(got, name+":rollback")
					}
				}
			}
			err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
				if !tenancy.AfterTx(tx, hook("outer")) {
					t.Fatal("AfterTx refused a tenancy.Tx")
				}
				if len(got) != 0 {
					t.Fatal("a hook ran before the commit")
				}
				// Nested: a savepoint of the outer transaction.
				return tenancy.Tx(tx.Statement.Context, tx, func(inner *gorm.DB) error {
					tenancy.AfterTx(inner, hook("inner"))
					return inner.Create(&probe{ID: uuid.New()}).Error
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0] != "outer:commit" || got[1] != "inner:commit" {
				t.Fatalf("hooks ran as %v", got)
			}
			got = nil
			errRollback := errors.New("rollback")
			err = tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
				tenancy.AfterTx(tx, hook("failed"))
				return errRollback
			})
			if !errors.Is(err, errRollback) || len(got) != 1 || got[0] != "failed:rollback" {
				t.Fatalf("after a rollback: %v, hooks %v", err, got)
			}
			if tenancy.AfterTx(db, hook("none")) || tenancy.AfterTx(db.WithContext(ctx), hook("none")) {
				t.Fatal("AfterTx accepted a handle outside any tenancy.Tx")
			}
			// A Tx nested in a transaction without the outer Tx's context has
			// no commit of its own to wait for: AfterTx declines there.
			got = nil
			err = tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
				return tenancy.Tx(ctx, tx, func(inner *gorm.DB) error {
					if tenancy.AfterTx(inner, hook("orphan")) {
						t.Error("AfterTx accepted a savepoint cut off from its outer Tx")
					}
					return nil
				})
			})
			if err != nil || len(got) != 0 {
				t.Fatalf("nested without the outer context: %v, hooks %v", err, got)
			}
		})
	}
}
