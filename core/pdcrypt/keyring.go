package pdcrypt

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// The ciphertext format, version 1:
//
//	0x01 | key id (16 bytes, the data key's UUID) | nonce (12) | AES-256-GCM ciphertext and tag (16)
//
// GCM authenticates the header (version and key id) together with the
// caller's additional data, so neither can be swapped unnoticed.
const (
	formatV1   = 0x01
	headerSize = 1 + 16
	nonceSize  = 12
	tagSize    = 16
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = headerSize + nonceSize + tagSize
)

var (
	// ErrMalformed: the bytes are not a ciphertext of this package.
	ErrMalformed = errors.New("pdcrypt: not a ciphertext of a known format")
	// ErrUnknownKey: the ciphertext names a data key the region does not have.
	ErrUnknownKey = errors.New("pdcrypt: the ciphertext names an unknown data key")
	// ErrAuth: the ciphertext or its additional data was altered, or it
	// belongs to another record or region.
	ErrAuth = errors.New("pdcrypt: the ciphertext does not authenticate")
)

// Keyring is one region's unwrapped keys: every data key it ever had (the
// current one seals, all of them open) and its index key. It is immutable
// and safe for concurrent use, and it never prints its keys.
type Keyring struct {
	tenant  uuid.UUID
	current uuid.UUID
	data    map[uuid.UUID]cipher.AEAD
	index   []byte
	loaded  time.Time
	macs    sync.Pool // of hash.Hash: HMAC-SHA-256 under index, keyed once
}

// newKeyring builds a keyring from unwrapped keys.
func newKeyring(tenant, current uuid.UUID, data map[uuid.UUID][]byte, index []byte) (*Keyring, error) {
	k := &Keyring{tenant: tenant, current: current, data: make(map[uuid.UUID]cipher.AEAD, len(data)), index: index}
	for id, raw := range data {
		aead, err := newGCM(raw)
		if err != nil {
			return nil, err
		}
		k.data[id] = aead
	}
	if _, ok := k.data[current]; !ok || len(index) != KeySize {
		return nil, errors.New("pdcrypt: a keyring needs its current data key and an index key")
	}
	return k, nil
}

// Tenant is the region the keys belong to.
func (k *Keyring) Tenant() uuid.UUID { return k.tenant }

// Current is the id of the data key that seals.
func (k *Keyring) Current() uuid.UUID { return k.current }

// has tells whether the keyring holds a data key.
func (k *Keyring) has(id uuid.UUID) bool { _, ok := k.data[id]; return ok }

// String, GoString, Format and LogValue never show a key.
func (k *Keyring) String() string {
	return fmt.Sprintf("keyring of region %s (%d data keys, current %s)", k.tenant, len(k.data), k.current)
}
func (k *Keyring) GoString() string           { return k.String() }
func (k *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }
func (k *Keyring) LogValue() slog.Value       { return slog.StringValue(k.String()) }

func additional(header, aad []byte) []byte {
	b := make([]byte, 0, len(header)+len(aad))
	return append(append(b, header...), aad...)
}

// Seal encrypts plaintext with the current data key. aad is authenticated,
// not encrypted: bind a value to where it belongs (for example the table,
// column and row id), so that it cannot be copied to another row.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	aead := k.data[k.current]
	out := make([]byte, headerSize+nonceSize, Overhead+len(plaintext))
	out[0] = formatV1
	copy(out[1:headerSize], k.current[:])
	nonce := out[headerSize : headerSize+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, plaintext, additional(out[:headerSize], aad)), nil
}

// KeyID returns the id of the data key a ciphertext names.
func KeyID(ciphertext []byte) (uuid.UUID, error) {
	if len(ciphertext) < Overhead || ciphertext[0] != formatV1 {
		return uuid.Nil, ErrMalformed
	}
	var id uuid.UUID
	copy(id[:], ciphertext[1:headerSize])
	return id, nil
}

// Open decrypts a ciphertext Seal made with any of the region's data keys.
// Any bytes at all may be given: what is not a valid ciphertext of this
// region and aad is refused with ErrMalformed, ErrUnknownKey or ErrAuth.
func (k *Keyring) Open(ciphertext, aad []byte) ([]byte, error) {
	id, err := KeyID(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.data[id]
	if !ok {
		return nil, ErrUnknownKey
	}
	nonce := ciphertext[headerSize : headerSize+nonceSize]
	pt, err := aead.Open(nil, nonce, ciphertext[headerSize+nonceSize:], additional(ciphertext[:headerSize], aad))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// BlindIndex is HMAC-SHA-256 of a normalised value under the region's index
// key: equal values give equal indexes within a region, different regions
// give unrelated ones, and the index reveals nothing without the key.
// Normalise first (a SNILS as its 11 digits); when several kinds of value
// share the index, prefix the kind ("snils:…").
func (k *Keyring) BlindIndex(normalized string) []byte {
	m, ok := k.macs.Get().(hash.Hash)
	if !ok {
		m = hmac.New(sha256.New, k.index)
	}
	m.Write([]byte(normalized))
	sum := m.Sum(nil)
	m.Reset()
	k.macs.Put(m)
	return sum
}
