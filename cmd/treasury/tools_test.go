//go:build unix

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// seedRegion66 opens the SQLite database in dir (migrated by the binary),
// makes region 66 with n audit records and one sealed value under the
// development master key, and returns the ciphertext.
func seedRegion66(t *testing.T, dir string, n int) (context.Context, []byte) {
	t.Helper()
	ctx := context.Background()
	db := openData(t, dir)
	r, err := tenancy.NewService(db.Gorm).Create(ctx, tenancy.NewTenant{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"})
	if err != nil {
		t.Fatal(err)
	}
	rctx := tenancy.WithTenant(ctx, r.ID)
	tr := audit.New(db.Gorm, audit.Options{})
	for i := 0; i < n; i++ {
		if err := tr.Log(rctx, audit.Record{Action: "person.read", ObjectType: "person", ObjectID: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _, err := pdcrypt.DevMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := pdcrypt.NewMasterKey(raw)
	svc, _ := pdcrypt.New(db.Gorm, m, pdcrypt.Options{})
	ct, err := svc.Seal(rctx, []byte("11223344595"), []byte("persons.snils"))
	if err != nil {
		t.Fatal(err)
	}
	return rctx, ct
}

func openData(t *testing.T, dir string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := tenancy.Guard(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db
}

var headLine = regexp.MustCompile(`(?m)^head (\d+:[0-9a-f]{64})$`)

// `treasury audit verify` passes an intact chain, printing its head, and
// fails (exit 1) on a tampered one, naming the first broken sequence number.
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := "--data-dir=" + dir
	mustSucceed(t, nil, "migrate", "up", data)
	seedRegion66(t, dir, 5)

	r := mustSucceed(t, nil, "audit", "verify", "--tenant", "66", data)
	if !strings.Contains(r.stdout, "region 66: audit chain intact, 5 records") {
		t.Fatalf("verify printed %q", r.stdout)
	}
	head := headLine.FindStringSubmatch(r.stdout)
	if head == nil || !strings.HasPrefix(head[1], "5:") {
		t.Fatalf("verify printed no head: %q", r.stdout)
	}
	mustSucceed(t, nil, "audit", "verify", "--tenant", "66", "--anchor", head[1], data)

	requireOneLineError(t, treasury(t, time.Minute, nil, "audit", "verify", data), 2, "--tenant is required")
	requireOneLineError(t, treasury(t, time.Minute, nil, "audit", "verify", "--tenant", "77", data), 2, `region "77" not found`)
	requireOneLineError(t, treasury(t, time.Minute, nil, "audit", "verify", "--tenant", "66", "--anchor", "5:zz", data), 2, "--anchor")

	// Someone with the database file deletes record 3.
	db := openData(t, dir)
	for _, s := range []string{"DROP TRIGGER audit_records_no_delete", "DELETE FROM audit_records WHERE seq = 3"} {
		if err := db.Gorm.Exec(s).Error; err != nil {
			t.Fatal(err)
		}
	}
	requireOneLineError(t, treasury(t, time.Minute, nil, "audit", "verify", "--tenant", "66", data), 1,
		"first broken at sequence number 3: record 3 is missing")
}

// `treasury keys rotate` rewraps every region key from the old master key
// to the new one; afterwards only the new key opens the data, and a server
// started with the old key refuses to start, saying why.
func TestKeysRotateCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := "--data-dir=" + dir
	mustSucceed(t, nil, "migrate", "up", data)
	rctx, ct := seedRegion66(t, dir, 1)
	oldFile := filepath.Join(dir, pdcrypt.DevKeyFile)
	newRaw := make([]byte, 32)
	_, _ = rand.Read(newRaw)
	newFile := filepath.Join(t.TempDir(), "new.key")
	writeFile(t, newFile, hex.EncodeToString(newRaw)+"\n", 0o600)
	newKey, _ := pdcrypt.NewMasterKey(newRaw)

	r := mustSucceed(t, nil, "keys", "rotate", "--old-key-file", oldFile, "--new-key-file", newFile, data)
	if !strings.Contains(r.stdout, "1 regions, 2 keys rewrapped, 0 already under the new key") ||
		!strings.Contains(r.stdout, "master key "+newKey.ID()+" wraps 2 region keys") {
		t.Fatalf("rotate printed %q", r.stdout)
	}
	r = mustSucceed(t, nil, "keys", "rotate", "--old-key-file", oldFile, "--new-key-file", newFile, data)
	if !strings.Contains(r.stdout, "0 keys rewrapped, 2 already under the new key") {
		t.Fatalf("a second rotation printed %q", r.stdout)
	}
	// The data opens with the new key alone.
	db := openData(t, dir)
	svc, _ := pdcrypt.New(db.Gorm, newKey, pdcrypt.Options{})
	if pt, err := svc.Open(rctx, ct, []byte("persons.snils")); err != nil || string(pt) != "11223344595" {
		t.Fatalf("after rotation: %q, %v", pt, err)
	}
	// A data key rotation under the new master key.
	r = mustSucceed(t, nil, "keys", "rotate-data", "--tenant", "66", "--encryption-key-file", newFile, data)
	if !strings.Contains(r.stdout, "region 66: new data key") {
		t.Fatalf("rotate-data printed %q", r.stdout)
	}
	var n int64
	if err := tenancy.Tx(rctx, db.Gorm, func(tx *gorm.DB) error {
		return tx.Table("tenant_keys").Where("retired_at IS NOT NULL").Count(&n).Error
	}); err != nil || n != 1 {
		t.Fatalf("%d retired keys, %v", n, err)
	}
	// The old (development) key no longer serves.
	requireOneLineError(t, treasury(t, time.Minute, nil, "serve", "--listen=127.0.0.1:0", data), 2,
		"wrapped by master key "+newKey.ID())
	requireOneLineError(t, treasury(t, time.Minute, nil, "keys", "rotate", "--old-key-file", oldFile, "--new-key-file", oldFile, data), 2,
		"the same key")
	requireOneLineError(t, treasury(t, time.Minute, nil, "keys", "rotate", "--new-key-file", newFile, data), 2,
		"both required")
}
