package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// The authorization golden table: for every operation the server registers,
// every role (and a caller with no credentials) and every scope, what the
// guard answers. The table in testdata/authz_golden.txt is the reviewed
// statement of the intended policy (docs/access.md); the test asserts that
// the platform answers exactly that.
//
//	go test ./core/api/ -run TestAuthzGolden -update   # rewrite it, then review the diff

const azGoldenFile = "testdata/authz_golden.txt"

func init() {
	// Another golden test of the package may define -update first.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata from what the platform answers")
	}
}

func azUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Cells of the table.
const (
	azAllow = "allow" // the guard let the call through to its handler
	azNA    = "-"     // the scope does not apply to the caller
)

// The regions of apptest: region users are made in azOwn.
const (
	azOwn   = "66"
	azOther = "16"
)

const azAnonymous = "anonymous"

// azRoles is the table's row order: no credentials, region roles, federal roles.
func azRoles() []string {
	out := []string{azAnonymous}
	out = append(out, access.TenantRoles...)
	return append(out, access.FederalRoles...)
}

func azFederal(role string) bool { return access.IsFederalRole(role) }

// azOp is one registered operation.
type azOp struct {
	method, path string
	op           *huma.Operation
	perm         api.Permission
	declared     bool
}

func (o azOp) tenantScoped() bool { return strings.Contains(o.path, "{tenant}") }

func (o azOp) key() string { return o.method + " " + o.path }

var azMethodOrder = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"}

// azOperations lists every operation in the server's OpenAPI description,
// in a stable order.
func azOperations(srv *api.Server) []azOp {
	var ops []azOp
	for path, item := range srv.OpenAPI().Paths {
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{
			{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch},
			{"DELETE", item.Delete}, {"HEAD", item.Head}, {"OPTIONS", item.Options}, {"TRACE", item.Trace},
		} {
			if m.op == nil {
				continue
			}
			perm, ok := api.PermissionOf(m.op)
			ops = append(ops, azOp{method: m.method, path: path, op: m.op, perm: perm, declared: ok})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return slices.Index(azMethodOrder, ops[i].method) < slices.Index(azMethodOrder, ops[j].method)
	})
	return ops
}

func azDescribe(o azOp) string {
	switch {
	case !o.declared:
		return "declares no permission"
	case o.perm.Public:
		return "public"
	case o.perm.Authenticated:
		return "any authenticated caller"
	}
	return "needs " + o.perm.Object + " " + o.perm.Action
}

// azScopes are the table's columns for an operation.
func azScopes(o azOp) []string {
	if o.tenantScoped() {
		return []string{"own", "other", "federal"}
	}
	return []string{"any"}
}

// azRegionOf says which region a caller in a scope calls: "" when the
// operation names none, "-" when the scope does not apply to the caller.
func azRegionOf(role, scope string) string {
	switch {
	case scope == "any":
		return ""
	case azFederal(role):
		if scope == "federal" {
			return azOwn
		}
		return azNA
	case scope == "own":
		return azOwn
	case scope == "other":
		return azOther
	}
	return azNA // a region user (or nobody) in the federal column
}

// azEnv is a platform with the objects the requests refer to.
type azEnv struct {
	t       *testing.T
	p       *apptest.Platform
	fed     string               // federal_admin's token: reads ETags
	tenant  map[string]uuid.UUID // region code → tenant id
	agency  map[string]string    // region → an assigning body
	user    map[string]string    // region → a person (not one of the role users)
	service map[string]string    // region → a service account
	seq     atomic.Int64
	tokens  map[string]string // role → token (anonymous: "")
}

func newAzEnv(t *testing.T, d store.Dialect) *azEnv {
	t.Helper()
	p := apptest.New(t, d)
	e := &azEnv{
		t: t, p: p, fed: p.Token("federal_admin", "federal"),
		tenant: map[string]uuid.UUID{}, agency: map[string]string{}, user: map[string]string{},
		service: map[string]string{}, tokens: map[string]string{azAnonymous: ""},
	}
	for _, role := range azRoles()[1:] {
		region := azOwn
		if azFederal(role) {
			region = "federal"
		}
		e.tokens[role] = p.Token(role, region)
	}
	for _, region := range []string{azOwn, azOther} {
		tn, err := p.Tenants.ByCode(context.Background(), region)
		if err != nil {
			t.Fatal(err)
		}
		e.tenant[region] = tn.ID
		admin := p.Token("tenant_admin", region)
		r := apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+region+"/agencies", map[string]any{
			"osz_code": region + "01.000000", "name": "Орган " + region, "inn": "7707083893", "oktmo": "65701000",
		}), 201)
		e.agency[region] = azID(t, r)
		r = apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+region+"/users", map[string]any{
			"username": "az-person-" + region, "password": "az-password-1",
		}), 201)
		e.user[region] = azID(t, r)
		r = apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+region+"/users", map[string]any{
			"username": "az-service-" + region, "kind": "service",
		}), 201)
		e.service[region] = azID(t, r)
	}
	return e
}

func azID(t *testing.T, r apptest.Response) string {
	t.Helper()
	id, _ := r.JSON(t)["id"].(string)
	if id == "" {
		t.Fatalf("no id in %s", r.Body)
	}
	return id
}

func (e *azEnv) next() int64 { return e.seq.Add(1) }

// etag reads an object's current ETag as the federal administrator.
func (e *azEnv) etag(path string) (string, map[string]any) {
	e.t.Helper()
	r := apptest.Expect(e.t, e.p.Do(e.fed, "GET", path, nil), 200)
	return r.Header.Get("ETag"), r.JSON(e.t)
}

// freshKey and freshDelegation make, through the services (so that they work
// in a suspended region too), an object a DELETE may consume.
func (e *azEnv) freshKey(region string) string {
	e.t.Helper()
	k, _, err := e.p.Auth.CreateKey(context.Background(), e.tenant[region], uuid.MustParse(e.service[region]), "az", nil, uuid.Nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.ID.String()
}

func (e *azEnv) freshDelegation(region string) string {
	e.t.Helper()
	ctx := tenancy.WithTenant(context.Background(), e.tenant[region])
	d, err := e.p.Delegations.Grant(ctx, region, access.NewDelegation{
		Object: fmt.Sprintf("measure:az-fixture-%d", e.next()), ValidFrom: "2024-01-01",
	}, uuid.Nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.ID.String()
}

// azReq is a request ready to send.
type azReq struct {
	path    string
	body    any
	headers []string
}

func azFill(tmpl, region, id string) string {
	return strings.NewReplacer("{tenant}", region, "{id}", id).Replace(tmpl)
}

// azBuilders make, per operation id, a request that an allowed caller gets a
// 2xx answer to: valid bodies, unique keys, current ETags, objects that
// exist in the region called.
var azBuilders = map[string]func(e *azEnv, tmpl, region string) azReq{
	"healthz":          azPlain,
	"readyz":           azPlain,
	"me":               azPlain,
	"listTenants":      azPlain,
	"listFederalUsers": azPlain,
	"getTenant":        azPlain,
	"listAgencies":     azPlain,
	"listUsers":        azPlain,
	"listAPIKeys":      azPlain,
	"listDelegations":  azPlain,
	"listAuditRecords": azPlain,
	"createTenant": func(e *azEnv, tmpl, _ string) azReq {
		code := fmt.Sprintf("%02d", 20+e.next()%40) // 20..59: never 66 or 16
		for {
			if _, err := e.p.Tenants.ByCode(context.Background(), code); err != nil {
				break
			}
			code = fmt.Sprintf("%02d", 20+e.next()%40)
		}
		return azReq{path: tmpl, body: map[string]any{"code": code, "name": "Регион " + code, "okato": "45", "oktmo": "45000000"}}
	},
	"updateTenant": func(e *azEnv, tmpl, region string) azReq {
		path := azFill(tmpl, region, "")
		tag, m := e.etag(path)
		return azReq{path: path, body: map[string]any{"name": m["name"]}, headers: []string{"If-Match", tag}}
	},
	"createAgency": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, ""), body: map[string]any{
			"osz_code": fmt.Sprintf("%s02.%06d", region, e.next()), "name": "Орган", "inn": "7707083893", "oktmo": "65701000",
		}}
	},
	"getAgency": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, e.agency[region])}
	},
	"updateAgency": func(e *azEnv, tmpl, region string) azReq {
		path := azFill(tmpl, region, e.agency[region])
		tag, _ := e.etag(path)
		return azReq{path: path, body: map[string]any{"short_name": fmt.Sprint("az ", e.next())}, headers: []string{"If-Match", tag}}
	},
	"login": func(e *azEnv, tmpl, _ string) azReq {
		return azReq{path: tmpl, body: map[string]any{"username": "specialist@" + azOwn, "password": apptest.Password}}
	},
	"refresh": azWithRefreshToken,
	"logout":  azWithRefreshToken,
	"createUser": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, ""), body: map[string]any{
			"username": fmt.Sprintf("az-new-%d", e.next()), "password": "az-password-1",
		}}
	},
	"getUser": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, e.user[region])}
	},
	"updateUser": func(e *azEnv, tmpl, region string) azReq {
		path := azFill(tmpl, region, e.user[region])
		tag, _ := e.etag(path)
		return azReq{path: path, body: map[string]any{"display_name": fmt.Sprint("az ", e.next())}, headers: []string{"If-Match", tag}}
	},
	"setUserRoles": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, e.user[region]), body: map[string]any{"roles": []string{"specialist"}}}
	},
	"createFederalUser": func(e *azEnv, tmpl, _ string) azReq {
		return azReq{path: tmpl, body: map[string]any{"username": fmt.Sprintf("az-fed-%d", e.next()), "password": "az-password-1"}}
	},
	"createAPIKey": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, ""), body: map[string]any{"user_id": e.service[region], "name": "az"}}
	},
	"revokeAPIKey": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, e.freshKey(region))}
	},
	"createDelegation": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, ""), body: map[string]any{
			"object": fmt.Sprintf("measure:az-%d", e.next()), "valid_from": "2024-01-01",
		}}
	},
	"revokeDelegation": func(e *azEnv, tmpl, region string) azReq {
		return azReq{path: azFill(tmpl, region, e.freshDelegation(region))}
	},
}

func azPlain(_ *azEnv, tmpl, region string) azReq { return azReq{path: azFill(tmpl, region, "")} }

func azWithRefreshToken(e *azEnv, tmpl, _ string) azReq {
	ts, err := e.p.Auth.Login(context.Background(), "specialist@"+azOwn, apptest.Password)
	if err != nil {
		e.t.Fatal(err)
	}
	return azReq{path: tmpl, body: map[string]any{"refresh_token": ts.RefreshToken}}
}

var azParam = regexp.MustCompile(`\{[^}]+\}`)

// azFallback makes a request for an operation without a builder: any other
// path parameter is a random id, a body is empty. The guard answers before
// the handler reads either, so the cell is still right; the test fails
// anyway, asking for a builder.
func azFallback(_ *azEnv, o azOp, region string) azReq {
	path := azParam.ReplaceAllStringFunc(strings.ReplaceAll(o.path, "{tenant}", region), func(string) string {
		return uuid.NewString()
	})
	r := azReq{path: path}
	if o.method == "POST" || o.method == "PUT" || o.method == "PATCH" {
		r.body = map[string]any{}
	}
	return r
}

// azClassify turns an answer into a cell. The guard's answers are 401, 403
// and its 404 for a region the caller may not see ("region NN not found");
// anything the handler answers (2xx, its own 404 for an object, 409, 422)
// means the guard let the call through.
func azClassify(r apptest.Response, region string) string {
	var problem struct{ Detail string }
	_ = json.Unmarshal(r.Body, &problem)
	switch {
	case r.Status == 401 || r.Status == 403:
		return fmt.Sprint(r.Status)
	case r.Status == 404 && region != "" && problem.Detail == "region "+region+" not found":
		return "404"
	case r.Status/100 == 2, r.Status == 404, r.Status == 409, r.Status == 422:
		return azAllow
	}
	return fmt.Sprintf("status-%d", r.Status)
}

// azRow is one line of the table.
type azRow struct {
	method, path, role string
	cells              map[string]string
}

func (r azRow) key() string { return r.method + " " + r.path + " " + r.role }

// azCall sends an operation's request as a role to a region and classifies
// the answer; strict builders must reach a 2xx when allowed.
func (e *azEnv) call(o azOp, role, region string) (string, apptest.Response) {
	e.t.Helper()
	var req azReq
	if b, ok := azBuilders[o.op.OperationID]; ok {
		req = b(e, o.path, region)
	} else {
		req = azFallback(e, o, region)
	}
	r := e.p.Do(e.tokens[role], o.method, req.path, req.body, req.headers...)
	cell := azClassify(r, region)
	if cell == azAllow && r.Status/100 != 2 {
		if _, ok := azBuilders[o.op.OperationID]; ok {
			e.t.Errorf("%s %s as %s: allowed, but the handler answered %d: the request builder is wrong: %s",
				o.method, req.path, role, r.Status, r.Body)
		}
	}
	if r.Status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		e.t.Errorf("%s %s as %s: error %d with content type %q", o.method, req.path, role, r.Status, r.Header.Get("Content-Type"))
	}
	return cell, r
}

// table computes the whole table: every operation, role and scope.
func (e *azEnv) table(ops []azOp) []azRow {
	e.t.Helper()
	var rows []azRow
	for _, o := range ops {
		if _, ok := azBuilders[o.op.OperationID]; !ok {
			e.t.Errorf("operation %s (%s) has no request builder in azBuilders (authz_golden_test.go): add one "+
				"so that an allowed call reaches its handler and answers 2xx", o.key(), o.op.OperationID)
		}
		for _, role := range azRoles() {
			row := azRow{method: o.method, path: o.path, role: role, cells: map[string]string{}}
			for _, scope := range azScopes(o) {
				region := azRegionOf(role, scope)
				if region == azNA {
					row.cells[scope] = azNA
					continue
				}
				cell, _ := e.call(o, role, region)
				row.cells[scope] = cell
				if azFederal(role) && scope == "federal" {
					// Federal roles hold in every region alike.
					if other, r := e.call(o, role, azOther); other != cell {
						e.t.Errorf("%s as %s: region %s answers %s but region %s answers %s (%d %s)",
							o.key(), role, azOwn, cell, azOther, other, r.Status, r.Body)
					}
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

const azHeader = `# Authorization golden table: what the guard (core/api/authn.go) answers each role,
# for every operation the server registers, in every scope. It is the reviewed
# statement of the policy in docs/access.md; TestAuthzGolden asserts that the
# platform answers exactly this.
#
# Regenerate:  go test ./core/api/ -run TestAuthzGolden -update
# and review every changed line against docs/access.md before committing it.
#
# Rows:   METHOD PATH ROLE  SCOPE=CELL ...
#   ROLE  anonymous (no credentials), the region roles (a user of region 66),
#         the federal roles (a federal user).
#   SCOPE for a path with {tenant}:
#         own      a region-66 user (or anonymous) calling region 66
#         other    a region-66 user (or anonymous) calling region 16
#         federal  a federal user calling region 66 (region 16 must answer alike;
#                  the test checks that too)
#         for a path without {tenant}: any.
#   CELL  allow  the guard let the call through (the handler answered)
#         401    no credentials
#         403    the caller's roles do not allow the operation
#         404    the guard hid a region the caller may not see ("region NN not found")
#         -      the scope does not apply to the caller
`

func azFormat(ops []azOp, rows []azRow) string {
	var b strings.Builder
	b.WriteString(azHeader)
	byKey := map[string]azRow{}
	for _, r := range rows {
		byKey[r.key()] = r
	}
	for _, o := range ops {
		fmt.Fprintf(&b, "\n# %s (%s) %s\n", o.op.OperationID, o.key(), azDescribe(o))
		for _, role := range azRoles() {
			r, ok := byKey[o.method+" "+o.path+" "+role]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "%-6s %-45s %-17s", o.method, o.path, role)
			for _, s := range azScopes(o) {
				fmt.Fprintf(&b, " %-14s", s+"="+r.cells[s])
			}
			b.WriteString("\n")
		}
	}
	// No trailing spaces.
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}

// azParse reads the golden file: rows by key, and syntax errors.
func azParse(text string) (map[string]azRow, []string) {
	rows := map[string]azRow{}
	var errs []string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			errs = append(errs, fmt.Sprintf("%s:%d: want METHOD PATH ROLE SCOPE=CELL…: %q", azGoldenFile, n+1, line))
			continue
		}
		r := azRow{method: f[0], path: f[1], role: f[2], cells: map[string]string{}}
		for _, c := range f[3:] {
			k, v, ok := strings.Cut(c, "=")
			if !ok {
				errs = append(errs, fmt.Sprintf("%s:%d: cell %q is not SCOPE=CELL", azGoldenFile, n+1, c))
				continue
			}
			r.cells[k] = v
		}
		if _, dup := rows[r.key()]; dup {
			errs = append(errs, fmt.Sprintf("%s:%d: a second row for %s", azGoldenFile, n+1, r.key()))
		}
		rows[r.key()] = r
	}
	return rows, errs
}

// azCompare lists every difference between the golden table and the
// platform's answers.
func azCompare(ops []azOp, golden map[string]azRow, actual []azRow) []string {
	var diffs []string
	seen := map[string]bool{}
	opID := map[string]string{}
	for _, o := range ops {
		opID[o.key()] = o.op.OperationID
	}
	for _, a := range actual {
		seen[a.key()] = true
		g, ok := golden[a.key()]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("no golden row for %s (%s) as %s; the platform answers %s — add it to %s "+
				"(go test ./core/api/ -run TestAuthzGolden -update) and review it against docs/access.md",
				a.method+" "+a.path, opID[a.method+" "+a.path], a.role, azCells(a), azGoldenFile))
			continue
		}
		scopes := make([]string, 0, len(a.cells))
		for s := range a.cells {
			scopes = append(scopes, s)
		}
		for s := range g.cells {
			if _, ok := a.cells[s]; !ok {
				scopes = append(scopes, s)
			}
		}
		sort.Strings(scopes)
		for _, s := range scopes {
			want, have := g.cells[s], a.cells[s]
			if want != have {
				if want == "" {
					want = "(no cell)"
				}
				if have == "" {
					have = "(no such scope)"
				}
				diffs = append(diffs, fmt.Sprintf("%s as %s, scope %s: golden %s, platform %s", a.method+" "+a.path, a.role, s, want, have))
			}
		}
	}
	for k := range golden {
		if !seen[k] {
			diffs = append(diffs, fmt.Sprintf("golden row %q names no registered operation and role; remove it", k))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func azCells(r azRow) string {
	var parts []string
	for _, s := range []string{"own", "other", "federal", "any"} {
		if v, ok := r.cells[s]; ok {
			parts = append(parts, s+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func TestAuthzGolden(t *testing.T) {
	t.Parallel()
	var wrote bool
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			e := newAzEnv(t, d)
			ops := azOperations(e.p.Server)
			for _, o := range ops {
				if !o.declared {
					t.Errorf("%s (%s) declares no permission", o.key(), o.op.OperationID)
				}
			}
			actual := e.table(ops)
			if azUpdating() && !wrote {
				if err := os.MkdirAll(filepath.Dir(azGoldenFile), 0o755); err != nil {
					t.Fatal(err)
				}
				// Atomically: the other tests of this file read it in parallel.
				tmp := azGoldenFile + ".tmp"
				if err := os.WriteFile(tmp, []byte(azFormat(ops, actual)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, azGoldenFile); err != nil {
					t.Fatal(err)
				}
				wrote = true
				t.Logf("wrote %s (%d rows): review it against docs/access.md", azGoldenFile, len(actual))
				return
			}
			raw, err := os.ReadFile(azGoldenFile)
			if err != nil {
				t.Fatalf("%v (create it with go test ./core/api/ -run TestAuthzGolden -update, then review it)", err)
			}
			golden, errs := azParse(string(raw))
			for _, e := range errs {
				t.Error(e)
			}
			diffs := azCompare(ops, golden, actual)
			for _, d := range diffs {
				t.Error(d)
			}
			if len(diffs) > 0 {
				t.Errorf("%d of %d golden rows do not match the platform (%d cells checked)", len(diffs), len(actual), azCellCount(actual))
			} else {
				t.Logf("%d operations × %d callers: %d rows, %d cells match %s", len(ops), len(azRoles()), len(actual), azCellCount(actual), azGoldenFile)
			}
		})
	}
}

func azCellCount(rows []azRow) int {
	n := 0
	for _, r := range rows {
		for _, c := range r.cells {
			if c != azNA {
				n++
			}
		}
	}
	return n
}

// azGolden reads the reviewed table (the other tests derive from it).
func azGolden(t *testing.T) map[string]azRow {
	t.Helper()
	raw, err := os.ReadFile(azGoldenFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, errs := azParse(string(raw))
	if len(errs) > 0 {
		t.Fatal(strings.Join(errs, "\n"))
	}
	return rows
}

// A suspended region's data can be read, not changed, by its own users:
// every cell the golden table allows a region user in its own region stays
// allowed for reads and becomes 403 for changes; federal users are not
// affected. Resuming the region restores the table.
func TestAuthzSuspendedRegionIsReadOnly(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			golden := azGolden(t)
			e := newAzEnv(t, d)
			ops := azOperations(e.p.Server)
			setStatus := func(status string) {
				tag, _ := e.etag("/api/v1/tenants/" + azOwn)
				apptest.Expect(t, e.p.Do(e.fed, "PATCH", "/api/v1/tenants/"+azOwn, map[string]any{"status": status}, "If-Match", tag), 200)
			}
			setStatus("suspended")
			checked := 0
			for _, o := range ops {
				if !o.tenantScoped() {
					continue
				}
				for _, role := range azRoles()[1:] {
					scope := "own"
					if azFederal(role) {
						scope = "federal"
					}
					g, ok := golden[o.method+" "+o.path+" "+role]
					if !ok {
						t.Errorf("no golden row for %s as %s (see TestAuthzGolden)", o.key(), role)
						continue
					}
					want := g.cells[scope]
					readOnly := o.perm.Action == "read" || o.perm.Action == "list"
					if want == azAllow && !readOnly && !azFederal(role) {
						want = "403"
					}
					have, r := e.call(o, role, azOwn)
					checked++
					if have != want {
						t.Errorf("suspended region: %s as %s: want %s, got %s (%d %s)", o.key(), role, want, have, r.Status, r.Body)
					}
					if want == "403" && g.cells[scope] == azAllow && !strings.Contains(string(r.Body), "suspended") {
						t.Errorf("suspended region: %s as %s: the 403 does not say the region is suspended: %s", o.key(), role, r.Body)
					}
				}
			}
			setStatus("active")
			// Back to the golden table.
			for _, o := range ops {
				if !o.tenantScoped() || o.perm.Action == "read" {
					continue
				}
				g := golden[o.method+" "+o.path+" tenant_admin"]
				if have, r := e.call(o, "tenant_admin", azOwn); have != g.cells["own"] {
					t.Errorf("resumed region: %s as tenant_admin: want %s, got %s (%d %s)", o.key(), g.cells["own"], have, r.Status, r.Body)
				}
			}
			t.Logf("suspended region: %d calls checked", checked)
		})
	}
}

// Users of an archived region cannot log in, and what they already hold —
// access tokens, API keys — stops working; the federal operator still reads
// the region.
func TestAuthzArchivedRegionIsClosed(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			p := apptest.New(t, d)
			ctx := context.Background()
			fed := p.Token("federal_admin", "federal")
			apptest.Expect(t, p.Do(fed, "POST", "/api/v1/tenants", map[string]any{"code": "77", "name": "Москва", "okato": "45", "oktmo": "45000000"}), 201)
			apptest.Expect(t, p.Do(fed, "PATCH", "/api/v1/tenants/77", map[string]any{"status": "active"}, "If-Match", `"1"`), 200)
			admin := p.Token("tenant_admin", "77")
			r := apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/77/users", map[string]any{"username": "robot@77", "kind": "service"}), 201)
			robot := azID(t, r)
			apptest.Expect(t, p.Do(admin, "PUT", "/api/v1/tenants/77/users/"+robot+"/roles", map[string]any{"roles": []string{"integration"}}), 200)
			key, _ := apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/77/api-keys", map[string]any{"user_id": robot, "name": "k"}), 201).JSON(t)["key"].(string)
			ts, err := p.Auth.Login(ctx, "tenant_admin@77", apptest.Password)
			if err != nil {
				t.Fatal(err)
			}
			for _, tok := range []string{admin, key} {
				apptest.Expect(t, p.Do(tok, "GET", "/api/v1/tenants/77", nil), 200)
			}

			apptest.Expect(t, p.Do(fed, "PATCH", "/api/v1/tenants/77", map[string]any{"status": "archived"}, "If-Match", `"2"`), 200)
			for name, tok := range map[string]string{"access token": admin, "API key": key} {
				if r := p.Do(tok, "GET", "/api/v1/me", nil); r.Status != 401 {
					t.Errorf("archived region: %s answers %d, want 401: %s", name, r.Status, r.Body)
				}
			}
			r = apptest.Expect(t, p.Do("", "POST", "/api/v1/auth/login", map[string]any{"username": "tenant_admin@77", "password": apptest.Password}), 403)
			if !strings.Contains(string(r.Body), "archived") {
				t.Errorf("login refusal does not say the region is archived: %s", r.Body)
			}
			apptest.Expect(t, p.Do("", "POST", "/api/v1/auth/refresh", map[string]any{"refresh_token": ts.RefreshToken}), 401)
			// A wrong password is still just a failed login: it reveals nothing.
			apptest.Expect(t, p.Do("", "POST", "/api/v1/auth/login", map[string]any{"username": "tenant_admin@77", "password": "wrong-password"}), 401)
			// The federal operator reads the archived region.
			apptest.Expect(t, p.Do(fed, "GET", "/api/v1/tenants/77", nil), 200)
			apptest.Expect(t, p.Do(fed, "GET", "/api/v1/tenants/77/users", nil), 200)
			apptest.Expect(t, p.Do(p.Token("federal_auditor", "federal"), "GET", "/api/v1/tenants/77/agencies", nil), 200)
		})
	}
}

// A delegation of measure:<code> lets the federal administrators act on that
// object in that region only, for its period, and the federal auditors read
// it; revoking it withdraws both. Revoking it a second time must not withdraw
// a later delegation of the same object.
func TestAuthzDelegation(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			p := apptest.New(t, d)
			admin := p.Token("tenant_admin", azOwn)
			fa := access.Subject{User: p.User("federal_admin", "federal")}
			fau := access.Subject{User: p.User("federal_auditor", "federal")}
			ta := access.Subject{User: p.User("tenant_admin", azOwn)}
			type check struct {
				who           access.Subject
				name          string
				dom, obj, act string
				want          bool
			}
			expect := func(stage string, checks []check) {
				t.Helper()
				for _, c := range checks {
					if got := p.Access.Allowed(c.who, c.dom, c.obj, c.act); got != c.want {
						t.Errorf("%s: %s may %s %s in %s: %v, want %v", stage, c.name, c.act, c.obj, c.dom, got, c.want)
					}
				}
			}
			const obj = "measure:child-under-3"
			in := func(want bool) []check {
				return []check{
					{fa, "federal_admin", azOwn, obj, "update", want},
					{fa, "federal_admin", azOwn, obj, "read", want},
					{fau, "federal_auditor", azOwn, obj, "read", want},
					{fau, "federal_auditor", azOwn, obj, "update", false},
					{fa, "federal_admin", azOther, obj, "update", false},
					{fa, "federal_admin", azOwn, "measure:other", "update", false},
					{fa, "federal_admin", azOwn, "agency", "create", false},
					// A region's own roles do not reach its measures through a delegation.
					{ta, "tenant_admin", azOwn, obj, "update", false},
				}
			}
			expect("before", in(false))
			body := map[string]any{"object": obj, "valid_from": "2024-01-01", "note": "по соглашению"}
			first := azID(t, apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/delegations", body), 201))
			expect("delegated", in(true))
			apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/delegations", body), 409)
			apptest.Expect(t, p.Do(admin, "DELETE", "/api/v1/tenants/"+azOwn+"/delegations/"+first, nil), 200)
			expect("revoked", in(false))
			apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/delegations", body), 201)
			expect("delegated again", in(true))
			// Revoking the first delegation again is harmless.
			apptest.Expect(t, p.Do(admin, "DELETE", "/api/v1/tenants/"+azOwn+"/delegations/"+first, nil), 200)
			expect("first revoked twice", in(true))
			me := apptest.Expect(t, p.Do(p.Token("federal_admin", "federal"), "GET", "/api/v1/me", nil), 200)
			if !strings.Contains(string(me.Body), `{"tenant":"`+azOwn+`","object":"`+obj+`"}`) {
				t.Errorf("/me of the federal administrator does not list the delegation: %s", me.Body)
			}

			// A delegation whose period has not begun is not in force.
			future := map[string]any{"object": "measure:later", "valid_from": "2999-01-01"}
			apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/delegations", future), 201)
			expect("future", []check{{fa, "federal_admin", azOwn, "measure:later", "update", false}})
			past := map[string]any{"object": "measure:earlier", "valid_from": "2000-01-01", "valid_to": "2000-12-31"}
			apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/delegations", past), 201)
			expect("past", []check{{fa, "federal_admin", azOwn, "measure:earlier", "update", false}})
		})
	}
}
