package pdcrypt

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeyring is a keyring with a retired and a current data key, built
// from fixed bytes so that the fuzz corpus stays meaningful.
func testKeyring(t testing.TB) (*Keyring, [][]byte) {
	t.Helper()
	tenant := uuid.MustParse("0190f0c0-0000-7000-8000-000000000066")
	old := uuid.MustParse("0190f0c0-0000-7000-8000-0000000000d1")
	cur := uuid.MustParse("0190f0c0-0000-7000-8000-0000000000d2")
	raw := [][]byte{bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize), bytes.Repeat([]byte{3}, KeySize)}
	kr, err := newKeyring(tenant, cur, map[uuid.UUID][]byte{old: raw[0], cur: raw[1]}, raw[2])
	if err != nil {
		t.Fatal(err)
	}
	return kr, raw
}

func TestSealOpen(t *testing.T) {
	kr, _ := testKeyring(t)
	aad := []byte("persons.snils:0190f0c0-1111-7000-8000-000000000001")
	for _, pt := range [][]byte{nil, {}, []byte("11223344595"), bytes.Repeat([]byte("ж"), 10_000)} {
		ct, err := kr.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != len(pt)+Overhead {
			t.Fatalf("ciphertext of %d bytes is %d long, want %d", len(pt), len(ct), len(pt)+Overhead)
		}
		if len(pt) > 4 && bytes.Contains(ct, pt) {
			t.Fatal("the plaintext shows in the ciphertext")
		}
		if id, _ := KeyID(ct); id != kr.Current() {
			t.Fatalf("ciphertext names key %s, want the current %s", id, kr.Current())
		}
		got, err := kr.Open(ct, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open: %q, %v", got, err)
		}
		again, _ := kr.Seal(pt, aad)
		if bytes.Equal(again, ct) {
			t.Fatal("two seals of one value are equal: the nonce is not random")
		}
	}
}

func TestOpenRefusesWhatItShould(t *testing.T) {
	kr, _ := testKeyring(t)
	aad := []byte("row-1")
	ct, err := kr.Seal([]byte("11223344595"), aad)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newKeyring(uuid.New(), uuid.New(), nil, nil)
	if other != nil {
		t.Fatal("a keyring without keys was built")
	}
	otherID := uuid.New()
	foreign, err := newKeyring(uuid.New(), otherID, map[uuid.UUID][]byte{otherID: randomKey(t)}, randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 0x40
		return c
	}
	renamed := bytes.Clone(ct)
	old := uuid.MustParse("0190f0c0-0000-7000-8000-0000000000d1")
	copy(renamed[1:17], old[:]) // claims the retired key
	for _, c := range []struct {
		name string
		kr   *Keyring
		ct   []byte
		aad  []byte
		want error
	}{
		{"other aad", kr, ct, []byte("row-2"), ErrAuth},
		{"no aad", kr, ct, nil, ErrAuth},
		{"flipped body", kr, flip(len(ct) - 20), aad, ErrAuth},
		{"flipped tag", kr, flip(len(ct) - 1), aad, ErrAuth},
		{"flipped nonce", kr, flip(20), aad, ErrAuth},
		{"another key named", kr, renamed, aad, ErrAuth},
		{"unknown key", kr, flip(3), aad, ErrUnknownKey},
		{"another region", foreign, ct, aad, ErrUnknownKey},
		{"truncated", kr, ct[:Overhead-1], aad, ErrMalformed},
		{"empty", kr, nil, aad, ErrMalformed},
		{"version", kr, append([]byte{2}, ct[1:]...), aad, ErrMalformed},
	} {
		pt, err := c.kr.Open(c.ct, c.aad)
		if !errors.Is(err, c.want) || pt != nil {
			t.Errorf("%s: %q, %v; want %v", c.name, pt, err, c.want)
		}
	}
}

func TestRetiredKeyStillOpens(t *testing.T) {
	kr, raw := testKeyring(t)
	old := uuid.MustParse("0190f0c0-0000-7000-8000-0000000000d1")
	before, _ := newKeyring(kr.tenant, old, map[uuid.UUID][]byte{old: raw[0]}, raw[2])
	ct, err := before.Seal([]byte("old data"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := kr.Open(ct, nil); err != nil || string(pt) != "old data" {
		t.Fatalf("retired key: %q, %v", pt, err)
	}
	if !bytes.Equal(before.BlindIndex("11223344595"), kr.BlindIndex("11223344595")) {
		t.Fatal("the blind index changed with the data key")
	}
}

func TestBlindIndex(t *testing.T) {
	kr, _ := testKeyring(t)
	a, b := kr.BlindIndex("11223344595"), kr.BlindIndex("11223344595")
	if !bytes.Equal(a, b) || len(a) != 32 {
		t.Fatalf("blind index not deterministic or not 32 bytes: %x %x", a, b)
	}
	if bytes.Equal(a, kr.BlindIndex("11223344596")) {
		t.Fatal("two values share a blind index")
	}
	id := uuid.New()
	other, _ := newKeyring(uuid.New(), id, map[uuid.UUID][]byte{id: randomKey(t)}, randomKey(t))
	if bytes.Equal(a, other.BlindIndex("11223344595")) {
		t.Fatal("two regions share a blind index")
	}
}

// No way of printing a keyring or a master key shows key bytes.
func TestKeysNeverPrint(t *testing.T) {
	kr, raw := testKeyring(t)
	mraw := randomKey(t)
	m, err := NewMasterKey(mraw)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("keys", "keyring", kr, "master", m)
	outs := []string{
		fmt.Sprint(kr), fmt.Sprintf("%v %+v %#v %s %x %q", kr, kr, kr, kr, kr, kr),
		fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s %x %q", m, m, m, m, m, m),
		logged.String(),
	}
	for _, out := range outs {
		for _, k := range append(raw, mraw) {
			if strings.Contains(out, hex.EncodeToString(k)) || strings.Contains(out, string(k)) ||
				strings.Contains(out, fmt.Sprint(k)) {
				t.Fatalf("a key shows in %q", out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(m), m.ID()) {
		t.Fatalf("a master key prints as %q, want its fingerprint", fmt.Sprint(m))
	}
}

func TestMasterKeyWrap(t *testing.T) {
	m, err := NewMasterKey(randomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMasterKey(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte master key was accepted")
	}
	tenant, id, key := uuid.New(), uuid.New(), randomKey(t)
	w, err := m.wrap(tenant, id, PurposeData, key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, key) {
		t.Fatal("the wrapped key shows the key")
	}
	if got, err := m.unwrap(tenant, id, PurposeData, w); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}
	// A wrapped key moved to another region, id or purpose does not unwrap.
	for _, c := range []struct {
		tenant, id uuid.UUID
		purpose    string
	}{{uuid.New(), id, PurposeData}, {tenant, uuid.New(), PurposeData}, {tenant, id, PurposeIndex}} {
		if _, err := m.unwrap(c.tenant, c.id, c.purpose, w); err == nil {
			t.Fatalf("a wrapped key unwrapped as %+v", c)
		}
	}
	other, _ := NewMasterKey(randomKey(t))
	if _, err := other.unwrap(tenant, id, PurposeData, w); err == nil {
		t.Fatal("another master key unwrapped the key")
	}
	if m.ID() == other.ID() || len(m.ID()) != 16 {
		t.Fatalf("fingerprints %q and %q", m.ID(), other.ID())
	}
}

// FuzzOpen: Open on arbitrary bytes and additional data never panics, and
// anything it accepts seals back to a ciphertext that opens to the same.
func FuzzOpen(f *testing.F) {
	kr, _ := testKeyring(f)
	good, _ := kr.Seal([]byte("11223344595"), []byte("aad"))
	f.Add(good, []byte("aad"))
	f.Add(good[:Overhead], []byte(""))
	f.Add([]byte{1}, []byte(nil))
	f.Add([]byte{}, []byte("x"))
	f.Fuzz(func(t *testing.T, ct, aad []byte) {
		pt, err := kr.Open(ct, aad)
		if err != nil {
			if pt != nil {
				t.Fatal("a refused ciphertext returned plaintext")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrAuth) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := kr.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := kr.Open(again, aad); err != nil || !bytes.Equal(back, pt) {
			t.Fatalf("resealed value does not open: %v", err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	kr, _ := testKeyring(b)
	pt, aad := []byte("11223344595"), []byte("persons.snils:0190f0c0-1111-7000-8000-000000000001")
	for b.Loop() {
		if _, err := kr.Seal(pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	kr, _ := testKeyring(b)
	aad := []byte("persons.snils:0190f0c0-1111-7000-8000-000000000001")
	ct, _ := kr.Seal([]byte("11223344595"), aad)
	for b.Loop() {
		if _, err := kr.Open(ct, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	kr, _ := testKeyring(b)
	for b.Loop() {
		kr.BlindIndex("snils:11223344595")
	}
}
