// Package apptest runs a whole platform in a test: a fresh database of either
// dialect, every service wired as in production, demo-like regions and one
// user per role with a token, and a client that speaks to the HTTP API
// in-process.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Password of every test user.
const Password = "test-password-1"

// Regions are the test platform's regions: 66 and 16, both active.
var Regions = []tenancy.NewTenant{
	{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000", Mode: tenancy.ModeFull},
	{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000", Mode: tenancy.ModeHybrid},
}

// Platform is a running test platform.
type Platform struct {
	*app.Platform
	T   testing.TB
	Env *storetest.Env

	mu     sync.Mutex
	tokens map[string]string
	users  map[string]uuid.UUID
}

// Config is the configuration test platforms start from.
func Config(dataDir string) app.Config {
	return app.Config{
		DataDir: dataDir, NoMigrate: true, AccessTokenTTL: 15 * time.Minute, PolicyPoll: 100 * time.Millisecond,
		BodyLimit: 1 << 20, PasswordCost: auth.Argon2{MemoryKiB: 64, Time: 1, Threads: 1},
	}
}

// New starts a platform on a fresh database of the dialect, with regions 66
// and 16 and no users (see User).
func New(t testing.TB, d store.Dialect) *Platform {
	t.Helper()
	return NewWith(t, d, func(*app.Config) {})
}

// NewWith is New with a chance to change the configuration.
func NewWith(t testing.TB, d store.Dialect, configure func(*app.Config)) *Platform {
	t.Helper()
	env := storetest.New(t, d)
	cfg := Config(t.TempDir())
	cfg.DatabaseURL = env.AppURL
	configure(&cfg)
	ctx := context.Background()
	p, err := app.Wire(ctx, env.App, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Plugins.Close) // the database is the environment's to close
	for _, r := range Regions {
		tn, err := p.Tenants.Create(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		active := tenancy.StatusActive
		if _, err := p.Tenants.Update(ctx, tn.Code, tn.Version, tenancy.Change{Status: &active}); err != nil {
			t.Fatal(err)
		}
	}
	return &Platform{Platform: p, T: t, Env: env, tokens: map[string]string{}, users: map[string]uuid.UUID{}}
}

// User makes (once) the user <role>@<region> — or <role>@federal — with that
// one role, and returns its id.
func (p *Platform) User(role, region string) uuid.UUID {
	p.T.Helper()
	name := role + "@" + region
	p.mu.Lock()
	id, ok := p.users[name]
	p.mu.Unlock()
	if ok {
		return id
	}
	ctx := context.Background()
	tid := uuid.Nil
	if region != "federal" {
		t, err := p.Tenants.ByCode(ctx, region)
		if err != nil {
			p.T.Fatal(err)
		}
		tid = t.ID
	}
	u, err := p.Auth.CreateUser(ctx, auth.NewUser{Username: name, Tenant: tid, Password: Password})
	if err != nil {
		p.T.Fatal(err)
	}
	if region == "federal" {
		err = p.Access.SetFederalRoles(ctx, u.ID, []string{role})
	} else {
		err = p.Access.SetTenantRoles(ctx, u.ID, region, []string{role})
	}
	if err != nil {
		p.T.Fatal(err)
	}
	p.mu.Lock()
	p.users[name] = u.ID
	p.mu.Unlock()
	return u.ID
}

// Token logs <role>@<region> in (making the user when needed) and returns
// its access token.
func (p *Platform) Token(role, region string) string {
	p.T.Helper()
	name := role + "@" + region
	p.mu.Lock()
	tok, ok := p.tokens[name]
	p.mu.Unlock()
	if ok {
		return tok
	}
	p.User(role, region)
	ts, err := p.Auth.Login(context.Background(), name, Password)
	if err != nil {
		p.T.Fatal(err)
	}
	p.mu.Lock()
	p.tokens[name] = ts.AccessToken
	p.mu.Unlock()
	return ts.AccessToken
}

// Roles lists every role with the region it is made in for a test: tenant
// roles in region, federal roles federally.
func Roles(region string) [][2]string {
	var out [][2]string
	for _, r := range access.TenantRoles {
		out = append(out, [2]string{r, region})
	}
	for _, r := range access.FederalRoles {
		out = append(out, [2]string{r, "federal"})
	}
	return out
}

// Response is an HTTP response read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, r.Body)
	}
	return m
}

// Do sends a request in-process. body is JSON-encoded unless it is a string
// or []byte; headers come in name, value pairs; a token "" sends none.
func (p *Platform) Do(token, method, path string, body any, headers ...string) Response {
	p.T.Helper()
	r, err := p.Try(token, method, path, body, headers...)
	if err != nil {
		p.T.Fatal(err)
	}
	return r
}

// Try is Do returning its error instead of failing the test, for use from
// goroutines other than the test's.
func (p *Platform) Try(token, method, path string, body any, headers ...string) (Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := p.Server.App().Test(req, -1)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, err
}

// Expect fails the test unless r has the status; an error must be
// application/problem+json.
func Expect(t testing.TB, r Response, status int) Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("error with content type %q, want application/problem+json", r.Header.Get("Content-Type"))
	}
	return r
}
