package pdcrypt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

func master(t testing.TB) *pdcrypt.MasterKey {
	t.Helper()
	raw := make([]byte, pdcrypt.KeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	m, err := pdcrypt.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func service(t testing.TB, db *gorm.DB, m *pdcrypt.MasterKey, opts pdcrypt.Options) *pdcrypt.Service {
	t.Helper()
	s, err := pdcrypt.New(db, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// regions creates n regions and returns a context for each.
func regions(t testing.TB, db *gorm.DB, n int) []context.Context {
	t.Helper()
	svc := tenancy.NewService(db)
	var out []context.Context
	for i := 0; i < n; i++ {
		r, err := svc.Create(context.Background(), tenancy.NewTenant{Code: fmt.Sprintf("%02d", 10+i), Name: "Регион", OKATO: "65", OKTMO: "65000000"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tenancy.WithTenant(context.Background(), r.ID))
	}
	return out
}

type keyRow struct {
	ID          uuid.UUID
	Purpose     string
	Wrapped     []byte
	MasterKeyID string
	RetiredAt   *time.Time
}

func keyRows(t testing.TB, db *gorm.DB, ctx context.Context) []keyRow {
	t.Helper()
	var rows []keyRow
	if err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
		return tx.Table("tenant_keys").Order("created_at, id").Find(&rows).Error
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

func mustSeal(t testing.TB, s *pdcrypt.Service, ctx context.Context, pt, aad string) []byte {
	t.Helper()
	ct, err := s.Seal(ctx, []byte(pt), []byte(aad))
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func mustOpen(t testing.TB, s *pdcrypt.Service, ctx context.Context, ct []byte, aad, want string) {
	t.Helper()
	pt, err := s.Open(ctx, ct, []byte(aad))
	if err != nil || string(pt) != want {
		t.Fatalf("Open: %q, %v; want %q", pt, err, want)
	}
}

func TestServiceKeysPerRegion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		m := master(t)
		s := service(t, db, m, pdcrypt.Options{})
		ctxs := regions(t, db, 2)
		a, b := ctxs[0], ctxs[1]

		if _, err := s.Seal(context.Background(), []byte("x"), nil); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("Seal without a region: %v", err)
		}
		ct := mustSeal(t, s, a, "11223344595", "persons.snils")
		mustOpen(t, s, a, ct, "persons.snils", "11223344595")
		rows := keyRows(t, db, a)
		if len(rows) != 2 || rows[0].Purpose == rows[1].Purpose {
			t.Fatalf("region keys after first use: %+v", rows)
		}
		for _, r := range rows {
			if r.MasterKeyID != m.ID() || len(r.Wrapped) != 12+32+16 {
				t.Fatalf("key row %+v: want wrapped by %s", r, m.ID())
			}
		}
		// Region B has keys of its own and cannot open A's data.
		if _, err := s.Open(b, ct, []byte("persons.snils")); !errors.Is(err, pdcrypt.ErrUnknownKey) {
			t.Fatalf("region B opened region A's ciphertext: %v", err)
		}
		ia, _ := s.BlindIndex(a, "11223344595")
		ia2, _ := s.BlindIndex(a, "11223344595")
		ib, _ := s.BlindIndex(b, "11223344595")
		if !bytes.Equal(ia, ia2) || bytes.Equal(ia, ib) {
			t.Fatal("blind indexes: equal values must match within a region and differ across regions")
		}

		// A fresh process with the same master key reads everything.
		fresh := service(t, db, m, pdcrypt.Options{})
		mustOpen(t, fresh, a, ct, "persons.snils", "11223344595")
		if ia3, _ := fresh.BlindIndex(a, "11223344595"); !bytes.Equal(ia, ia3) {
			t.Fatal("the blind index changed across processes")
		}
		// Another master key refuses, naming the key it needs, and makes no keys.
		wrong := service(t, db, master(t), pdcrypt.Options{})
		if _, err := wrong.Open(a, ct, []byte("persons.snils")); !errors.Is(err, pdcrypt.ErrMasterKey) {
			t.Fatalf("wrong master key: %v", err)
		}
		if err := wrong.CheckMasters(context.Background()); !errors.Is(err, pdcrypt.ErrMasterKey) {
			t.Fatalf("CheckMasters with the wrong key: %v", err)
		}
		if err := s.CheckMasters(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(keyRows(t, db, a)); n != 2 {
			t.Fatalf("%d key rows after the wrong key's attempt", n)
		}
	})
}

func TestDataKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		m := master(t)
		s := service(t, db, m, pdcrypt.Options{})
		other := service(t, db, m, pdcrypt.Options{}) // another replica, its cache warm
		a := regions(t, db, 1)[0]
		before := mustSeal(t, s, a, "до ротации", "aad")
		mustOpen(t, other, a, before, "aad", "до ротации")
		idx, _ := s.BlindIndex(a, "11223344595")

		newID, err := s.RotateDataKey(a)
		if err != nil {
			t.Fatal(err)
		}
		after := mustSeal(t, s, a, "после ротации", "aad")
		if id, _ := pdcrypt.KeyID(after); id != newID {
			t.Fatalf("a new write used key %s, want the new %s", id, newID)
		}
		if id0, _ := pdcrypt.KeyID(before); id0 == newID {
			t.Fatal("rotation reused the old key id")
		}
		mustOpen(t, s, a, before, "aad", "до ротации")
		// The other replica has not seen the new key: it reloads to open.
		time.Sleep(1100 * time.Millisecond) // past the reload rate limit
		mustOpen(t, other, a, after, "aad", "после ротации")
		if idx2, _ := s.BlindIndex(a, "11223344595"); !bytes.Equal(idx, idx2) {
			t.Fatal("data key rotation changed the blind index")
		}
		retired := 0
		for _, r := range keyRows(t, db, a) {
			if r.RetiredAt != nil {
				retired++
				if r.Purpose != pdcrypt.PurposeData {
					t.Fatalf("retired a %s key", r.Purpose)
				}
			}
		}
		if retired != 1 {
			t.Fatalf("%d retired keys, want 1", retired)
		}
	})
}

func TestMasterKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		oldKey, newKey := master(t), master(t)
		s := service(t, db, oldKey, pdcrypt.Options{})
		ctxs := regions(t, db, 3)
		var cts [][]byte
		for i, c := range ctxs[:2] { // the third region has no keys yet
			cts = append(cts, mustSeal(t, s, c, fmt.Sprint("value ", i), "aad"))
		}
		if _, err := s.RotateDataKey(ctxs[0]); err != nil { // a retired key is rewrapped too
			t.Fatal(err)
		}
		rot, err := pdcrypt.RotateMaster(context.Background(), db, oldKey, newKey)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Regions != 3 || rot.Rewrapped != 5 || rot.Already != 0 {
			t.Fatalf("rotation %+v, want 3 regions, 5 keys rewrapped", rot)
		}
		census, err := pdcrypt.Census(context.Background(), db)
		if err != nil || len(census) != 1 || census[newKey.ID()] != 5 {
			t.Fatalf("census after rotation %v, %v", census, err)
		}
		// Only the new key is needed now; no data was re-encrypted.
		after := service(t, db, newKey, pdcrypt.Options{})
		for i, c := range ctxs[:2] {
			mustOpen(t, after, c, cts[i], "aad", fmt.Sprint("value ", i))
		}
		if _, err := service(t, db, oldKey, pdcrypt.Options{}).Open(ctxs[0], cts[0], []byte("aad")); !errors.Is(err, pdcrypt.ErrMasterKey) {
			t.Fatalf("the old master key still opens: %v", err)
		}
		// Idempotent: a second run rewraps nothing.
		again, err := pdcrypt.RotateMaster(context.Background(), db, oldKey, newKey)
		if err != nil || again.Rewrapped != 0 || again.Already != 5 {
			t.Fatalf("second rotation %+v, %v", again, err)
		}
		// A key under neither master key stops it.
		if _, err := pdcrypt.RotateMaster(context.Background(), db, master(t), master(t)); !errors.Is(err, pdcrypt.ErrMasterKey) {
			t.Fatalf("rotation from a key nothing is wrapped with: %v", err)
		}
		if _, err := pdcrypt.RotateMaster(context.Background(), db, newKey, newKey); err == nil {
			t.Fatal("rotation to the same key was accepted")
		}
	})
}

// During a rotation a server runs with the new key and the old one as
// Previous: it opens keys under either and wraps new keys with the new one.
func TestPreviousMasterKeyDuringRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		oldKey, newKey := master(t), master(t)
		ctxs := regions(t, db, 2)
		ct := mustSeal(t, service(t, db, oldKey, pdcrypt.Options{}), ctxs[0], "старое", "aad")
		s := service(t, db, newKey, pdcrypt.Options{Previous: []*pdcrypt.MasterKey{oldKey}})
		mustOpen(t, s, ctxs[0], ct, "aad", "старое")
		mustSeal(t, s, ctxs[1], "новое", "aad")
		for _, r := range keyRows(t, db, ctxs[1]) {
			if r.MasterKeyID != newKey.ID() {
				t.Fatalf("a key made during the rotation is wrapped by %s", r.MasterKeyID)
			}
		}
		if err := s.CheckMasters(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// Inside a tenancy.Tx the service works through the caller's transaction:
// on SQLite a second transaction would wait for the first for ever. Keys
// made in a transaction that rolls back are not remembered.
func TestInsideTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		m := master(t)
		s := service(t, db, m, pdcrypt.Options{})
		a := regions(t, db, 1)[0]
		inTx := func(rollback bool) ([]byte, error) {
			var ct []byte
			errRollback := errors.New("rollback")
			done := make(chan error, 1)
			go func() {
				done <- tenancy.Tx(a, db, func(tx *gorm.DB) error {
					var err error
					for i := 0; i < 3; i++ {
						if ct, err = s.In(tx).Seal(a, []byte("в транзакции"), nil); err != nil {
							return err
						}
					}
					if rollback {
						return errRollback
					}
					return nil
				})
			}()
			select {
			case err := <-done:
				if errors.Is(err, errRollback) {
					err = nil
				}
				return ct, err
			case <-time.After(20 * time.Second):
				t.Fatal("sealing inside a transaction hangs")
				return nil, nil
			}
		}
		ct, err := inTx(true)
		if err != nil {
			t.Fatal(err)
		}
		// SQLite made the keys in the rolled-back transaction: they are gone.
		// PostgreSQL made them in a transaction of their own: they stay.
		_, err = s.Open(a, ct, nil)
		if env.Owner.Dialect == store.SQLite && !errors.Is(err, pdcrypt.ErrUnknownKey) {
			t.Fatalf("a key of a rolled-back transaction is still in use: %v", err)
		}
		if env.Owner.Dialect == store.Postgres && err != nil {
			t.Fatalf("a committed key does not open: %v", err)
		}
		ct, err = inTx(false)
		if err != nil {
			t.Fatal(err)
		}
		mustOpen(t, s, a, ct, "", "в транзакции")
		mustOpen(t, service(t, db, m, pdcrypt.Options{}), a, ct, "", "в транзакции")
		if n := len(keyRows(t, db, a)); n != 2 {
			t.Fatalf("%d key rows, want 2", n)
		}
	})
}

// Many first uses at once make exactly one set of keys.
func TestConcurrentFirstUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		m := master(t)
		a := regions(t, db, 1)[0]
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		cts := make([][]byte, 32)
		for i := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := service(t, db, m, pdcrypt.Options{}) // a process of its own: nothing cached
				ct, err := s.Seal(a, []byte(fmt.Sprint(i)), nil)
				cts[i] = ct
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := len(keyRows(t, db, a)); n != 2 {
			t.Fatalf("%d key rows after concurrent first use, want 2", n)
		}
		s := service(t, db, m, pdcrypt.Options{})
		for i, ct := range cts {
			mustOpen(t, s, a, ct, "", fmt.Sprint(i))
		}
	})
}

func TestCacheIsBounded(t *testing.T) {
	env := storetest.New(t, store.SQLite)
	db := env.App.Gorm
	s := service(t, db, master(t), pdcrypt.Options{CacheSize: 2})
	ctxs := regions(t, db, 3)
	cts := make([][]byte, 3)
	for i, c := range ctxs {
		cts[i] = mustSeal(t, s, c, fmt.Sprint(i), "")
	}
	if n := s.CachedRegions(); n != 2 {
		t.Fatalf("%d regions cached, want at most 2", n)
	}
	for i, c := range ctxs { // evicted regions load again
		mustOpen(t, s, c, cts[i], "", fmt.Sprint(i))
	}
}

func TestDevMasterKey(t *testing.T) {
	dir := t.TempDir()
	k1, created, err := pdcrypt.DevMasterKey(dir)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("first: %v created=%v", err, created)
	}
	st, err := os.Stat(filepath.Join(dir, pdcrypt.DevKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode().Perm(), err)
	}
	k2, created, err := pdcrypt.DevMasterKey(dir)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second: %v created=%v same=%v", err, created, bytes.Equal(k1, k2))
	}
	if err := os.Chmod(filepath.Join(dir, pdcrypt.DevKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pdcrypt.DevMasterKey(dir); err == nil {
		t.Fatal("a key file readable by others was accepted")
	}
}
