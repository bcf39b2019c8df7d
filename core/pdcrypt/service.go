package pdcrypt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/tenancy"
)

// Purposes of a region's keys.
const (
	PurposeData  = "data"
	PurposeIndex = "index"
)

// keyRow is a row of tenant_keys.
type keyRow struct {
	TenantID    uuid.UUID `gorm:"primaryKey"`
	ID          uuid.UUID `gorm:"primaryKey"`
	Purpose     string
	Wrapped     []byte
	MasterKeyID string
	CreatedAt   time.Time
	RetiredAt   *time.Time
}

func (keyRow) TableName() string { return "tenant_keys" }

// ErrMasterKey means a region's keys are wrapped by a master key this
// process was not given.
var ErrMasterKey = errors.New("pdcrypt: region keys are wrapped by a master key that is not configured")

// Options tune a Service.
type Options struct {
	// Previous master keys unwrap but never wrap: give the old key here
	// while a master key rotation is under way (docs/personal-data.md).
	Previous []*MasterKey
	// CacheSize bounds how many regions' keyrings stay unwrapped in memory
	// (default 1024); CacheTTL how long one stays (default 5 minutes).
	CacheSize int
	CacheTTL  time.Duration
	Logger    *slog.Logger
}

// Service seals and opens the personal data of the context's region, and
// computes its blind indexes.
//
// Outside a transaction call it directly; inside a tenancy.Tx call it
// through In(tx), so that a region whose keys are not cached yet is loaded
// through that transaction (SQLite runs one transaction at a time: a second
// one opened from inside the first would wait for ever).
type Service struct {
	db      *gorm.DB
	tx      *gorm.DB
	master  *MasterKey
	masters map[string]*MasterKey
	cache   *cache
	pending *pendingMarks
	log     *slog.Logger
	now     func() time.Time
}

// New returns the service over db, wrapping new keys with master.
func New(db *gorm.DB, master *MasterKey, opts Options) (*Service, error) {
	if master == nil {
		return nil, errors.New("pdcrypt: no master key")
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 1024
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	masters := map[string]*MasterKey{master.ID(): master}
	for _, m := range opts.Previous {
		if m != nil {
			masters[m.ID()] = m
		}
	}
	return &Service{
		db: db, master: master, masters: masters,
		cache:   newCache(opts.CacheSize, opts.CacheTTL, time.Now),
		pending: &pendingMarks{n: map[uuid.UUID]int{}},
		log:     opts.Logger.With("component", "pdcrypt"),
		now:     func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
	}, nil
}

// MasterKeyID is the fingerprint of the master key that wraps new keys.
func (s *Service) MasterKeyID() string { return s.master.ID() }

// CachedRegions is how many regions' keyrings are in memory.
func (s *Service) CachedRegions() int { return s.cache.len() }

// In returns the service working inside tx, the caller's tenancy.Tx.
func (s *Service) In(tx *gorm.DB) *Service {
	c := *s
	c.tx = tx
	return &c
}

// Seal encrypts plaintext for the context's region with its current data
// key, creating the region's keys on first use. See Keyring.Seal for aad.
func (s *Service) Seal(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	kr, err := s.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	return kr.Seal(plaintext, aad)
}

// Open decrypts a ciphertext of the context's region. A ciphertext made
// with a data key this process has not seen (rotated on another replica)
// reloads the region's keys once.
func (s *Service) Open(ctx context.Context, ciphertext, aad []byte) ([]byte, error) {
	kr, err := s.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	pt, err := kr.Open(ciphertext, aad)
	if !errors.Is(err, ErrUnknownKey) {
		return pt, err
	}
	if kr, err = s.reload(ctx, kr); err != nil {
		return nil, err
	}
	return kr.Open(ciphertext, aad)
}

// BlindIndex is the context's region's blind index of a normalised value
// (see Keyring.BlindIndex).
func (s *Service) BlindIndex(ctx context.Context, normalized string) ([]byte, error) {
	kr, err := s.Keyring(ctx)
	if err != nil {
		return nil, err
	}
	return kr.BlindIndex(normalized), nil
}

// Keyring returns the context's region's keys, from memory when it can;
// loops that seal many values take it once.
func (s *Service) Keyring(ctx context.Context) (*Keyring, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	if kr := s.cache.get(tid); kr != nil {
		return kr, nil
	}
	return s.load(ctx, tid)
}

// reload rereads a region's keys, at most once a second per region, so that
// garbage naming unknown keys cannot turn every call into a query.
func (s *Service) reload(ctx context.Context, old *Keyring) (*Keyring, error) {
	if time.Since(old.loaded) < time.Second {
		return old, nil
	}
	s.cache.forget(old.tenant)
	return s.load(ctx, old.tenant)
}

func (s *Service) load(ctx context.Context, tid uuid.UUID) (*Keyring, error) {
	if s.tx != nil {
		return s.loadInCaller(ctx, tid)
	}
	var kr *Keyring
	run := func() error {
		return tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
			var err error
			kr, err = s.loadOrCreate(tx, tid)
			return err
		})
	}
	err := run()
	if errors.Is(err, gorm.ErrDuplicatedKey) { // another process created them at the same moment
		err = run()
	}
	if err != nil {
		return nil, err
	}
	s.cache.put(kr)
	return kr, nil
}

// loadInCaller loads through the caller's transaction. Keys read there were
// committed before (only this package writes them, and it does so in its own
// transaction) — except on SQLite, where missing keys are created in the
// caller's transaction and nothing of that region is cached until it ends.
func (s *Service) loadInCaller(ctx context.Context, tid uuid.UUID) (*Keyring, error) {
	rows, err := readKeys(s.tx)
	if err != nil {
		return nil, err
	}
	kr, complete, err := s.build(tid, rows)
	if err != nil {
		return nil, err
	}
	if complete {
		if !s.pending.has(tid) {
			s.cache.put(kr)
		}
		return kr, nil
	}
	if s.tx.Dialector.Name() == "postgres" {
		// PostgreSQL runs transactions side by side: create the keys in a
		// short one of their own, so the caller's rollback cannot take back
		// keys already cached and used.
		own := *s
		own.tx = nil
		return own.load(ctx, tid)
	}
	if !tenancy.AfterTx(s.tx, func(bool) { s.pending.done(tid) }) {
		return nil, errors.New("pdcrypt: In needs the transaction of a tenancy.Tx")
	}
	s.pending.mark(tid)
	return s.loadOrCreate(s.tx, tid)
}

func readKeys(tx *gorm.DB) ([]keyRow, error) {
	var rows []keyRow
	err := tx.Order("created_at, id").Find(&rows).Error
	return rows, err
}

// loadOrCreate reads the region's keys in tx and creates the missing ones.
func (s *Service) loadOrCreate(tx *gorm.DB, tid uuid.UUID) (*Keyring, error) {
	rows, err := readKeys(tx)
	if err != nil {
		return nil, err
	}
	kr, complete, err := s.build(tid, rows)
	if err != nil || complete {
		return kr, err
	}
	have := map[string]bool{}
	for _, r := range rows {
		if r.RetiredAt == nil {
			have[r.Purpose] = true
		}
	}
	for _, purpose := range []string{PurposeData, PurposeIndex} {
		if have[purpose] {
			continue
		}
		r, err := s.newKey(tid, purpose)
		if err != nil {
			return nil, err
		}
		if err := tx.Create(&r).Error; err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	kr, _, err = s.build(tid, rows)
	return kr, err
}

func (s *Service) newKey(tid uuid.UUID, purpose string) (keyRow, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return keyRow{}, err
	}
	id := uuid.Must(uuid.NewV7())
	wrapped, err := s.master.wrap(tid, id, purpose, raw)
	if err != nil {
		return keyRow{}, err
	}
	return keyRow{TenantID: tid, ID: id, Purpose: purpose, Wrapped: wrapped, MasterKeyID: s.master.ID(), CreatedAt: s.now()}, nil
}

// build unwraps rows into a keyring; complete is false when the region
// lacks a current data key or an index key.
func (s *Service) build(tid uuid.UUID, rows []keyRow) (*Keyring, bool, error) {
	data := map[uuid.UUID][]byte{}
	var current uuid.UUID
	var index []byte
	var unknown []string
	for _, r := range rows {
		m, ok := s.masters[r.MasterKeyID]
		if !ok {
			unknown = append(unknown, r.MasterKeyID)
			continue
		}
		raw, err := m.unwrap(tid, r.ID, r.Purpose, r.Wrapped)
		if err != nil {
			return nil, false, fmt.Errorf("%w (key %s of region %s)", err, r.ID, tid)
		}
		switch r.Purpose {
		case PurposeData:
			data[r.ID] = raw
			if r.RetiredAt == nil {
				current = r.ID
			}
		case PurposeIndex:
			if r.RetiredAt == nil {
				index = raw
			}
		}
	}
	if len(unknown) > 0 {
		return nil, false, fmt.Errorf("%w: region %s has keys wrapped by %s; this process has %s",
			ErrMasterKey, tid, strings.Join(dedupe(unknown), ", "), strings.Join(s.masterIDs(), ", "))
	}
	if current == uuid.Nil || index == nil {
		return nil, false, nil
	}
	kr, err := newKeyring(tid, current, data, index)
	if err != nil {
		return nil, false, err
	}
	kr.loaded = time.Now()
	return kr, true, nil
}

func (s *Service) masterIDs() []string {
	ids := make([]string, 0, len(s.masters))
	for id := range s.masters {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func dedupe(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// RotateDataKey retires the context's region's current data key and makes
// a new one that seals from now on; every retired key still opens what it
// sealed. Other replicas seal with the new key within their cache TTL.
func (s *Service) RotateDataKey(ctx context.Context) (uuid.UUID, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return uuid.Nil, tenancy.ErrNoTenant
	}
	var id uuid.UUID
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if _, err := s.loadOrCreate(tx, tid); err != nil { // refuses keys it cannot unwrap
			return err
		}
		if err := tx.Model(&keyRow{}).Where("purpose = ? AND retired_at IS NULL", PurposeData).
			Update("retired_at", s.now()).Error; err != nil {
			return err
		}
		r, err := s.newKey(tid, PurposeData)
		if err != nil {
			return err
		}
		id = r.ID
		return tx.Create(&r).Error
	})
	s.cache.forget(tid)
	return id, err
}

// pendingMarks counts, per region, transactions that created keys and have
// not ended (SQLite only): nothing of such a region is cached meanwhile.
type pendingMarks struct {
	mu sync.Mutex
	n  map[uuid.UUID]int
}

func (p *pendingMarks) mark(t uuid.UUID) { p.mu.Lock(); p.n[t]++; p.mu.Unlock() }

func (p *pendingMarks) done(t uuid.UUID) {
	p.mu.Lock()
	if p.n[t]--; p.n[t] <= 0 {
		delete(p.n, t)
	}
	p.mu.Unlock()
}

func (p *pendingMarks) has(t uuid.UUID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[t] > 0
}
