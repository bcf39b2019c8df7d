package pdcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"
)

// KeySize is the size of every key: the master key and the regions' keys.
const KeySize = 32

// MasterKey wraps and unwraps the regions' keys. It never prints itself.
type MasterKey struct {
	id   string
	aead cipher.AEAD
}

// NewMasterKey makes a master key of 32 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("pdcrypt: a master key has %d bytes, not %d", KeySize, len(raw))
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &MasterKey{id: Fingerprint(raw), aead: aead}, nil
}

// Fingerprint is a master key's id: the first 16 hex digits of SHA-256 over a
// label and the key. It names the key in tenant_keys and in messages without
// revealing anything a 256-bit random key's owner would mind.
func Fingerprint(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("treasury/pdcrypt/master-key-id/v1\x00"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ID is the key's fingerprint.
func (m *MasterKey) ID() string { return m.id }

// String, GoString and LogValue show only the fingerprint.
func (m *MasterKey) String() string             { return "master key " + m.id }
func (m *MasterKey) GoString() string           { return m.String() }
func (m *MasterKey) LogValue() slog.Value       { return slog.StringValue(m.String()) }
func (m *MasterKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }

// wrapAAD binds a wrapped key to its row: it cannot be moved to another
// region, id or purpose.
func wrapAAD(tenant, id uuid.UUID, purpose string) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "treasury/pdcrypt/tenant-key/v1\x00"...)
	b = append(b, tenant[:]...)
	b = append(b, id[:]...)
	return append(b, purpose...)
}

// wrap encrypts a region's key: nonce || ciphertext || tag.
func (m *MasterKey) wrap(tenant, id uuid.UUID, purpose string, key []byte) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(key)+m.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return m.aead.Seal(nonce, nonce, key, wrapAAD(tenant, id, purpose)), nil
}

// errUnwrap says a wrapped key does not open with the master key: a wrong
// key, or a row altered or moved.
var errUnwrap = errors.New("pdcrypt: a region key does not unwrap with the master key")

func (m *MasterKey) unwrap(tenant, id uuid.UUID, purpose string, wrapped []byte) ([]byte, error) {
	ns := m.aead.NonceSize()
	if len(wrapped) < ns+m.aead.Overhead() {
		return nil, errUnwrap
	}
	key, err := m.aead.Open(nil, wrapped[:ns], wrapped[ns:], wrapAAD(tenant, id, purpose))
	if err != nil || len(key) != KeySize {
		return nil, errUnwrap
	}
	return key, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// DevKeyFile is the development master key's file in the data directory.
const DevKeyFile = "personal-data-master.key"

// DevMasterKey loads the development master key kept in dir, generating it
// (64 hex digits, mode 0600) when absent; created tells whether it did.
// Production configures --encryption-key-file instead: replicas need one
// shared key, and whoever loses this file loses the data it protects.
func DevMasterKey(dir string) (key []byte, created bool, err error) {
	path := filepath.Join(dir, DevKeyFile)
	if k, err := readDevKey(path); err == nil {
		return k, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process made it first
			k, err := readDevKey(path)
			return k, false, err
		}
		return nil, false, err
	}
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		_ = f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

func readDevKey(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != KeySize {
		return nil, fmt.Errorf("%s does not hold a 32-byte key as 64 hex digits", path)
	}
	return k, nil
}
