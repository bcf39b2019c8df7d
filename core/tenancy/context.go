package tenancy

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

var (
	// ErrNoTenant is returned for tenant-owned work attempted without a tenant.
	ErrNoTenant = errors.New("tenancy: no tenant in context")
	// ErrNotBound is returned for tenant-owned work outside tenancy.Tx.
	ErrNotBound = errors.New("tenancy: tenant-owned statement outside a tenant transaction")
	// ErrCrossTenant is returned when a row names a tenant other than the context's.
	ErrCrossTenant = errors.New("tenancy: row belongs to another tenant")
)

type ctxKey int

const (
	tenantKey ctxKey = iota
	boundKey
	hooksKey
)

// WithTenant returns a context that acts for the tenant.
func WithTenant(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, tenantKey, id)
}

// FromContext returns the context's tenant.
func FromContext(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(tenantKey).(uuid.UUID)
	return id, ok && id != uuid.Nil
}

// bound reports the tenant a surrounding Tx was opened for.
func bound(ctx context.Context) (uuid.UUID, bool) {
	id, ok := ctx.Value(boundKey).(uuid.UUID)
	return id, ok
}
