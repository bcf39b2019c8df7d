package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
)

// An API key reads st_<key id>_<secret>: the id finds the row, the secret is
// checked against its SHA-256. Only the id is ever shown again.
const apiKeyPrefix = "st_"

// APIKey is a service account's key, without its secret.
type APIKey struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	KeyID      string
	UserID     uuid.UUID
	Name       string
	SecretHash []byte
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	RevokedBy  *uuid.UUID
	CreatedBy  *uuid.UUID
	CreatedAt  time.Time
}

// TableName implements GORM's tabler.
func (APIKey) TableName() string { return "api_keys" }

// CreateKey issues a key for a service account of the region and returns the
// whole key — the only time it is available.
func (s *Service) CreateKey(ctx context.Context, tenant, user uuid.UUID, name string, expires *time.Time, by uuid.UUID) (APIKey, string, error) {
	v := &fault.Invalid{}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		v.Add("name", "must be 1 to 100 characters", name)
	}
	if expires != nil && !expires.After(s.now()) {
		v.Add("expires_at", "must be in the future", expires)
	}
	if err := v.Err(); err != nil {
		return APIKey{}, "", err
	}
	u, err := s.GetUser(ctx, tenant, user)
	if err != nil {
		return APIKey{}, "", err
	}
	if u.Kind != KindService {
		v.Add("user_id", "API keys are for service accounts; this user is a person", user)
		return APIKey{}, "", v.Err()
	}
	idb := make([]byte, 8)
	_, _ = rand.Read(idb)
	keyID := hex.EncodeToString(idb)
	secret, _ := newSecret("")
	k := APIKey{ID: uuid.Must(uuid.NewV7()), KeyID: keyID, UserID: user, Name: name,
		SecretHash: digest(secret), ExpiresAt: expires, CreatedBy: nilIfZero(by)}
	if err := s.db.WithContext(ctx).Create(&k).Error; err != nil {
		return APIKey{}, "", err
	}
	return k, apiKeyPrefix + keyID + "_" + secret, nil
}

func nilIfZero(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

// ListKeys pages through the keys of the region's service accounts.
func (s *Service) ListKeys(ctx context.Context, tenant uuid.UUID, p page.Request) ([]APIKey, string, error) {
	var ks []APIKey
	q := s.db.WithContext(ctx).Where("user_id IN (?)", scopeTenant(s.db.Model(&User{}).Select("id"), tenant))
	if err := p.Scope(q).Find(&ks).Error; err != nil {
		return nil, "", err
	}
	ks, next := page.Trim(ks, p.Limit, func(k APIKey) uuid.UUID { return k.ID })
	return ks, next, nil
}

// RevokeKey revokes a key of the region; every replica refuses it within a
// second.
func (s *Service) RevokeKey(ctx context.Context, tenant, id, by uuid.UUID) error {
	res := s.db.WithContext(ctx).Model(&APIKey{}).
		Where("id = ? AND revoked_at IS NULL AND user_id IN (?)", id, scopeTenant(s.db.Model(&User{}).Select("id"), tenant)).
		Updates(map[string]any{"revoked_at": s.now(), "revoked_by": nilIfZero(by)})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		var n int64
		s.db.WithContext(ctx).Model(&APIKey{}).Where("id = ? AND user_id IN (?)", id,
			scopeTenant(s.db.Model(&User{}).Select("id"), tenant)).Count(&n)
		if n == 0 {
			return fault.NotFoundf("API key %s", id)
		}
		return nil // already revoked
	}
	s.keys.drop()
	if s.changed != nil {
		return s.changed(ctx)
	}
	return nil
}

// keyCache keeps verified keys for as long as the access version stands
// still; a revocation moves it and empties every replica's cache.
type keyCache struct {
	mu      sync.RWMutex
	version int64
	entries map[string]keyEntry
}

type keyEntry struct {
	hash      []byte
	expires   *time.Time
	principal Principal
}

func newKeyCache() *keyCache { return &keyCache{entries: map[string]keyEntry{}} }

func (c *keyCache) get(id string, version int64) (keyEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.version != version {
		return keyEntry{}, false
	}
	e, ok := c.entries[id]
	return e, ok
}

func (c *keyCache) put(id string, version int64, e keyEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		c.version, c.entries = version, map[string]keyEntry{}
	}
	if len(c.entries) > 100_000 {
		c.entries = map[string]keyEntry{}
	}
	c.entries[id] = e
}

func (c *keyCache) drop() {
	c.mu.Lock()
	c.entries = map[string]keyEntry{}
	c.mu.Unlock()
}

func (s *Service) apiKey(ctx context.Context, tok string) (Principal, error) {
	rest := strings.TrimPrefix(tok, apiKeyPrefix)
	keyID, secret, ok := strings.Cut(rest, "_")
	if !ok || len(keyID) != 16 || secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	var version int64
	if s.gate != nil {
		version = s.gate.Version()
	}
	e, ok := s.keys.get(keyID, version)
	if !ok {
		var k APIKey
		err := s.db.WithContext(ctx).Where("key_id = ? AND revoked_at IS NULL", keyID).Take(&k).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return Principal{}, ErrUnauthenticated
		}
		if err != nil {
			return Principal{}, err
		}
		var u User
		if err := s.db.WithContext(ctx).Where("id = ?", k.UserID).Take(&u).Error; err != nil {
			return Principal{}, err
		}
		if u.Status != StatusActive {
			return Principal{}, ErrUnauthenticated
		}
		p, err := s.principalOf(ctx, u, "api_key")
		if err != nil {
			return Principal{}, ErrUnauthenticated
		}
		e = keyEntry{hash: k.SecretHash, expires: k.ExpiresAt, principal: p}
		// The cache outlives the request: keep a copy of the id, not a view
		// of the HTTP server's header buffer, which the next request reuses.
		s.keys.put(strings.Clone(keyID), version, e)
	}
	if subtle.ConstantTimeCompare(digest(secret), e.hash) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	if e.expires != nil && s.now().After(*e.expires) {
		return Principal{}, ErrUnauthenticated
	}
	if e.principal.TenantID != uuid.Nil {
		if t, err := s.tenants.ByID(ctx, e.principal.TenantID); err != nil || t.Status == "archived" {
			return Principal{}, ErrUnauthenticated
		}
	}
	return e.principal, nil
}
