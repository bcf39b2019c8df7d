package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/socialtreasury/treasury/core/api"
)

// apiOperations are the operations core/api registers for regions (tenants.go)
// and assigning bodies (agencies.go); the spec must describe each of them.
var apiOperations = []struct{ method, path, id string }{
	{"get", "/api/v1/tenants", "listTenants"},
	{"post", "/api/v1/tenants", "createTenant"},
	{"get", "/api/v1/tenants/{tenant}", "getTenant"},
	{"patch", "/api/v1/tenants/{tenant}", "updateTenant"},
	{"get", "/api/v1/tenants/{tenant}/agencies", "listAgencies"},
	{"post", "/api/v1/tenants/{tenant}/agencies", "createAgency"},
	{"get", "/api/v1/tenants/{tenant}/agencies/{id}", "getAgency"},
	{"patch", "/api/v1/tenants/{tenant}/agencies/{id}", "updateAgency"},
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// newTestServer builds the server without services: construction only
// stores them, and these tests never call a handler that uses them.
func newTestServer(t *testing.T, reg *prometheus.Registry) *api.Server {
	t.Helper()
	deps := api.Deps{}
	if reg != nil {
		deps.Metrics, deps.Gatherer = reg, reg
	}
	srv, err := api.New(deps, api.Options{Version: "test"})
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	return srv
}

func TestOpenAPIIsValid31(t *testing.T) {
	srv := newTestServer(t, nil)
	resp, err := srv.App().Test(httptest.NewRequest(http.MethodGet, "/openapi.json", nil), 10_000)
	if err != nil {
		t.Fatalf("GET /openapi.json: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /openapi.json: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: status %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("GET /openapi.json: Content-Type %q, want JSON", ct)
	}

	// The document against the OpenAPI 3.1 meta-schema.
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatalf("libopenapi could not read the document: %v", err)
	}
	info := doc.GetSpecInfo()
	if !strings.HasPrefix(info.Version, "3.1") {
		t.Fatalf("openapi = %q, want 3.1.x", info.Version)
	}
	if info.SpecFormat != datamodel.OAS31 {
		t.Fatalf("libopenapi classified the document as %q, want %q (so it would not be checked against the 3.1 meta-schema)", info.SpecFormat, datamodel.OAS31)
	}
	if ok, verrs := schema_validation.ValidateOpenAPIDocument(doc); !ok || len(verrs) > 0 {
		for _, e := range verrs {
			t.Errorf("spec invalid: %s (line %d, col %d): %s", e.Message, e.SpecLine, e.SpecCol, e.Reason)
			for _, f := range e.SchemaValidationErrors {
				t.Errorf("    at %s (schema %s): %s", f.FieldPath, f.KeywordLocation, f.Reason)
			}
			if e.HowToFix != "" {
				t.Errorf("    fix: %s", e.HowToFix)
			}
		}
		t.Fatalf("the document does not validate as OpenAPI 3.1 (%d errors)", len(verrs))
	}
	if _, err := doc.BuildV3Model(); err != nil {
		t.Fatalf("libopenapi could not build the 3.1 model: %v", err)
	}

	// Structural checks on the plain JSON.
	var spec struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("decode /openapi.json: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", spec.OpenAPI)
	}
	if spec.Info.Title != "Social Treasury API" || spec.Info.Version != "test" {
		t.Errorf("info = %+v, want title Social Treasury API, version test", spec.Info)
	}

	// The only API operations a caller without credentials may use.
	publicOps := map[string]bool{"login": true, "refresh": true, "logout": true}
	type operation struct {
		OperationID string                `json:"operationId"`
		Security    []map[string][]string `json:"security"`
	}
	apiOps := 0
	for path, item := range spec.Paths {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for method, rawOp := range item {
			if !slices.Contains(httpMethods, method) {
				continue // summary, parameters, …
			}
			apiOps++
			var op operation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				t.Errorf("%s %s: %v", method, path, err)
				continue
			}
			if publicOps[op.OperationID] {
				if len(op.Security) != 0 {
					t.Errorf("%s %s (%s) is public but declares security", strings.ToUpper(method), path, op.OperationID)
				}
				continue
			}
			if len(op.Security) == 0 {
				t.Errorf("%s %s (%s) has no security requirement", strings.ToUpper(method), path, op.OperationID)
			}
			for _, req := range op.Security {
				if len(req) == 0 {
					t.Errorf("%s %s (%s): an empty security requirement makes the operation anonymous", strings.ToUpper(method), path, op.OperationID)
				}
				for name := range req {
					if _, ok := spec.Components.SecuritySchemes[name]; !ok {
						t.Errorf("%s %s (%s): security scheme %q is not in components.securitySchemes", strings.ToUpper(method), path, op.OperationID, name)
					}
				}
			}
		}
	}
	if apiOps == 0 {
		t.Error("the spec has no operation under /api/")
	}

	for _, want := range apiOperations {
		item, ok := spec.Paths[want.path]
		if !ok {
			t.Errorf("path %s is missing from the spec", want.path)
			continue
		}
		rawOp, ok := item[want.method]
		if !ok {
			t.Errorf("%s %s is missing from the spec", strings.ToUpper(want.method), want.path)
			continue
		}
		var op operation
		if err := json.Unmarshal(rawOp, &op); err != nil {
			t.Errorf("%s %s: %v", want.method, want.path, err)
		} else if op.OperationID != want.id {
			t.Errorf("%s %s: operationId %q, want %q", strings.ToUpper(want.method), want.path, op.OperationID, want.id)
		}
	}

	// Every route Fiber actually answers under /api/ is described, so no
	// endpoint bypasses the spec (and with it the security declaration).
	fiberParam := regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	for _, r := range srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || r.Method == http.MethodHead {
			continue
		}
		path := fiberParam.ReplaceAllString(r.Path, "{$1}")
		if _, ok := spec.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("Fiber serves %s %s but the spec does not describe it", r.Method, path)
		}
	}
}

func TestDocsRenderOffline(t *testing.T) {
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", chromium, err)
		}
		t.Skipf("%s not installed (%v); install the chromium package to run this test", chromium, err)
	}

	reg := prometheus.NewRegistry()
	srv := newTestServer(t, reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln, api.Shutdown{Grace: time.Second}) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	base := "http://" + ln.Addr().String()

	// The page itself must reference only assets on this server.
	page := httpGet(t, base+"/docs")
	for _, m := range regexp.MustCompile(`(?i)<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']([^"']+)["']`).FindAllStringSubmatch(page, -1) {
		if u := m[1]; strings.Contains(u, "//") {
			t.Errorf("/docs loads an asset from elsewhere: %s", u)
		}
	}

	runCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, chromium,
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--user-data-dir="+t.TempDir(),
		// Every name resolves to nothing except the loopback address the
		// server listens on: a page that needs anything from the internet
		// (a CDN script, a font, the swagger.io validator) cannot render.
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		// An address literal skips the resolver, so also send everything
		// but loopback (which Chromium never proxies) to a dead proxy.
		"--proxy-server=127.0.0.1:9",
		"--virtual-time-budget=10000",
		"--dump-dom", base+"/docs",
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	t.Logf("chromium ran %s", time.Since(start).Round(time.Millisecond))
	if runCtx.Err() != nil {
		t.Fatalf("chromium did not finish within 60s; stderr:\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("chromium: %v; stderr:\n%s", err, stderr.String())
	}
	dom := stdout.String()

	// Swagger UI rendered the spec: the title sits in its info block, and
	// the operations are listed. None of this is in the served HTML; the
	// embedded scripts build it from /openapi.json.
	info := regexp.MustCompile(`(?s)<div class="info"[^>]*>.*?<h2 class="title"[^>]*>\s*Social Treasury API.*?` +
		regexp.QuoteMeta(base+"/openapi.json"))
	if !info.MatchString(dom) {
		t.Errorf("the dumped DOM has no Swagger UI info block titled Social Treasury API that links %s/openapi.json", base)
	}
	for _, want := range []string{`class="swagger-ui`, `data-path="/api/v1/tenants"`, `>OAS 3.1<`} {
		if !strings.Contains(dom, want) {
			t.Errorf("the dumped DOM lacks %s", want)
		}
	}
	for _, op := range apiOperations {
		if !regexp.MustCompile(`id="operations-[^"]*-` + op.id + `"`).MatchString(dom) {
			t.Errorf("Swagger UI did not render operation %s (%s %s)", op.id, strings.ToUpper(op.method), op.path)
		}
	}
	if strings.Contains(dom, "errors-wrapper") {
		t.Errorf("Swagger UI shows errors for the spec")
	}
	if t.Failed() {
		t.Logf("chromium stderr:\n%s", stderr.String())
		t.Logf("dumped DOM (%d bytes):\n%s", len(dom), truncate(dom, 8000))
	}

	// What the server answered (its own request counter, nothing wrapped):
	// the page, its assets and the spec all came from here.
	seen := requestsByRoute(t, reg)
	total := 0
	for _, n := range seen {
		total += n
	}
	t.Logf("successful requests the server answered, by route: %v", seen)
	if total < 4 { // the page, its stylesheet, its two scripts, the spec
		t.Errorf("the server answered only %d requests; the browser cannot have loaded the page from it", total)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	return string(b)
}

// requestsByRoute sums treasury_http_requests_total with a 2xx/3xx status
// by route template.
func requestsByRoute(t *testing.T, g prometheus.Gatherer) map[string]int {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "treasury_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if s := labels["status"]; s != "" && (s[0] == '2' || s[0] == '3') {
				out[labels["route"]] += int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d more bytes)", len(s)-n)
}
