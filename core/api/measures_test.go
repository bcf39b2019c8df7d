package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// specBody is the contract measure's version 1 as a request body.
func specBody(t testing.TB) map[string]any {
	t.Helper()
	b, err := json.Marshal(measuretest.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A region's administrator writes a measure as data, is refused a rule
// that cannot work with its place, publishes it, and anyone who works
// cases asks what it decides for a person, with the reasons.
func TestMeasuresOverTheAPI(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		root := newClient(t, d)
		admin, spec := root.as("tenant_admin", "66"), root.as("specialist", "66")
		base := "/api/v1/tenants/66/measures"

		bad := specBody(t)
		conds := bad["conditions"].([]any)
		conds[2].(map[string]any)["expr"] = "household.members.exists(m, m.relation == 'child' && m.agee < 3)"
		r := admin.expect(admin.do(http.MethodPut, base+"/contract/versions/1", bad), 422)
		if !strings.Contains(string(r.Body), `"location":"body.conditions[2].expr"`) || !strings.Contains(string(r.Body), "undefined field 'agee'") {
			t.Fatalf("an unknown field: %s", r.Body)
		}
		bad = specBody(t)
		bad["amount"] = "household.size > 2"
		r = admin.expect(admin.do(http.MethodPut, base+"/contract/versions/1", bad), 422)
		if !strings.Contains(string(r.Body), `"location":"body.amount"`) || !strings.Contains(string(r.Body), "must be int") {
			t.Fatalf("a wrong type: %s", r.Body)
		}
		bad = specBody(t)
		bad["form"], bad["categories"] = "99", []string{"low_income", "no_such_category"}
		r = admin.expect(admin.do(http.MethodPut, base+"/contract/versions/1", bad), 422)
		if !strings.Contains(string(r.Body), `"location":"body.form"`) || !strings.Contains(string(r.Body), `"location":"body.categories[1]"`) {
			t.Fatalf("codes not in the directories: %s", r.Body)
		}
		admin.expect(admin.do(http.MethodGet, base+"/contract", nil), 404)

		admin.expect(admin.do(http.MethodPut, base+"/contract/versions/1", specBody(t)), 200)
		spec.expect(spec.do(http.MethodPut, base+"/contract/versions/1", specBody(t)), 403)
		admin.expect(admin.do(http.MethodPost, base+"/contract/versions/1/publish", nil), 200)
		admin.expect(admin.do(http.MethodPost, base+"/contract/versions/1/publish", nil), 409)
		admin.expect(admin.do(http.MethodPut, base+"/contract/versions/1", specBody(t)), 409)
		admin.expect(admin.do(http.MethodPut, base+"/contract/versions/3", specBody(t)), 422)

		// A mother of a one-year-old in Yekaterinburg, with a low income.
		mother := newPerson(t, spec, "66", map[string]any{"snils": snilsOf(610000001), "family_name": "Зуева", "first_name": "Ия",
			"birth_date": "1995-02-02", "sex": "female", "address": map[string]any{"oktmo": "65701000"}})
		child := newPerson(t, spec, "66", personBody(snilsOf(610000002), "Зуев", "Ян", "2023-05-05", "male"))
		spec.expect(spec.do(http.MethodPost, "/api/v1/tenants/66/persons/"+child+"/relations",
			map[string]any{"relative_id": mother, "kind": "parent", "valid_from": "2023-05-05"}), 201)
		ask := func(date string) map[string]any {
			r := spec.expect(spec.do(http.MethodPost, base+"/contract/evaluate", map[string]any{"person_id": mother, "date": date}), 200)
			return r.JSON(t)
		}
		got := ask("2026-05-04")
		o := got["outcome"].(map[string]any)
		if o["eligible"] != true || o["amount_kopecks"] == float64(0) || got["version"] != float64(1) || got["status"] != "published" {
			t.Fatalf("the mother: %v", got)
		}
		// On the child's third birthday the child condition fails and says so.
		o = ask("2026-05-05")["outcome"].(map[string]any)
		if o["eligible"] != false {
			t.Fatalf("on the child's third birthday: %v", o)
		}
		var failed []string
		for _, c := range o["conditions"].([]any) {
			c := c.(map[string]any)
			if c["held"] == false {
				failed = append(failed, c["name"].(string)+": "+c["explanation"].(map[string]any)["ru"].(string))
			}
		}
		if len(failed) != 1 || !strings.HasPrefix(failed[0], "child_under_three: ") {
			t.Fatalf("failed conditions %v", failed)
		}
		// Region 16 sees nothing of it.
		other := root.as("tenant_admin", "16")
		other.expect(other.do(http.MethodGet, "/api/v1/tenants/16/measures/contract", nil), 404)
		other.expect(other.do(http.MethodPost, "/api/v1/tenants/16/measures/contract/evaluate", map[string]any{"person_id": mother, "date": "2026-03-10"}), 404)
	})
}

var azMeasureOnce sync.Map // "region/code" → done

// azMeasure makes, through the service, a published version of a measure
// in a region (once).
func azMeasure(e *azEnv, region, code string) {
	e.t.Helper()
	if _, done := azMeasureOnce.Load(fmt.Sprint(e, region, code)); done {
		return
	}
	ctx := azCtx(e, region)
	if _, err := e.p.Measures.PutDraft(ctx, code, measuretest.Spec()); err != nil && !errors.Is(err, fault.ErrConflict) {
		e.t.Fatal(err)
	}
	if _, err := e.p.Measures.Publish(ctx, code, 1); err != nil && !errors.Is(err, fault.ErrConflict) {
		e.t.Fatal(err)
	}
	azMeasureOnce.Store(fmt.Sprint(e, region, code), true)
	e.t.Cleanup(func() { azMeasureOnce.Delete(fmt.Sprint(e, region, code)) })
}

func azMeasurePath(tmpl, region, code string, number int) string {
	return strings.NewReplacer("{tenant}", region, "{code}", code, "{number}", fmt.Sprint(number)).Replace(tmpl)
}

func init() {
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"listMeasures": azPlain,
		"getMeasure": func(e *azEnv, tmpl, region string) azReq {
			azMeasure(e, region, "az_measure")
			return azReq{path: azMeasurePath(tmpl, region, "az_measure", 1)}
		},
		"putMeasureDraft": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azMeasurePath(tmpl, region, fmt.Sprint("az_draft_", e.next()), 1), body: specBody(e.t)}
		},
		"publishMeasureVersion": func(e *azEnv, tmpl, region string) azReq {
			code := fmt.Sprint("az_publish_", e.next())
			if _, err := e.p.Measures.PutDraft(azCtx(e, region), code, measuretest.Spec()); err != nil {
				e.t.Fatal(err)
			}
			return azReq{path: azMeasurePath(tmpl, region, code, 1)}
		},
		"createSimulation": func(e *azEnv, tmpl, region string) azReq {
			azMeasure(e, region, "az_measure")
			return azReq{path: azMeasurePath(tmpl, region, "az_measure", 1), body: map[string]any{"version": 1, "date": "2026-03-10"}}
		},
		"getSimulation": func(e *azEnv, tmpl, region string) azReq {
			azMeasure(e, region, "az_measure")
			sim, err := e.p.Measures.SubmitSimulation(azCtx(e, region), "az_measure", 1, civil.MustParse("2026-03-10"), nil)
			if err != nil {
				e.t.Fatal(err)
			}
			return azReq{path: strings.NewReplacer("{id}", sim.ID.String()).Replace(azMeasurePath(tmpl, region, "az_measure", 1))}
		},
		"evaluateMeasure": func(e *azEnv, tmpl, region string) azReq {
			azMeasure(e, region, "az_measure")
			return azReq{path: azMeasurePath(tmpl, region, "az_measure", 1),
				body: map[string]any{"person_id": azPerson(e, region, "subject").String(), "date": "2026-03-10"}}
		},
	} {
		azBuilders[id] = b
	}
}

// maMeasureCases are the mass-assignment cases of the measures' bodies.
func maMeasureCases(t *testing.T, p *apptest.Platform) map[string]maCase {
	t.Helper()
	admin, spec := p.Token("tenant_admin", azOwn), p.Token("specialist", azOwn)
	base := "/api/v1/tenants/" + azOwn + "/measures"
	region, err := p.Tenants.ByCode(context.Background(), azOwn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), region.ID)
	if _, err := p.Measures.PutDraft(ctx, "ma_eval", measuretest.Spec()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Measures.Publish(ctx, "ma_eval", 1); err != nil {
		t.Fatal(err)
	}
	person := azID(t, apptest.Expect(t, p.Do(spec, http.MethodPost, "/api/v1/tenants/"+azOwn+"/persons",
		personBody(snilsOf(620000001), "Масова", "Ия", "1990-01-01", "female")), 201))
	state := func(path string) func() string {
		return func() string {
			r := p.Do(admin, http.MethodGet, path, nil)
			return fmt.Sprint(r.Status, " ", string(r.Body))
		}
	}
	return map[string]maCase{
		"createSimulation": {
			token: admin, path: base + "/ma_eval/simulations", control: 202,
			body:  func() map[string]any { return map[string]any{"version": 1, "date": "2026-03-10"} },
			state: state(base + "/ma_eval"),
		},
		"putMeasureDraft": {
			token: admin, path: base + "/ma_draft/versions/1", control: 200,
			body: func() map[string]any { return specBody(t) }, state: state(base + "/ma_draft"),
		},
		"evaluateMeasure": {
			token: spec, path: base + "/ma_eval/evaluate", control: 200,
			body:  func() map[string]any { return map[string]any{"person_id": person, "date": "2026-03-10"} },
			state: state(base + "/ma_eval"),
		},
	}
}

func init() { xtTargets["getSimulation"] = "simulation" }

// xtSimulationVictims queues simulations in region 16.
func xtSimulationVictims(v *xtVictim) {
	v.t.Helper()
	tn, err := v.p.Tenants.ByCode(context.Background(), azOther)
	if err != nil {
		v.t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), tn.ID)
	if _, err := v.p.Measures.PutDraft(ctx, "xt_sim", measuretest.Spec()); err != nil {
		v.t.Fatal(err)
	}
	for range 2 {
		sim, err := v.p.Measures.SubmitSimulation(ctx, "xt_sim", 1, civil.MustParse("2026-03-10"), nil)
		if err != nil {
			v.t.Fatal(err)
		}
		v.ids["simulation"] = append(v.ids["simulation"], sim.ID.String())
		v.all = append(v.all, sim.ID.String())
	}
}
