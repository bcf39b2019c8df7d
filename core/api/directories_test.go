package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// The directory operations' request builders for the authorization golden
// table (authz_golden_test.go), and their id-carrying operations for the
// cross-region storm (crosstenant_test.go).
func init() {
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"listDirectories":            azPlain,
		"listRegionDirectories":      azPlain,
		"getDirectory":               azDirPlain("regions"),
		"listDirectoryEntries":       azDirPlain("regions"),
		"exportDirectory":            azDirPlain("regions"),
		"listRegionDirectoryEntries": azDirPlain("recipient_categories"),
		"exportRegionDirectory":      azDirPlain("recipient_categories"),
		"createDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "recipient_categories", ""), body: map[string]any{
				"code": fmt.Sprintf("az-%d", e.next()), "name": "Категория", "effective_from": "2025-01-01",
			}}
		},
		"getDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "regions", e.platformEntry("regions", "66"))}
		},
		"updateDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			path := azDirFill(tmpl, region, "regions", e.platformEntry("regions", "66"))
			tag, m := e.etag(path)
			return azReq{path: path, body: map[string]any{"name": m["name"]}, headers: []string{"If-Match", tag}}
		},
		"importDirectory": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "units", ""), body: map[string]any{"directory": "units", "entries": []any{}}}
		},
		"importKMSZ": func(e *azEnv, tmpl, _ string) azReq {
			return azReq{path: tmpl, body: kmszV1(e.t), headers: []string{"Content-Type", "application/xml"}}
		},
		"createRegionDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "recipient_categories", ""), body: map[string]any{
				"code": fmt.Sprintf("az-own-%d", e.next()), "name": "Региональная категория", "effective_from": "2025-01-01",
			}}
		},
		"getRegionDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "recipient_categories", e.overlayEntry(region))}
		},
		"updateRegionDirectoryEntry": func(e *azEnv, tmpl, region string) azReq {
			path := azDirFill(tmpl, region, "recipient_categories", e.overlayEntry(region))
			tag, m := e.etag(path)
			return azReq{path: path, body: map[string]any{"name": m["name"]}, headers: []string{"If-Match", tag}}
		},
		"importRegionDirectory": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azDirFill(tmpl, region, "recipient_categories", ""), body: map[string]any{"entries": []any{}}}
		},
	} {
		azBuilders[id] = b
	}
	xtTargets["getRegionDirectoryEntry"] = "overlay"
	xtTargets["updateRegionDirectoryEntry"] = "overlay"
}

func azDirFill(tmpl, region, code, id string) string {
	return strings.NewReplacer("{tenant}", region, "{code}", code, "{id}", id).Replace(tmpl)
}

func azDirPlain(code string) func(e *azEnv, tmpl, region string) azReq {
	return func(_ *azEnv, tmpl, region string) azReq { return azReq{path: azDirFill(tmpl, region, code, "")} }
}

var kmszOnce = sync.OnceValues(func() ([]byte, error) {
	return os.ReadFile("../directory/testdata/kmsz-10.01.O-1.0.3-v1.xml")
})

func kmszV1(t testing.TB) string {
	b, err := kmszOnce()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// platformEntry is the id of the version of a platform entry in force today.
func (e *azEnv) platformEntry(dir, code string) string {
	e.t.Helper()
	en, err := e.p.Directories.Lookup(context.Background(), dir, code, civil.Today())
	if err != nil {
		e.t.Fatal(err)
	}
	return en.ID.String()
}

// overlayEntry makes, through the service, a region's own category.
func (e *azEnv) overlayEntry(region string) string {
	e.t.Helper()
	ctx := tenancy.WithTenant(context.Background(), e.tenant[region])
	en, err := e.p.Directories.RegionCreate(ctx, "recipient_categories", directory.Fields{
		Code: fmt.Sprintf("az-fixture-%d", e.next()), Name: "Категория " + region, EffectiveFrom: civil.MustParse("2025-01-01"),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return en.ID.String()
}

func TestDirectoriesAPI(t *testing.T) {
	t.Parallel()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			p := apptest.New(t, d)
			fed := p.Token("federal_admin", "federal")
			spec := p.Token("specialist", azOwn)
			admin := p.Token("tenant_admin", azOwn)

			// The register of directories, paged.
			r := apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories?limit=5", nil), 200)
			if items := r.JSON(t)["items"].([]any); len(items) != 5 || r.JSON(t)["next_cursor"] == nil {
				t.Fatalf("first page: %s", r.Body)
			}
			r = apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/holidays", nil), 200)
			if m := r.JSON(t); m["extensible"] != true || len(m["attributes"].([]any)) != 4 {
				t.Fatalf("holidays: %s", r.Body)
			}

			// Entries as of a date, in pages.
			var codes []string
			cursor := ""
			for {
				r := apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/regions/entries?as_of=2026-01-01&limit=40&cursor="+cursor, nil), 200)
				m := r.JSON(t)
				for _, it := range m["items"].([]any) {
					codes = append(codes, it.(map[string]any)["code"].(string))
				}
				if m["as_of"] != "2026-01-01" {
					t.Fatalf("as_of %v", m["as_of"])
				}
				next, _ := m["next_cursor"].(string)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(codes) != 89 || codes[0] != "01" || codes[88] != "95" {
				t.Fatalf("%d regions: %v", len(codes), codes)
			}
			r = apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/subsistence_minimums/entries?entry=00&all_versions=true", nil), 200)
			if items := r.JSON(t)["items"].([]any); len(items) != 2 {
				t.Fatalf("history of 00: %s", r.Body)
			}
			apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/regions/entries?as_of=2026-01-01&all_versions=true", nil), 422)
			apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/regions/entries?cursor=bogus", nil), 422)
			apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/nope/entries", nil), 404)

			// A federal operator replaces a sample value.
			r = apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/subsistence_minimums/entries?entry=66&as_of=2026-05-01", nil), 200)
			e66 := r.JSON(t)["items"].([]any)[0].(map[string]any)
			if e66["attributes"].(map[string]any)["sample"] != true || e66["origin"] != "platform" || e66["effective_to"] != "2026-12-31" {
				t.Fatalf("%v", e66)
			}
			path := "/api/v1/directories/subsistence_minimums/entries/" + e66["id"].(string)
			attrs := map[string]any{"year": 2026, "per_capita_kopecks": 1974800, "working_age_kopecks": 2152600,
				"pensioners_kopecks": 1698400, "children_kopecks": 1915600}
			apptest.Expect(t, p.Do(fed, "PATCH", path, map[string]any{"attributes": attrs}), 428)
			apptest.Expect(t, p.Do(fed, "PATCH", path, map[string]any{"attributes": attrs}, "If-Match", `"7"`), 412)
			r = apptest.Expect(t, p.Do(fed, "PATCH", path, map[string]any{"attributes": attrs}, "If-Match", `"1"`), 200)
			if r.Header.Get("ETag") != `"2"` || r.JSON(t)["attributes"].(map[string]any)["sample"] != nil {
				t.Fatalf("%s %s", r.Header.Get("ETag"), r.Body)
			}
			r = apptest.Expect(t, p.Do(fed, "PATCH", path, map[string]any{"attributes": map[string]any{"year": "2026"}}, "If-Match", `"2"`), 422)
			if !strings.Contains(string(r.Body), "body.attributes.year") {
				t.Errorf("the attribute's location: %s", r.Body)
			}
			// A new version.
			r = apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/entries", map[string]any{
				"code": "876", "name": "Условная единица", "attributes": map[string]any{"short_name": "усл. ед"}, "effective_from": "2026-01-01",
			}), 201)
			if !strings.HasPrefix(r.Header.Get("Location"), "/api/v1/directories/units/entries/") {
				t.Errorf("Location %q", r.Header.Get("Location"))
			}
			apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/entries", map[string]any{
				"code": "876", "name": "x", "attributes": map[string]any{"short_name": "x"}, "effective_from": "2026-01-01",
			}), 409)
			apptest.Expect(t, p.Do(fed, "GET", r.Header.Get("Location"), nil), 200)

			// Import and export.
			csv := "code,name,effective_from,short_name\n877,Новая,2026-01-01,н\n12,Плохой код,2026-01-01,x\n878,Плохая дата,2026-02-30,x\n"
			r = apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/import", csv, "Content-Type", "text/csv"), 422)
			var locs []string
			for _, e := range r.JSON(t)["errors"].([]any) {
				locs = append(locs, e.(map[string]any)["location"].(string))
			}
			if strings.Join(locs, " ") != "body.line[3].code body.line[4].effective_from" {
				t.Errorf("import problems at %v: %s", locs, r.Body)
			}
			apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/import", csv, "Content-Type", "text/plain"), 415)
			r = apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/import", "code,name,effective_from,short_name\n877,Новая,2026-01-01,н\n", "Content-Type", "text/csv; charset=utf-8"), 200)
			if r.JSON(t)["created"] != 1.0 {
				t.Errorf("%s", r.Body)
			}
			r = apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/units/export?format=json", nil), 200)
			if r.Header.Get("Content-Type") != "application/json" || !strings.Contains(r.Header.Get("Content-Disposition"), `filename="units.json"`) {
				t.Errorf("headers %v", r.Header)
			}
			back := apptest.Expect(t, p.Do(fed, "POST", "/api/v1/directories/units/import", r.Body), 200).JSON(t)
			if back["created"] != 0.0 || back["updated"] != 0.0 || back["unchanged"].(float64) < 13 {
				t.Errorf("re-import of the export: %v", back)
			}
			r = apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/holidays/export?format=csv&as_of=2026-01-01", nil), 200)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.Contains(string(r.Body), "2026-01-09,Выходной день (перенесён с 3 января)") {
				t.Errorf("holidays CSV: %.400s", r.Body)
			}

			// KMSZ.
			r = apptest.Expect(t, p.Do(fed, "POST", "/api/v1/kmsz/versions", kmszV1(t), "Content-Type", "application/xml"), 200)
			if m := r.JSON(t); m["version"] != 41.0 || m["directories"].(map[string]any)["kmsz"].(map[string]any)["created"] != 3.0 {
				t.Errorf("%s", r.Body)
			}
			apptest.Expect(t, p.Do(fed, "POST", "/api/v1/kmsz/versions", kmszV1(t), "Content-Type", "text/csv"), 415)
			bad := strings.Replace(kmszV1(t), "<v:code>0101</v:code>", "<v:code>ABCD</v:code>", 1)
			r = apptest.Expect(t, p.Do(fed, "POST", "/api/v1/kmsz/versions", bad, "Content-Type", "application/xml"), 422)
			if !strings.Contains(string(r.Body), `"location":"body.line[21]"`) || !strings.Contains(string(r.Body), "line 21, column") {
				t.Errorf("%s", r.Body)
			}

			// A region's own entries: its administrator writes, its roles read.
			base := "/api/v1/tenants/" + azOwn + "/directories/recipient_categories/entries"
			r = apptest.Expect(t, p.Do(admin, "POST", base, map[string]any{"code": "66-war-children", "name": "Дети войны", "effective_from": "2025-01-01"}), 201)
			own := r.JSON(t)
			if own["origin"] != "region" {
				t.Fatalf("%s", r.Body)
			}
			apptest.Expect(t, p.Do(spec, "POST", base, map[string]any{"code": "66-x", "name": "x", "effective_from": "2025-01-01"}), 403)
			apptest.Expect(t, p.Do(fed, "POST", base, map[string]any{"code": "66-x", "name": "x", "effective_from": "2025-01-01"}), 403)
			apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/directories/regions/entries",
				map[string]any{"code": "99", "name": "x", "attributes": map[string]any{"okato": "1"}, "effective_from": "2025-01-01"}), 409)
			apptest.Expect(t, p.Do(admin, "POST", base, map[string]any{"code": "large_family", "name": "x", "effective_from": "2025-01-01"}), 409)
			r = apptest.Expect(t, p.Do(spec, "GET", base+"?limit=1000", nil), 200)
			origins := map[string]string{}
			for _, it := range r.JSON(t)["items"].([]any) {
				m := it.(map[string]any)
				origins[m["code"].(string)] = m["origin"].(string)
			}
			if origins["66-war-children"] != "region" || origins["large_family"] != "platform" {
				t.Errorf("region 66's view: %v", origins)
			}
			other := apptest.Expect(t, p.Do(p.Token("specialist", azOther), "GET", "/api/v1/tenants/"+azOther+"/directories/recipient_categories/entries?limit=1000", nil), 200)
			if strings.Contains(string(other.Body), "66-war-children") {
				t.Errorf("region 16 sees region 66's category")
			}
			apptest.Expect(t, p.Do(spec, "GET", "/api/v1/directories/regions/entries", nil), 403)
			item := base + "/" + own["id"].(string)
			apptest.Expect(t, p.Do(admin, "PATCH", item, map[string]any{"effective_to": "2025-12-31"}, "If-Match", `"1"`), 200)
			r = apptest.Expect(t, p.Do(admin, "PATCH", item, map[string]any{"effective_to": ""}, "If-Match", `"2"`), 200)
			if r.JSON(t)["effective_to"] != nil {
				t.Errorf("reopened: %s", r.Body)
			}
			plat := apptest.Expect(t, p.Do(fed, "GET", "/api/v1/directories/recipient_categories/entries?entry=large_family", nil), 200).JSON(t)["items"].([]any)[0].(map[string]any)
			apptest.Expect(t, p.Do(admin, "PATCH", base+"/"+plat["id"].(string), map[string]any{"name": "x"}, "If-Match", `"1"`), 409)
			apptest.Expect(t, p.Do(admin, "GET", base+"/"+plat["id"].(string), nil), 200)
			r = apptest.Expect(t, p.Do(admin, "POST", "/api/v1/tenants/"+azOwn+"/directories/recipient_categories/import",
				"code;name;effective_from\n66-a;Первая;2025-01-01\n", "Content-Type", "text/csv"), 200)
			if r.JSON(t)["created"] != 1.0 {
				t.Errorf("%s", r.Body)
			}
			r = apptest.Expect(t, p.Do(spec, "GET", "/api/v1/tenants/"+azOwn+"/directories/recipient_categories/export", nil), 200)
			if string(r.Body) != "code,name,effective_from,effective_to,kmsz_category,sample,note\n66-a,Первая,2025-01-01,,,,\n66-war-children,Дети войны,2025-01-01,,,,\n" {
				t.Errorf("region export:\n%s", r.Body)
			}
		})
	}
}

// An import is bounded by the server's body limit (--body-limit): over it,
// 413 before any handler runs; a larger limit lets a larger file in.
func TestDirectoryImportBodyLimit(t *testing.T) {
	t.Parallel()
	line := "999," + strings.Repeat("ж", 200) + ",2026-01-01,x\n"
	big := "code,name,effective_from,short_name\n" + strings.Repeat(line, 4000) // about 1.6 MB
	p := apptest.New(t, store.SQLite)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Server.Serve(ctx, ln, api.Shutdown{Grace: time.Second}) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v1/directories/units/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\nc",
		p.Token("federal_admin", "federal"), len(big))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if resp.StatusCode != 413 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	roomy := apptest.NewWith(t, store.SQLite, func(c *app.Config) { c.BodyLimit = 4 << 20 })
	// Every line is the same version: one is new, the rest repeat it.
	r := apptest.Expect(t, roomy.Do(roomy.Token("federal_admin", "federal"), "POST", "/api/v1/directories/units/import", big, "Content-Type", "text/csv"), 422)
	if n := len(r.JSON(t)["errors"].([]any)); n != directory.MaxProblems+1 {
		t.Errorf("%d problems reported, want the first %d and a count of the rest", n, directory.MaxProblems)
	}
}
