package registry

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

type mergeRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	ID         uuid.UUID `gorm:"primaryKey"`
	FromID     uuid.UUID
	IntoID     uuid.UUID
	FactsMoved int64
	MergedBy   *uuid.UUID
	MergedAt   time.Time
}

func (mergeRow) TableName() string { return "person_merges" }

// MergeResult is what a merge did.
type MergeResult struct {
	ID         uuid.UUID
	Into       Person
	FactsMoved int64
}

// Merge folds the duplicate from into the person into: from's current
// facts are copied to into (where into has no fact of the same key; into's
// own win) and superseded on from; relations naming from as the relative
// are redirected the same way; from stays, marked merged into into, so that
// its history and anything that referred to it still resolve.
func (s *Service) Merge(ctx context.Context, from, into uuid.UUID) (MergeResult, error) {
	if from == into {
		v := &fault.Invalid{}
		v.Add("into", "is the person being merged", into.String())
		return MergeResult{}, v
	}
	var res MergeResult
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := live(tx, from, into); err != nil {
			return err
		}
		k, err := s.keyring(ctx, tx)
		if err != nil {
			return err
		}
		dup, _, err := loadPerson(tx, k, from)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		var moved int64
		n, err := moveFacts(tx, &Income{}, from, into, now, func(r *Income) { r.PersonID = into })
		moved += n
		if err != nil {
			return err
		}
		if n, err = moveFacts(tx, &Disability{}, from, into, now, func(r *Disability) { r.PersonID = into }); err != nil {
			return err
		}
		moved += n
		if n, err = moveFacts(tx, &Category{}, from, into, now, func(r *Category) { r.PersonID = into }); err != nil {
			return err
		}
		moved += n
		if n, err = moveRelations(tx, from, into, now); err != nil {
			return err
		}
		moved += n
		if err := s.keepHistory(ctx, tx, k, dup, "merged"); err != nil {
			return err
		}
		if err := tx.Model(&personRow{}).Where("id = ?", from).Updates(map[string]any{
			"merged_into": into, "version": dup.Version + 1, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		m := mergeRow{ID: uuid.Must(uuid.NewV7()), FromID: from, IntoID: into, FactsMoved: moved, MergedBy: actorOf(ctx), MergedAt: now}
		if err := tx.Create(&m).Error; err != nil {
			return err
		}
		detail := "merge=" + m.ID.String() + " facts=" + strconv.FormatInt(moved, 10)
		if err := record(ctx, tx, "person.merge", from, detail); err != nil {
			return err
		}
		if err := record(ctx, tx, "person.merge", into, detail); err != nil {
			return err
		}
		if res.Into, _, err = loadPerson(tx, k, into); err != nil {
			return err
		}
		res.ID, res.FactsMoved = m.ID, moved
		return nil
	})
	return res, err
}

// moveFacts copies from's current facts of one table to into and
// supersedes them; a fact into already has under the same key is kept as
// it is.
func moveFacts[T fact](tx *gorm.DB, model T, from, into uuid.UUID, now time.Time, retarget func(T)) (int64, error) {
	var rows []T
	if err := tx.Model(model).Where("person_id = ? AND superseded_at IS NULL", from).Find(&rows).Error; err != nil {
		return 0, err
	}
	var moved int64
	for _, r := range rows {
		oldID, _, _, _ := r.meta()
		old := *oldID
		if err := tx.Model(model).Where("id = ?", old).Update("superseded_at", now).Error; err != nil {
			return moved, err
		}
		retarget(r)
		taken := r.empty().(T)
		err := r.key(tx.Model(model)).Where("superseded_at IS NULL").Take(taken).Error
		if err == nil {
			continue
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return moved, err
		}
		id, _, _, recorded := r.meta()
		*id, *recorded = uuid.Must(uuid.NewV7()), now
		if err := tx.Create(r).Error; err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}

// moveRelations moves relations on either side of from to into; one that
// would relate into to itself is only superseded.
func moveRelations(tx *gorm.DB, from, into uuid.UUID, now time.Time) (int64, error) {
	rows, err := relationsOf(tx, from, false, civil.Date{})
	if err != nil {
		return 0, err
	}
	var moved int64
	for i := range rows {
		r := &rows[i]
		if err := tx.Model(&Relation{}).Where("id = ?", r.ID).Update("superseded_at", now).Error; err != nil {
			return moved, err
		}
		if r.PersonID == from {
			r.PersonID = into
		}
		if r.RelativeID == from {
			r.RelativeID = into
		}
		if r.PersonID == r.RelativeID {
			continue
		}
		err := r.key(tx.Model(&Relation{})).Where("superseded_at IS NULL").Take(&Relation{}).Error
		if err == nil {
			continue
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return moved, err
		}
		r.ID, r.RecordedAt = uuid.Must(uuid.NewV7()), now
		if err := tx.Create(r).Error; err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}
