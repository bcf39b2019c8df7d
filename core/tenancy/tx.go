package tenancy

import (
	"context"

	"gorm.io/gorm"
)

// Tx runs fn in one database transaction bound to the context's tenant. On
// PostgreSQL it sets app.tenant_id with set_config(…, true): transaction-local,
// so the setting dies with the transaction and a pooled connection can never
// carry it into another tenant's work. fn must use the *gorm.DB it is given.
func Tx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	tid, ok := FromContext(ctx)
	if !ok {
		return ErrNoTenant
	}
	ctx = context.WithValue(ctx, boundKey, tid)
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT set_config('app.tenant_id', ?, true)", tid.String()).Error; err != nil {
				return err
			}
		}
		return fn(tx)
	})
}
