package audit

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/tenancy"
)

// Query selects chained records of the context's region, in sequence order.
type Query struct {
	After      int64 // records after this sequence number
	Limit      int   // at most this many (1..1000; default 50)
	Action     string
	ObjectType string
	ObjectID   string
	Actor      uuid.UUID
}

// Read chains what is pending, then returns the records q selects — and
// appends an "audit.read" record of this reading in the same transaction,
// so that reading the trail leaves a trace in it too. more tells whether
// records follow the last one returned.
func (t *Trail) Read(ctx context.Context, q Query) (entries []Entry, more bool, err error) {
	if err := t.Flush(ctx); err != nil {
		// What is chained can still be read — most of all when the chain
		// was tampered with; the pending records wait.
		t.log.WarnContext(ctx, "chaining before a read of the audit trail failed", "error", err.Error())
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 1000)
	err = tenancy.Tx(ctx, t.db, func(tx *gorm.DB) error {
		var rows []recordRow
		s := tx.Where("seq > ?", q.After).Order("seq").Limit(q.Limit + 1)
		if q.Action != "" {
			s = s.Where("action = ?", q.Action)
		}
		if q.ObjectType != "" {
			s = s.Where("object_type = ?", q.ObjectType)
		}
		if q.ObjectID != "" {
			s = s.Where("object_id = ?", q.ObjectID)
		}
		if q.Actor != uuid.Nil {
			s = s.Where("actor = ?", q.Actor)
		}
		if err := s.Find(&rows).Error; err != nil {
			return err
		}
		if more = len(rows) > q.Limit; more {
			rows = rows[:q.Limit]
		}
		entries = make([]Entry, len(rows))
		for i := range rows {
			entries[i] = rows[i].entry()
		}
		return Append(ctx, tx, Record{Action: "audit.read", ObjectType: "audit"})
	})
	return entries, more, err
}
