package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	gormadapter "github.com/casbin/gorm-adapter/v3"
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Subject is who asks: a user, and the roles an external identity provider
// asserted for it (in Domain, or federally when Domain is "").
type Subject struct {
	User   uuid.UUID
	Roles  []string
	Domain string
}

// Key is the Casbin subject of a user.
func Key(user uuid.UUID) string { return "user:" + user.String() }

// Authorizer holds the enforcer and the compiled snapshot.
type Authorizer struct {
	db       *gorm.DB
	enforcer *casbin.SyncedEnforcer
	snap     atomic.Pointer[snapshot]
	reloadMu sync.Mutex
	log      *slog.Logger
	now      func() time.Time
	loc      *time.Location
}

// ErrUnknownRole is returned for a role name the platform does not define.
var ErrUnknownRole = errors.New("unknown role")

// New loads the policies from db (tables made by migrations).
func New(ctx context.Context, db *gorm.DB, log *slog.Logger) (*Authorizer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, err
	}
	adb := db.WithContext(context.Background())
	gormadapter.TurnOffAutoMigrate(adb)
	adapter, err := gormadapter.NewAdapterByDB(adb)
	if err != nil {
		return nil, fmt.Errorf("access: adapter: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, adapter)
	if err != nil {
		return nil, fmt.Errorf("access: enforcer: %w", err)
	}
	loc, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		loc = time.FixedZone("MSK", 3*3600)
	}
	a := &Authorizer{db: db, enforcer: e, log: log.With("component", "access"), now: time.Now, loc: loc}
	e.AddFunction("within", a.withinFunc)
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// today is the civil date (Moscow time) periods are judged on.
func (a *Authorizer) today() string { return a.now().In(a.loc).Format(time.DateOnly) }

func (a *Authorizer) withinFunc(args ...any) (any, error) {
	if len(args) != 2 {
		return false, errors.New("within takes two dates")
	}
	from, _ := args[0].(string)
	to, _ := args[1].(string)
	t := a.today()
	return (from == unbounded || t >= from) && (to == unbounded || t <= to), nil
}

// Allowed is the per-request decision, answered from the snapshot.
func (a *Authorizer) Allowed(s Subject, dom, obj, act string) bool {
	return a.snap.Load().allowed(Key(s.User), s.Roles, s.Domain, dom, obj, act, a.today())
}

// Enforce asks Casbin itself, without any cache: the reference the snapshot
// must agree with, and the benchmark's baseline.
func (a *Authorizer) Enforce(user uuid.UUID, dom, obj, act string) (bool, error) {
	if a.snap.Load().disabled[Key(user)] {
		return false, nil
	}
	return a.enforcer.Enforce(Key(user), dom, obj, act)
}

// Version is the access version the snapshot was built at.
func (a *Authorizer) Version() int64 { return a.snap.Load().version }

// Reload rereads policies and disabled users from the database and swaps in
// a new snapshot. The enforcer's own LoadPolicy takes its lock, so readers
// never see a half-loaded model.
func (a *Authorizer) Reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	version, err := currentVersion(ctx, a.db)
	if err != nil {
		return err
	}
	if err := a.enforcer.LoadPolicy(); err != nil {
		return fmt.Errorf("access: load policy: %w", err)
	}
	var disabledIDs []string
	if err := a.db.WithContext(ctx).Table("users").Where("status = ?", "disabled").Pluck("id", &disabledIDs).Error; err != nil {
		return err
	}
	disabled := make(map[string]bool, len(disabledIDs))
	for _, id := range disabledIDs {
		disabled["user:"+id] = true
	}
	p, _ := a.enforcer.GetPolicy()
	g, _ := a.enforcer.GetNamedGroupingPolicy("g")
	g2, _ := a.enforcer.GetNamedGroupingPolicy("g2")
	a.snap.Store(buildSnapshot(version, p, g, g2, disabled))
	return nil
}

// Watch polls the access version and reloads when another replica (or
// this one) changed it, until ctx ends.
func (a *Authorizer) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := currentVersion(ctx, a.db)
		if err != nil {
			if ctx.Err() == nil {
				a.log.WarnContext(ctx, "access version poll failed", "error", err.Error())
			}
			continue
		}
		if v != a.Version() {
			if err := a.Reload(ctx); err != nil && ctx.Err() == nil {
				a.log.ErrorContext(ctx, "access reload failed", "error", err.Error())
			}
		}
	}
}

func currentVersion(ctx context.Context, db *gorm.DB) (int64, error) {
	var v int64
	err := db.WithContext(ctx).Raw("SELECT version FROM access_version WHERE id = 1").Scan(&v).Error
	return v, err
}

// Bump records that something decisions depend on changed; tx may be the
// transaction of that change.
func Bump(tx *gorm.DB) error {
	return tx.Exec("UPDATE access_version SET version = version + 1 WHERE id = 1").Error
}

// changed bumps the version and reloads this replica at once. The change
// is saved by then, so both go ahead even if the caller's context has ended
// (a client that disconnected): otherwise no replica, this one included,
// would see the change until another came along.
func (a *Authorizer) changed(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	if err := Bump(a.db.WithContext(ctx)); err != nil {
		return err
	}
	return a.Reload(ctx)
}

// Changed is for other packages whose changes affect decisions (a user
// disabled, an API key revoked): it bumps the version and reloads.
func (a *Authorizer) Changed(ctx context.Context) error { return a.changed(ctx) }

// TenantRoles lists the roles a user holds in a region.
func (a *Authorizer) TenantRoles(user uuid.UUID, dom string) []string {
	return append([]string(nil), a.snap.Load().tenantRoles[Key(user)][dom]...)
}

// FederalRolesOf lists a user's federal roles.
func (a *Authorizer) FederalRolesOf(user uuid.UUID) []string {
	return append([]string(nil), a.snap.Load().federalRoles[Key(user)]...)
}

// HasAnyRole tells whether a user holds any role in the region.
func (a *Authorizer) HasAnyRole(user uuid.UUID, dom string) bool {
	return len(a.snap.Load().tenantRoles[Key(user)][dom]) > 0
}

// SetTenantRoles makes roles exactly the user's roles in the region, through
// Casbin's incremental API.
func (a *Authorizer) SetTenantRoles(ctx context.Context, user uuid.UUID, dom string, roles []string) error {
	for _, r := range roles {
		if !IsTenantRole(r) {
			return fmt.Errorf("%w: %s", ErrUnknownRole, r)
		}
	}
	have := a.TenantRoles(user, dom)
	var add, remove [][]string
	for _, r := range roles {
		if !contains(have, r) {
			add = append(add, []string{Key(user), r, dom})
		}
	}
	for _, r := range have {
		if !contains(roles, r) {
			remove = append(remove, []string{Key(user), r, dom})
		}
	}
	if len(add) > 0 {
		if _, err := a.enforcer.AddNamedGroupingPolicies("g", add); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		if _, err := a.enforcer.RemoveNamedGroupingPolicies("g", remove); err != nil {
			return err
		}
	}
	return a.changed(ctx)
}

// SetFederalRoles makes roles exactly the user's federal roles.
func (a *Authorizer) SetFederalRoles(ctx context.Context, user uuid.UUID, roles []string) error {
	for _, r := range roles {
		if !IsFederalRole(r) {
			return fmt.Errorf("%w: %s", ErrUnknownRole, r)
		}
	}
	have := a.FederalRolesOf(user)
	for _, r := range roles {
		if !contains(have, r) {
			if _, err := a.enforcer.AddNamedGroupingPolicy("g2", Key(user), r); err != nil {
				return err
			}
		}
	}
	for _, r := range have {
		if !contains(roles, r) {
			if _, err := a.enforcer.RemoveNamedGroupingPolicy("g2", Key(user), r); err != nil {
				return err
			}
		}
	}
	return a.changed(ctx)
}

// delegationPolicies are the policy lines one delegation puts in force: the
// federal operator's administrators act on the object, its auditors read it.
func delegationPolicies(dom, obj, from, to string) [][]string {
	if to == "" {
		to = unbounded
	}
	return [][]string{
		{"federal_admin", dom, obj, "*", from, to},
		{"federal_auditor", dom, obj, "read", from, to},
	}
}

// Delegate puts a delegation's policies in force.
func (a *Authorizer) Delegate(ctx context.Context, dom, obj, from, to string) error {
	if _, err := a.enforcer.AddPolicies(delegationPolicies(dom, obj, from, to)); err != nil {
		return err
	}
	return a.changed(ctx)
}

// Undelegate withdraws a delegation's policies.
func (a *Authorizer) Undelegate(ctx context.Context, dom, obj, from, to string) error {
	if _, err := a.enforcer.RemovePolicies(delegationPolicies(dom, obj, from, to)); err != nil {
		return err
	}
	return a.changed(ctx)
}

// AddPolicy and RemovePolicy change one policy line incrementally (for
// operators' tools and benchmarks; the API changes roles, not policies).
func (a *Authorizer) AddPolicy(ctx context.Context, line ...string) error {
	if _, err := a.enforcer.AddPolicy(toAny(line)...); err != nil {
		return err
	}
	return a.changed(ctx)
}

func (a *Authorizer) RemovePolicy(ctx context.Context, line ...string) error {
	if _, err := a.enforcer.RemovePolicy(toAny(line)...); err != nil {
		return err
	}
	return a.changed(ctx)
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// Disabled tells whether the user is disabled (as of the snapshot).
func (a *Authorizer) Disabled(user uuid.UUID) bool { return a.snap.Load().disabled[Key(user)] }

// AllDelegated lists every (region, object) delegated to the federal
// operator and in force today.
func (a *Authorizer) AllDelegated() [][2]string {
	var out [][2]string
	today := a.today()
	for _, r := range a.snap.Load().rules["federal_admin"] {
		if r.dom != "*" && r.matches(r.dom, r.obj, r.act, today) {
			out = append(out, [2]string{r.dom, r.obj})
		}
	}
	return out
}
