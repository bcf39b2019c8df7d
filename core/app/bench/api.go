package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// APIOptions configure the HTTP benchmark.
type APIOptions struct {
	Common
	// Conns is the number of keep-alive connections, each with one request
	// in flight at a time.
	Conns int
	// Auth is how the caller proves itself: "password" (a platform access
	// token from a login) or "apikey" (a service account's API key).
	Auth string
}

// DefaultAPI are the defaults of `treasury bench api`.
func DefaultAPI() APIOptions {
	return APIOptions{Common: Common{Seconds: 20, Rounds: 2, Seed: 1}, Conns: 64, Auth: "password"}
}

const mePath = "/api/v1/me"

// API measures GET /api/v1/me through the whole platform — Fiber, the
// request id, access log, metrics and recovery middleware, Huma, bearer
// authentication, the handler — over loopback HTTP with Conns keep-alive
// connections, against a bare Fiber app answering the same body statically,
// in alternating rounds. It returns the BENCH line, which it also prints last.
func API(ctx context.Context, o APIOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	if o.Conns < 1 || o.Conns > 10_000 {
		return "", configErrorf("--conns: %d is outside 1..10000", o.Conns)
	}
	if o.Auth != "password" && o.Auth != "apikey" {
		return "", configErrorf("--auth: %q is not password or apikey", o.Auth)
	}
	start := time.Now()
	s, p, err := openPlatform(ctx, o.DatabaseURL, o.Log)
	if err != nil {
		return "", err
	}
	defer s.close()
	password := randomHex(12)
	apiKey, err := seedAPI(ctx, p, password)
	if err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}

	// The platform as serve runs it: watching the access version, on a
	// real loopback listener.
	sctx, stop := context.WithCancel(ctx)
	var served sync.WaitGroup
	defer func() {
		stop()
		served.Wait()
	}()
	served.Add(1)
	go func() {
		defer served.Done()
		p.Access.Watch(sctx, 500*time.Millisecond)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	served.Add(1)
	go func() {
		defer served.Done()
		if err := p.Server.Serve(sctx, ln, api.Shutdown{Grace: 5 * time.Second}); err != nil {
			o.Log.Error("bench server stopped", "error", err.Error())
		}
	}()
	ours := newClient(ln.Addr().String(), o.Conns)

	credential := apiKey
	if o.Auth == "password" {
		if credential, err = login(ours, "specialist@01", password); err != nil {
			return "", err
		}
	}
	status, body, ctype, err := get(ours, mePath, "Bearer "+credential)
	if err != nil {
		return "", err
	}
	if status != fasthttp.StatusOK {
		return "", fmt.Errorf("GET %s answered %d: %s", mePath, status, body)
	}

	// The baseline: the same body from a bare Fiber app.
	base := fiber.New(fiber.Config{DisableStartupMessage: true})
	base.Get(mePath, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, ctype)
		return c.Send(body)
	})
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var baseServed sync.WaitGroup
	baseServed.Add(1)
	go func() {
		defer baseServed.Done()
		_ = base.Listener(bln)
	}()
	defer func() {
		_ = base.ShutdownWithTimeout(5 * time.Second)
		baseServed.Wait()
	}()
	baseline := newClient(bln.Addr().String(), o.Conns)
	printf(out, "api: %s, auth %s, %d connections, GET %s answers %d bytes (%s); setup %s\n",
		s.dialect, o.Auth, o.Conns, mePath, len(body), ctype, time.Since(start).Round(time.Millisecond))

	header := "Bearer " + credential
	warm := min(time.Second, o.round())
	drive(ctx, ours, header, o.Conns, warm)
	drive(ctx, baseline, header, o.Conns, warm)
	var oursAll, baseAll loadResult
	round := o.round()
	for r := 1; r <= o.Rounds && ctx.Err() == nil; r++ {
		stopProfile, err := o.profile(r)
		if err != nil {
			return "", err
		}
		res := drive(ctx, ours, header, o.Conns, round)
		if err := stopProfile(); err != nil {
			return "", err
		}
		printf(out, "round %d ours:     %s\n", r, res.describe())
		oursAll.merge(res)
		res = drive(ctx, baseline, header, o.Conns, round)
		printf(out, "round %d baseline: %s\n", r, res.describe())
		baseAll.merge(res)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("interrupted: %w", err)
	}
	for _, e := range append(oursAll.samples, baseAll.samples...) {
		printf(out, "error: %s\n", e)
	}
	so := summarize(oursAll.lat)
	oursRate, baseRate := oursAll.rate(), baseAll.rate()
	ratio := 0.0
	if oursRate > 0 {
		ratio = baseRate / oursRate
	}
	l := line{{"name", "api"}, {"db", string(s.dialect)}}
	if o.Auth != "password" {
		l = append(l, [2]string{"auth", o.Auth})
	}
	l = append(l, line{
		{"conns", strconv.Itoa(o.Conns)}, {"seconds", strconv.FormatFloat(o.Seconds, 'f', -1, 64)},
		{"n", strconv.Itoa(so.n)}, {"rate_per_s", num(oursRate)},
		{"p50_ms", num(ms(so.p50))}, {"p99_ms", num(ms(so.p99))},
		{"errors", strconv.Itoa(oursAll.errs + baseAll.errs)},
		{"baseline_rate_per_s", num(baseRate)}, {"ratio", num(ratio)},
	}...)
	printf(out, "%s\n", l)
	return l.String(), nil
}

// seedAPI creates the regions 01–10 (active) with a user of every region
// role, a federal administrator and auditor, and a service account of
// region 01 with the integration role; it returns that account's API key.
func seedAPI(ctx context.Context, p *app.Platform, password string) (string, error) {
	active := tenancy.StatusActive
	var first tenancy.Tenant
	for i := 1; i <= 10; i++ {
		code := fmt.Sprintf("%02d", i)
		t, err := p.Tenants.Create(ctx, tenancy.NewTenant{
			Code: code, Name: "Регион " + code + " (bench)", OKATO: code, OKTMO: code + "000000", Mode: tenancy.ModeFull,
		})
		if err != nil {
			return "", err
		}
		if t, err = p.Tenants.Update(ctx, code, t.Version, tenancy.Change{Status: &active}); err != nil {
			return "", err
		}
		if i == 1 {
			first = t
		}
		for _, role := range access.TenantRoles {
			u, err := p.Auth.CreateUser(ctx, auth.NewUser{Username: role + "@" + code, Tenant: t.ID, Password: password})
			if err != nil {
				return "", err
			}
			if err := p.Access.SetTenantRoles(ctx, u.ID, code, []string{role}); err != nil {
				return "", err
			}
		}
	}
	for _, role := range access.FederalRoles {
		u, err := p.Auth.CreateUser(ctx, auth.NewUser{Username: role + "@federal", Password: password})
		if err != nil {
			return "", err
		}
		if err := p.Access.SetFederalRoles(ctx, u.ID, []string{role}); err != nil {
			return "", err
		}
	}
	svc, err := p.Auth.CreateUser(ctx, auth.NewUser{Username: "service@01", Tenant: first.ID, Kind: auth.KindService})
	if err != nil {
		return "", err
	}
	if err := p.Access.SetTenantRoles(ctx, svc.ID, first.Code, []string{"integration"}); err != nil {
		return "", err
	}
	_, key, err := p.Auth.CreateKey(ctx, first.ID, svc.ID, "bench", nil, uuid.Nil)
	return key, err
}

func newClient(addr string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr: addr, MaxConns: conns, MaxConnWaitTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, MaxIdleConnDuration: time.Minute,
		NoDefaultUserAgentHeader: true,
	}
}

func login(c *fasthttp.HostClient, username, password string) (string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + c.Addr + "/api/v1/auth/login")
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	b, _ := json.Marshal(map[string]string{"username": username, "password": password})
	req.SetBody(b)
	if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return "", fmt.Errorf("login answered %d: %s", resp.StatusCode(), resp.Body())
	}
	var t struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(resp.Body(), &t); err != nil || t.AccessToken == "" {
		return "", errors.New("login answered no access token")
	}
	return t.AccessToken, nil
}

func get(c *fasthttp.HostClient, path, authorization string) (status int, body []byte, ctype string, err error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + c.Addr + path)
	req.Header.Set(fasthttp.HeaderAuthorization, authorization)
	if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), string(resp.Header.ContentType()), nil
}

// loadResult is what one or more rounds of load gave.
type loadResult struct {
	n, errs int
	elapsed time.Duration
	lat     latencies
	samples []string // the first few errors
}

func (r *loadResult) merge(o loadResult) {
	r.n += o.n
	r.errs += o.errs
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	for _, s := range o.samples {
		if len(r.samples) < 5 {
			r.samples = append(r.samples, s)
		}
	}
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

func (r loadResult) describe() string {
	s := summarize(r.lat)
	return fmt.Sprintf("n=%d rate=%s/s p50=%sms p99=%sms max=%sms errors=%d", r.n, num(r.rate()),
		num(ms(s.p50)), num(ms(s.p99)), num(ms(s.max)), r.errs)
}

// drive sends GET /api/v1/me on conns connections, one request in flight on
// each, for d, timing every request.
func drive(ctx context.Context, c *fasthttp.HostClient, authorization string, conns int, d time.Duration) loadResult {
	uri := "http://" + c.Addr + mePath
	return runWorkers(ctx, conns, d, func(int) (func() error, func()) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(uri)
		req.Header.Set(fasthttp.HeaderAuthorization, authorization)
		call := func() error {
			if err := c.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				return fmt.Errorf("status %d: %.200s", resp.StatusCode(), resp.Body())
			}
			return nil
		}
		return call, func() { fasthttp.ReleaseRequest(req); fasthttp.ReleaseResponse(resp) }
	})
}

// runWorkers runs conns workers, each calling its call (made by newWorker
// for worker w) one after another for d, timing every call and keeping the
// first errors as samples.
func runWorkers(ctx context.Context, conns int, d time.Duration, newWorker func(w int) (call func() error, release func())) loadResult {
	results := make([]loadResult, conns)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range results {
		wg.Add(1)
		go func(r *loadResult) {
			defer wg.Done()
			call, release := newWorker(w)
			defer release()
			r.lat = make(latencies, 0, 4096)
			for ctx.Err() == nil {
				t0 := time.Now()
				err := call()
				t1 := time.Now()
				r.lat.add(t1.Sub(t0))
				r.n++
				if err != nil {
					r.errs++
					if len(r.samples) < 2 {
						r.samples = append(r.samples, err.Error())
					}
				}
				if t1.After(deadline) {
					return
				}
			}
		}(&results[w])
	}
	wg.Wait()
	var all loadResult
	for _, r := range results {
		all.merge(r)
	}
	all.elapsed = time.Since(start)
	return all
}
