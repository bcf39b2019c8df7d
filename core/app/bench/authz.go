package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
)

// AuthzOptions configure the authorization benchmark.
type AuthzOptions struct {
	Common
	// Tenants is the number of regions (access-control domains 01, 02, …).
	Tenants int
	// Users is the total number of region users, spread evenly over the
	// regions, each with one role in its home region. A few federal users
	// (one per hundred region users, at least 2, at most 20) come on top.
	Users int
	// ChangesPerSecond is the rate of role changes made while measuring.
	ChangesPerSecond float64
}

// DefaultAuthz are the defaults of `treasury bench authz`.
func DefaultAuthz() AuthzOptions {
	return AuthzOptions{Common: Common{Seconds: 10, Rounds: 2, Seed: 1}, Tenants: 100, Users: 1000, ChangesPerSecond: 10}
}

// roleMix weights the region roles as a region staffs them.
var roleMix = []struct {
	role   string
	weight int
}{
	{"specialist", 40}, {"approver", 15}, {"treasurer", 10}, {"auditor", 10},
	{"tenant_admin", 10}, {"integration", 10}, {"plugin_developer", 5},
}

type benchUser struct {
	id   uuid.UUID
	home string
}

type authzRequest struct {
	subj          access.Subject
	dom, obj, act string
}

// casbinRule is the gorm-adapter's row layout, for loading the synthetic
// users' roles in one batch.
type casbinRule struct {
	ID                            uint `gorm:"primaryKey;autoIncrement"`
	Ptype, V0, V1, V2, V3, V4, V5 string
}

func (casbinRule) TableName() string { return "casbin_rule" }

// Authz measures the per-request authorization decision: ours is
// Authorizer.Allowed (the compiled snapshot), the baseline Authorizer.Enforce
// (Casbin without a cache) on the same request sequence, in alternating
// rounds, while a background goroutine changes users' roles at
// ChangesPerSecond through the real path (SetTenantRoles: Casbin's
// incremental API, the version bump and the reload). It returns the BENCH
// line, which it also prints last.
func Authz(ctx context.Context, o AuthzOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	if o.Tenants < 1 || o.Tenants > 10_000 {
		return "", configErrorf("--tenants: %d is outside 1..10000", o.Tenants)
	}
	if o.Users < 1 || o.Users > 1_000_000 {
		return "", configErrorf("--users: %d is outside 1..1000000", o.Users)
	}
	if o.ChangesPerSecond < 0 || o.ChangesPerSecond > 1000 {
		return "", configErrorf("--changes-per-second: %g is outside 0..1000", o.ChangesPerSecond)
	}
	start := time.Now()
	s, p, err := openPlatform(ctx, o.DatabaseURL, o.Log)
	if err != nil {
		return "", err
	}
	defer s.close()
	authz := p.Access
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))

	// The population: region users with one role each, federal users, and
	// a delegation per region whose period has passed, holds, or is to come.
	doms := make([]string, o.Tenants)
	for i := range doms {
		doms[i] = fmt.Sprintf("%02d", i+1)
	}
	users := make([]benchUser, o.Users)
	var rules []casbinRule
	for i := range users {
		users[i] = benchUser{id: seededUUID(rng), home: doms[i%len(doms)]}
		rules = append(rules, casbinRule{Ptype: "g", V0: access.Key(users[i].id), V1: pickRole(rng), V2: users[i].home})
	}
	federal := make([]uuid.UUID, min(max(2, o.Users/100), 20))
	for i := range federal {
		federal[i] = seededUUID(rng)
		rules = append(rules, casbinRule{Ptype: "g2", V0: access.Key(federal[i]), V1: access.FederalRoles[i%len(access.FederalRoles)]})
	}
	// In one batch rather than through SetTenantRoles, which reloads every
	// policy per call: quadratic in the users. The changes measured below go
	// through SetTenantRoles.
	if err := p.DB.Gorm.WithContext(ctx).CreateInBatches(rules, 500).Error; err != nil {
		return "", fmt.Errorf("loading roles: %w", err)
	}
	if err := authz.Changed(ctx); err != nil {
		return "", err
	}
	for i, d := range doms {
		from, to := "2020-01-01", ""
		switch i % 3 {
		case 1:
			to = "2021-12-31"
		case 2:
			from = "2099-01-01"
		}
		if err := authz.Delegate(ctx, d, "measure:m"+d, from, to); err != nil {
			return "", err
		}
	}
	reqs := authzRequests(rng, doms, users, federal)
	printf(out, "authz: %s, %d regions, %d region users + %d federal, %d delegations, %d distinct requests; setup %s\n",
		s.dialect, o.Tenants, o.Users, len(federal), len(doms), len(reqs), time.Since(start).Round(time.Millisecond))

	// Warm both paths up (Casbin compiles its matcher on first use).
	warm := time.Now().Add(200 * time.Millisecond)
	for i := 0; time.Now().Before(warm); i++ {
		r := &reqs[i&(len(reqs)-1)]
		authz.Allowed(r.subj, r.dom, r.obj, r.act)
		_, _ = authz.Enforce(r.subj.User, r.dom, r.obj, r.act)
	}

	ch := startChanger(ctx, authz, users, o.ChangesPerSecond, o.Seed)
	var (
		ours, base       latencies
		allowed, errs    int
		gcBefore, gcLast runtime.MemStats
	)
	runtime.ReadMemStats(&gcBefore)
	round := o.round()
	for r := 1; r <= o.Rounds; r++ {
		from := len(ours)
		stopProfile, err := o.profile(r)
		if err != nil {
			ch.stop()
			return "", err
		}
		allowed += measureAllowed(ctx, authz, reqs, round, &ours)
		if err := stopProfile(); err != nil {
			ch.stop()
			return "", err
		}
		printf(out, "round %d ours:     %s\n", r, describeUs(summarize(ours[from:]), round))
		from = len(base)
		e := measureEnforce(ctx, authz, reqs, round, &base)
		errs += e
		printf(out, "round %d baseline: %s\n", r, describeUs(summarize(base[from:]), round))
		if ctx.Err() != nil {
			break
		}
	}
	changes, changeErrs, changeLat := ch.stop()
	runtime.ReadMemStats(&gcLast)
	errs += changeErrs
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("interrupted: %w", err)
	}
	cs := summarize(changeLat)
	printf(out, "policy changes: %d applied, %d failed, each (write, version bump, reload) p50 %s max %s; %d GC cycles while measuring\n",
		changes, changeErrs, cs.p50.Round(10*time.Microsecond), cs.max.Round(10*time.Microsecond), gcLast.NumGC-gcBefore.NumGC)

	// With nothing changing any more, both must decide alike.
	checked, mismatches := 0, 0
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; i < len(reqs) && i < 2000 && time.Now().Before(deadline); i++ {
		r := &reqs[i]
		got := authz.Allowed(r.subj, r.dom, r.obj, r.act)
		want, err := authz.Enforce(r.subj.User, r.dom, r.obj, r.act)
		checked++
		if err != nil || got != want {
			mismatches++
			if mismatches <= 3 {
				printf(out, "MISMATCH: Allowed(%s, %q, %q, %q) = %v, Enforce = %v (%v)\n", access.Key(r.subj.User), r.dom, r.obj, r.act, got, want, err)
			}
		}
	}
	errs += mismatches
	printf(out, "check: %d decisions compared after the changes stopped, %d differ\n", checked, mismatches)

	so, sb := summarize(ours), summarize(base)
	if so.n > 0 {
		printf(out, "ours allowed %.1f%% of %d decisions\n", 100*float64(allowed)/float64(so.n), so.n)
	}
	ratio := 0.0
	if sb.p50 > 0 {
		ratio = float64(so.p50) / float64(sb.p50)
	}
	l := line{
		{"name", "authz"}, {"db", string(s.dialect)}, {"tenants", strconv.Itoa(o.Tenants)}, {"users", strconv.Itoa(o.Users)},
		{"n", strconv.Itoa(so.n)},
		{"ours_p50_us", num(us(so.p50))}, {"ours_p99_us", num(us(so.p99))},
		{"baseline_p50_us", num(us(sb.p50))}, {"baseline_p99_us", num(us(sb.p99))},
		{"ratio", num(ratio)}, {"changes", strconv.Itoa(changes)}, {"errors", strconv.Itoa(errs)},
	}.String()
	printf(out, "%s\n", l)
	return l, nil
}

func describeUs(s summary, d time.Duration) string {
	return fmt.Sprintf("n=%d (%s/s) p50=%sµs p99=%sµs max=%sµs", s.n, num(float64(s.n)/d.Seconds()),
		num(us(s.p50)), num(us(s.p99)), num(us(s.max)))
}

// measureAllowed times each decision of ours for d; it returns how many
// were allowed.
func measureAllowed(ctx context.Context, a *access.Authorizer, reqs []authzRequest, d time.Duration, lat *latencies) int {
	allowed := 0
	mask := len(reqs) - 1
	deadline := time.Now().Add(d)
	for i := 0; ; i++ {
		r := &reqs[i&mask]
		t0 := time.Now()
		ok := a.Allowed(r.subj, r.dom, r.obj, r.act)
		t1 := time.Now()
		lat.add(t1.Sub(t0))
		if ok {
			allowed++
		}
		if t1.After(deadline) || (i&0xffff == 0 && ctx.Err() != nil) {
			return allowed
		}
	}
}

// measureEnforce times each decision of the baseline for d; it returns the
// number of errors.
func measureEnforce(ctx context.Context, a *access.Authorizer, reqs []authzRequest, d time.Duration, lat *latencies) int {
	errs := 0
	mask := len(reqs) - 1
	deadline := time.Now().Add(d)
	for i := 0; ; i++ {
		r := &reqs[i&mask]
		t0 := time.Now()
		_, err := a.Enforce(r.subj.User, r.dom, r.obj, r.act)
		t1 := time.Now()
		lat.add(t1.Sub(t0))
		if err != nil {
			errs++
		}
		if t1.After(deadline) || ctx.Err() != nil {
			return errs
		}
	}
}

// authzRequests draws 65,536 requests (a power of two, walked cyclically):
// nine in ten from region users, mostly in their home region, the rest from
// federal users in any region; objects and actions as the API asks them,
// with a fifth on delegable measures.
func authzRequests(rng *rand.Rand, doms []string, users []benchUser, federal []uuid.UUID) []authzRequest {
	objs := []string{"tenant", "agency", "user", "role", "apikey", "delegation", "tenants", "federal_user", "report:x"}
	acts := []string{"read", "read", "read", "list", "create", "update", "grant", "revoke"}
	reqs := make([]authzRequest, 1<<16)
	for i := range reqs {
		r := &reqs[i]
		if rng.IntN(10) == 0 {
			r.subj, r.dom = access.Subject{User: federal[rng.IntN(len(federal))]}, doms[rng.IntN(len(doms))]
		} else {
			u := users[rng.IntN(len(users))]
			r.subj, r.dom = access.Subject{User: u.id, Domain: u.home}, u.home
			if rng.IntN(10) == 0 {
				r.dom = doms[rng.IntN(len(doms))]
			}
		}
		r.obj, r.act = objs[rng.IntN(len(objs))], acts[rng.IntN(len(acts))]
		if rng.IntN(5) == 0 {
			r.obj = "measure:m" + doms[rng.IntN(len(doms))]
		}
	}
	return reqs
}

func pickRole(rng *rand.Rand) string {
	total := 0
	for _, m := range roleMix {
		total += m.weight
	}
	n := rng.IntN(total)
	for _, m := range roleMix {
		if n < m.weight {
			return m.role
		}
		n -= m.weight
	}
	return roleMix[0].role
}

// seededUUID is a version 4 UUID drawn from rng, so that a seed always
// builds the same users.
func seededUUID(rng *rand.Rand) uuid.UUID {
	var u uuid.UUID
	for i := 0; i < 16; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			u[i+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// changer replaces random users' roles at a steady rate.
type changer struct {
	done    chan struct{}
	wg      sync.WaitGroup
	applied int
	failed  int
	lat     latencies
}

// startChanger changes roles with ctx (the run's) until stop, which lets
// the change under way finish, so that the agreement check afterwards sees
// settled policies.
func startChanger(ctx context.Context, a *access.Authorizer, users []benchUser, perSecond float64, seed uint64) *changer {
	c := &changer{done: make(chan struct{})}
	if perSecond <= 0 {
		return c
	}
	rng := rand.New(rand.NewPCG(seed+1, seed^0xc4a9e))
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
		defer t.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			u := users[rng.IntN(len(users))]
			roles := []string{pickRole(rng)}
			if rng.IntN(3) == 0 {
				if r := pickRole(rng); r != roles[0] {
					roles = append(roles, r)
				}
			}
			t0 := time.Now()
			if err := a.SetTenantRoles(ctx, u.id, u.home, roles); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.failed++
				continue
			}
			c.lat.add(time.Since(t0))
			c.applied++
		}
	}()
	return c
}

func (c *changer) stop() (applied, failed int, lat latencies) {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
	return c.applied, c.failed, c.lat
}
