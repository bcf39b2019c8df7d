package access

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Delegation hands one object of a region (measure:<code>) to the federal
// operator for a period — the transfer of functions the Social Treasury
// model provides for. Its row is kept after revocation: who granted, who
// revoked, when.
type Delegation struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	ID        uuid.UUID `gorm:"primaryKey"`
	Object    string
	Grantee   string
	ValidFrom time.Time
	ValidTo   *time.Time
	Note      string
	GrantedBy uuid.UUID
	GrantedAt time.Time
	RevokedBy *uuid.UUID
	RevokedAt *time.Time
}

// TableName implements GORM's tabler.
func (Delegation) TableName() string { return "delegations" }

// NewDelegation is a grant's content.
type NewDelegation struct {
	Object    string
	ValidFrom string
	ValidTo   string
	Note      string
}

var objectRe = regexp.MustCompile(`^measure:[A-Za-z0-9_.-]{1,80}$`)

// Delegations keeps a region's delegations and puts them in force.
type Delegations struct {
	db    *gorm.DB
	authz *Authorizer
}

// NewDelegations returns the service.
func NewDelegations(db *gorm.DB, authz *Authorizer) *Delegations {
	return &Delegations{db: db, authz: authz}
}

// Grant delegates an object of the context's region (code dom).
func (d *Delegations) Grant(ctx context.Context, dom string, n NewDelegation, by uuid.UUID) (Delegation, error) {
	v := &fault.Invalid{}
	if !objectRe.MatchString(n.Object) {
		v.Add("object", "must be measure:<code>", n.Object)
	}
	from, errFrom := time.Parse(time.DateOnly, n.ValidFrom)
	if errFrom != nil {
		v.Add("valid_from", "must be a date YYYY-MM-DD", n.ValidFrom)
	}
	var to *time.Time
	if n.ValidTo != "" {
		t, err := time.Parse(time.DateOnly, n.ValidTo)
		switch {
		case err != nil:
			v.Add("valid_to", "must be a date YYYY-MM-DD", n.ValidTo)
		case errFrom == nil && t.Before(from):
			v.Add("valid_to", "must not be before valid_from", n.ValidTo)
		}
		to = &t
	}
	if utf8.RuneCountInString(n.Note) > 1000 {
		v.Add("note", "must be at most 1000 characters", nil)
	}
	if err := v.Err(); err != nil {
		return Delegation{}, err
	}
	tid, _ := tenancy.FromContext(ctx)
	dl := Delegation{ID: uuid.Must(uuid.NewV7()), TenantID: tid, Object: n.Object, Grantee: "federal",
		ValidFrom: from, ValidTo: to, Note: strings.TrimSpace(n.Note), GrantedBy: by, GrantedAt: time.Now().UTC()}
	err := tenancy.Tx(ctx, d.db, func(tx *gorm.DB) error {
		var overlapping int64
		q := tx.Model(&Delegation{}).Where("object = ? AND revoked_at IS NULL", n.Object)
		if err := q.Count(&overlapping).Error; err != nil {
			return err
		}
		if overlapping > 0 {
			return fault.Conflictf("%s is already delegated; revoke that delegation first", n.Object)
		}
		if err := tx.Create(&dl).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Actor: by, Action: "delegation.grant", ObjectType: "delegation",
			ObjectID: dl.ID.String(), Detail: delegationDetail(dl)})
	})
	if err != nil {
		return Delegation{}, err
	}
	if err := d.authz.Delegate(ctx, dom, dl.Object, DateString(&dl.ValidFrom), DateString(dl.ValidTo)); err != nil {
		return Delegation{}, err
	}
	return dl, nil
}

// Revoke ends a delegation of the context's region.
func (d *Delegations) Revoke(ctx context.Context, dom string, id, by uuid.UUID) (Delegation, error) {
	var dl Delegation
	already := false
	err := tenancy.Tx(ctx, d.db, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&dl).Error; err != nil {
			return err
		}
		if dl.RevokedAt != nil {
			already = true
			return nil
		}
		now := time.Now().UTC()
		dl.RevokedAt, dl.RevokedBy = &now, &by
		if err := tx.Model(&Delegation{}).Where("id = ?", id).
			Updates(map[string]any{"revoked_at": now, "revoked_by": by}).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Actor: by, Action: "delegation.revoke", ObjectType: "delegation",
			ObjectID: dl.ID.String(), Detail: delegationDetail(dl)})
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return dl, fault.NotFoundf("delegation %s", id)
	}
	if err != nil || already {
		// Revoked before: its policies are gone, and the same lines may now
		// belong to a later delegation of the same object.
		return dl, err
	}
	return dl, d.authz.Undelegate(ctx, dom, dl.Object, DateString(&dl.ValidFrom), DateString(dl.ValidTo))
}

// List pages through the region's delegations, revoked ones included.
func (d *Delegations) List(ctx context.Context, p page.Request) ([]Delegation, string, error) {
	var ds []Delegation
	err := tenancy.Tx(ctx, d.db, func(tx *gorm.DB) error {
		return p.Scope(tx).Find(&ds).Error
	})
	if err != nil {
		return nil, "", err
	}
	ds, next := page.Trim(ds, p.Limit, func(x Delegation) uuid.UUID { return x.ID })
	return ds, next, nil
}

// delegationDetail is a delegation's audit detail: what, for when.
func delegationDetail(d Delegation) string {
	to := DateString(d.ValidTo)
	if to == "" {
		to = "open"
	}
	return "object=" + d.Object + " valid_from=" + DateString(&d.ValidFrom) + " valid_to=" + to
}

// DateString renders a civil date as YYYY-MM-DD ("" for none).
func DateString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.DateOnly)
}
