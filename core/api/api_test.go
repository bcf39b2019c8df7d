package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

type client struct {
	t     *testing.T
	p     *apptest.Platform
	srv   *api.Server
	token string
}

type response = apptest.Response

// newClient starts a platform and speaks as its federal administrator.
func newClient(t *testing.T, env store.Dialect) *client {
	t.Helper()
	p := apptest.New(t, env)
	return &client{t: t, p: p, srv: p.Server, token: p.Token("federal_admin", "federal")}
}

// as returns a client speaking as <role>@<region>.
func (c *client) as(role, region string) *client {
	c.t.Helper()
	return &client{t: c.t, p: c.p, srv: c.srv, token: c.p.Token(role, region)}
}

func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	return c.p.Do(c.token, method, path, body, headers...)
}

func (c *client) expect(r response, status int) response {
	c.t.Helper()
	if r.Status != status {
		c.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		c.t.Fatalf("error with content type %q, want application/problem+json", r.Header.Get("Content-Type"))
	}
	return r
}

// locations lists the field paths of a problem's errors.
func locations(t *testing.T, r response) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Location string }
	}
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Location
	}
	return out
}

func hasLocation(t *testing.T, r response, loc string) {
	t.Helper()
	for _, l := range locations(t, r) {
		if l == loc {
			return
		}
	}
	t.Fatalf("problem has no error at %s: %s", loc, r.Body)
}

var moscow = map[string]any{"code": "77", "name": "Москва", "okato": "45", "oktmo": "45000000"}

func eachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

func TestTenantLifecycle(t *testing.T) {
	eachDialect(t, func(t *testing.T, env store.Dialect) {
		c := newClient(t, env)
		r := c.expect(c.do("POST", "/api/v1/tenants", moscow), 201)
		if r.Header.Get("ETag") != `"1"` || r.Header.Get("Location") != "/api/v1/tenants/77" {
			t.Fatalf("headers %v", r.Header)
		}
		if m := r.JSON(t); m["status"] != "onboarding" || m["mode"] != "full" {
			t.Fatalf("created %v", m)
		}
		c.expect(c.do("POST", "/api/v1/tenants", moscow), 409)

		// Fields a client may not set are refused, never saved.
		for _, field := range []string{"id", "status", "version", "created_at", "tenant_id"} {
			body := map[string]any{"code": "78", "name": "Санкт-Петербург", "okato": "40", "oktmo": "40000000", field: "x"}
			hasLocation(t, c.expect(c.do("POST", "/api/v1/tenants", body), 422), "body."+field)
		}
		hasLocation(t, c.expect(c.do("POST", "/api/v1/tenants", map[string]any{"code": "7", "name": "", "okato": "4", "oktmo": "4"}), 422), "body.code")
		c.expect(c.do("GET", "/api/v1/tenants/78", nil), 404)

		c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"status": "active"}), 428)
		c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"status": "active"}, "If-Match", `"7"`), 412)
		r = c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"status": "active"}, "If-Match", `"1"`), 200)
		if r.Header.Get("ETag") != `"2"` || r.JSON(t)["status"] != "active" {
			t.Fatalf("after patch: %v %s", r.Header, r.Body)
		}
		// The old ETag is stale now.
		c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"name": "x"}, "If-Match", `"1"`), 412)
		c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"status": "archived"}, "If-Match", `"2"`), 200)
		// Archived is final: the region is closed to every write, its own record included.
		c.expect(c.do("PATCH", "/api/v1/tenants/77", map[string]any{"status": "active"}, "If-Match", `"3"`), 403)
		// An impossible move is a conflict; an unknown mode is invalid.
		c.expect(c.do("POST", "/api/v1/tenants", map[string]any{"code": "79", "name": "Х", "okato": "45", "oktmo": "45000000"}), 201)
		c.expect(c.do("PATCH", "/api/v1/tenants/79", map[string]any{"mode": "weird"}, "If-Match", `"1"`), 422)
		c.expect(c.do("PATCH", "/api/v1/tenants/79", map[string]any{"status": "suspended"}, "If-Match", `"1"`), 409)
	})
}

func TestPagination(t *testing.T) {
	eachDialect(t, func(t *testing.T, env store.Dialect) {
		c := newClient(t, env)
		const n = 7
		for i := 0; i < n; i++ {
			c.expect(c.do("POST", "/api/v1/tenants", map[string]any{
				"code": fmt.Sprintf("%02d", 20+i), "name": fmt.Sprint("Регион ", i), "okato": "65", "oktmo": "65000000",
			}), 201)
		}
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			r := c.expect(c.do("GET", "/api/v1/tenants?limit=3&cursor="+cursor, nil), 200)
			var body struct {
				Items      []struct{ Code string }
				NextCursor string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range body.Items {
				if seen[it.Code] {
					t.Fatalf("code %s on two pages", it.Code)
				}
				seen[it.Code] = true
			}
			if body.NextCursor == "" {
				break
			}
			cursor = body.NextCursor
		}
		if len(seen) != n+2 || pages != 3 {
			t.Fatalf("paged %d items in %d pages, want %d in 3", len(seen), pages, n+2)
		}
		hasLocation(t, c.expect(c.do("GET", "/api/v1/tenants?cursor=garbage", nil), 422), "query.cursor")
		hasLocation(t, c.expect(c.do("GET", "/api/v1/tenants?limit=1001", nil), 422), "query.limit")
	})
}

func TestAgenciesStayInTheirRegion(t *testing.T) {
	eachDialect(t, func(t *testing.T, env store.Dialect) {
		fed := newClient(t, env)
		c, c16 := fed.as("tenant_admin", "66"), fed.as("tenant_admin", "16")
		body := map[string]any{"osz_code": "6601.000001", "name": "Министерство", "inn": "7707083893", "oktmo": "65701000"}
		r := c.expect(c.do("POST", "/api/v1/tenants/66/agencies", body), 201)
		id, _ := r.JSON(t)["id"].(string)
		c.expect(c.do("POST", "/api/v1/tenants/66/agencies", body), 409)
		// The same code is free in another region.
		c16.expect(c16.do("POST", "/api/v1/tenants/16/agencies", body), 201)

		c.expect(c.do("GET", "/api/v1/tenants/66/agencies/"+id, nil), 200)
		// Federal administrators read assigning bodies of every region.
		fed.expect(fed.do("GET", "/api/v1/tenants/66/agencies/"+id, nil), 200)
		// Region 16 cannot reach 66's body through its own path, nor 66's path.
		c16.expect(c16.do("GET", "/api/v1/tenants/16/agencies/"+id, nil), 404)
		c16.expect(c16.do("PATCH", "/api/v1/tenants/16/agencies/"+id, map[string]any{"name": "x"}, "If-Match", `"1"`), 404)
		c16.expect(c16.do("GET", "/api/v1/tenants/66/agencies/"+id, nil), 404)
		c.expect(c.do("GET", "/api/v1/tenants/99/agencies/"+id, nil), 404)
		hasLocation(t, c.expect(c.do("GET", "/api/v1/tenants/66/agencies/not-a-uuid", nil), 422), "path.id")
		var list struct{ Items []struct{ ID string } }
		_ = json.Unmarshal(c16.expect(c16.do("GET", "/api/v1/tenants/16/agencies", nil), 200).Body, &list)
		for _, it := range list.Items {
			if it.ID == id {
				t.Fatal("region 16 lists region 66's assigning body")
			}
		}

		// Check digits are checked; a body naming its own tenant or id is refused.
		bad := map[string]any{"osz_code": "6601.000002", "name": "X", "inn": "7707083894", "oktmo": "65701000"}
		hasLocation(t, c.expect(c.do("POST", "/api/v1/tenants/66/agencies", bad), 422), "body.inn")
		for _, f := range []string{"tenant_id", "id", "version"} {
			b := map[string]any{"osz_code": "6601.000003", "name": "X", "inn": "7707083893", "oktmo": "65701000", f: id}
			hasLocation(t, c.expect(c.do("POST", "/api/v1/tenants/66/agencies", b), 422), "body."+f)
		}
		r = c.expect(c.do("PATCH", "/api/v1/tenants/66/agencies/"+id, map[string]any{"short_name": "Минсоц"}, "If-Match", `"1"`), 200)
		if r.JSON(t)["short_name"] != "Минсоц" || r.Header.Get("ETag") != `"2"` {
			t.Fatalf("patched: %s", r.Body)
		}
		c.expect(c.do("PATCH", "/api/v1/tenants/66/agencies/"+id, map[string]any{"name": "y"}, "If-Match", `"1"`), 412)
	})
}

// Requests of one region that carry ids of another region's objects never
// succeed and never reveal the object: always 404.
func TestCrossTenantIDsAreNotFound(t *testing.T) {
	eachDialect(t, func(t *testing.T, env store.Dialect) {
		fed := newClient(t, env)
		c, c16 := fed.as("tenant_admin", "66"), fed.as("tenant_admin", "16")
		var ids []string
		for i := 0; i < 5; i++ {
			r := c.expect(c.do("POST", "/api/v1/tenants/66/agencies", map[string]any{
				"osz_code": fmt.Sprintf("6601.%06d", i), "name": "Орган", "inn": "7707083893", "oktmo": "65701000",
			}), 201)
			ids = append(ids, r.JSON(t)["id"].(string))
		}
		for i := 0; i < 500; i++ {
			id := ids[rand.IntN(len(ids))]
			var r response
			if rand.IntN(2) == 0 {
				r = c16.do("GET", "/api/v1/tenants/16/agencies/"+id, nil)
			} else {
				r = c16.do("PATCH", "/api/v1/tenants/16/agencies/"+id, map[string]any{"name": "захват"}, "If-Match", `"1"`)
			}
			if r.Status != 404 {
				t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
			}
		}
		for _, id := range ids {
			if m := c.expect(c.do("GET", "/api/v1/tenants/66/agencies/"+id, nil), 200).JSON(t); m["name"] != "Орган" {
				t.Fatalf("agency %s changed: %v", id, m)
			}
		}
	})
}

func TestEdgeBehaviour(t *testing.T) {
	c := newClient(t, store.SQLite)

	r := c.do("GET", "/healthz", nil)
	if r.Status != 200 || len(r.Header.Get("X-Request-Id")) != 36 {
		t.Fatalf("healthz: %d, request id %q", r.Status, r.Header.Get("X-Request-Id"))
	}
	if got := c.do("GET", "/healthz", nil, "X-Request-Id", "abc-123").Header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("client request id not echoed: %q", got)
	}
	if got := c.do("GET", "/healthz", nil, "X-Request-Id", "evil\"value with spaces").Header.Get("X-Request-Id"); len(got) != 36 {
		t.Fatalf("unsafe request id kept: %q", got)
	}
	c.expect(c.do("GET", "/no/such/route", nil), 404)
	c.expect(c.p.Do("", "GET", "/api/v1/tenants", nil), 401)
	c.expect(c.do("POST", "/api/v1/tenants", "{not json"), 400)
	c.expect(c.do("POST", "/api/v1/tenants", `{"code": 66}`), 422)
	// An oversized body is refused by the server before any handler runs, so
	// it needs a real connection rather than app.Test.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.srv.Serve(ctx, ln, api.Shutdown{Grace: time.Second}) }()
	// The server answers as soon as it reads the declared length; a client
	// still sending would see a reset, so send only the head.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /api/v1/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	c.expect(response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, 413)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}

	m := string(c.do("GET", "/metrics", nil).Body)
	for _, want := range []string{
		`treasury_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`treasury_http_request_duration_seconds_bucket{method="GET",route="/healthz"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s; they have:\n%s", want, grepLines(m, "treasury_http_requests_total"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
