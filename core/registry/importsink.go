package registry

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// gormSink writes through GORM (SQLite, and PostgreSQL when COPY is not
// at hand): multi-row INSERTs under the tenancy scope.
type gormSink struct{ db *gorm.DB }

func (s gormSink) close() {}

func (s gormSink) tx(ctx context.Context, fn func(sinkTx) error) error {
	return tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error { return fn(gormTx{tx}) })
}

type gormTx struct{ tx *gorm.DB }

// inChunks runs fn over ids in slices small enough for any dialect's limit
// on bound parameters.
func inChunks[T any](xs []T, fn func([]T) error) error {
	const n = 900
	for len(xs) > 0 {
		k := min(n, len(xs))
		if err := fn(xs[:k]); err != nil {
			return err
		}
		xs = xs[k:]
	}
	return nil
}

func (g gormTx) persons(_ context.Context, idx [][]byte) ([]personRow, error) {
	var out []personRow
	err := inChunks(idx, func(c [][]byte) error {
		var rows []personRow
		if err := g.tx.Where("snils_index IN ?", c).Find(&rows).Error; err != nil {
			return err
		}
		out = append(out, rows...)
		return nil
	})
	return out, err
}

// currentOf reads the current facts of persons. The index is named: with
// no statistics (a registry being loaded has none yet) SQLite would pick
// the primary key and read every fact of the region for each batch.
func currentOf[T any](tx *gorm.DB, table string, ids []uuid.UUID) ([]T, error) {
	tid, ok := tenancy.FromContext(tx.Statement.Context)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	var out []T
	err := inChunks(ids, func(c []uuid.UUID) error {
		var rows []T
		if err := tx.Raw("SELECT * FROM "+table+" INDEXED BY "+table+"_current WHERE tenant_id = ? AND person_id IN ? AND superseded_at IS NULL",
			tid, c).Scan(&rows).Error; err != nil {
			return err
		}
		out = append(out, rows...)
		return nil
	})
	return out, err
}

func (g gormTx) relationsOf(_ context.Context, ids []uuid.UUID) ([]Relation, error) {
	return currentOf[Relation](g.tx, "relations", ids)
}
func (g gormTx) incomesOf(_ context.Context, ids []uuid.UUID) ([]Income, error) {
	return currentOf[Income](g.tx, "incomes", ids)
}
func (g gormTx) disabilitiesOf(_ context.Context, ids []uuid.UUID) ([]Disability, error) {
	return currentOf[Disability](g.tx, "disabilities", ids)
}
func (g gormTx) categoriesOf(_ context.Context, ids []uuid.UUID) ([]Category, error) {
	return currentOf[Category](g.tx, "person_categories", ids)
}

func create[T any](tx *gorm.DB, rows []T) error {
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, 200).Error
}

func (g gormTx) write(ctx context.Context, w *writes) error {
	tx := g.tx
	if err := create(tx, w.persons); err != nil {
		return err
	}
	if err := create(tx, w.history); err != nil {
		return err
	}
	for _, r := range w.updates {
		if err := tx.Model(&personRow{}).Where("id = ? AND version = ?", r.ID, r.Version-1).Updates(r.changes()).Error; err != nil {
			return err
		}
	}
	for table, ids := range w.supersede {
		if err := inChunks(ids, func(c []uuid.UUID) error {
			return tx.Table(table).Where("id IN ?", c).Update("superseded_at", w.now).Error
		}); err != nil {
			return err
		}
	}
	for _, err := range []error{create(tx, w.relations), create(tx, w.incomes), create(tx, w.disabilities), create(tx, w.categories), create(tx, w.errors)} {
		if err != nil {
			return err
		}
	}
	if w.audit != nil {
		if err := audit.Append(ctx, tx, *w.audit); err != nil {
			return err
		}
	}
	return saveProgress(tx, w.importID, w.progress, time.Now().UTC().Add(w.lease))
}

// saveProgress records, in the batch's transaction, how far the import got:
// a run resumed after a crash starts after Lines.
func saveProgress(tx *gorm.DB, id uuid.UUID, p Progress, leaseUntil time.Time) error {
	return tx.Model(&importRow{}).Where("id = ?", id).Updates(map[string]any{
		"lines": p.Lines, "imported": p.Imported, "unchanged": p.Unchanged, "rejected": p.Rejected,
		"bytes_done": p.Bytes, "lease_until": leaseUntil,
	}).Error
}

func (g gormTx) analyze(context.Context) error { return analyzeSQLite(g.tx) }

// analyzeSQLite refreshes SQLite's statistics of the registry: without them
// it picks the primary key over the right index. A sample of a thousand
// rows an index keeps it to milliseconds.
func analyzeSQLite(db *gorm.DB) error {
	if err := db.Exec("PRAGMA analysis_limit = 1000").Error; err != nil {
		return err
	}
	for _, t := range []string{"persons", "relations", "incomes", "disabilities", "person_categories"} {
		if err := db.Exec("ANALYZE " + t).Error; err != nil {
			return err
		}
	}
	return nil
}
