package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
)

// User is a person or a service account of a region, or of the federal
// operator when HomeTenant is nil.
type User struct {
	ID              uuid.UUID `gorm:"primaryKey"`
	Username        string
	DisplayName     string
	HomeTenant      *uuid.UUID `gorm:"column:home_tenant"`
	Kind            string
	PasswordHash    *string
	Status          string
	FailedLogins    int
	LockedUntil     *time.Time
	ExternalSubject *string
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName implements GORM's tabler.
func (User) TableName() string { return "users" }

const (
	KindHuman   = "human"
	KindService = "service"

	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// NewUser is what creating a user needs. Tenant is uuid.Nil for a federal user.
type NewUser struct {
	Username    string
	DisplayName string
	Tenant      uuid.UUID
	Kind        string
	Password    string
}

// UserChange is a partial update; nil fields stay.
type UserChange struct {
	DisplayName *string
	Status      *string
	Password    *string
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{2,99}$`)

// MinPasswordLen and MaxPasswordLen bound a password, in characters (the
// API's bodies take at most MaxPasswordLen, a login's too: hashing has a
// cost that grows with the length).
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1000
)

// What is wrong with a password's length, as creation and change say it.
var (
	passwordTooShort = fmt.Sprintf("must be at least %d characters", MinPasswordLen)
	passwordTooLong  = fmt.Sprintf("must be at most %d characters", MaxPasswordLen)
)

// CreateUser registers a user.
func (s *Service) CreateUser(ctx context.Context, n NewUser) (User, error) {
	n.Username = strings.ToLower(strings.TrimSpace(n.Username))
	if n.Kind == "" {
		n.Kind = KindHuman
	}
	v := &fault.Invalid{}
	if !usernameRe.MatchString(n.Username) {
		v.Add("username", "must be 3 to 100 of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit", n.Username)
	}
	if utf8.RuneCountInString(n.DisplayName) > 200 {
		v.Add("display_name", "must be at most 200 characters", nil)
	}
	if n.Kind != KindHuman && n.Kind != KindService {
		v.Add("kind", "must be human or service", n.Kind)
	}
	if n.Kind == KindHuman && utf8.RuneCountInString(n.Password) < MinPasswordLen {
		v.Add("password", passwordTooShort, nil)
	}
	if utf8.RuneCountInString(n.Password) > MaxPasswordLen {
		v.Add("password", passwordTooLong, nil)
	}
	if n.Kind == KindService && n.Password != "" {
		v.Add("password", "a service account authenticates with API keys, not a password", nil)
	}
	if err := v.Err(); err != nil {
		return User{}, err
	}
	u := User{ID: uuid.Must(uuid.NewV7()), Username: n.Username, DisplayName: strings.TrimSpace(n.DisplayName),
		Kind: n.Kind, Status: StatusActive, Version: 1}
	if n.Tenant != uuid.Nil {
		t := n.Tenant
		u.HomeTenant = &t
	}
	if n.Password != "" {
		h, err := hashPassword(n.Password, s.opts.Argon2)
		if err != nil {
			return User{}, err
		}
		u.PasswordHash = &h
	}
	err := s.db.WithContext(ctx).Create(&u).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return User{}, fault.Conflictf("username %s is taken", n.Username)
	}
	return u, err
}

// scopeTenant confines a users query to one region, or to federal users.
func scopeTenant(q *gorm.DB, tenant uuid.UUID) *gorm.DB {
	if tenant == uuid.Nil {
		return q.Where("home_tenant IS NULL")
	}
	return q.Where("home_tenant = ?", tenant)
}

// GetUser finds a user of the region (uuid.Nil: of the federal operator).
func (s *Service) GetUser(ctx context.Context, tenant, id uuid.UUID) (User, error) {
	var u User
	err := scopeTenant(s.db.WithContext(ctx), tenant).Where("id = ?", id).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return u, fault.NotFoundf("user %s", id)
	}
	return u, err
}

// UserByName finds a user by username, in any region.
func (s *Service) UserByName(ctx context.Context, username string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("username = ?", strings.ToLower(username)).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return u, fault.NotFoundf("user %s", username)
	}
	return u, err
}

// ListUsers pages through the region's (or the federal) users.
func (s *Service) ListUsers(ctx context.Context, tenant uuid.UUID, p page.Request) ([]User, string, error) {
	var us []User
	if err := p.Scope(scopeTenant(s.db.WithContext(ctx), tenant)).Find(&us).Error; err != nil {
		return nil, "", err
	}
	us, next := page.Trim(us, p.Limit, func(u User) uuid.UUID { return u.ID })
	return us, next, nil
}

// UpdateUser changes a user at version. Disabling takes effect on every
// replica within a second: it moves the access version.
func (s *Service) UpdateUser(ctx context.Context, tenant, id uuid.UUID, version int64, c UserChange) (User, error) {
	u, err := s.GetUser(ctx, tenant, id)
	if err != nil {
		return u, err
	}
	if u.Version != version {
		return u, fault.ErrStale
	}
	v := &fault.Invalid{}
	set := map[string]any{"version": version + 1}
	if c.DisplayName != nil {
		if utf8.RuneCountInString(*c.DisplayName) > 200 {
			v.Add("display_name", "must be at most 200 characters", nil)
		}
		set["display_name"] = strings.TrimSpace(*c.DisplayName)
	}
	statusChanged := false
	if c.Status != nil && *c.Status != u.Status {
		if *c.Status != StatusActive && *c.Status != StatusDisabled {
			v.Add("status", "must be active or disabled", *c.Status)
		}
		set["status"] = *c.Status
		statusChanged = true
	}
	if c.Password != nil {
		if u.Kind == KindService {
			v.Add("password", "a service account has no password", nil)
		} else if utf8.RuneCountInString(*c.Password) < MinPasswordLen {
			v.Add("password", passwordTooShort, nil)
		} else if utf8.RuneCountInString(*c.Password) > MaxPasswordLen {
			v.Add("password", passwordTooLong, nil)
		} else {
			h, err := hashPassword(*c.Password, s.opts.Argon2)
			if err != nil {
				return u, err
			}
			set["password_hash"] = h
			set["failed_logins"] = 0
			set["locked_until"] = nil
		}
	}
	if err := v.Err(); err != nil {
		return u, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND version = ?", id, version).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.ErrStale
		}
		if _, ok := set["password_hash"]; !ok {
			return nil
		}
		// A new password ends the logins the old one opened: whoever learnt
		// it keeps no refresh token (access tokens expire on their own).
		return tx.Model(&refreshToken{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now()).Error
	})
	if err != nil {
		return u, err
	}
	if statusChanged && s.changed != nil {
		if err := s.changed(ctx); err != nil {
			return u, err
		}
	}
	return s.GetUser(ctx, tenant, id)
}

// CheckPassword tells whether pw is the user's password (no lockout counting).
func (s *Service) CheckPassword(u User, pw string) (bool, error) {
	if u.PasswordHash == nil {
		return false, nil
	}
	return checkPassword(pw, *u.PasswordHash)
}
