package api_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

// Region 66's users, whatever their roles and credentials, carry ids of
// region 16's objects in every verb, under region 66's paths and region
// 16's: not one request may succeed, every one answers 404, and region 16's
// objects are exactly as they were.
func TestCrossTenantRandomized(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			const requests = 10_000
			start := time.Now()
			p := apptest.New(t, d)
			victim := newXTVictim(t, p)
			callers := xtCallers(t, p)
			before := victim.snapshot()
			ownBefore := xtRegionState(t, p, p.Token("tenant_admin", azOwn), azOwn)
			ops := xtOperations(t, p.Server)
			setup := time.Since(start)

			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			const workers = 4
			var (
				mu       sync.Mutex
				statuses = map[string]int{}
				failures int
			)
			var wg sync.WaitGroup
			stormStart := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(seed, uint64(w)))
					for i := 0; i < requests/workers; i++ {
						c := callers[rng.IntN(len(callers))]
						region := azOther
						if rng.IntN(2) == 0 {
							region = azOwn
						}
						op := ops[rng.IntN(len(ops))]
						// In its own region a caller gets its role's 403 before any
						// id is looked at; send it only what its roles allow, so
						// that the id is what decides.
						for region == azOwn && !p.Access.Allowed(access.Subject{User: c.user}, azOwn, op.obj, op.act) {
							op = ops[rng.IntN(len(ops))]
						}
						req := victim.request(rng, op, region)
						r, err := p.Try(c.token, op.method, req.path, req.body, req.headers...)
						if err != nil {
							t.Errorf("%s %s: %v", op.method, req.path, err)
							continue
						}
						key := fmt.Sprintf("%-16s under %s: %d", op.id, region, r.Status)
						bad := ""
						switch {
						case r.Status != 404:
							bad = "answered " + fmt.Sprint(r.Status)
						case region == azOther && !strings.Contains(string(r.Body), `"region 16 not found"`):
							bad = "a 404 that is not the guard's"
						case victim.leaks(r.Body):
							bad = "a 404 that reveals region 16's data"
						}
						mu.Lock()
						statuses[key]++
						if bad != "" {
							failures++
							if failures <= 20 {
								t.Errorf("%s as %s: %s %s: %s: %s", c.name, op.id, op.method, req.path, bad, r.Body)
							}
						}
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			storm := time.Since(stormStart)

			keys := make([]string, 0, len(statuses))
			total := 0
			for k, n := range statuses {
				keys = append(keys, k)
				total += n
			}
			sort.Strings(keys)
			var sum strings.Builder
			for _, k := range keys {
				fmt.Fprintf(&sum, "\n  %s ×%d", k, statuses[k])
			}
			t.Logf("%d requests by %d callers in %s (setup %s), %d not 404:%s", total, len(callers), storm.Round(time.Millisecond),
				setup.Round(time.Millisecond), failures, sum.String())
			if total != requests {
				t.Errorf("sent %d requests, want %d", total, requests)
			}
			if failures > 0 {
				t.Errorf("%d of %d cross-region requests did not answer 404", failures, total)
			}

			// Region 16 is untouched: every object, every list, byte for byte.
			after := victim.snapshot()
			for k, v := range before {
				if after[k] != v {
					t.Errorf("region 16 changed at %s:\nbefore %s\nafter  %s", k, v, after[k])
				}
			}
			// Nothing was made in region 66 from region 16's ids either.
			for k, v := range xtRegionState(t, p, p.Token("tenant_admin", azOwn), azOwn) {
				if ownBefore[k] != v {
					t.Errorf("region 66 changed at %s:\nbefore %s\nafter  %s", k, ownBefore[k], v)
				}
			}
			victim.stillWorks()
		})
	}
}

// xtOp is an operation that takes an id of an object (or, for createAPIKey,
// a user's id in its body).
type xtOp struct {
	id, method, tmpl string
	obj, act         string
	kind             string // the kind of id it is meant for
}

var xtTargets = map[string]string{
	"getAgency": "agency", "updateAgency": "agency",
	"getUser": "user", "updateUser": "user", "setUserRoles": "user",
	"createAPIKey": "service", "revokeAPIKey": "key", "revokeDelegation": "delegation",
	"getPerson": "person", "updatePerson": "person", "getPersonCard": "person", "getPersonHistory": "person",
	"getPersonFacts": "person", "recordRelation": "person", "recordIncome": "person", "recordDisability": "person",
	"recordCategory": "person", "retractPersonFact": "person", "mergePerson": "person",
}

// xtOperations finds the id-carrying operations on the server, so that a
// new one (with {id} under a region) cannot be forgotten here.
func xtOperations(t *testing.T, srv *api.Server) []xtOp {
	t.Helper()
	var ops []xtOp
	for _, o := range azOperations(srv) {
		kind, ok := xtTargets[o.op.OperationID]
		if !ok {
			if o.tenantScoped() && strings.Contains(o.path, "{id}") {
				t.Errorf("%s (%s) takes an id in a region but is not in xtTargets (crosstenant_test.go)", o.key(), o.op.OperationID)
			}
			continue
		}
		ops = append(ops, xtOp{id: o.op.OperationID, method: o.method, tmpl: o.path, obj: o.perm.Object, act: o.perm.Action, kind: kind})
	}
	if len(ops) != len(xtTargets) {
		t.Fatalf("found %d of the %d operations of xtTargets", len(ops), len(xtTargets))
	}
	return ops
}

// xtCaller is a user of region 66 with one way of proving it.
type xtCaller struct {
	name  string
	user  uuid.UUID
	token string
}

func xtCallers(t *testing.T, p *apptest.Platform) []xtCaller {
	t.Helper()
	var out []xtCaller
	for _, role := range []string{"tenant_admin", "auditor", "specialist", "integration", "approver"} {
		out = append(out, xtCaller{name: role + "@66", user: p.User(role, azOwn), token: p.Token(role, azOwn)})
	}
	// A second session of the administrator: another token, same rights.
	ts, err := p.Auth.Login(t.Context(), "tenant_admin@"+azOwn, apptest.Password)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, xtCaller{name: "tenant_admin@66 (second login)", user: p.User("tenant_admin", azOwn), token: ts.AccessToken})
	// Service accounts of region 66 with API keys.
	admin := p.Token("tenant_admin", azOwn)
	for _, role := range []string{"tenant_admin", "integration"} {
		r := apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/66/users", map[string]any{"username": "xt-robot-" + role, "kind": "service"}), 201)
		id := azID(t, r)
		apptest.Expect(t, p.Do(admin, "PUT", "/api/v1/tenants/66/users/"+id+"/roles", map[string]any{"roles": []string{role}}), 200)
		key, _ := apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/66/api-keys", map[string]any{"user_id": id, "name": "xt"}), 201).JSON(t)["key"].(string)
		out = append(out, xtCaller{name: "API key of a " + role + " service account of 66", user: uuid.MustParse(id), token: key})
	}
	for _, c := range out {
		apptest.Expect(t, p.Do(c.token, "GET", "/api/v1/me", nil), 200)
	}
	return out
}

// xtVictim is region 16 and its objects.
type xtVictim struct {
	t      *testing.T
	p      *apptest.Platform
	admin  string
	ids    map[string][]string // kind → ids
	etags  map[string]string   // id → ETag
	all    []string
	keys   []string // whole API keys of region 16's service accounts
	secret []string // strings of region 16 no answer to region 66 may contain
}

func newXTVictim(t *testing.T, p *apptest.Platform) *xtVictim {
	t.Helper()
	v := &xtVictim{t: t, p: p, admin: p.Token("tenant_admin", azOther), ids: map[string][]string{}, etags: map[string]string{}}
	base := "/api/v1/tenants/" + azOther
	add := func(kind string, r apptest.Response) string {
		id := azID(t, r)
		v.ids[kind] = append(v.ids[kind], id)
		v.all = append(v.all, id)
		if tag := r.Header.Get("ETag"); tag != "" {
			v.etags[id] = tag
		}
		return id
	}
	for i := 0; i < 4; i++ {
		add("agency", apptest.Expect(t, p.Do(v.admin, "POST", base+"/agencies", map[string]any{
			"osz_code": fmt.Sprintf("1601.%06d", i), "name": fmt.Sprintf("xt16-орган-%d", i), "inn": "1654002946", "oktmo": "92701000",
		}), 201))
		id := add("user", apptest.Expect(t, p.Do(v.admin, "POST", base+"/users", map[string]any{
			"username": fmt.Sprintf("xt16-person-%d", i), "display_name": fmt.Sprintf("xt16-Персона %d", i), "password": "xt16-password",
		}), 201))
		apptest.Expect(t, p.Do(v.admin, "PUT", base+"/users/"+id+"/roles", map[string]any{"roles": []string{"specialist", "approver"}}), 200)
		v.secret = append(v.secret, fmt.Sprintf("xt16-орган-%d", i), fmt.Sprintf("xt16-person-%d", i))
	}
	for i := 0; i < 2; i++ {
		id := add("service", apptest.Expect(t, p.Do(v.admin, "POST", base+"/users", map[string]any{
			"username": fmt.Sprintf("xt16-robot-%d", i), "kind": "service",
		}), 201))
		v.ids["user"] = append(v.ids["user"], id)
		apptest.Expect(t, p.Do(v.admin, "PUT", base+"/users/"+id+"/roles", map[string]any{"roles": []string{"integration"}}), 200)
		for j := 0; j < 2; j++ {
			r := apptest.Expect(t, p.Do(v.admin, "POST", base+"/api-keys", map[string]any{"user_id": id, "name": fmt.Sprintf("xt16-key-%d-%d", i, j)}), 201)
			add("key", r)
			v.keys = append(v.keys, r.JSON(t)["key"].(string))
			v.secret = append(v.secret, fmt.Sprintf("xt16-key-%d-%d", i, j))
		}
	}
	for i := 0; i < 3; i++ {
		add("delegation", apptest.Expect(t, p.Do(v.admin, "POST", base+"/delegations", map[string]any{
			"object": fmt.Sprintf("measure:xt16-%d", i), "valid_from": "2024-01-01", "note": "xt16-note",
		}), 201))
	}
	v.secret = append(v.secret, "xt16-note", "measure:xt16-")
	for i := 0; i < 3; i++ {
		add("overlay", apptest.Expect(t, p.Do(v.admin, "POST", base+"/directories/recipient_categories/entries", map[string]any{
			"code": fmt.Sprintf("xt16-cat-%d", i), "name": fmt.Sprintf("xt16-категория-%d", i), "effective_from": "2024-01-01",
		}), 201))
	}
	v.secret = append(v.secret, "xt16-cat-", "xt16-категория-")
	xtPersonVictims(v)     // persons_test.go
	xtImportVictims(v)     // imports_test.go
	xtCaseworkVictims(v)   // casework_test.go
	xtSimulationVictims(v) // measures_test.go
	tn, err := p.Tenants.ByCode(t.Context(), azOther)
	if err != nil {
		t.Fatal(err)
	}
	v.all = append(v.all, tn.ID.String()) // the region's own id, too
	return v
}

type xtRequest struct {
	path    string
	body    any
	headers []string
}

// request makes op's request in region with an id of region 16: mostly one
// of the kind the operation is for, sometimes any.
func (v *xtVictim) request(rng *rand.Rand, op xtOp, region string) xtRequest {
	pool := v.ids[op.kind]
	if rng.IntN(4) == 0 {
		pool = v.all
	}
	id := pool[rng.IntN(len(pool))]
	tag := v.etags[id]
	if tag == "" {
		tag = `"1"`
	}
	r := xtRequest{path: strings.NewReplacer("{tenant}", region, "{id}", id, "{code}", "recipient_categories").Replace(op.tmpl)}
	switch op.id {
	case "updateAgency":
		r.body, r.headers = map[string]any{"name": "захват", "short_name": "захват"}, []string{"If-Match", tag}
	case "updateUser":
		r.body, r.headers = map[string]any{"display_name": "захват", "status": "disabled"}, []string{"If-Match", tag}
		if rng.IntN(2) == 0 {
			r.body = map[string]any{"password": "captured-password"}
		}
	case "setUserRoles":
		r.body = map[string]any{"roles": []string{"tenant_admin"}}
		if rng.IntN(2) == 0 {
			r.body = map[string]any{"roles": []string{}}
		}
	case "createAPIKey":
		r.body = map[string]any{"user_id": id, "name": "захват"}
	case "updateRegionDirectoryEntry":
		r.body, r.headers = map[string]any{"name": "захват", "effective_to": "2024-01-01"}, []string{"If-Match", tag}
	default:
		if !xtCaseworkRequest(op, &r) { // casework_test.go
			xtPersonRequest(v, rng, op, id, tag, &r) // persons_test.go
		}
	}
	return r
}

func (v *xtVictim) leaks(body []byte) bool {
	for _, s := range v.secret {
		if bytes.Contains(body, []byte(s)) {
			return true
		}
	}
	return false
}

// snapshot reads every object and list of region 16 as its administrator.
func (v *xtVictim) snapshot() map[string]string {
	v.t.Helper()
	out := xtRegionState(v.t, v.p, v.admin, azOther)
	base := "/api/v1/tenants/" + azOther
	for _, id := range v.ids["agency"] {
		r := apptest.Expect(v.t, v.p.Do(v.admin, "GET", base+"/agencies/"+id, nil), 200)
		out["agency "+id] = r.Header.Get("ETag") + " " + string(r.Body)
	}
	for _, id := range v.ids["user"] {
		r := apptest.Expect(v.t, v.p.Do(v.admin, "GET", base+"/users/"+id, nil), 200)
		out["user "+id] = r.Header.Get("ETag") + " " + string(r.Body)
	}
	xtPersonSnapshot(v, out)   // persons_test.go
	xtCaseworkSnapshot(v, out) // casework_test.go
	return out
}

// xtRegionState is every list of a region, read whole.
func xtRegionState(t *testing.T, p *apptest.Platform, token, region string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, list := range []string{"agencies", "users", "api-keys", "delegations", "directories/recipient_categories/entries"} {
		path := "/api/v1/tenants/" + region + "/" + list + "?limit=1000"
		out[path] = string(apptest.Expect(t, p.Do(token, "GET", path, nil), 200).Body)
	}
	return out
}

// stillWorks checks that region 16's credentials and delegations are in force.
func (v *xtVictim) stillWorks() {
	v.t.Helper()
	for _, k := range v.keys {
		apptest.Expect(v.t, v.p.Do(k, "GET", "/api/v1/tenants/"+azOther, nil), 200)
	}
	ts, err := v.p.Auth.Login(v.t.Context(), "xt16-person-0", "xt16-password")
	if err != nil {
		v.t.Errorf("region 16's user cannot log in any more: %v", err)
	} else {
		apptest.Expect(v.t, v.p.Do(ts.AccessToken, "GET", "/api/v1/tenants/"+azOther+"/agencies", nil), 200)
	}
	me := string(apptest.Expect(v.t, v.p.Do(v.p.Token("federal_admin", "federal"), "GET", "/api/v1/me", nil), 200).Body)
	for i := 0; i < 3; i++ {
		if !strings.Contains(me, fmt.Sprintf(`{"tenant":"16","object":"measure:xt16-%d"}`, i)) {
			v.t.Errorf("delegation measure:xt16-%d of region 16 is no longer in force: %s", i, me)
		}
	}
}
