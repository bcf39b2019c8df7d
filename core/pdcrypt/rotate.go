package pdcrypt

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Rotation reports a master key rotation.
type Rotation struct {
	Regions   int // regions visited
	Rewrapped int // keys rewrapped from the old master key to the new one
	Already   int // keys that were under the new master key already
}

// RotateMaster rewraps every region's keys from the old master key to the
// new one, one transaction per region; no personal data is re-encrypted.
// It is idempotent: run it again after an interruption, or after a replica
// still wrapping with the old key made a key meanwhile, until Rewrapped is 0.
// A key under neither master key stops it with an error naming the region.
func RotateMaster(ctx context.Context, db *gorm.DB, old, new *MasterKey) (Rotation, error) {
	var rot Rotation
	if old == nil || new == nil {
		return rot, errors.New("pdcrypt: rotation needs the old and the new master key")
	}
	if old.ID() == new.ID() {
		return rot, errors.New("pdcrypt: the old and the new master key are the same key")
	}
	err := eachTenant(ctx, db, func(t tenancy.Tenant) error {
		rot.Regions++
		tctx := tenancy.WithTenant(ctx, t.ID)
		return tenancy.Tx(tctx, db, func(tx *gorm.DB) error {
			rows, err := readKeys(tx)
			if err != nil {
				return err
			}
			for _, r := range rows {
				switch r.MasterKeyID {
				case new.ID():
					rot.Already++
					continue
				case old.ID():
				default:
					return fmt.Errorf("%w: key %s of region %s is wrapped by master key %s, neither the old (%s) nor the new (%s)",
						ErrMasterKey, r.ID, t.Code, r.MasterKeyID, old.ID(), new.ID())
				}
				raw, err := old.unwrap(t.ID, r.ID, r.Purpose, r.Wrapped)
				if err != nil {
					return fmt.Errorf("%w (key %s of region %s)", err, r.ID, t.Code)
				}
				wrapped, err := new.wrap(t.ID, r.ID, r.Purpose, raw)
				if err != nil {
					return err
				}
				res := tx.Model(&keyRow{}).Where("id = ? AND master_key_id = ?", r.ID, old.ID()).
					Updates(map[string]any{"wrapped": wrapped, "master_key_id": new.ID()})
				if res.Error != nil {
					return res.Error
				}
				if res.RowsAffected != 1 {
					return fmt.Errorf("pdcrypt: key %s of region %s changed during the rotation; run it again", r.ID, t.Code)
				}
				rot.Rewrapped++
			}
			return nil
		})
	})
	return rot, err
}

// Census counts the regions' keys by the master key that wraps them.
func Census(ctx context.Context, db *gorm.DB) (map[string]int, error) {
	out := map[string]int{}
	err := eachTenant(ctx, db, func(t tenancy.Tenant) error {
		return tenancy.Tx(tenancy.WithTenant(ctx, t.ID), db, func(tx *gorm.DB) error {
			var ids []string
			if err := tx.Model(&keyRow{}).Pluck("master_key_id", &ids).Error; err != nil {
				return err
			}
			for _, id := range ids {
				out[id]++
			}
			return nil
		})
	})
	return out, err
}

// CheckMasters refuses (ErrMasterKey) when some region's keys are wrapped by
// a master key the service was not given, naming the key: a server started
// with the wrong --encryption-key-file would otherwise fail on first use.
func (s *Service) CheckMasters(ctx context.Context) error {
	census, err := Census(ctx, s.db)
	if err != nil {
		return err
	}
	for id, n := range census {
		if _, ok := s.masters[id]; !ok {
			return fmt.Errorf("%w: %d region keys are wrapped by master key %s; this process has %v",
				ErrMasterKey, n, id, s.masterIDs())
		}
	}
	return nil
}

// eachTenant visits every region.
func eachTenant(ctx context.Context, db *gorm.DB, fn func(tenancy.Tenant) error) error {
	svc := tenancy.NewService(db)
	p := page.Request{Limit: page.MaxLimit}
	for {
		ts, next, err := svc.List(ctx, p)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if err := fn(t); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		if p, err = page.Parse(page.MaxLimit, next); err != nil {
			return err
		}
	}
}
