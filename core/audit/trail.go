package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Options tune a Trail's chainer.
type Options struct {
	// Workers chain that many regions at once (default 2); one region is
	// never chained by two workers of a process.
	Workers int
	// Batch is the most records one chaining transaction takes (default 1000).
	Batch int
	// Linger is how long a woken worker waits for more commits to gather
	// before it chains (default 2 ms): the group commit's window.
	Linger time.Duration
	// Sweep is how often every region is checked for pending records that no
	// commit of this process announced — another replica's, or left by a
	// crash (default 10 s).
	Sweep  time.Duration
	Logger *slog.Logger
}

// Trail is the audit trail of one database: its chainer, and reading and
// verifying the chains.
type Trail struct {
	db   *gorm.DB
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	dirty   map[uuid.UUID]bool
	busy    map[uuid.UUID]bool
	warned  map[uuid.UUID]time.Time
	wake    chan struct{}
	batches atomic.Int64
	chained atomic.Int64
}

// New returns the trail over db.
func New(db *gorm.DB, opts Options) *Trail {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.Linger < 0 {
		opts.Linger = 0
	} else if opts.Linger == 0 {
		opts.Linger = 2 * time.Millisecond
	}
	if opts.Sweep <= 0 {
		opts.Sweep = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Trail{db: db, opts: opts, log: opts.Logger.With("component", "audit"),
		dirty: map[uuid.UUID]bool{}, busy: map[uuid.UUID]bool{}, warned: map[uuid.UUID]time.Time{}, wake: make(chan struct{}, 1)}
}

// Stats counts the chaining transactions and the records they chained.
type Stats struct{ Batches, Records int64 }

// Stats reports what this process chained so far.
func (t *Trail) Stats() Stats { return Stats{Batches: t.batches.Load(), Records: t.chained.Load()} }

// Log appends a record in a transaction of its own — for work that is not
// itself a database transaction of the region.
func (t *Trail) Log(ctx context.Context, r Record) error {
	return tenancy.Tx(ctx, t.db, func(tx *gorm.DB) error { return Append(ctx, tx, r) })
}

// Run chains committed records until ctx ends, then chains what is left
// (for at most five seconds). Commits in this process wake it at once; every
// Sweep it also looks at every region.
func (t *Trail) Run(ctx context.Context) {
	register(t)
	defer unregister(t)
	t.sweep(ctx)
	var wg sync.WaitGroup
	for range t.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.work(ctx)
		}()
	}
	tick := time.NewTicker(t.opts.Sweep)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			tried := map[uuid.UUID]bool{}
			for {
				tid, ok := t.take()
				if !ok || tried[tid] {
					return
				}
				tried[tid] = true
				t.release(tid, t.chain(dctx, tid))
			}
		case <-tick.C:
			t.sweep(ctx)
		}
	}
}

// mark records that a region has records to chain and wakes a worker.
func (t *Trail) mark(tid uuid.UUID) {
	t.mu.Lock()
	t.dirty[tid] = true
	t.mu.Unlock()
	t.signal()
}

func (t *Trail) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// take hands out a region to chain that no worker is chaining.
func (t *Trail) take() (uuid.UUID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for tid := range t.dirty {
		if t.busy[tid] {
			continue
		}
		delete(t.dirty, tid)
		t.busy[tid] = true
		if len(t.dirty) > 0 {
			t.signal() // more for another worker
		}
		return tid, true
	}
	return uuid.Nil, false
}

func (t *Trail) release(tid uuid.UUID, err error) {
	t.mu.Lock()
	if err != nil && !errorsIsCanceled(err) && time.Since(t.warned[tid]) > time.Minute {
		// Once a minute per region: a broken chain fails every attempt.
		t.warned[tid] = time.Now()
		t.log.Error("chaining audit records failed", "tenant", tid.String(), "error", err.Error())
	}
	delete(t.busy, tid)
	again := t.dirty[tid]
	if err != nil {
		// Left pending: retried on the next wake-up (a commit, the sweep, or
		// the drain at shutdown) — not at once, which would spin while the
		// database is away.
		t.dirty[tid] = true
	}
	t.mu.Unlock()
	if again {
		t.signal()
	}
}

func (t *Trail) work(ctx context.Context) {
	for ctx.Err() == nil {
		tid, ok := t.take()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-t.wake:
			}
			if t.opts.Linger > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(t.opts.Linger):
				}
			}
			continue
		}
		t.release(tid, t.chain(ctx, tid))
	}
}

// sweep marks every region.
func (t *Trail) sweep(ctx context.Context) {
	svc := tenancy.NewService(t.db)
	p := page.Request{Limit: page.MaxLimit}
	for {
		ts, next, err := svc.List(ctx, p)
		if err != nil {
			if ctx.Err() == nil {
				t.log.Warn("listing regions to chain their audit records failed", "error", err.Error())
			}
			return
		}
		for _, r := range ts {
			t.mark(r.ID)
		}
		if next == "" {
			return
		}
		if p, err = page.Parse(page.MaxLimit, next); err != nil {
			return
		}
	}
}

// Flush chains every committed pending record of the context's region.
func (t *Trail) Flush(ctx context.Context) error {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return tenancy.ErrNoTenant
	}
	return t.chain(ctx, tid)
}

// chain chains a region's pending records, a batch per transaction.
func (t *Trail) chain(ctx context.Context, tid uuid.UUID) error {
	tctx := tenancy.WithTenant(ctx, tid)
	for {
		n, err := t.chainBatch(tctx, tid)
		if err != nil || n < t.opts.Batch {
			return err
		}
	}
}

// chainBatch moves up to Batch committed pending records into the chain in
// one transaction. The head row is locked first (PostgreSQL; SQLite has a
// single writer), so the chainers of all replicas take turns per region,
// while the requests that append never touch it.
func (t *Trail) chainBatch(ctx context.Context, tid uuid.UUID) (int, error) {
	n := 0
	err := tenancy.Tx(ctx, t.db, func(tx *gorm.DB) error {
		var probe []pendingRow
		if err := tx.Select("id").Limit(1).Find(&probe).Error; err != nil || len(probe) == 0 {
			return err
		}
		head, err := lockHead(tx)
		if err != nil {
			return err
		}
		var pend []pendingRow
		if err := tx.Order("at, id").Limit(t.opts.Batch).Find(&pend).Error; err != nil {
			return err
		}
		if len(pend) == 0 {
			return nil
		}
		rows := make([]recordRow, len(pend))
		ids := make([]uuid.UUID, len(pend))
		prev, seq := head.Hash, head.Seq
		for i := range pend {
			seq++
			e := Entry{Seq: seq, Record: pend[i].record(), PrevHash: prev}
			e.Hash = chainHash(tid, prev, &e)
			rows[i] = rowOf(tid, &e)
			ids[i] = pend[i].ID
			prev = e.Hash
		}
		if err := tx.CreateInBatches(&rows, 500).Error; err != nil {
			return err
		}
		del := tx.Where("id IN ?", ids).Delete(&pendingRow{})
		if del.Error != nil {
			return del.Error
		}
		if del.RowsAffected != int64(len(ids)) {
			return fmt.Errorf("audit: %d of %d pending records vanished while chaining", int64(len(ids))-del.RowsAffected, len(ids))
		}
		upd := tx.Model(&headRow{}).Where("seq = ?", head.Seq).
			Updates(map[string]any{"seq": seq, "hash": prev, "updated_at": tx.NowFunc()})
		if upd.Error != nil {
			return upd.Error
		}
		if upd.RowsAffected != 1 {
			return fmt.Errorf("audit: the chain head of region %s moved while chaining", tid)
		}
		n = len(pend)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		t.batches.Add(1)
		t.chained.Add(int64(n))
	}
	return n, nil
}

// lockHead returns the region's chain head, creating it empty, locked for
// the rest of the transaction on PostgreSQL.
func lockHead(tx *gorm.DB) (headRow, error) {
	var h headRow
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&headRow{Seq: 0, Hash: genesis, UpdatedAt: tx.NowFunc()}).Error; err != nil {
		return h, err
	}
	q := tx
	if tx.Dialector.Name() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	if err := q.Take(&h).Error; err != nil {
		return h, err
	}
	// Never extend a chain whose head does not end it: a head or a last
	// record changed behind the chainer's back would otherwise be buried
	// under new records. The records stay pending until it is repaired.
	bad := h.Seq < 0 || len(h.Hash) != len(genesis) || (h.Seq == 0 && !bytes.Equal(h.Hash, genesis))
	if !bad && h.Seq > 0 {
		var last []recordRow
		if err := tx.Select("hash").Where("seq = ?", h.Seq).Limit(1).Find(&last).Error; err != nil {
			return h, err
		}
		bad = len(last) == 0 || !bytes.Equal(last[0].Hash, h.Hash)
	}
	if bad {
		return h, fmt.Errorf("%w: the chain head (seq %d) does not match the chain's last record; "+
			"new records stay pending — run treasury audit verify", ErrBroken, h.Seq)
	}
	return h, nil
}

// ErrBroken: the chainer found the chain's end altered and does not extend it.
var ErrBroken = errors.New("audit: chain broken")
