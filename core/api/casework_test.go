package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var regionOKTMO = map[string]string{"66": "65701000", "16": "92701000"}

// caseFixture is, in a region, a mother eligible for the contract measure
// (a child under three, a low income) and the measures "az_case" (decided
// by an approver, four eyes) and "az_auto" (decided automatically).
type caseFixture struct {
	ctx    context.Context
	mother uuid.UUID
}

var caseFixtures sync.Map // *apptest.Platform + region → *caseFixture

func caseFixtureOf(t testing.TB, p *apptest.Platform, region string) *caseFixture {
	t.Helper()
	key := fmt.Sprintf("%p/%s", p, region)
	if f, ok := caseFixtures.Load(key); ok {
		return f.(*caseFixture)
	}
	tn, err := p.Tenants.ByCode(context.Background(), region)
	if err != nil {
		t.Fatal(err)
	}
	ctx := audit.WithActor(tenancy.WithTenant(context.Background(), tn.ID), uuid.New(), "fixture")
	s := func(v string) *string { return &v }
	d := func(v string) *civil.Date { x := civil.MustParse(v); return &x }
	n := 830000000 + len(region)*1000 + int(tn.ID[0])
	mother, err := p.Persons.Create(ctx, registry.PersonFields{SNILS: s(snilsOf(int64(n))), FamilyName: s("Кейсова"), FirstName: s("Ада"),
		BirthDate: d("1990-01-01"), Sex: s("female"), Address: &registry.Address{OKTMO: regionOKTMO[region]}}, registry.Manual)
	if err != nil {
		t.Fatal(err)
	}
	child, err := p.Persons.Create(ctx, registry.PersonFields{SNILS: s(snilsOf(int64(n + 1))), FamilyName: s("Кейсов"), FirstName: s("Ян"),
		BirthDate: d("2025-01-01"), Sex: s("male")}, registry.Manual)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Persons.PutRelation(ctx, registry.Relation{PersonID: child.ID, RelativeID: mother.ID, Kind: "parent",
		ValidFrom: civil.MustParse("2025-01-01"), Origin: registry.Manual}); err != nil {
		t.Fatal(err)
	}
	for code, fn := range map[string]func(*measure.Version){
		"az_case": func(v *measure.Version) { v.FourEyes = true },
		"az_auto": func(v *measure.Version) { v.AutoDecision = true },
	} {
		v := measuretest.Spec()
		fn(&v)
		if _, err := p.Measures.PutDraft(ctx, code, v); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Measures.Publish(ctx, code, 1); err != nil {
			t.Fatal(err)
		}
	}
	f := &caseFixture{ctx: ctx, mother: mother.ID}
	caseFixtures.Store(key, f)
	t.Cleanup(func() { caseFixtures.Delete(key) })
	return f
}

// application submits one for the fixture's mother.
func (f *caseFixture) application(t testing.TB, p *apptest.Platform, measure string) casework.Application {
	t.Helper()
	a, err := p.Casework.Submit(f.ctx, casework.NewApplication{Measure: measure, PersonID: f.mother, Channel: casework.BySpecialist})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// decided is an application the fixture's actor refused.
func (f *caseFixture) decided(t testing.TB, p *apptest.Platform) (casework.Application, casework.Decision) {
	t.Helper()
	a := f.application(t, p, "az_case")
	other := audit.WithActor(f.ctx, uuid.New(), "another approver")
	d, err := p.Casework.Decide(other, a.ID, false, "a fixture's refusal")
	if err != nil {
		t.Fatal(err)
	}
	return a, d
}

// granted is an assignment of the fixture's mother.
func (f *caseFixture) granted(t testing.TB, p *apptest.Platform) uuid.UUID {
	t.Helper()
	a := f.application(t, p, "az_auto")
	ds, err := p.Casework.Decisions(f.ctx, a.ID)
	if err != nil || len(ds) != 1 || ds[0].Kind != "grant" {
		t.Fatalf("the fixture's grant: %+v, %v (application %+v)", ds, err, a)
	}
	as, err := p.Assignments.OfPerson(f.ctx, f.mother)
	if err != nil || len(as) == 0 {
		t.Fatalf("assignments %v, %v", as, err)
	}
	return as[len(as)-1].ID
}

func azCaseFill(tmpl, region string, id uuid.UUID) string {
	return azFill(tmpl, region, id.String())
}

func init() {
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"createApplication": func(e *azEnv, tmpl, region string) azReq {
			f := caseFixtureOf(e.t, e.p, region)
			return azReq{path: azFill(tmpl, region, ""), body: map[string]any{"measure": "az_case", "person_id": f.mother.String()}}
		},
		"getApplication": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azCaseFill(tmpl, region, caseFixtureOf(e.t, e.p, region).application(e.t, e.p, "az_case").ID)}
		},
		"listOverdueApplications": azPlain,
		"evaluateApplication": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azCaseFill(tmpl, region, caseFixtureOf(e.t, e.p, region).application(e.t, e.p, "az_case").ID)}
		},
		"decideApplication": func(e *azEnv, tmpl, region string) azReq {
			a := caseFixtureOf(e.t, e.p, region).application(e.t, e.p, "az_case")
			return azReq{path: azCaseFill(tmpl, region, a.ID), body: map[string]any{"grant": false, "reason": "az"}}
		},
		"recordApplicationNotice": func(e *azEnv, tmpl, region string) azReq {
			a, _ := caseFixtureOf(e.t, e.p, region).decided(e.t, e.p)
			return azReq{path: azCaseFill(tmpl, region, a.ID)}
		},
		"getDecision": func(e *azEnv, tmpl, region string) azReq {
			_, d := caseFixtureOf(e.t, e.p, region).decided(e.t, e.p)
			return azReq{path: azCaseFill(tmpl, region, d.ID)}
		},
		"replayDecision": func(e *azEnv, tmpl, region string) azReq {
			_, d := caseFixtureOf(e.t, e.p, region).decided(e.t, e.p)
			return azReq{path: azCaseFill(tmpl, region, d.ID)}
		},
		"appealDecision": func(e *azEnv, tmpl, region string) azReq {
			_, d := caseFixtureOf(e.t, e.p, region).decided(e.t, e.p)
			return azReq{path: azCaseFill(tmpl, region, d.ID), body: map[string]any{"grant": false, "reason": "az review"}}
		},
		"getAssignment": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azCaseFill(tmpl, region, caseFixtureOf(e.t, e.p, region).granted(e.t, e.p))}
		},
		"changeAssignment": func(e *azEnv, tmpl, region string) azReq {
			id := caseFixtureOf(e.t, e.p, region).granted(e.t, e.p)
			return azReq{path: azCaseFill(tmpl, region, id), body: map[string]any{"from": civil.Today().String(), "reason": "az", "amount_kopecks": 100}}
		},
	} {
		azBuilders[id] = b
	}
	for op, kind := range map[string]string{
		"getApplication": "application", "evaluateApplication": "application", "decideApplication": "application",
		"recordApplicationNotice": "application", "getDecision": "decision", "replayDecision": "decision",
		"appealDecision": "decision", "getAssignment": "assignment", "changeAssignment": "assignment",
	} {
		xtTargets[op] = kind
	}
}

// xtCaseworkVictims makes region 16's applications, decisions and
// assignments.
func xtCaseworkVictims(v *xtVictim) {
	v.t.Helper()
	f := caseFixtureOf(v.t, v.p, azOther)
	add := func(kind string, id uuid.UUID) {
		v.ids[kind] = append(v.ids[kind], id.String())
		v.all = append(v.all, id.String())
	}
	for range 2 {
		add("application", f.application(v.t, v.p, "az_case").ID)
		a, d := f.decided(v.t, v.p)
		add("application", a.ID)
		add("decision", d.ID)
		add("assignment", f.granted(v.t, v.p))
	}
}

// xtCaseworkRequest fills in the body of a casework request.
func xtCaseworkRequest(op xtOp, r *xtRequest) bool {
	switch op.id {
	case "decideApplication":
		r.body = map[string]any{"grant": true}
	case "appealDecision":
		r.body = map[string]any{"grant": true, "reason": "захват"}
	case "changeAssignment":
		r.body = map[string]any{"from": civil.Today().String(), "reason": "захват", "status": "terminated", "termination": "ineligibility"}
	default:
		return false
	}
	return true
}

func xtCaseworkSnapshot(v *xtVictim, out map[string]string) {
	v.t.Helper()
	base := "/api/v1/tenants/" + azOther
	for kind, path := range map[string]string{"application": "/applications/", "decision": "/decisions/", "assignment": "/assignments/"} {
		for _, id := range v.ids[kind] {
			r := apptest.Expect(v.t, v.p.Do(v.admin, http.MethodGet, base+path+id, nil), 200)
			out[kind+" "+id] = string(r.Body)
		}
	}
}

// maCaseworkCases are the mass-assignment cases of casework's bodies.
func maCaseworkCases(t *testing.T, p *apptest.Platform) map[string]maCase {
	t.Helper()
	f := caseFixtureOf(t, p, azOwn)
	spec, approver := p.Token("specialist", azOwn), p.Token("approver", azOwn)
	base := "/api/v1/tenants/" + azOwn
	pending := f.application(t, p, "az_case")
	_, refused := f.decided(t, p)
	assigned := f.granted(t, p)
	state := func(token, path string) func() string {
		return func() string {
			r := p.Do(token, http.MethodGet, path, nil)
			return fmt.Sprint(r.Status, " ", string(r.Body))
		}
	}
	fixed := func(m map[string]any) func() map[string]any {
		return func() map[string]any {
			out := map[string]any{}
			for k, v := range m {
				out[k] = v
			}
			return out
		}
	}
	return map[string]maCase{
		"createApplication": {token: spec, path: base + "/applications", control: 201,
			body: fixed(map[string]any{"measure": "az_case", "person_id": f.mother.String()}), state: state(spec, base+"/applications-overdue")},
		"decideApplication": {token: approver, path: base + "/applications/" + pending.ID.String() + "/decision", control: 201,
			body: fixed(map[string]any{"grant": false, "reason": "ma"}), state: state(approver, base+"/applications/"+pending.ID.String())},
		"appealDecision": {token: approver, path: base + "/decisions/" + refused.ID.String() + "/appeal", control: 201,
			body: fixed(map[string]any{"grant": false, "reason": "ma"}), state: state(approver, base+"/decisions/"+refused.ID.String())},
		"changeAssignment": {token: approver, path: base + "/assignments/" + assigned.String() + "/changes", control: 200,
			body: fixed(map[string]any{"from": civil.Today().String(), "reason": "ma", "amount_kopecks": 5}), state: state(approver, base+"/assignments/"+assigned.String())},
	}
}

// An application over the API, from the specialist to the approver, with
// four eyes, once only, replayed, appealed.
func TestCaseworkOverTheAPI(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		spec, appr := root.as("specialist", "66"), root.as("approver", "66")
		f := caseFixtureOf(t, root.p, "66")
		base := "/api/v1/tenants/66"
		appr.expect(appr.do(http.MethodPost, base+"/applications", map[string]any{"measure": "az_case", "person_id": f.mother.String()}), 403)
		// A specialist who is an approver too prepares it, and may not decide it: the measure needs four eyes.
		admin := root.as("tenant_admin", "66")
		u := azID(t, admin.expect(admin.do(http.MethodPost, base+"/users", map[string]any{"username": "dual-role", "password": "dual-role-pw"}), 201))
		admin.expect(admin.do(http.MethodPut, base+"/users/"+u+"/roles", map[string]any{"roles": []string{"specialist", "approver"}}), 200)
		ts, err := root.p.Auth.Login(context.Background(), "dual-role", "dual-role-pw")
		if err != nil {
			t.Fatal(err)
		}
		dual := &client{t: t, p: root.p, srv: root.srv, token: ts.AccessToken}
		r := dual.expect(dual.do(http.MethodPost, base+"/applications", map[string]any{"measure": "az_case", "person_id": f.mother.String(),
			"data": map[string]any{"note": "x"}}), 201)
		a := r.JSON(t)
		id := a["id"].(string)
		if a["status"] != "evaluated" || a["outcome"].(map[string]any)["eligible"] != true || a["channel"] != "specialist" {
			t.Fatalf("application %v", a)
		}
		r = dual.expect(dual.do(http.MethodPost, base+"/applications/"+id+"/decision", map[string]any{"grant": true}), 403)
		if !strings.Contains(string(r.Body), "four eyes") {
			t.Fatalf("%s", r.Body)
		}
		other := appr
		r = other.expect(other.do(http.MethodPost, base+"/applications/"+id+"/decision", map[string]any{"grant": true}), 201)
		dec := r.JSON(t)
		other.expect(other.do(http.MethodPost, base+"/applications/"+id+"/decision", map[string]any{"grant": true}), 409)
		r = spec.expect(spec.do(http.MethodGet, base+"/decisions/"+dec["id"].(string)+"/replay", nil), 200)
		if r.JSON(t)["reproduced"] != true {
			t.Fatalf("replay %s", r.Body)
		}
		asg := dec["assignment_id"].(string)
		r = spec.expect(spec.do(http.MethodGet, base+"/assignments/"+asg, nil), 200)
		if r.JSON(t)["status"] != "active" {
			t.Fatalf("%s", r.Body)
		}
		other.expect(other.do(http.MethodPost, base+"/assignments/"+asg+"/changes", map[string]any{"from": civil.Today().String(),
			"reason": "moved away", "status": "terminated", "termination": "end_of_right"}), 200)
		other.expect(other.do(http.MethodPost, base+"/assignments/"+asg+"/changes", map[string]any{"from": civil.Today().String(),
			"reason": "again", "amount_kopecks": 1}), 409)
		spec.expect(spec.do(http.MethodPost, base+"/applications/"+id+"/notified", nil), 200)
		spec.expect(spec.do(http.MethodPost, base+"/applications/"+id+"/notified", nil), 409)
	})
}
