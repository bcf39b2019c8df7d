package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// CardOptions configure the person card benchmark. Common.Rounds is not
// used: there is no baseline to alternate with.
type CardOptions struct {
	Common
	// Persons is the size of the registry the cards are read from.
	Persons int
	// Conns is the number of concurrent clients, each with one request in
	// flight at a time.
	Conns int
	// Via is how the clients ask: "http" (GET …/card over loopback through
	// the whole HTTP stack), "direct" (registry.Service.Card called from
	// the clients' goroutines), or "auto" (http when the server has the
	// card route, direct otherwise).
	Via string
}

// DefaultCard are the defaults of `treasury bench card`.
func DefaultCard() CardOptions {
	return CardOptions{Common: Common{Seconds: 20, Rounds: 1, Seed: 1}, Persons: 10_000, Conns: 64, Via: "auto"}
}

// cardRoute is the card's operation path in the OpenAPI description.
const cardRoute = "/api/v1/tenants/{tenant}/persons/{id}/card"

// cardPurpose is the X-Purpose of every card read.
const cardPurpose = "bench: card"

// Card measures reading person cards: a registry of Persons persons in
// families, with relations and twelve monthly incomes each, is imported
// into region 01, and Conns clients read the cards of random persons as of
// today — GET /api/v1/tenants/01/persons/{id}/card?as_of=… as a specialist
// of region 01, with an X-Purpose header, through the whole platform over
// loopback HTTP (or, with Via direct, registry.Service.Card in-process) —
// while the audit chainer runs as serve runs it. Every read is audited;
// afterwards the region's audit chain is verified and its records counted.
// It returns the BENCH line, which it also prints last.
func Card(ctx context.Context, o CardOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	if o.Persons < 1 || o.Persons > maxImportPersons {
		return "", configErrorf("--persons: %d is outside 1..%d", o.Persons, maxImportPersons)
	}
	if o.Conns < 1 || o.Conns > 10_000 {
		return "", configErrorf("--conns: %d is outside 1..10000", o.Conns)
	}
	if o.Via != "auto" && o.Via != "http" && o.Via != "direct" {
		return "", configErrorf("--via: %q is not auto, http or direct", o.Via)
	}
	start := time.Now()
	s, p, err := openPlatform(ctx, o.DatabaseURL, o.Log)
	if err != nil {
		return "", err
	}
	defer s.close()
	_, hasRoute := p.Server.OpenAPI().Paths[cardRoute]
	via := o.Via
	if via == "auto" {
		via = "direct"
		if hasRoute {
			via = "http"
		}
	}
	if via == "http" && !hasRoute {
		return "", configErrorf("--via http: this build has no GET %s; use --via direct", cardRoute)
	}
	password := randomHex(12)
	if _, err := seedAPI(ctx, p, password); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	region, err := p.Tenants.ByCode(ctx, "01")
	if err != nil {
		return "", err
	}
	rctx := tenancy.WithTenant(ctx, region.ID)
	today := civil.Today()
	pop := newPopulation(o.Seed, o.Persons, today)
	file := filepath.Join(s.dataDir, "registry.ndjson")
	lines, _, err := pop.writeNDJSON(file)
	if err != nil {
		return "", fmt.Errorf("writing the file: %w", err)
	}
	t0 := time.Now()
	if err := importFile(rctx, p, file, lines); err != nil {
		return "", err
	}
	imported := time.Since(t0)
	stats := ""
	if s.dialect == store.Postgres {
		// Fresh statistics, as autovacuum gathers them within a minute of a
		// bulk load: without them the planner takes the just-filled tables
		// for empty and reads every relation and income of the region for
		// each card. SQLite keeps none unless told (the platform does not).
		if err := analyze(ctx, o.DatabaseURL, s.name, "persons", "relations", "incomes"); err != nil {
			return "", err
		}
		stats = ", ANALYZE after it"
	}
	ids, err := personIDs(rctx, p, region.ID)
	if err != nil {
		return "", err
	}
	if len(ids) != o.Persons {
		return "", fmt.Errorf("setup: %d persons in the registry, want %d", len(ids), o.Persons)
	}

	// The platform as serve runs it: watching the access version, chaining
	// the audit trail, on a real loopback listener.
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
	actx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { p.Audit.Run(actx); close(auditDone) }()
	stopChainer := func() {
		if actx.Err() == nil {
			stopAudit()
			<-auditDone
		}
	}
	defer stopChainer()
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

	asOf := today.String()
	var (
		newWorker func() cardWorker
		probe     string
	)
	if via == "http" {
		c := newClient(ln.Addr().String(), o.Conns)
		token, err := login(c, "specialist@01", password)
		if err != nil {
			return "", err
		}
		newWorker = httpCards(c, "Bearer "+token, region.Code, asOf)
		path := cardPath(region.Code, ids[0], asOf)
		status, body, ctype, err := getWith(c, path, "Bearer "+token, cardPurpose)
		if err != nil {
			return "", err
		}
		if status != fasthttp.StatusOK {
			return "", fmt.Errorf("GET %s answered %d: %.300s", path, status, body)
		}
		probe = fmt.Sprintf("GET …/card answers %d bytes (%s)", len(body), ctype)
	} else {
		u, err := p.Auth.UserByName(ctx, "specialist@01")
		if err != nil {
			return "", err
		}
		dctx := audit.WithPurpose(audit.WithActor(rctx, u.ID, u.Username), cardPurpose)
		newWorker = directCards(dctx, p.Persons, today)
		c, err := p.Persons.Card(dctx, ids[0], today)
		if err != nil {
			return "", err
		}
		probe = fmt.Sprintf("registry.Service.Card in-process; a card holds %d relatives, %d incomes", len(c.Relatives), len(c.Incomes))
		if !hasRoute {
			probe += " (this build has no HTTP card route)"
		}
	}
	rels, incs := pop.counts()
	printf(out, "card: %s, %d persons (%d relations, %d incomes; imported in %s%s), %d clients via %s; %s; setup %s\n",
		s.dialect, o.Persons, rels, incs, imported.Round(time.Millisecond), stats, o.Conns, via, probe,
		time.Since(start).Round(time.Millisecond))

	warm := min(time.Second, time.Duration(o.Seconds*float64(time.Second)/10))
	driveCards(ctx, newWorker, ids, o.Conns, warm, o.Seed+1)
	before, err := p.Audit.Verify(rctx)
	if err != nil {
		return "", fmt.Errorf("verifying the audit chain before the run: %w", err)
	}
	stopProfile, err := o.profile(1)
	if err != nil {
		return "", err
	}
	res := driveCards(ctx, newWorker, ids, o.Conns, time.Duration(o.Seconds*float64(time.Second)), o.Seed)
	if err := stopProfile(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("interrupted: %w", err)
	}
	printf(out, "cards: %s\n", res.describe())
	for _, e := range res.samples {
		printf(out, "error: %s\n", e)
	}

	// Every read must be in the chain, and the chain must hold.
	stopChainer()
	t1 := time.Now()
	after, err := p.Audit.Verify(rctx)
	if err != nil {
		return "", fmt.Errorf("verifying the audit chain: %w", err)
	}
	ok := int64(res.n - res.errs)
	audited := after.Records - before.Records
	errs := res.errs
	if audited < ok {
		errs += int(ok - audited)
		printf(out, "ERROR: %d cards read but only %d audit records added\n", ok, audited)
	}
	verdict := "intact"
	if !after.OK() {
		verdict = fmt.Sprintf("BROKEN at %d: %s", after.BrokenAt, after.Reason)
	}
	printf(out, "audit: region 01 chain %s, %d records (%d added by %d cards read), verified in %s\n",
		verdict, after.Records, audited, ok, time.Since(t1).Round(time.Millisecond))

	sum := summarize(res.lat)
	l := line{{"name", "card"}, {"db", string(s.dialect)}}
	if via != "http" {
		l = append(l, [2]string{"via", via})
	}
	l = append(l, line{
		{"persons", strconv.Itoa(o.Persons)}, {"conns", strconv.Itoa(o.Conns)},
		{"seconds", strconv.FormatFloat(o.Seconds, 'f', -1, 64)},
		{"n", strconv.Itoa(sum.n)}, {"rate_per_s", num(res.rate())},
		{"p50_ms", num(ms(sum.p50))}, {"p99_ms", num(ms(sum.p99))},
		{"errors", strconv.Itoa(errs)}, {"audit_records", strconv.FormatInt(after.Records, 10)},
		{"audit_verified", strconv.FormatBool(after.OK())},
	}...)
	printf(out, "%s\n", l)
	return l.String(), nil
}

// importFile imports an NDJSON file into the context's region; every line
// must be imported.
func importFile(ctx context.Context, p *app.Platform, file string, lines int64) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	defer fh.Close()
	im, err := p.Persons.ImportFile(ctx, registry.ImportRequest{Format: registry.FormatNDJSON}, bufio.NewReaderSize(fh, 1<<20), nil)
	if err != nil {
		return fmt.Errorf("setup: import: %w", err)
	}
	if im.Status != registry.StatusDone || im.Progress.Rejected > 0 || im.Progress.Lines != lines {
		return fmt.Errorf("setup: the import ended %s after %d of %d lines, %d rejected: %s",
			im.Status, im.Progress.Lines, lines, im.Progress.Rejected, im.Error)
	}
	return nil
}

// analyze gathers the planner's statistics of tables of the scratch
// database, as the --database-url role (which owns them).
func analyze(ctx context.Context, adminURL, database string, tables ...string) error {
	return maintain(ctx, "ANALYZE ", adminURL, database, tables...)
}

// vacuum vacuums and analyses tables, as autovacuum leaves them some time
// after a bulk load: their visibility maps set, so that index-only scans
// read no heap pages.
func vacuum(ctx context.Context, adminURL, database string, tables ...string) error {
	return maintain(ctx, "VACUUM (ANALYZE) ", adminURL, database, tables...)
}

func maintain(ctx context.Context, command, adminURL, database string, tables ...string) error {
	u, err := withDatabase(adminURL, database, "", "")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("connecting as the owner: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, t := range tables {
		if _, err := conn.Exec(ctx, command+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("%s%s: %w", command, t, err)
		}
	}
	return nil
}

func personIDs(ctx context.Context, p *app.Platform, tid uuid.UUID) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tenancy.Tx(ctx, p.DB.Gorm, func(tx *gorm.DB) error {
		return tx.Table("persons").Where("tenant_id = ?", tid).Order("id").Pluck("id", &ids).Error
	})
	return ids, err
}

func cardPath(region string, id uuid.UUID, asOf string) string {
	return "/api/v1/tenants/" + region + "/persons/" + id.String() + "/card?as_of=" + asOf
}

// cardWorker reads one card; release frees what it holds.
type cardWorker struct {
	read    func(id uuid.UUID) error
	release func()
}

// httpCards makes workers that GET cards over c, each with a request and a
// response of its own.
func httpCards(c *fasthttp.HostClient, authorization, region, asOf string) func() cardWorker {
	return func() cardWorker {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.Set(fasthttp.HeaderAuthorization, authorization)
		req.Header.Set("X-Purpose", cardPurpose)
		base := "http://" + c.Addr
		return cardWorker{
			read: func(id uuid.UUID) error {
				req.SetRequestURI(base + cardPath(region, id, asOf))
				if err := c.Do(req, resp); err != nil {
					return err
				}
				if resp.StatusCode() != fasthttp.StatusOK {
					return fmt.Errorf("status %d: %.200s", resp.StatusCode(), resp.Body())
				}
				return nil
			},
			release: func() {
				fasthttp.ReleaseRequest(req)
				fasthttp.ReleaseResponse(resp)
			},
		}
	}
}

// directCards makes workers that call the registry in-process.
func directCards(ctx context.Context, s *registry.Service, asOf civil.Date) func() cardWorker {
	return func() cardWorker {
		return cardWorker{
			read: func(id uuid.UUID) error {
				_, err := s.Card(ctx, id, asOf)
				return err
			},
			release: func() {},
		}
	}
}

// driveCards runs conns workers, each reading the cards of persons drawn
// from ids (seeded per worker) one after another for d, timing every read.
func driveCards(ctx context.Context, newWorker func() cardWorker, ids []uuid.UUID, conns int, d time.Duration, seed uint64) loadResult {
	return runWorkers(ctx, conns, d, func(w int) (func() error, func()) {
		wk := newWorker()
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		return func() error { return wk.read(ids[rng.IntN(len(ids))]) }, wk.release
	})
}

// getWith is a GET with a bearer credential and an X-Purpose.
func getWith(c *fasthttp.HostClient, path, authorization, purpose string) (status int, body []byte, ctype string, err error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + c.Addr + path)
	req.Header.Set(fasthttp.HeaderAuthorization, authorization)
	req.Header.Set("X-Purpose", purpose)
	if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
		return 0, nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), string(resp.Header.ContentType()), nil
}
