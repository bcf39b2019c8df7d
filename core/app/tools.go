package app

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// openOperatorDB opens the database for an operator's command: the schema must be
// current, and the tenancy guard is installed as in the server.
func openOperatorDB(ctx context.Context, cfg Config) (*store.DB, error) {
	if err := cfg.ValidateDatabase(); err != nil {
		return nil, err
	}
	log := NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: 4, Logger: log})
	if err != nil {
		return nil, err
	}
	m, err := store.NewMigrator(db, nil)
	if err == nil {
		err = m.Check(ctx)
	}
	if err == nil {
		_, err = tenancy.Guard(ctx, db)
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// auditRegion resolves a region's code into a context acting for it.
func auditRegion(ctx context.Context, db *store.DB, code string) (context.Context, tenancy.Tenant, error) {
	t, err := tenancy.NewService(db.Gorm).ByCode(ctx, code)
	if errors.Is(err, fault.ErrNotFound) {
		return nil, t, configErrorf("--tenant: region %q not found", code)
	}
	if err != nil {
		return nil, t, err
	}
	return tenancy.WithTenant(ctx, t.ID), t, nil
}

// ErrChainBroken is returned by AuditVerify for a chain that does not verify.
var ErrChainBroken = errors.New("audit chain broken")

// AuditVerify checks a region's audit chain (chaining its pending records
// first) and prints the result; a broken chain is ErrChainBroken, naming the
// first broken sequence number. anchors are SEQ:HEX heads printed by earlier
// runs and kept elsewhere.
func AuditVerify(ctx context.Context, cfg Config, code string, anchors []string, out io.Writer) error {
	var as []audit.Anchor
	for _, a := range anchors {
		seq, h, ok := strings.Cut(a, ":")
		n, err := strconv.ParseInt(seq, 10, 64)
		hash, herr := hex.DecodeString(h)
		if !ok || err != nil || n < 1 || herr != nil || len(hash) != 32 {
			return configErrorf("--anchor %q: want SEQ:HASH, the hash as 64 hex digits (as verify prints the head)", a)
		}
		as = append(as, audit.Anchor{Seq: n, Hash: hash})
	}
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	rctx, t, err := auditRegion(ctx, db, code)
	if err != nil {
		return err
	}
	res, err := audit.New(db.Gorm, audit.Options{}).Verify(rctx, as...)
	if err != nil {
		return err
	}
	if !res.OK() {
		return fmt.Errorf("%w: region %s, first broken at sequence number %d: %s", ErrChainBroken, t.Code, res.BrokenAt, res.Reason)
	}
	fmt.Fprintf(out, "region %s: audit chain intact, %d records\n", t.Code, res.Records)
	if res.Head > 0 {
		fmt.Fprintf(out, "head %d:%x\n", res.Head, res.HeadHash)
	}
	return nil
}

// RotateMasterKey rewraps every region's keys from the master key in
// oldFile to the one in newFile (docs/personal-data.md).
func RotateMasterKey(ctx context.Context, cfg Config, oldFile, newFile string, out io.Writer) error {
	if oldFile == "" || newFile == "" {
		return configErrorf("--old-key-file and --new-key-file are both required")
	}
	keys := make([]*pdcrypt.MasterKey, 2)
	for i, f := range []struct{ flag, path string }{{"--old-key-file", oldFile}, {"--new-key-file", newFile}} {
		raw, err := ReadKeyFile(f.path)
		if err != nil {
			return configErrorf("%s: %v", f.flag, err)
		}
		if keys[i], err = pdcrypt.NewMasterKey(raw); err != nil {
			return configErrorf("%s: %v", f.flag, err)
		}
	}
	if keys[0].ID() == keys[1].ID() {
		return configErrorf("--old-key-file and --new-key-file hold the same key")
	}
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	rot, err := pdcrypt.RotateMaster(ctx, db.Gorm, keys[0], keys[1])
	fmt.Fprintf(out, "master key %s -> %s: %d regions, %d keys rewrapped, %d already under the new key\n",
		keys[0].ID(), keys[1].ID(), rot.Regions, rot.Rewrapped, rot.Already)
	if err != nil {
		return err
	}
	return KeyStatus(ctx, cfg, out)
}

// RotateDataKey gives a region a new data key for new writes; its old data
// keys still decrypt what they encrypted.
func RotateDataKey(ctx context.Context, cfg Config, code string, out io.Writer) error {
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	log := NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	cur, prev, err := masterKeys(cfg, log)
	if err != nil {
		return err
	}
	svc, err := pdcrypt.New(db.Gorm, cur, pdcrypt.Options{Previous: prev})
	if err != nil {
		return err
	}
	rctx, t, err := auditRegion(ctx, db, code)
	if err != nil {
		return err
	}
	id, err := svc.RotateDataKey(rctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "region %s: new data key %s; servers seal with it within 5 minutes, older keys still open their data\n", t.Code, id)
	return nil
}

// KeyStatus prints how many region keys each master key wraps.
func KeyStatus(ctx context.Context, cfg Config, out io.Writer) error {
	db, err := openOperatorDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	census, err := pdcrypt.Census(ctx, db.Gorm)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(census))
	for id := range census {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		fmt.Fprintln(out, "no region keys yet")
	}
	for _, id := range ids {
		fmt.Fprintf(out, "master key %s wraps %d region keys\n", id, census[id])
	}
	return nil
}
