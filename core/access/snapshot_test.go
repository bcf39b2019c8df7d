package access

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// The snapshot must decide exactly as Casbin does. Random users get random
// roles in random regions (and some lose them again), random federal roles,
// delegations whose periods lie in the past, around today and in the future,
// a few extra policies and role-to-role links; then random requests — known
// and unknown users, regions, "" and "*" as the domain, objects no policy
// names — are asked of both. TREASURY_TEST_SEED replays a failing run.
func TestSnapshotMatchesCasbin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		a, err := New(ctx, env.App.Gorm, nil)
		if err != nil {
			t.Fatal(err)
		}
		today := time.Date(2026, 3, 15, 12, 0, 0, 0, a.loc)
		a.now = func() time.Time { return today }
		seed := testSeed(t)
		w := newWorld(a, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), today)
		w.populate(t, ctx, 60)

		const requests = 20_000
		var mismatches, allowed int
		for i := 0; i < requests; i++ {
			user, dom, obj, act := w.request()
			got := a.Allowed(Subject{User: user}, dom, obj, act)
			want, err := a.Enforce(user, dom, obj, act)
			if err != nil {
				t.Fatalf("Enforce(%s, %q, %q, %q): %v", Key(user), dom, obj, act, err)
			}
			if got {
				allowed++
			}
			if got != want {
				mismatches++
				if mismatches <= 5 {
					t.Errorf("request %d: Allowed(%s, dom %q, obj %q, act %q) = %v, Casbin says %v\n%s",
						i, Key(user), dom, obj, act, got, want, w.explain(user, dom, obj))
				}
			}
		}
		if mismatches > 0 {
			t.Fatalf("%d of %d decisions differ (seed %d)", mismatches, requests, seed)
		}
		// A test whose requests are all refused (or all allowed) proves little.
		if allowed < requests/20 || allowed > requests*19/20 {
			t.Fatalf("%d of %d requests allowed: the request mix does not exercise both answers", allowed, requests)
		}
		t.Logf("%d requests, %d allowed, all agree (seed %d)", requests, allowed, seed)
	})
}

func testSeed(t testing.TB) uint64 {
	if s := os.Getenv("TREASURY_TEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TREASURY_TEST_SEED: %v", err)
		}
		return v
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (replay with TREASURY_TEST_SEED=%d)", seed, seed)
	return seed
}

// world is a random population of users, roles and delegations.
type world struct {
	a       *Authorizer
	rng     *rand.Rand
	today   time.Time
	domains []string
	objects []string
	users   []uuid.UUID
	seen    map[string]bool
}

var (
	testObjects = []string{"tenant", "tenants", "agency", "user", "role", "apikey", "delegation", "federal_user",
		"measure:x", "measure:child_benefit", "measure:large_family", "measure:", "measure", "report:x", "", "unknown"}
	testActions = []string{"read", "list", "create", "update", "grant", "revoke", "delete", "*", ""}
)

func newWorld(a *Authorizer, rng *rand.Rand, today time.Time) *world {
	return &world{a: a, rng: rng, today: today, domains: []string{"01", "16", "66", "77", "78", "99"},
		objects: testObjects, seen: map[string]bool{}}
}

func (w *world) pick(list []string) string { return list[w.rng.IntN(len(list))] }

// some returns between lo and hi distinct members of list.
func (w *world) some(list []string, lo, hi int) []string {
	hi = min(hi, len(list))
	n := lo + w.rng.IntN(hi-lo+1)
	perm := w.rng.Perm(len(list))
	out := make([]string, 0, n)
	for _, i := range perm[:n] {
		out = append(out, list[i])
	}
	return out
}

func (w *world) day(offset int) string {
	return w.today.AddDate(0, 0, offset).Format(time.DateOnly)
}

// period returns a validity period relative to today: past, current,
// future, open-ended, or one that starts or ends today.
func (w *world) period() (from, to string) {
	switch w.rng.IntN(7) {
	case 0:
		return w.day(-60), w.day(-30)
	case 1:
		return w.day(-10), w.day(10)
	case 2:
		return w.day(5), w.day(40)
	case 3:
		return w.day(-5), ""
	case 4:
		return w.day(0), w.day(0)
	case 5:
		return w.day(-3), w.day(-1)
	default:
		return w.day(1), ""
	}
}

func (w *world) populate(t testing.TB, ctx context.Context, users int) {
	t.Helper()
	a := w.a
	for i := 0; i < users; i++ {
		u := uuid.New()
		w.users = append(w.users, u)
		for range w.rng.IntN(3) {
			if err := a.SetTenantRoles(ctx, u, w.pick(w.domains), w.some(TenantRoles, 1, 3)); err != nil {
				t.Fatal(err)
			}
		}
		if w.rng.IntN(4) == 0 {
			if err := a.SetFederalRoles(ctx, u, w.some(FederalRoles, 1, 2)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Roles change: some are replaced, some withdrawn entirely.
	for i := 0; i < users/3; i++ {
		u := w.users[w.rng.IntN(len(w.users))]
		if err := a.SetTenantRoles(ctx, u, w.pick(w.domains), w.some(TenantRoles, 0, 2)); err != nil {
			t.Fatal(err)
		}
		if w.rng.IntN(5) == 0 {
			if err := a.SetFederalRoles(ctx, u, w.some(FederalRoles, 0, 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Delegations with periods; some withdrawn again.
	type deleg struct{ dom, obj, from, to string }
	var ds []deleg
	for i := 0; i < 16; i++ {
		d := deleg{dom: w.pick(w.domains), obj: w.pick([]string{"measure:x", "measure:child_benefit", "measure:large_family"})}
		d.from, d.to = w.period()
		key := strings.Join([]string{"d", d.dom, d.obj, d.from, d.to}, "|")
		if w.seen[key] {
			continue
		}
		w.seen[key] = true
		if err := a.Delegate(ctx, d.dom, d.obj, d.from, d.to); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	for _, d := range ds[:len(ds)/4] {
		if err := a.Undelegate(ctx, d.dom, d.obj, d.from, d.to); err != nil {
			t.Fatal(err)
		}
	}
	// Extra policies: for a role in one region, for a user directly, with
	// wildcards in the object and the action, with periods.
	for i := 0; i < 12; i++ {
		sub := w.pick(TenantRoles)
		if w.rng.IntN(3) == 0 {
			sub = Key(w.users[w.rng.IntN(len(w.users))])
		}
		dom := w.pick(append([]string{"*"}, w.domains...))
		obj := w.pick([]string{"measure:*", "agency", "report:x", "*", "measure:x"})
		act := w.pick([]string{"read", "update", "*"})
		from, to := unbounded, unbounded
		if w.rng.IntN(2) == 0 {
			from, to = w.period()
			if to == "" {
				to = unbounded
			}
		}
		line := []string{sub, dom, obj, act, from, to}
		if key := strings.Join(line, "|"); !w.seen[key] {
			w.seen[key] = true
			if err := a.AddPolicy(ctx, line...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Roles that inherit roles: in one region, and federally.
	for i := 0; i < 3; i++ {
		r1, r2, dom := w.pick(TenantRoles), w.pick(TenantRoles), w.pick(w.domains)
		if r1 == r2 {
			continue
		}
		if _, err := a.enforcer.AddNamedGroupingPolicy("g", r1, r2, dom); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.enforcer.AddNamedGroupingPolicy("g2", "federal_auditor", "auditor"); err != nil {
		t.Fatal(err)
	}
	if err := a.Changed(ctx); err != nil {
		t.Fatal(err)
	}
}

// request draws a random (user, domain, object, action), mostly in a
// region where the user holds roles and mostly reads, so that both answers
// come up often.
func (w *world) request() (uuid.UUID, string, string, string) {
	user := w.users[w.rng.IntN(len(w.users))]
	if w.rng.IntN(20) == 0 {
		user = uuid.New() // nobody
	}
	var dom string
	switch n := w.rng.IntN(20); {
	case n == 0:
		dom = ""
	case n == 1:
		dom = "*"
	case n == 2:
		dom = "42" // a region nobody has roles in
	case n < 12:
		for d := range w.a.snap.Load().tenantRoles[Key(user)] {
			dom = d // some region where the user holds roles
			break
		}
		if dom == "" {
			dom = w.pick(w.domains)
		}
	default:
		dom = w.pick(w.domains)
	}
	obj, act := w.pick(w.objects), w.pick(testActions)
	if w.rng.IntN(2) == 0 {
		obj, act = w.pick([]string{"tenant", "agency", "user", "delegation", "measure:x"}), "read"
	}
	return user, dom, obj, act
}

// explain lists the grouping lines that give a user roles in dom and the
// policies of those roles (and the user) on obj.
func (w *world) explain(user uuid.UUID, dom, obj string) string {
	e := w.a.enforcer
	var b strings.Builder
	subjects := map[string]bool{Key(user): true}
	g, _ := e.GetNamedGroupingPolicy("g")
	g2, _ := e.GetNamedGroupingPolicy("g2")
	fmt.Fprintf(&b, "  snapshot: roles in %q %v, federal %v, disabled %v\n", dom,
		w.a.snap.Load().tenantRoles[Key(user)][dom], w.a.snap.Load().federalRoles[Key(user)], w.a.snap.Load().disabled[Key(user)])
	for changed := true; changed; {
		changed = false
		for _, l := range g {
			if subjects[l[0]] && l[2] == dom && !subjects[l[1]] {
				subjects[l[1]], changed = true, true
				fmt.Fprintf(&b, "  g  %v\n", l)
			}
		}
		for _, l := range g2 {
			if subjects[l[0]] && !subjects[l[1]] {
				subjects[l[1]], changed = true, true
				fmt.Fprintf(&b, "  g2 %v\n", l)
			}
		}
	}
	p, _ := e.GetPolicy()
	for _, l := range p {
		if subjects[l[0]] && (l[1] == "*" || l[1] == dom) && keyMatch(obj, l[2]) {
			fmt.Fprintf(&b, "  p  %v\n", l)
		}
	}
	fmt.Fprintf(&b, "  today %s", w.a.today())
	return b.String()
}

// benchWorld is 1,000 users in 100 regions with one role each, a few
// federal users and a delegation per region, loaded in one batch, with
// 65,536 requests drawn like the treasury bench authz mix.
type benchRequest struct {
	user          uuid.UUID
	dom, obj, act string
}

func benchWorld(b *testing.B) (*Authorizer, []benchRequest) {
	b.Helper()
	ctx := context.Background()
	env := storetest.New(b, store.SQLite)
	a, err := New(ctx, env.App.Gorm, nil)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const tenants, users = 100, 1000
	doms := make([]string, tenants)
	for i := range doms {
		doms[i] = fmt.Sprintf("%02d", i+1)
	}
	var g [][]string
	ids := make([]uuid.UUID, users)
	home := make([]string, users)
	for i := range ids {
		ids[i] = uuid.New()
		home[i] = doms[i%tenants]
		g = append(g, []string{Key(ids[i]), TenantRoles[rng.IntN(len(TenantRoles))], home[i]})
	}
	if _, err := a.enforcer.AddNamedGroupingPolicies("g", g); err != nil {
		b.Fatal(err)
	}
	fed := make([]uuid.UUID, 10)
	for i := range fed {
		fed[i] = uuid.New()
		if _, err := a.enforcer.AddNamedGroupingPolicy("g2", Key(fed[i]), FederalRoles[i%2]); err != nil {
			b.Fatal(err)
		}
	}
	var p [][]string
	for i, d := range doms {
		from, to := "2020-01-01", "2099-12-31"
		if i%3 == 1 {
			to = "2021-01-01"
		}
		p = append(p, delegationPolicies(d, "measure:m"+d, from, to)...)
	}
	if _, err := a.enforcer.AddPolicies(p); err != nil {
		b.Fatal(err)
	}
	if err := a.Changed(ctx); err != nil {
		b.Fatal(err)
	}
	objs := []string{"tenant", "agency", "user", "role", "apikey", "delegation", "tenants", "federal_user", "report:x"}
	acts := []string{"read", "read", "read", "list", "create", "update", "grant", "revoke"}
	reqs := make([]benchRequest, 1<<16)
	for i := range reqs {
		r := &reqs[i]
		if rng.IntN(10) == 0 {
			r.user, r.dom = fed[rng.IntN(len(fed))], doms[rng.IntN(tenants)]
		} else {
			u := rng.IntN(users)
			r.user, r.dom = ids[u], home[u]
			if rng.IntN(10) == 0 {
				r.dom = doms[rng.IntN(tenants)]
			}
		}
		r.obj, r.act = objs[rng.IntN(len(objs))], acts[rng.IntN(len(acts))]
		if rng.IntN(5) == 0 {
			r.obj = "measure:m" + doms[rng.IntN(tenants)]
		}
	}
	return a, reqs
}

var benchSink bool

func BenchmarkAllowed(b *testing.B) {
	a, reqs := benchWorld(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &reqs[i&(len(reqs)-1)]
		benchSink = a.Allowed(Subject{User: r.user}, r.dom, r.obj, r.act)
		i++
	}
}

func BenchmarkEnforce(b *testing.B) {
	a, reqs := benchWorld(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &reqs[i&(len(reqs)-1)]
		ok, err := a.Enforce(r.user, r.dom, r.obj, r.act)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = ok
		i++
	}
}

// A role change whose caller goes away midway (a client that disconnects)
// must still bump the version and reload: the policy is already saved, and
// a replica that missed the bump would decide on the old roles until some
// other change came along.
func TestChangeSurvivesCancelledContext(t *testing.T) {
	ctx := context.Background()
	env := storetest.New(t, store.SQLite)
	a, err := New(ctx, env.App.Gorm, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := uuid.New()
	if err := a.SetTenantRoles(ctx, u, "66", []string{"tenant_admin"}); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	before := a.Version()
	_ = a.SetTenantRoles(gone, u, "66", []string{"specialist"})
	for _, act := range []string{"read", "create"} {
		got := a.Allowed(Subject{User: u}, "66", "user", act)
		want, err := a.Enforce(u, "66", "user", act)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("user %s: the snapshot says %v, Casbin %v (version %d → %d)", act, got, want, before, a.Version())
		}
	}
	// Another replica learns of changes only through the version.
	other, err := New(ctx, env.App.Gorm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := other.Allowed(Subject{User: u}, "66", "user", "create"), a.Allowed(Subject{User: u}, "66", "user", "create"); got != want || a.Version() == before {
		t.Errorf("version %d → %d; a fresh replica decides %v, this one %v", before, a.Version(), got, want)
	}
}
