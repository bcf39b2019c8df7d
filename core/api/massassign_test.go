package api_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

// maFields are fields a client must never set through a body that does not
// document them: who owns a row, its identity, its bookkeeping, its
// credentials and its powers. Each comes with a value an attacker would send.
func maFields(other uuid.UUID) map[string]any {
	return map[string]any{
		"tenant_id":        other.String(),
		"home_tenant":      other.String(),
		"status":           "active",
		"roles":            []string{"tenant_admin"},
		"federal":          true,
		"id":               uuid.NewString(),
		"version":          99,
		"created_at":       "2020-01-01T00:00:00Z",
		"updated_at":       "2020-01-01T00:00:00Z",
		"password_hash":    "$argon2id$v=19$m=65536,t=1,p=1$c2FsdA$aGFzaA",
		"failed_logins":    0,
		"locked_until":     "2020-01-01T00:00:00Z",
		"external_subject": "https://idp.example|root",
		"kind":             "service",
		"code":             "16",
		"username":         "renamed",
		"user_id":          uuid.NewString(),
		"key_id":           "0011223344556677",
		"secret_hash":      "AAAA",
		"grantee":          "federal",
		"granted_by":       uuid.NewString(),
		"revoked_at":       "2020-01-01T00:00:00Z",
	}
}

// maCase is how to send one operation a valid body, and what must stay as it
// is when a refused body is sent instead.
type maCase struct {
	token   string
	path    string
	headers func() []string
	body    func() map[string]any
	// state is what the operation would change, read back.
	state func() string
	// control is the status the valid body gets, sent once at the end: the
	// refusals were the extra field's doing, not the body's.
	control int
	// check runs after the refusals, before the control.
	check func(t *testing.T)
}

// For every POST, PATCH and PUT the server registers: a body with a field the
// operation does not document is refused with 422 naming body.<field>, and
// nothing is saved.
func TestMassAssignmentIsRefused(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			p := apptest.New(t, d)
			cases := maCases(t, p)
			other, err := p.Tenants.ByCode(context.Background(), azOther)
			if err != nil {
				t.Fatal(err)
			}
			fields := maFields(other.ID)
			names := make([]string, 0, len(fields))
			for f := range fields {
				names = append(names, f)
			}
			sort.Strings(names)
			oapi := p.Server.OpenAPI()
			refused := 0
			for _, o := range azOperations(p.Server) {
				if o.method != "POST" && o.method != "PATCH" && o.method != "PUT" {
					continue
				}
				id := o.op.OperationID
				if o.op.RequestBody == nil || o.op.RequestBody.Content["application/json"] == nil {
					t.Logf("%s (%s) takes no JSON body: there is no field to smuggle in", o.key(), id)
					continue
				}
				c, ok := cases[id]
				if !ok {
					t.Errorf("%s (%s) takes a body but maCases (massassign_test.go) has no case for it", o.key(), id)
					continue
				}
				documented := maDocumented(t, oapi, o.op)
				if len(documented) == 0 {
					t.Errorf("%s (%s): its request body documents no field", o.key(), id)
				}
				t.Run(id, func(t *testing.T) {
					before := c.state()
					tried := []string{}
					for _, f := range names {
						if slices.Contains(documented, f) {
							continue
						}
						body := c.body()
						body[f] = fields[f]
						var headers []string
						if c.headers != nil {
							headers = c.headers()
						}
						r := p.Do(c.token, o.method, c.path, body, headers...)
						tried = append(tried, f)
						if r.Status != 422 {
							t.Errorf("%s with %s: %d, want 422: %s", o.key(), f, r.Status, r.Body)
							continue
						}
						if locs := maLocations(t, r); !slices.Equal(locs, []string{"body." + f}) {
							t.Errorf("%s with %s: the problem names %v, want exactly [body.%s]: %s", o.key(), f, locs, f, r.Body)
						}
						if after := c.state(); after != before {
							t.Fatalf("%s with %s: refused, yet something changed:\nbefore %s\nafter  %s", o.key(), f, before, after)
						}
					}
					refused += len(tried)
					if c.check != nil {
						c.check(t)
					}
					var headers []string
					if c.headers != nil {
						headers = c.headers()
					}
					if r := p.Do(c.token, o.method, c.path, c.body(), headers...); r.Status != c.control {
						t.Errorf("%s: the valid body answers %d, want %d: %s", o.key(), r.Status, c.control, r.Body)
					}
					t.Logf("documented %v; refused %v", documented, tried)
				})
			}
			t.Logf("%d bodies with an undocumented field refused", refused)
		})
	}
}

// maDocumented lists the properties an operation's JSON request body declares.
func maDocumented(t *testing.T, oapi *huma.OpenAPI, op *huma.Operation) []string {
	t.Helper()
	if op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
		return nil
	}
	s := op.RequestBody.Content["application/json"].Schema
	if s != nil && s.Ref != "" {
		s = oapi.Components.Schemas.SchemaFromRef(s.Ref)
	}
	if s == nil {
		t.Fatalf("%s: no request schema", op.OperationID)
	}
	if s.AdditionalProperties != false {
		t.Errorf("%s: the request body schema allows additional properties (%v)", op.OperationID, s.AdditionalProperties)
	}
	var out []string
	for name := range s.Properties {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func maCases(t *testing.T, p *apptest.Platform) map[string]maCase {
	t.Helper()
	fed := p.Token("federal_admin", "federal")
	admin := p.Token("tenant_admin", azOwn)
	base := "/api/v1/tenants/" + azOwn
	read := func(token, path string) func() string {
		return func() string {
			r := apptest.Expect(t, p.Do(token, "GET", path, nil), 200)
			return r.Header.Get("ETag") + " " + string(r.Body)
		}
	}
	ifMatch := func(token, path string) func() []string {
		return func() []string {
			return []string{"If-Match", apptest.Expect(t, p.Do(token, "GET", path, nil), 200).Header.Get("ETag")}
		}
	}
	fixed := func(m map[string]any) func() map[string]any {
		return func() map[string]any {
			out := make(map[string]any, len(m))
			for k, v := range m {
				out[k] = v
			}
			return out
		}
	}
	agency := azID(t, apptest.Expect(t, p.Do(admin, "POST", base+"/agencies", map[string]any{
		"osz_code": "6601.000001", "name": "Министерство", "inn": "6658021579", "oktmo": "65701000",
	}), 201))
	person := azID(t, apptest.Expect(t, p.Do(admin, "POST", base+"/users", map[string]any{
		"username": "ma-person", "password": "ma-password-1",
	}), 201))
	service := azID(t, apptest.Expect(t, p.Do(admin, "POST", base+"/users", map[string]any{
		"username": "ma-service", "kind": "service",
	}), 201))
	login := func() string {
		ts, err := p.Auth.Login(context.Background(), "ma-person", "ma-password-1")
		if err != nil {
			t.Fatal(err)
		}
		return ts.RefreshToken
	}
	refreshToken, logoutToken := login(), login()
	nothing := func() string { return "" }
	regionEntry := base + "/directories/recipient_categories/entries/" + azID(t, apptest.Expect(t, p.Do(admin, "POST",
		base+"/directories/recipient_categories/entries", map[string]any{"code": "ma-fixture", "name": "Категория", "effective_from": "2025-01-01"}), 201))
	platformEntry := func() string {
		r := apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/regions/entries?entry=66", nil), 200)
		return "/api/v1/directories/regions/entries/" + r.JSON(t)["items"].([]any)[0].(map[string]any)["id"].(string)
	}()

	cases := map[string]maCase{
		"createTenant": {
			token: fed, path: "/api/v1/tenants", control: 201,
			body:  fixed(map[string]any{"code": "78", "name": "Санкт-Петербург", "okato": "40", "oktmo": "40000000"}),
			state: read(fed, "/api/v1/tenants?limit=1000"),
		},
		"updateTenant": {
			token: fed, path: base, control: 200,
			headers: ifMatch(fed, base),
			body:    fixed(map[string]any{"name": "Свердловская область"}),
			state:   read(fed, base),
		},
		"createAgency": {
			token: admin, path: base + "/agencies", control: 201,
			body:  fixed(map[string]any{"osz_code": "6601.000002", "name": "Орган", "inn": "7707083893", "oktmo": "65701000"}),
			state: read(admin, base+"/agencies?limit=1000"),
		},
		"updateAgency": {
			token: admin, path: base + "/agencies/" + agency, control: 200,
			headers: ifMatch(admin, base+"/agencies/"+agency),
			body:    fixed(map[string]any{"short_name": "Минсоц"}),
			state:   read(admin, base+"/agencies/"+agency),
		},
		"createUser": {
			token: admin, path: base + "/users", control: 201,
			body:  fixed(map[string]any{"username": "ma-new", "password": "ma-password-1"}),
			state: read(admin, base+"/users?limit=1000"),
		},
		"updateUser": {
			token: admin, path: base + "/users/" + person, control: 200,
			headers: ifMatch(admin, base+"/users/"+person),
			body:    fixed(map[string]any{"display_name": "Мария"}),
			state:   read(admin, base+"/users/"+person),
		},
		"setUserRoles": {
			token: admin, path: base + "/users/" + person + "/roles", control: 200,
			body:  fixed(map[string]any{"roles": []string{"specialist"}}),
			state: read(admin, base+"/users/"+person),
		},
		"createFederalUser": {
			token: fed, path: "/api/v1/federal/users", control: 201,
			body:  fixed(map[string]any{"username": "ma-federal", "password": "ma-password-1", "roles": []string{"federal_auditor"}}),
			state: read(fed, "/api/v1/federal/users?limit=1000"),
		},
		"createAPIKey": {
			token: admin, path: base + "/api-keys", control: 201,
			body:  fixed(map[string]any{"user_id": service, "name": "ключ"}),
			state: read(admin, base+"/api-keys?limit=1000"),
		},
		"createDelegation": {
			token: admin, path: base + "/delegations", control: 201,
			body: fixed(map[string]any{"object": "measure:ma", "valid_from": "2024-01-01"}),
			state: func() string {
				return read(admin, base+"/delegations?limit=1000")() + strings.Join(maFlatten(p.Access.AllDelegated()), ",")
			},
		},
		"createDirectoryEntry": {
			token: fed, path: "/api/v1/directories/recipient_categories/entries", control: 201,
			body:  fixed(map[string]any{"code": "ma-federal", "name": "Категория", "effective_from": "2025-01-01"}),
			state: read(fed, "/api/v1/directories/recipient_categories/entries?all_versions=true&limit=1000"),
		},
		"updateDirectoryEntry": {
			token: fed, path: platformEntry, control: 200,
			headers: ifMatch(fed, platformEntry),
			body:    fixed(map[string]any{"name": "Свердловская область"}),
			state:   read(fed, platformEntry),
		},
		"importDirectory": {
			token: fed, path: "/api/v1/directories/units/import", control: 200,
			body:  fixed(map[string]any{"directory": "units", "entries": []any{}}),
			state: read(fed, "/api/v1/directories/units/export?format=json"),
		},
		"createRegionDirectoryEntry": {
			token: admin, path: base + "/directories/recipient_categories/entries", control: 201,
			body:  fixed(map[string]any{"code": "ma-own", "name": "Категория", "effective_from": "2025-01-01"}),
			state: read(admin, base+"/directories/recipient_categories/entries?all_versions=true&limit=1000"),
		},
		"updateRegionDirectoryEntry": {
			token: admin, path: regionEntry, control: 200,
			headers: ifMatch(admin, regionEntry),
			body:    fixed(map[string]any{"name": "Категория"}),
			state:   read(admin, regionEntry),
		},
		"importRegionDirectory": {
			token: admin, path: base + "/directories/recipient_categories/import", control: 200,
			body:  fixed(map[string]any{"entries": []any{}}),
			state: read(admin, base+"/directories/recipient_categories/export?format=json"),
		},
		// Logging in saves nothing a client could name; the refusal is still
		// checked, and the valid body logs in.
		"login": {
			token: "", path: "/api/v1/auth/login", control: 200,
			body:  fixed(map[string]any{"username": "ma-person", "password": "ma-password-1"}),
			state: nothing,
		},
		// A refused refresh does not spend the token: the control uses it.
		"refresh": {
			token: "", path: "/api/v1/auth/refresh", control: 200,
			body:  fixed(map[string]any{"refresh_token": refreshToken}),
			state: nothing,
		},
		// A refused logout does not revoke the token.
		"logout": {
			token: "", path: "/api/v1/auth/logout", control: 204,
			body:  fixed(map[string]any{"refresh_token": logoutToken}),
			state: nothing,
			check: func(t *testing.T) {
				if _, err := p.Auth.Refresh(context.Background(), logoutToken); err != nil {
					t.Errorf("a refused logout revoked the refresh token: %v", err)
				}
			},
		},
	}
	maps.Copy(cases, maPersonCases(t, p))   // persons_test.go
	maps.Copy(cases, maMeasureCases(t, p))  // measures_test.go
	maps.Copy(cases, maPluginCases(t, p))   // plugins_test.go
	maps.Copy(cases, maCaseworkCases(t, p)) // casework_test.go
	return cases
}

func maFlatten(pairs [][2]string) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "/" + p[1]
	}
	sort.Strings(out)
	return out
}

// maLocations lists the field paths a problem names.
func maLocations(t *testing.T, r apptest.Response) []string {
	t.Helper()
	var problem struct {
		Errors []struct{ Location string }
	}
	if err := json.Unmarshal(r.Body, &problem); err != nil {
		t.Fatalf("not a problem: %v: %s", err, r.Body)
	}
	out := make([]string, len(problem.Errors))
	for i, e := range problem.Errors {
		out[i] = e.Location
	}
	return out
}
