package tenancy

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

const column = "tenant_id"

// Scope is the GORM plug-in that confines statements on tenant-owned tables
// to the context's tenant. A table is tenant-owned when its model has a
// tenant_id field or when the database catalog shows a tenant_id column, so a
// model-less db.Table("…") query is scoped too.
type Scope struct {
	mu     sync.RWMutex
	tables map[string]bool
}

// Install registers the plug-in on db. tables are the tenant-owned tables
// known from the catalog; SetTables replaces them after a migration.
func Install(db *gorm.DB, tables []string) (*Scope, error) {
	s := &Scope{}
	s.SetTables(tables)
	return s, db.Use(s)
}

// SetTables replaces the catalog's list of tenant-owned tables.
func (s *Scope) SetTables(tables []string) {
	m := make(map[string]bool, len(tables))
	for _, t := range tables {
		m[t] = true
	}
	s.mu.Lock()
	s.tables = m
	s.mu.Unlock()
}

// Name implements gorm.Plugin.
func (s *Scope) Name() string { return "tenancy" }

// Initialize implements gorm.Plugin.
func (s *Scope) Initialize(db *gorm.DB) error {
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().Before("gorm:query").Register("tenancy:query", s.where),
		cb.Row().Before("gorm:row").Register("tenancy:row", s.where),
		cb.Delete().Before("gorm:delete").Register("tenancy:delete", s.where),
		cb.Update().Before("gorm:update").Register("tenancy:update", s.update),
		cb.Create().Before("gorm:create").Register("tenancy:create", s.create),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Scope) owned(stmt *gorm.Statement) bool {
	if stmt.Schema != nil && stmt.Schema.LookUpField(column) != nil {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tables[stmt.Table]
}

// tenant returns the tenant the statement must stay in: the context's, and
// only inside a Tx opened for that same tenant.
func tenant(ctx context.Context) (uuid.UUID, error) {
	tid, ok := FromContext(ctx)
	if !ok {
		return uuid.Nil, ErrNoTenant
	}
	if b, ok := bound(ctx); !ok || b != tid {
		return uuid.Nil, ErrNotBound
	}
	return tid, nil
}

// scoped returns the tenant a statement on a tenant-owned table must stay
// in; false when the statement is not one, or is refused (the error is set).
func (s *Scope) scoped(db *gorm.DB) (uuid.UUID, bool) {
	if db.Error != nil || !s.owned(db.Statement) {
		return uuid.Nil, false
	}
	tid, err := tenant(db.Statement.Context)
	if err != nil {
		_ = db.AddError(err)
		return uuid.Nil, false
	}
	return tid, true
}

func (s *Scope) where(db *gorm.DB) {
	tid, ok := s.scoped(db)
	if !ok {
		return
	}
	addWhere(db, tid)
}

func addWhere(db *gorm.DB, tid uuid.UUID) {
	db.Statement.AddClause(clause.Where{Exprs: []clause.Expression{
		clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: column}, Value: tid},
	}})
}

func (s *Scope) update(db *gorm.DB) {
	tid, ok := s.scoped(db)
	if !ok {
		return
	}
	// Moving a row to another tenant is never an update.
	if err := checkDest(db.Statement, tid); err != nil {
		_ = db.AddError(err)
		return
	}
	addWhere(db, tid)
}

func (s *Scope) create(db *gorm.DB) {
	tid, ok := s.scoped(db)
	if !ok {
		return
	}
	stmt := db.Statement
	if stmt.Schema != nil {
		if f := stmt.Schema.LookUpField(column); f != nil {
			if err := stampRows(stmt.Context, f, stmt.ReflectValue, tid); err != nil {
				_ = db.AddError(err)
			}
			return
		}
	}
	if err := stampMaps(stmt.Dest, tid); err != nil {
		_ = db.AddError(err)
	}
}

// stampRows sets tenant_id on rows that have none and refuses rows that name
// another tenant.
func stampRows(ctx context.Context, f *schema.Field, rv reflect.Value, tid uuid.UUID) error {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if err := stampRows(ctx, f, reflect.Indirect(rv.Index(i)), tid); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		v, zero := f.ValueOf(ctx, rv)
		if zero {
			return f.Set(ctx, rv, tid)
		}
		if !sameTenant(v, tid) {
			return ErrCrossTenant
		}
		return nil
	}
	return fmt.Errorf("tenancy: cannot stamp tenant on %s", rv.Kind())
}

func stampMaps(dest any, tid uuid.UUID) error {
	stamp := func(m map[string]any) error {
		if v, ok := m[column]; ok && !sameTenant(v, tid) {
			return ErrCrossTenant
		}
		m[column] = tid
		return nil
	}
	switch d := dest.(type) {
	case map[string]any:
		return stamp(d)
	case *map[string]any:
		return stamp(*d)
	case []map[string]any:
		for _, m := range d {
			if err := stamp(m); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("tenancy: cannot stamp tenant on %T", dest)
}

func checkDest(stmt *gorm.Statement, tid uuid.UUID) error {
	switch d := stmt.Dest.(type) {
	case map[string]any:
		if v, ok := d[column]; ok && !sameTenant(v, tid) {
			return ErrCrossTenant
		}
		return nil
	case *map[string]any:
		if v, ok := (*d)[column]; ok && !sameTenant(v, tid) {
			return ErrCrossTenant
		}
		return nil
	}
	if stmt.Schema == nil {
		return nil
	}
	f := stmt.Schema.LookUpField(column)
	if f == nil {
		return nil
	}
	rv := reflect.Indirect(reflect.ValueOf(stmt.Dest))
	if rv.Kind() != reflect.Struct || rv.Type() != stmt.Schema.ModelType {
		return nil
	}
	if v, zero := f.ValueOf(stmt.Context, rv); !zero && !sameTenant(v, tid) {
		return ErrCrossTenant
	}
	return nil
}

func sameTenant(v any, tid uuid.UUID) bool {
	switch x := v.(type) {
	case uuid.UUID:
		return x == tid
	case *uuid.UUID:
		return x != nil && *x == tid
	case string:
		return x == tid.String()
	case []byte:
		return string(x) == tid.String()
	}
	return fmt.Sprint(v) == tid.String()
}
