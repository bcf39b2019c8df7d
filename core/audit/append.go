package audit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/tenancy"
)

// Append writes a record of the context's region in tx, the tenancy.Tx of
// the audited work: it is committed with that work or not at all, and an
// error here must fail the work (fail closed). The record is chained soon
// after the commit by the running Trail of the same database (and in any
// case before Flush, Verify or Read return).
func Append(ctx context.Context, tx *gorm.DB, r Record) error {
	if tx == nil {
		return errors.New("audit: Append needs the transaction of the audited work")
	}
	row, err := pending(ctx, r)
	if err != nil {
		return err
	}
	if err := tx.Create(&row).Error; err != nil {
		return fmt.Errorf("audit: writing the record: %w", err)
	}
	pool := poolOf(tx)
	tenancy.AfterTx(tx, func(committed bool) {
		if committed {
			kick(pool, row.TenantID)
		}
	})
	return nil
}

// pending checks and completes a record of the context's region into the
// row that waits to be chained.
func pending(ctx context.Context, r Record) (pendingRow, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return pendingRow{}, tenancy.ErrNoTenant
	}
	r, err := r.complete(ctx, time.Now())
	if err != nil {
		return pendingRow{}, err
	}
	return pendingRow{
		TenantID: tid, ID: uuid.Must(uuid.NewV7()), At: r.At, Actor: actorPtr(r.Actor), ActorName: r.ActorName,
		Action: r.Action, ObjectType: r.ObjectType, ObjectID: r.ObjectID, Purpose: r.Purpose,
		RequestID: r.RequestID, Outcome: r.Outcome, Detail: r.Detail,
	}, nil
}

// PendingColumns are the columns of the table Append writes to, in the
// order PendingValues gives a record's values: for a writer outside GORM
// (the bulk import's COPY path on PostgreSQL) that must append in its own
// transaction all the same. The sweep chains what it writes.
var PendingColumns = []string{"tenant_id", "id", "at", "actor", "actor_name", "action", "object_type", "object_id", "purpose", "request_id", "outcome", "detail"}

// PendingValues checks and completes a record of the context's region and
// returns its values in PendingColumns order (UUIDs as strings).
func PendingValues(ctx context.Context, r Record) ([]any, error) {
	row, err := pending(ctx, r)
	if err != nil {
		return nil, err
	}
	var actor any
	if row.Actor != nil {
		actor = row.Actor.String()
	}
	return []any{row.TenantID.String(), row.ID.String(), row.At, actor, row.ActorName, row.Action, row.ObjectType,
		row.ObjectID, row.Purpose, row.RequestID, row.Outcome, row.Detail}, nil
}

// pendingTypesPG are PendingColumns' PostgreSQL types, for an INSERT …
// SELECT, whose parameters PostgreSQL cannot type from the target columns.
var pendingTypesPG = []string{"uuid", "uuid", "timestamptz", "uuid", "text", "text", "text", "text", "text", "text", "text", "text"}

// PendingInsertPG is a PostgreSQL statement that appends one record, its
// values as parameters $1…$12 in PendingValues order, once for each row the
// SQL source from (which may use further parameters) yields: "persons WHERE
// tenant_id = $13 AND id = $14" appends the record only when that person
// exists. It is for writers outside GORM, which then call Appended.
func PendingInsertPG(from string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO audit_pending (" + strings.Join(PendingColumns, ", ") + ") SELECT ")
	for i, t := range pendingTypesPG {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::%s", i+1, t)
	}
	b.WriteString(" FROM " + from)
	return b.String()
}

// Appended tells the running trail of db's database that records of a
// region were committed by a writer outside Append, so that they are
// chained now rather than at the next sweep.
func Appended(db *gorm.DB, tid uuid.UUID) { kick(poolOf(db), tid) }

// The running trails, by the connection pool of their database — which
// every session and transaction made from it names in its configuration: a
// commit wakes the chainer of its own database.
var running = struct {
	sync.RWMutex
	m map[any][]*Trail
}{m: map[any][]*Trail{}}

// poolOf is the identity of a handle's database: its root connection pool,
// when that is a pointer (as *sql.DB and the SQLite pool are); nil otherwise,
// and then commits wake nobody and the sweep finds the records.
func poolOf(db *gorm.DB) any {
	if db == nil || db.Config == nil || db.Config.ConnPool == nil {
		return nil
	}
	if reflect.TypeOf(db.Config.ConnPool).Kind() != reflect.Pointer {
		return nil
	}
	return db.Config.ConnPool
}

func register(t *Trail) {
	if poolOf(t.db) == nil {
		return
	}
	running.Lock()
	running.m[poolOf(t.db)] = append(running.m[poolOf(t.db)], t)
	running.Unlock()
}

func unregister(t *Trail) {
	running.Lock()
	defer running.Unlock()
	ts := running.m[poolOf(t.db)]
	for i, x := range ts {
		if x == t {
			ts = append(ts[:i:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(running.m, poolOf(t.db))
	} else {
		running.m[poolOf(t.db)] = ts
	}
}

func kick(pool any, tid uuid.UUID) {
	if pool == nil {
		return
	}
	running.RLock()
	ts := running.m[pool]
	running.RUnlock()
	for _, t := range ts {
		t.mark(tid)
	}
}
