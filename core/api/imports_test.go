package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var azImports sync.Map // *azEnv+region → an import's id

func init() {
	existing := func(e *azEnv, region string) string {
		key := fmt.Sprintf("%p/%s", e, region)
		if id, ok := azImports.Load(key); ok {
			return id.(string)
		}
		ctx := tenancy.WithTenant(context.Background(), e.tenant[region])
		im, err := e.p.Persons.SubmitImport(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, strings.NewReader("{}\n"))
		if err != nil {
			e.t.Fatal(err)
		}
		azImports.Store(key, im.ID.String())
		return im.ID.String()
	}
	for id, b := range map[string]func(e *azEnv, tmpl, region string) azReq{
		"createImport": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, ""), body: `{"type":"category","snils":"11223344595","code":"large_family","valid_from":"2025-01-01"}` + "\n",
				headers: []string{"Content-Type", "application/x-ndjson"}}
		},
		"getImport": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, existing(e, region))}
		},
		"listImportErrors": func(e *azEnv, tmpl, region string) azReq {
			return azReq{path: azFill(tmpl, region, existing(e, region))}
		},
	} {
		azBuilders[id] = b
	}
}

// An import over HTTP: 202 with the job, run by the background runner,
// polled to its end; bad lines reported by number; region 16 cannot see it.
func TestImportOverHTTP(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			p := apptest.New(t, d)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() { p.Persons.RunImports(ctx, 20*time.Millisecond, nil); close(done) }()
			defer func() { cancel(); <-done }()

			tok := p.Token("specialist", "66")
			file := `{"type":"person","snils":"112-233-445 95","family_name":"Смирнова","first_name":"Ольга","birth_date":"1990-04-01","sex":"female"}` + "\n" +
				`{"type":"person","snils":"11223344596","family_name":"Смирнов","first_name":"Олег","birth_date":"1990-04-01","sex":"male"}` + "\n" +
				`{"type":"income","snils":"11223344595","month":"2026-01","kind":"salary","amount_kopecks":5000000,"source":"fns"}` + "\n" +
				`{"type":"income","snils":"11223344595","month":"2026-01","kind":"salary","amount_kopecks":"lots"}` + "\n"
			r := apptest.Expect(t, p.Do(tok, "POST", "/api/v1/tenants/66/imports", file, "Content-Type", "application/x-ndjson"), 202)
			job := r.JSON(t)
			id, _ := job["id"].(string)
			if _, err := uuid.Parse(id); err != nil || r.Header.Get("Location") != "/api/v1/tenants/66/imports/"+id {
				t.Fatalf("job %v, Location %q", job, r.Header.Get("Location"))
			}
			var m map[string]any
			for deadline := time.Now().Add(20 * time.Second); ; {
				m = apptest.Expect(t, p.Do(tok, "GET", "/api/v1/tenants/66/imports/"+id, nil), 200).JSON(t)
				if m["status"] == "done" || m["status"] == "failed" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("import still %v", m["status"])
				}
				time.Sleep(20 * time.Millisecond)
			}
			sum := m["summary"].(map[string]any)
			errs := m["errors"].([]any)
			if m["status"] != "done" || sum["lines"] != 4.0 || sum["imported"] != 2.0 || sum["rejected"] != 2.0 || len(errs) != 2 {
				t.Fatalf("import ended %v", m)
			}
			e0, e1 := errs[0].(map[string]any), errs[1].(map[string]any)
			if e0["line"] != 2.0 || e0["location"] != "snils" || e1["line"] != 4.0 || e1["location"] != "amount_kopecks" {
				t.Fatalf("errors %v", errs)
			}
			if strings.Contains(fmt.Sprint(m), "11223344596") {
				t.Fatalf("the job quotes a SNILS: %v", m)
			}
			apptest.Expect(t, p.Do(p.Token("specialist", "16"), "GET", "/api/v1/tenants/16/imports/"+id, nil), 404)
			apptest.Expect(t, p.Do(tok, "POST", "/api/v1/tenants/66/imports", file, "Content-Type", "application/pdf"), 415)
			apptest.Expect(t, p.Do(tok, "POST", "/api/v1/tenants/66/imports?mode=sometimes", file, "Content-Type", "application/x-ndjson"), 422)
		})
	}
}

// The import body may exceed --body-limit: it is streamed, not held.
func TestImportBodyOverTheGeneralLimit(t *testing.T) {
	p := apptest.New(t, store.SQLite)
	line := `{"type":"category","snils":"11223344595","code":"large_family","valid_from":"2025-01-01","x":"` + strings.Repeat("я", 400) + `"}` + "\n"
	big := strings.Repeat(line, (2<<20)/len(line)+1) // over the 1 MiB general limit
	r := apptest.Expect(t, p.Do(p.Token("specialist", "66"), "POST", "/api/v1/tenants/66/imports", big, "Content-Type", "application/x-ndjson"), 202)
	if got := r.JSON(t)["progress"].(map[string]any)["total"]; got != float64(len(big)) {
		t.Fatalf("stored %v bytes of %d", got, len(big))
	}
}

func init() {
	xtTargets["getImport"] = "import"
	xtTargets["listImportErrors"] = "import"
}

// xtImportVictims gives region 16 imports for region 66's callers to probe.
func xtImportVictims(v *xtVictim) {
	t16, err := v.p.Tenants.ByCode(context.Background(), "16")
	if err != nil {
		v.t.Fatal(err)
	}
	ctx := tenancy.WithTenant(context.Background(), t16.ID)
	for range 3 {
		im, err := v.p.Persons.SubmitImport(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, strings.NewReader("{}\n"))
		if err != nil {
			v.t.Fatal(err)
		}
		v.ids["import"] = append(v.ids["import"], im.ID.String())
		v.all = append(v.all, im.ID.String())
	}
}

// A chunked upload (no declared length) over --import-body-limit is cut
// there and refused with 413.
func TestImportChunkedBodyOverTheLimit(t *testing.T) {
	p := apptest.NewWith(t, store.SQLite, func(c *app.Config) { c.ImportBodyLimit = 4 << 10 })
	body := strings.Repeat(`{"type":"category","snils":"11223344595","code":"large_family","valid_from":"2025-01-01"}`+"\n", 100)
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
	fmt.Fprintf(conn, "POST /api/v1/tenants/66/imports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
		p.Token("specialist", "66"), len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conn.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if resp.StatusCode != 413 {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
}
