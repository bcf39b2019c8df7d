package audit

import (
	"bytes"
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/tenancy"
)

// Result is what Verify found.
type Result struct {
	// Records is how many records were checked.
	Records int64
	// Head is the chain head's sequence number and hash.
	Head     int64
	HeadHash []byte
	// BrokenAt is the first sequence number at which the chain does not
	// hold (0: it holds), and Reason says why.
	BrokenAt int64
	Reason   string
}

// OK tells whether the chain verified.
func (r Result) OK() bool { return r.BrokenAt == 0 }

// Anchor is a (sequence number, hash) pair kept outside the database — a
// printed head of an earlier verification — that the chain must still match.
type Anchor struct {
	Seq  int64
	Hash []byte
}

// verifyBatch records are read per short transaction, so that verifying a
// long chain holds no lock for long (on SQLite, the single writer's).
const verifyBatch = 5000

// Verify walks the context's region's chain from its first record and
// reports the first sequence number at which it is broken: a record altered
// (its hash no longer matches), missing (a gap, or the tail short of the
// head), moved or reordered (its prev_hash is not the previous record's
// hash), or added past the head. Pending records are chained first.
func (t *Trail) Verify(ctx context.Context, anchors ...Anchor) (Result, error) {
	// A chain that cannot take its pending records (its head was tampered
	// with) is still verified: the break is what the caller needs to see.
	ferr := t.Flush(ctx)
	res, err := Verify(ctx, t.db, anchors...)
	if err == nil && res.OK() && ferr != nil {
		err = ferr
	}
	return res, err
}

// Verify checks the chain without chaining pending records first (it writes
// nothing).
func Verify(ctx context.Context, db *gorm.DB, anchors ...Anchor) (Result, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return Result{}, tenancy.ErrNoTenant
	}
	want := map[int64][]byte{}
	for _, a := range anchors {
		want[a.Seq] = a.Hash
	}
	var res Result
	prev := genesis
	next := int64(1) // the sequence number expected next
	broken := func(seq int64, format string, args ...any) (Result, error) {
		res.BrokenAt, res.Reason = seq, fmt.Sprintf(format, args...)
		return res, nil
	}
	for {
		rows, err := readRecords(ctx, db, next, verifyBatch)
		if err != nil {
			return res, err
		}
		if len(rows) == 0 {
			head, found, err := readHead(ctx, db)
			if err != nil {
				return res, err
			}
			res.Head, res.HeadHash = head.Seq, head.Hash
			last := next - 1
			switch {
			case !found && last == 0:
				checkAnchors(&res, want)
				return res, nil
			case !found:
				return broken(last, "the chain head is missing: nothing vouches for the last record %d", last)
			case head.Seq > last:
				// Chained after the read above, or deleted from the tail.
				if more, err := readRecords(ctx, db, next, 1); err != nil {
					return res, err
				} else if len(more) > 0 {
					continue
				}
				return broken(next, "record %d is missing: the chain head is at %d", next, head.Seq)
			case head.Seq < last:
				return broken(head.Seq+1, "record %d lies beyond the chain head %d", head.Seq+1, head.Seq)
			case !bytes.Equal(head.Hash, prev):
				return broken(last, "record %d does not match the chain head's hash", last)
			}
			checkAnchors(&res, want)
			return res, nil
		}
		for i := range rows {
			r := &rows[i]
			if r.Seq != next {
				return broken(next, "record %d is missing (the next is %d)", next, r.Seq)
			}
			if !bytes.Equal(r.PrevHash, prev) {
				return broken(r.Seq, "record %d does not follow record %d: its prev_hash differs (moved or reordered)", r.Seq, r.Seq-1)
			}
			e := r.entry()
			h := chainHash(tid, prev, &e)
			if !bytes.Equal(h, r.Hash) {
				return broken(r.Seq, "record %d was altered: its content does not match its hash", r.Seq)
			}
			if a, ok := want[r.Seq]; ok {
				if !bytes.Equal(a, h) {
					return broken(r.Seq, "record %d does not match the anchor kept outside the database", r.Seq)
				}
				delete(want, r.Seq)
			}
			prev = h
			next++
			res.Records++
		}
	}
}

// checkAnchors breaks an intact chain at the first anchor it never reached.
func checkAnchors(res *Result, want map[int64][]byte) {
	for seq := range want {
		if res.BrokenAt == 0 || seq < res.BrokenAt {
			res.BrokenAt, res.Reason = seq, fmt.Sprintf("record %d, which an anchor names, is not in the chain", seq)
		}
	}
}

func readRecords(ctx context.Context, db *gorm.DB, from int64, limit int) ([]recordRow, error) {
	var rows []recordRow
	err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
		return tx.Where("seq >= ?", from).Order("seq").Limit(limit).Find(&rows).Error
	})
	return rows, err
}

func readHead(ctx context.Context, db *gorm.DB) (headRow, bool, error) {
	var hs []headRow
	err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error { return tx.Limit(1).Find(&hs).Error })
	if err != nil || len(hs) == 0 {
		return headRow{}, false, err
	}
	return hs[0], true, nil
}
