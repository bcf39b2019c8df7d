package tenancy

import (
	"context"
	"sync"

	"gorm.io/gorm"
)

// Tx runs fn in one database transaction bound to the context's tenant. On
// PostgreSQL it sets app.tenant_id with set_config(…, true): transaction-local,
// so the setting dies with the transaction and a pooled connection can never
// carry it into another tenant's work. fn must use the *gorm.DB it is given.
//
// Functions registered with AfterTx on fn's transaction run once it has
// ended, told whether it committed. A Tx nested in another (db is the outer
// transaction, ctx its tx.Statement.Context) hands them to the outermost.
func Tx(ctx context.Context, db *gorm.DB, fn func(tx *gorm.DB) error) error {
	tid, ok := FromContext(ctx)
	if !ok {
		return ErrNoTenant
	}
	ctx = context.WithValue(ctx, boundKey, tid)
	// Nested when db is itself a transaction (GORM makes a savepoint): its
	// hooks belong to the outermost Tx, whose context ctx should be; when it
	// is not, there is no commit to wait for here and AfterTx declines. A
	// fresh transaction on the pool gets hooks of its own.
	h, nested := ctx.Value(hooksKey).(*hooks)
	_, inTx := db.Statement.ConnPool.(gorm.TxCommitter)
	switch {
	case !inTx:
		h, nested = &hooks{}, false
		ctx = context.WithValue(ctx, hooksKey, h)
	case !nested:
		h, nested = nil, true
		ctx = context.WithValue(ctx, hooksKey, h)
	}
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT set_config('app.tenant_id', ?, true)", tid.String()).Error; err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if !nested {
		h.run(err == nil)
	}
	return err
}

// AfterTx registers fn to run when the tenancy.Tx that tx belongs to has
// ended — committed true when it committed, false when it rolled back. It
// reports false, and registers nothing, when tx is not inside a tenancy.Tx.
// fn must not block for long: it runs on the goroutine that opened the Tx.
func AfterTx(tx *gorm.DB, fn func(committed bool)) bool {
	if tx == nil || tx.Statement == nil || tx.Statement.Context == nil {
		return false
	}
	h, ok := tx.Statement.Context.Value(hooksKey).(*hooks)
	if !ok || h == nil {
		return false
	}
	h.mu.Lock()
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
	return true
}

type hooks struct {
	mu  sync.Mutex
	fns []func(bool)
}

func (h *hooks) run(committed bool) {
	h.mu.Lock()
	fns := h.fns
	h.fns = nil
	h.mu.Unlock()
	for _, fn := range fns {
		fn(committed)
	}
}
