package tenancy

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
	"github.com/socialtreasury/treasury/core/page"
)

// Status is where a region is in its life on the platform.
type Status string

const (
	StatusOnboarding Status = "onboarding"
	StatusActive     Status = "active"
	StatusSuspended  Status = "suspended"
	StatusArchived   Status = "archived"
)

// Mode says whether a region runs only on the core or also on its plug-ins.
type Mode string

const (
	ModeFull   Mode = "full"
	ModeHybrid Mode = "hybrid"
)

// next lists the statuses a region may move to; archiving is final.
var next = map[Status][]Status{
	StatusOnboarding: {StatusActive, StatusArchived},
	StatusActive:     {StatusSuspended, StatusArchived},
	StatusSuspended:  {StatusActive, StatusArchived},
}

// Tenant is a region.
type Tenant struct {
	ID        uuid.UUID `gorm:"primaryKey"`
	Code      string
	Name      string
	OKATO     string `gorm:"column:okato"`
	OKTMO     string `gorm:"column:oktmo"`
	Status    Status
	Mode      Mode
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName implements GORM's tabler.
func (Tenant) TableName() string { return "tenants" }

// NewTenant is what creating a region needs.
type NewTenant struct {
	Code  string
	Name  string
	OKATO string
	OKTMO string
	Mode  Mode
}

// Change is a partial update; nil fields stay as they are.
type Change struct {
	Name   *string
	OKATO  *string
	OKTMO  *string
	Status *Status
	Mode   *Mode
}

var (
	codeRe  = regexp.MustCompile(`^[0-9]{2}$`)
	okatoRe = regexp.MustCompile(`^[0-9]{2}([0-9]{3}([0-9]{3}([0-9]{3})?)?)?$`)
	oktmoRe = regexp.MustCompile(`^[0-9]{8}([0-9]{3})?$`)
)

// Service keeps the register of regions.
type Service struct {
	db       *gorm.DB
	onChange func(Tenant)
}

// NewService returns the regions' service over db.
func NewService(db *gorm.DB) *Service { return &Service{db: db} }

// Create registers a region in the onboarding status.
func (s *Service) Create(ctx context.Context, n NewTenant) (Tenant, error) {
	n.Name = strings.TrimSpace(n.Name)
	if n.Mode == "" {
		n.Mode = ModeFull
	}
	v := &fault.Invalid{}
	if !codeRe.MatchString(n.Code) || n.Code == "00" {
		v.Add("code", "must be a two-digit region code from 01 to 99", n.Code)
	}
	checkName(v, n.Name)
	checkCodes(v, n.OKATO, n.OKTMO)
	checkMode(v, n.Mode)
	if err := v.Err(); err != nil {
		return Tenant{}, err
	}
	t := Tenant{
		ID: uuid.Must(uuid.NewV7()), Code: n.Code, Name: n.Name, OKATO: n.OKATO, OKTMO: n.OKTMO,
		Status: StatusOnboarding, Mode: n.Mode, Version: 1,
	}
	err := s.db.WithContext(ctx).Create(&t).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return Tenant{}, fault.Conflictf("a region with code %s exists", n.Code)
	}
	return t, err
}

// Ensure creates the region unless one with its code exists, and returns it.
func (s *Service) Ensure(ctx context.Context, n NewTenant) (Tenant, error) {
	t, err := s.ByCode(ctx, n.Code)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, fault.ErrNotFound) {
		return t, err
	}
	t, err = s.Create(ctx, n)
	if errors.Is(err, fault.ErrConflict) { // created meanwhile by another process
		return s.ByCode(ctx, n.Code)
	}
	return t, err
}

// ByCode finds a region by its two-digit code.
func (s *Service) ByCode(ctx context.Context, code string) (Tenant, error) {
	var t Tenant
	if !codeRe.MatchString(code) {
		return t, fault.NotFoundf("region %q", code)
	}
	err := s.db.WithContext(ctx).Where("code = ?", code).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return t, fault.NotFoundf("region %s", code)
	}
	return t, err
}

// ByID finds a region by its id.
func (s *Service) ByID(ctx context.Context, id uuid.UUID) (Tenant, error) {
	var t Tenant
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return t, fault.NotFoundf("region %s", id)
	}
	return t, err
}

// Writable tells whether a region's data may change: a suspended region is
// read-only and an archived one is closed.
func (t Tenant) Writable() bool { return t.Status == StatusOnboarding || t.Status == StatusActive }

// List pages through the regions in creation order.
func (s *Service) List(ctx context.Context, p page.Request) ([]Tenant, string, error) {
	var ts []Tenant
	if err := p.Scope(s.db.WithContext(ctx)).Find(&ts).Error; err != nil {
		return nil, "", err
	}
	ts, cursor := page.Trim(ts, p.Limit, func(t Tenant) uuid.UUID { return t.ID })
	return ts, cursor, nil
}

// Update applies c to the region if it is still at version; otherwise
// fault.ErrStale.
func (s *Service) Update(ctx context.Context, code string, version int64, c Change) (Tenant, error) {
	var out Tenant
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := (&Service{db: tx}).ByCode(ctx, code)
		if err != nil {
			return err
		}
		if t.Version != version {
			return fault.ErrStale
		}
		v := &fault.Invalid{}
		if c.Name != nil {
			t.Name = strings.TrimSpace(*c.Name)
			checkName(v, t.Name)
		}
		if c.OKATO != nil {
			t.OKATO = *c.OKATO
		}
		if c.OKTMO != nil {
			t.OKTMO = *c.OKTMO
		}
		checkCodes(v, t.OKATO, t.OKTMO)
		if c.Mode != nil {
			t.Mode = *c.Mode
			checkMode(v, t.Mode)
		}
		if c.Status != nil && *c.Status != t.Status {
			if !validStatus(*c.Status) {
				v.Add("status", "must be one of onboarding, active, suspended, archived", *c.Status)
			} else if !canMove(t.Status, *c.Status) {
				return fault.Conflictf("a region cannot move from %s to %s", t.Status, *c.Status)
			}
			t.Status = *c.Status
		}
		if err := v.Err(); err != nil {
			return err
		}
		res := tx.Model(&Tenant{}).Where("id = ? AND version = ?", t.ID, version).Updates(map[string]any{
			"name": t.Name, "okato": t.OKATO, "oktmo": t.OKTMO, "status": t.Status, "mode": t.Mode,
			"version": version + 1, "updated_at": tx.NowFunc(),
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.ErrStale
		}
		out, err = (&Service{db: tx}).ByCode(ctx, code)
		return err
	})
	if err == nil && s.onChange != nil {
		s.onChange(out)
	}
	return out, err
}

func canMove(from, to Status) bool {
	for _, s := range next[from] {
		if s == to {
			return true
		}
	}
	return false
}

func validStatus(s Status) bool {
	switch s {
	case StatusOnboarding, StatusActive, StatusSuspended, StatusArchived:
		return true
	}
	return false
}

func checkName(v *fault.Invalid, name string) {
	if name == "" || utf8.RuneCountInString(name) > 200 {
		v.Add("name", "must be 1 to 200 characters", name)
	}
}

func checkCodes(v *fault.Invalid, okato, oktmo string) {
	if !okatoRe.MatchString(okato) {
		v.Add("okato", "must be an OKATO code of 2, 5, 8 or 11 digits", okato)
	}
	if !oktmoRe.MatchString(oktmo) {
		v.Add("oktmo", "must be an OKTMO code of 8 or 11 digits", oktmo)
	}
}

func checkMode(v *fault.Invalid, m Mode) {
	if m != ModeFull && m != ModeHybrid {
		v.Add("mode", "must be full or hybrid", m)
	}
}

// FirstRegion calls fn with each region's context in turn until fn
// reports it did something: how a runner serving every region looks for
// its next job. It reports whether fn did.
func (s *Service) FirstRegion(ctx context.Context, fn func(rctx context.Context, t Tenant) bool) bool {
	p := page.Request{Limit: page.MaxLimit}
	for {
		regions, next, err := s.List(ctx, p)
		if err != nil {
			return false
		}
		for _, r := range regions {
			if fn(WithTenant(ctx, r.ID), r) {
				return true
			}
		}
		if next == "" {
			return false
		}
		if p, err = page.Parse(page.MaxLimit, next); err != nil {
			return false
		}
	}
}
