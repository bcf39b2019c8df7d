// Package agency keeps a region's assigning bodies (ОНМСЗ): the ministry,
// municipal departments and social protection centres that decide measures
// and report them to EGISSO under their oszCode.
package agency

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Agency is one assigning body of a region.
type Agency struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	ID        uuid.UUID `gorm:"primaryKey"`
	OSZCode   string    `gorm:"column:osz_code"`
	Name      string
	ShortName string
	INN       string `gorm:"column:inn"`
	OKTMO     string `gorm:"column:oktmo"`
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName implements GORM's tabler.
func (Agency) TableName() string { return "agencies" }

// Fields are an agency's editable fields; in a Change, nil keeps the value.
type Fields struct {
	OSZCode   *string
	Name      *string
	ShortName *string
	INN       *string
	OKTMO     *string
}

// oszCode is EGISSO's pattern for an assigning body's code.
var (
	oszCode = regexp.MustCompile(`^[A-HJ-NP-Z0-9]{4}\.[0-9]{6}$`)
	oktmoRe = regexp.MustCompile(`^[0-9]{8}([0-9]{3})?$`)
)

// Service keeps the assigning bodies of the context's region.
type Service struct {
	db *gorm.DB
}

// NewService returns the service over db (with the tenancy scope installed).
func NewService(db *gorm.DB) *Service { return &Service{db: db} }

// Create registers an assigning body; every field but ShortName is required.
func (s *Service) Create(ctx context.Context, f Fields) (Agency, error) {
	a := Agency{ID: uuid.Must(uuid.NewV7()), Version: 1}
	apply(&a, f)
	v := &fault.Invalid{}
	for _, r := range []struct {
		name string
		val  *string
	}{{"osz_code", f.OSZCode}, {"name", f.Name}, {"inn", f.INN}, {"oktmo", f.OKTMO}} {
		if r.val == nil {
			v.Add(r.name, "is required", nil)
		}
	}
	if v.Err() == nil {
		validate(v, a)
	}
	if err := v.Err(); err != nil {
		return Agency{}, err
	}
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Create(&a).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return Agency{}, fault.Conflictf("an assigning body with osz_code %s exists in this region", a.OSZCode)
	}
	return a, err
}

// Get finds an assigning body of the context's region.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Agency, error) {
	var a Agency
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("id = ?", id).Take(&a).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return a, fault.NotFoundf("assigning body %s", id)
	}
	return a, err
}

// List pages through the region's assigning bodies.
func (s *Service) List(ctx context.Context, p page.Request) ([]Agency, string, error) {
	var as []Agency
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return p.Scope(tx).Find(&as).Error
	})
	if err != nil {
		return nil, "", err
	}
	as, cursor := page.Trim(as, p.Limit, func(a Agency) uuid.UUID { return a.ID })
	return as, cursor, nil
}

// Update applies the set fields of f if the body is still at version.
func (s *Service) Update(ctx context.Context, id uuid.UUID, version int64, f Fields) (Agency, error) {
	var a Agency
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
			return err
		}
		if a.Version != version {
			return fault.ErrStale
		}
		apply(&a, f)
		v := &fault.Invalid{}
		validate(v, a)
		if err := v.Err(); err != nil {
			return err
		}
		res := tx.Model(&Agency{}).Where("id = ? AND version = ?", id, version).Updates(map[string]any{
			"osz_code": a.OSZCode, "name": a.Name, "short_name": a.ShortName, "inn": a.INN,
			"oktmo": a.OKTMO, "version": version + 1,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.ErrStale
		}
		return tx.Where("id = ?", id).Take(&a).Error
	})
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return a, fault.NotFoundf("assigning body %s", id)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return a, fault.Conflictf("an assigning body with osz_code %s exists in this region", a.OSZCode)
	}
	return a, err
}

func apply(a *Agency, f Fields) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	set(&a.OSZCode, f.OSZCode)
	set(&a.Name, f.Name)
	set(&a.ShortName, f.ShortName)
	set(&a.INN, f.INN)
	set(&a.OKTMO, f.OKTMO)
}

func validate(v *fault.Invalid, a Agency) {
	if !oszCode.MatchString(a.OSZCode) {
		v.Add("osz_code", "must match EGISSO's pattern: four of A-H, J-N, P-Z or digits, a dot, six digits", a.OSZCode)
	}
	if a.Name == "" || utf8.RuneCountInString(a.Name) > 500 {
		v.Add("name", "must be 1 to 500 characters", a.Name)
	}
	if utf8.RuneCountInString(a.ShortName) > 200 {
		v.Add("short_name", "must be at most 200 characters", a.ShortName)
	}
	if err := ident.OrgINN(a.INN); err != nil {
		v.Add("inn", "is not a valid organisation INN: "+err.Error(), a.INN)
	}
	if !oktmoRe.MatchString(a.OKTMO) {
		v.Add("oktmo", "must be an OKTMO code of 8 or 11 digits", a.OKTMO)
	}
}
