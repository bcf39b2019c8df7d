package store

import (
	"context"
	"database/sql"
	"sync"

	"gorm.io/gorm"
)

// serialPool hands SQLite transactions out one at a time. SQLite has a single
// writer, and our transactions begin IMMEDIATE (they are all writers), so a
// second one would only spin in SQLite's busy handler; a Go semaphore queues
// it instead, fairly and without a timeout that load can exceed. Statements
// outside transactions still use the whole pool.
type serialPool struct {
	*sql.DB
	writer chan struct{}
}

func newSerialPool(db *sql.DB) *serialPool {
	return &serialPool{DB: db, writer: make(chan struct{}, 1)}
}

// BeginTx implements gorm.ConnPoolBeginner.
func (p *serialPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	select {
	case p.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tx, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		<-p.writer
		return nil, err
	}
	return &serialTx{Tx: tx, release: func() { <-p.writer }}, nil
}

// GetDBConn implements gorm.GetDBConnector.
func (p *serialPool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

type serialTx struct {
	*sql.Tx
	once    sync.Once
	release func()
}

func (t *serialTx) Commit() error {
	err := t.Tx.Commit()
	t.once.Do(t.release)
	return err
}

func (t *serialTx) Rollback() error {
	err := t.Tx.Rollback()
	t.once.Do(t.release)
	return err
}
