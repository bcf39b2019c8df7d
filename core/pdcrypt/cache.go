package pdcrypt

import (
	"container/list"
	"sync"
	"time"

	"github.com/google/uuid"
)

// cache keeps the keyrings of the regions used last, at most max of them,
// each for at most ttl (so a data key rotated on another replica is picked
// up for new writes within ttl; reading data sealed with a key this replica
// has not seen reloads at once).
type cache struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	now   func() time.Time
	order *list.List // front: most recently used
	items map[uuid.UUID]*list.Element
}

type cacheEntry struct {
	tenant uuid.UUID
	kr     *Keyring
	at     time.Time
}

func newCache(max int, ttl time.Duration, now func() time.Time) *cache {
	return &cache{max: max, ttl: ttl, now: now, order: list.New(), items: map[uuid.UUID]*list.Element{}}
}

func (c *cache) get(tenant uuid.UUID) *Keyring {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[tenant]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	if c.now().Sub(e.at) >= c.ttl {
		c.order.Remove(el)
		delete(c.items, tenant)
		return nil
	}
	c.order.MoveToFront(el)
	return e.kr
}

func (c *cache) put(kr *Keyring) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[kr.tenant]; ok {
		el.Value = &cacheEntry{tenant: kr.tenant, kr: kr, at: c.now()}
		c.order.MoveToFront(el)
		return
	}
	c.items[kr.tenant] = c.order.PushFront(&cacheEntry{tenant: kr.tenant, kr: kr, at: c.now()})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).tenant)
	}
}

func (c *cache) forget(tenant uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[tenant]; ok {
		c.order.Remove(el)
		delete(c.items, tenant)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
