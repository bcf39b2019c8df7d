package tenancy

import (
	"context"

	"github.com/socialtreasury/treasury/core/store"
)

// Guard installs the scope on db's GORM handle with the tenant-owned tables
// read from the catalog. Call Refresh on the returned Scope after migrating.
func Guard(ctx context.Context, db *store.DB) (*Scope, error) {
	tables, err := db.TenantTables(ctx)
	if err != nil {
		return nil, err
	}
	if s, ok := db.Gorm.Config.Plugins[(&Scope{}).Name()].(*Scope); ok {
		s.SetTables(tables) // already guarded (the same DB wired twice)
		return s, nil
	}
	return Install(db.Gorm, tables)
}

// Refresh rereads the tenant-owned tables from the catalog.
func (s *Scope) Refresh(ctx context.Context, db *store.DB) error {
	tables, err := db.TenantTables(ctx)
	if err != nil {
		return err
	}
	s.SetTables(tables)
	return nil
}
