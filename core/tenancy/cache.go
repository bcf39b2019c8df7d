package tenancy

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Cache answers the per-request look-ups of a region by code or id from
// memory. Entries live for ttl, so a status change made on another replica
// is seen within ttl; changes made through this process's Service are seen
// at once.
type Cache struct {
	svc    *Service
	ttl    time.Duration
	mu     sync.RWMutex
	byCode map[string]cached
	byID   map[uuid.UUID]cached
}

type cached struct {
	t  Tenant
	at time.Time
}

// NewCache caches svc's regions for ttl.
func NewCache(svc *Service, ttl time.Duration) *Cache {
	c := &Cache{svc: svc, ttl: ttl, byCode: map[string]cached{}, byID: map[uuid.UUID]cached{}}
	svc.onChange = c.forget
	return c
}

// ByCode returns the region with the code.
func (c *Cache) ByCode(ctx context.Context, code string) (Tenant, error) {
	c.mu.RLock()
	e, ok := c.byCode[code]
	c.mu.RUnlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.t, nil
	}
	t, err := c.svc.ByCode(ctx, code)
	if err != nil {
		return t, err
	}
	c.put(t)
	return t, nil
}

// ByID returns the region with the id.
func (c *Cache) ByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	c.mu.RLock()
	e, ok := c.byID[id]
	c.mu.RUnlock()
	if ok && time.Since(e.at) < c.ttl {
		return e.t, nil
	}
	t, err := c.svc.ByID(ctx, id)
	if err != nil {
		return t, err
	}
	c.put(t)
	return t, nil
}

func (c *Cache) put(t Tenant) {
	e := cached{t: t, at: time.Now()}
	c.mu.Lock()
	c.byCode[t.Code] = e
	c.byID[t.ID] = e
	c.mu.Unlock()
}

func (c *Cache) forget(t Tenant) {
	c.mu.Lock()
	delete(c.byCode, t.Code)
	delete(c.byID, t.ID)
	c.mu.Unlock()
}
