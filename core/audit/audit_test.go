package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/reqid"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var codes = 10

// region creates a region and returns a context acting for it.
func region(t testing.TB, db *gorm.DB) (context.Context, uuid.UUID) {
	t.Helper()
	codes++
	r, err := tenancy.NewService(db).Create(context.Background(), tenancy.NewTenant{
		Code: fmt.Sprintf("%02d", codes%90+10), Name: "Регион", OKATO: "65", OKTMO: "65000000"})
	if err != nil {
		t.Fatal(err)
	}
	return tenancy.WithTenant(context.Background(), r.ID), r.ID
}

func count(t testing.TB, db *gorm.DB, ctx context.Context, table string) int64 {
	t.Helper()
	var n int64
	if err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error { return tx.Table(table).Count(&n).Error }); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustVerify(t testing.TB, tr *audit.Trail, ctx context.Context) audit.Result {
	t.Helper()
	res, err := tr.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("chain broken at %d: %s", res.BrokenAt, res.Reason)
	}
	return res
}

// appendN appends n records, one transaction each.
func appendN(t testing.TB, db *gorm.DB, ctx context.Context, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
			return audit.Append(ctx, tx, audit.Record{Action: "person.read", ObjectType: "person",
				ObjectID: uuid.Must(uuid.NewV7()).String(), Purpose: "проверка", RequestID: fmt.Sprint("req-", i)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The canonical encoding and the hash are a format: they must not drift.
func TestHashIsStable(t *testing.T) {
	env := storetest.New(t, store.SQLite)
	db := env.App.Gorm
	ctx, tid := region(t, db)
	tr := audit.New(db, audit.Options{})
	at := time.Date(2026, 3, 1, 9, 30, 15, 123456789, time.FixedZone("MSK", 3*3600))
	actor := uuid.MustParse("0190f0c0-0000-7000-8000-0000000000aa")
	err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
		return audit.Append(ctx, tx, audit.Record{At: at, Actor: actor, ActorName: "auditor@66", Action: "person.read",
			ObjectType: "person", ObjectID: "0190f0c0-0000-7000-8000-0000000000bb", Purpose: "проверка",
			RequestID: "req-1", Detail: "card"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _, err := tr.Read(ctx, audit.Query{})
	if err != nil || len(entries) != 1 {
		t.Fatalf("%d entries, %v", len(entries), err)
	}
	e := entries[0]
	if !e.At.Equal(at.Truncate(time.Microsecond)) || e.Seq != 1 || hex.EncodeToString(e.PrevHash) != strings.Repeat("0", 64) {
		t.Fatalf("entry %+v", e)
	}
	// The stored hash is what the documented encoding (docs/audit.md),
	// written out independently here, gives.
	if want := docHash(tid, make([]byte, 32), e); hex.EncodeToString(e.Hash) != want {
		t.Fatalf("hash %x, want %s", e.Hash, want)
	}
	// And, for a fixed region id, a fixed vector: the format must not drift.
	fixed := uuid.MustParse("0190f0c0-0000-7000-8000-000000000066")
	if got, doc := hex.EncodeToString(audit.HashForTest(fixed, make([]byte, 32), e)), docHash(fixed, make([]byte, 32), e); got != goldenHash || doc != goldenHash {
		t.Fatalf("the canonical encoding changed: hash %s (documented encoding %s), want %s", got, doc, goldenHash)
	}
}

const goldenHash = "13a667e058d8ad0fea3f88907f9f08d3ad7bd153ab5e0789f0c9de757c293aa8"

// docHash is docs/audit.md's definition: SHA-256 over prev_hash, the label
// "treasury.audit.v1" and the fields, each as its byte length (unsigned
// LEB128 varint) and its UTF-8 bytes.
func docHash(tenant uuid.UUID, prev []byte, e audit.Entry) string {
	actor := ""
	if e.Actor != uuid.Nil {
		actor = e.Actor.String()
	}
	buf := append([]byte{}, prev...)
	buf = append(buf, "treasury.audit.v1"...)
	for _, f := range []string{tenant.String(), fmt.Sprint(e.Seq), e.At.UTC().Format("2006-01-02T15:04:05.000000Z"),
		actor, e.ActorName, e.Action, e.ObjectType, e.ObjectID, e.Purpose, e.RequestID, e.Outcome, e.Detail} {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:])
}

func TestAppendIsPartOfTheWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		ctx, _ := region(t, db)
		tr := audit.New(db, audit.Options{})
		errRollback := errors.New("rollback")
		rec := audit.Record{Action: "person.read", ObjectType: "person", ObjectID: "p1"}

		// Rolled back: no record.
		err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
			if err := audit.Append(ctx, tx, rec); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if n := count(t, db, ctx, "audit_pending"); n != 0 {
			t.Fatalf("%d pending records after a rollback", n)
		}
		// A record the trail refuses fails the work (fail closed).
		for _, bad := range []audit.Record{{}, {Action: "Person Read"}, {Action: "x", Outcome: "maybe"}, {Action: "x", Detail: strings.Repeat("д", 1000)}} {
			err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error { return audit.Append(ctx, tx, bad) })
			if !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("record %+v: %v, want ErrInvalid", bad, err)
			}
		}
		// Outside a region's transaction: refused.
		if err := audit.Append(context.Background(), db, rec); !errors.Is(err, tenancy.ErrNoTenant) {
			t.Fatalf("no region: %v", err)
		}
		if err := audit.Append(ctx, db.WithContext(ctx), rec); !errors.Is(err, tenancy.ErrNotBound) {
			t.Fatalf("outside tenancy.Tx: %v", err)
		}
		// Committed: one pending record, chained by Flush with the context's facts.
		actor := uuid.Must(uuid.NewV7())
		rctx := audit.WithPurpose(audit.WithActor(reqid.With(ctx, "req-42"), actor, "specialist@66"), "выплата по СНИЛС 112-233-445 95 и 11223344595")
		if err := tenancy.Tx(rctx, db, func(tx *gorm.DB) error { return audit.Append(rctx, tx, rec) }); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, ctx, "audit_pending"); n != 1 {
			t.Fatalf("%d pending records, want 1", n)
		}
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if p, r := count(t, db, ctx, "audit_pending"), count(t, db, ctx, "audit_records"); p != 0 || r != 1 {
			t.Fatalf("after Flush: %d pending, %d chained", p, r)
		}
		es, _, err := tr.Read(ctx, audit.Query{})
		if err != nil || len(es) != 1 {
			t.Fatalf("read %d, %v", len(es), err)
		}
		e := es[0]
		if e.Actor != actor || e.ActorName != "specialist@66" || e.RequestID != "req-42" || e.Outcome != audit.OutcomeSuccess {
			t.Fatalf("entry %+v", e)
		}
		if strings.ContainsAny(e.Purpose, "0123456789") || !strings.Contains(e.Purpose, "[masked]") {
			t.Fatalf("purpose %q carries a SNILS", e.Purpose)
		}
		// Reading the trail is itself a record.
		es, _, _ = tr.Read(ctx, audit.Query{After: 1})
		if len(es) != 1 || es[0].Action != "audit.read" {
			t.Fatalf("after a read the trail holds %+v", es)
		}
		mustVerify(t, tr, ctx)
	})
}

// Editing, deleting or reordering any record directly in the database is
// found at the right sequence number.
func TestTamperingIsDetected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		tr := audit.New(db, audit.Options{})
		owner := env.Owner.Gorm
		// Only the schema owner can get past the append-only trigger, and
		// only by removing it: what an attacker with the owner's rights does.
		tamper := func(stmts ...string) func(tid uuid.UUID) {
			return func(tid uuid.UUID) {
				t.Helper()
				if env.Owner.Dialect == store.Postgres {
					stmts = append(append([]string{"ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only"}, stmts...),
						"ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")
				}
				for _, s := range stmts {
					var args []any
					for range strings.Count(s, "?") {
						args = append(args, tid)
					}
					if err := owner.Exec(s, args...).Error; err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
			}
		}
		tamperHead := func(stmt string) func(tid uuid.UUID) {
			return func(tid uuid.UUID) {
				t.Helper()
				args := []any{tid}
				if strings.Count(stmt, "?") == 2 {
					args = []any{make([]byte, 32), tid}
				}
				if err := owner.Exec(stmt, args...).Error; err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
		}
		if env.Owner.Dialect == store.SQLite {
			for _, s := range []string{"DROP TRIGGER audit_records_no_update", "DROP TRIGGER audit_records_no_delete"} {
				if err := owner.Exec(s).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		const n = 10
		cases := []struct {
			name   string
			tamper func(uuid.UUID)
			at     int64
		}{
			{"edit a field of record 4", tamper("UPDATE audit_records SET actor_name = 'someone else' WHERE tenant_id = ? AND seq = 4"), 4},
			{"edit the time of record 1", tamper("UPDATE audit_records SET at = (SELECT r.at FROM audit_records r WHERE r.tenant_id = ? AND r.seq = 3) WHERE tenant_id = ? AND seq = 1"), 1},
			{"edit record 6 and its hash", tamper("UPDATE audit_records SET outcome = 'denied', hash = prev_hash WHERE tenant_id = ? AND seq = 6"), 6},
			{"delete record 5", tamper("DELETE FROM audit_records WHERE tenant_id = ? AND seq = 5"), 5},
			{"delete record 1", tamper("DELETE FROM audit_records WHERE tenant_id = ? AND seq = 1"), 1},
			{"delete the last record", tamper(fmt.Sprintf("DELETE FROM audit_records WHERE tenant_id = ? AND seq = %d", n)), n},
			{"reorder records 7 and 8", tamper(
				"UPDATE audit_records SET seq = 1000000 WHERE tenant_id = ? AND seq = 7",
				"UPDATE audit_records SET seq = 7 WHERE tenant_id = ? AND seq = 8",
				"UPDATE audit_records SET seq = 8 WHERE tenant_id = ? AND seq = 1000000"), 7},
			{"reorder records 2 and 9", tamper(
				"UPDATE audit_records SET seq = 1000000 WHERE tenant_id = ? AND seq = 2",
				"UPDATE audit_records SET seq = 2 WHERE tenant_id = ? AND seq = 9",
				"UPDATE audit_records SET seq = 9 WHERE tenant_id = ? AND seq = 1000000"), 2},
			{"set the head back", tamperHead(fmt.Sprintf("UPDATE audit_heads SET seq = %d WHERE tenant_id = ?", n-3)), n - 2},
			{"garble the head", tamperHead("UPDATE audit_heads SET hash = ? WHERE tenant_id = ?"), n},
			{"add a record past the head", tamper(
				fmt.Sprintf("INSERT INTO audit_records (tenant_id, seq, at, actor_name, action, object_type, object_id, purpose, request_id, outcome, detail, prev_hash, hash) "+
					"SELECT tenant_id, %d, at, actor_name, action, object_type, object_id, purpose, request_id, outcome, detail, hash, hash FROM audit_records WHERE tenant_id = ? AND seq = %d", n+1, n)), n + 1},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx, tid := region(t, db)
				appendN(t, db, ctx, n)
				mustVerify(t, tr, ctx)
				c.tamper(tid)
				res, err := audit.Verify(ctx, db)
				if err != nil {
					t.Fatal(err)
				}
				// Records appended after the tampering do not hide it, even
				// when the tampered head stops them from being chained.
				appendN(t, db, ctx, 1)
				if again, _ := tr.Verify(ctx); again.BrokenAt != res.BrokenAt {
					t.Fatalf("after one more record: broken at %d (%s), before at %d", again.BrokenAt, again.Reason, res.BrokenAt)
				}
				if res.BrokenAt != c.at {
					t.Fatalf("broken at %d (%s), want %d", res.BrokenAt, res.Reason, c.at)
				}
				t.Logf("found at %d: %s", res.BrokenAt, res.Reason)
			})
		}
	})
}

// The app role cannot change or remove a chained record at all.
func TestRecordsAreAppendOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		ctx, _ := region(t, db)
		tr := audit.New(db, audit.Options{})
		appendN(t, db, ctx, 2)
		if err := tr.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"UPDATE audit_records SET actor_name = 'x'", "DELETE FROM audit_records"} {
			err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error { return tx.Exec(s).Error })
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("%s: %v, want the append-only refusal", s, err)
			}
		}
		mustVerify(t, tr, ctx)
	})
}

// 32 goroutines append concurrently, each transaction one to three records,
// a third of them rolled back, while the chainer runs: the chain verifies and
// holds exactly the committed records.
func TestConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		ctxA, _ := region(t, db)
		ctxB, _ := region(t, db)
		// Two chainers, as two replicas would run: every commit wakes both,
		// and they take turns on each region's chain head.
		tr := audit.New(db, audit.Options{Workers: 2, Sweep: 200 * time.Millisecond})
		replica := audit.New(db, audit.Options{Workers: 2, Sweep: 150 * time.Millisecond})
		runCtx, stop := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		go func() { tr.Run(runCtx); done <- struct{}{} }()
		go func() { replica.Run(runCtx); done <- struct{}{} }()

		const workers, txs = 32, 25
		var (
			mu        sync.Mutex
			committed = map[string]bool{} // request ids of committed records, region A
			wg        sync.WaitGroup
			errs      = make(chan error, workers)
		)
		errRollback := errors.New("rollback")
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range txs {
					ctx := ctxA
					if i%5 == 4 {
						ctx = ctxB // another region's chain grows meanwhile
					}
					n := 1 + rand.IntN(3)
					rollback := rand.IntN(3) == 0
					var ids []string
					err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
						for j := range n {
							id := fmt.Sprintf("w%d-t%d-r%d", w, i, j)
							if err := audit.Append(ctx, tx, audit.Record{Action: "person.read", RequestID: id}); err != nil {
								return err
							}
							ids = append(ids, id)
						}
						if rollback {
							return errRollback
						}
						return nil
					})
					switch {
					case errors.Is(err, errRollback):
					case err != nil:
						errs <- err
						return
					case ctx == ctxA:
						mu.Lock()
						for _, id := range ids {
							committed[id] = true
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		stop()
		<-done
		<-done
		// Stopping drains: nothing committed is left unchained.
		if p := count(t, db, ctxA, "audit_pending") + count(t, db, ctxB, "audit_pending"); p != 0 {
			t.Fatalf("%d records left pending after the chainers stopped", p)
		}
		res := mustVerify(t, tr, ctxA)
		mustVerify(t, tr, ctxB)
		if res.Records != int64(len(committed)) || res.Head != res.Records {
			t.Fatalf("chain of %d records (head %d), %d committed", res.Records, res.Head, len(committed))
		}
		var ids []string
		if err := tenancy.Tx(ctxA, db, func(tx *gorm.DB) error {
			return tx.Table("audit_records").Order("seq").Pluck("request_id", &ids).Error
		}); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if !committed[id] {
				t.Fatalf("record %s of a rolled-back transaction is in the chain", id)
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
			t.Fatal("a record was chained twice")
		}
		st, st2 := tr.Stats(), replica.Stats()
		t.Logf("%d records chained in %d batches by one chainer, %d in %d by the other",
			st.Records, st.Batches, st2.Records, st2.Batches)
	})
}

// On PostgreSQL transactions run side by side: a request's transaction that
// appended and is still open holds up neither another request's append and
// commit, nor the chainer.
func TestAppendsDoNotWaitForEachOther(t *testing.T) {
	env := storetest.New(t, store.Postgres)
	db := env.App.Gorm
	ctx, _ := region(t, db)
	tr := audit.New(db, audit.Options{})
	appended, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
			if err := audit.Append(ctx, tx, audit.Record{Action: "person.read", RequestID: "slow"}); err != nil {
				return err
			}
			close(appended)
			<-release // a long request, its transaction open
			return nil
		})
	}()
	<-appended
	quick := make(chan error, 1)
	go func() {
		quick <- tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
			return audit.Append(ctx, tx, audit.Record{Action: "person.read", RequestID: "quick"})
		})
	}()
	select {
	case err := <-quick:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("an append waited for another open transaction of its region")
	}
	flushed := make(chan error, 1)
	go func() { flushed <- tr.Flush(ctx) }()
	select {
	case err := <-flushed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("chaining waited for an open transaction")
	}
	if n := count(t, db, ctx, "audit_records"); n != 1 {
		t.Fatalf("%d chained while the slow transaction is open, want 1", n)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, tr, ctx); res.Records != 2 {
		t.Fatalf("%d records, want 2", res.Records)
	}
}

// A commit wakes the running chainer: the record is chained without Flush.
func TestChainerWakesOnCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db := env.App.Gorm
		ctx, _ := region(t, db)
		tr := audit.New(db, audit.Options{Sweep: time.Hour})
		runCtx, stop := context.WithCancel(context.Background())
		defer stop()
		go tr.Run(runCtx)
		time.Sleep(50 * time.Millisecond) // past the first sweep
		appendN(t, db, ctx, 1)
		deadline := time.Now().Add(5 * time.Second)
		for count(t, db, ctx, "audit_records") != 1 {
			if time.Now().After(deadline) {
				t.Fatal("the record was not chained within 5 s of its commit")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// A head printed by an earlier verification, kept outside the database,
// catches even a rewrite of the whole chain.
func TestAnchors(t *testing.T) {
	env := storetest.New(t, store.SQLite)
	db := env.App.Gorm
	ctx, _ := region(t, db)
	tr := audit.New(db, audit.Options{})
	appendN(t, db, ctx, 3)
	res := mustVerify(t, tr, ctx)
	anchor := audit.Anchor{Seq: res.Head, Hash: res.HeadHash}
	if r, _ := tr.Verify(ctx, anchor); !r.OK() {
		t.Fatalf("the chain does not match its own head: %s", r.Reason)
	}
	if r, _ := tr.Verify(ctx, audit.Anchor{Seq: 2, Hash: make([]byte, 32)}); r.BrokenAt != 2 {
		t.Fatalf("a wrong anchor: broken at %d", r.BrokenAt)
	}
	if r, _ := tr.Verify(ctx, audit.Anchor{Seq: 99, Hash: make([]byte, 32)}); r.BrokenAt != 99 {
		t.Fatalf("an anchor past the chain: broken at %d", r.BrokenAt)
	}
}
