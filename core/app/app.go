package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/pdcrypt"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/reqid"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Version is the build's version, set with -ldflags "-X …/core/app.Version=v1.2.3".
var Version = ""

// BuildVersion returns Version, or the module version Go recorded.
func BuildVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// NewLogger builds the process logger; every record made with a request's
// context carries its request id.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(reqid.LogHandler(h))
}

// Platform is a wired, running-ready platform.
type Platform struct {
	DB          *store.DB
	Scope       *tenancy.Scope
	Tenants     *tenancy.Service
	TenantCache *tenancy.Cache
	Agencies    *agency.Service
	Access      *access.Authorizer
	Auth        *auth.Service
	Delegations *access.Delegations
	Directories *directory.Service
	Crypt       *pdcrypt.Service
	Audit       *audit.Trail
	Persons     *registry.Service
	Measures    *measure.Service
	Assignments *assignment.Service
	Casework    *casework.Service
	Plugins     *pluginhost.Host
	Catalog     *pluginhost.Catalog
	Server      *api.Server
	Registry    *prometheus.Registry
	migrator    *store.Migrator
	log         *slog.Logger
	cfg         Config
}

// Open connects to the database, migrates it (unless cfg.NoMigrate) and
// wires the services and the HTTP server.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Platform, error) {
	db, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxOpenConns: cfg.DBMaxConns, Logger: log})
	if err != nil {
		return nil, err
	}
	p, err := Wire(ctx, db, cfg, log)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return p, nil
}

// Wire builds the platform on an open database (migrating it unless
// cfg.NoMigrate). Close releases db.
func Wire(ctx context.Context, db *store.DB, cfg Config, log *slog.Logger) (*Platform, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Platform{DB: db, log: log, cfg: cfg}
	if err := p.prepare(ctx, cfg); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Platform) prepare(ctx context.Context, cfg Config) error {
	var err error
	if p.migrator, err = store.NewMigrator(p.DB, p.log); err != nil {
		return err
	}
	// Refuse a superuser or BYPASSRLS role before migrating with it, so the
	// refusal changes nothing; the check after migrating catches a role that
	// came to own the tables it created.
	if err := p.DB.RequireUnprivileged(ctx); err != nil {
		return err
	}
	if cfg.NoMigrate {
		if err := p.migrator.Check(ctx); err != nil {
			return err
		}
	} else if err := migrateOnStart(ctx, cfg, p.DB, p.log); err != nil {
		return err
	}
	if err := p.DB.RequireUnprivileged(ctx); err != nil {
		return err
	}
	if p.Scope, err = tenancy.Guard(ctx, p.DB); err != nil {
		return err
	}
	p.Tenants = tenancy.NewService(p.DB.Gorm)
	p.TenantCache = tenancy.NewCache(p.Tenants, time.Second)
	p.Agencies = agency.NewService(p.DB.Gorm)
	if p.Access, err = access.New(ctx, p.DB.Gorm, p.log); err != nil {
		return err
	}
	p.Delegations = access.NewDelegations(p.DB.Gorm, p.Access)
	p.Directories = directory.NewService(p.DB.Gorm)
	if p.Crypt, err = personalData(ctx, cfg, p.DB, p.log); err != nil {
		return err
	}
	p.Audit = audit.New(p.DB.Gorm, audit.Options{Logger: p.log})
	p.Persons = registry.NewService(p.DB.Gorm, p.Crypt, directoryCodes{p.Directories}, registry.Options{ImportLease: cfg.ImportLease})
	p.Assignments = assignment.NewService(p.DB.Gorm)
	p.Measures = measure.NewService(p.DB.Gorm, caseSource{persons: p.Persons, tenants: p.TenantCache, dirs: p.Directories, assignments: p.Assignments})
	p.Measures.CheckCodesWith(directoryCodes{p.Directories})
	p.Casework = casework.NewService(p.DB.Gorm, p.Measures, p.Directories)
	key, err := signingKey(cfg, p.log)
	if err != nil {
		return err
	}
	opts := auth.Options{AccessTTL: cfg.AccessTokenTTL, Argon2: cfg.PasswordCost}
	if cfg.OIDCIssuer != "" {
		opts.OIDC = &auth.OIDCConfig{
			Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, UsernameClaim: cfg.OIDCUsernameClaim,
			TenantClaim: cfg.OIDCTenantClaim, RolesClaim: cfg.OIDCRolesClaim,
			KnownRole: func(r string, federal bool) bool {
				if federal {
					return access.IsFederalRole(r)
				}
				return access.IsTenantRole(r)
			},
		}
	}
	p.Auth = auth.NewService(p.DB.Gorm, p.TenantCache, p.Access, key, opts)
	p.Registry = prometheus.NewRegistry()
	p.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewDBStatsCollector(p.DB.SQL, string(p.DB.Dialect)),
	)
	if err := p.startPlugins(cfg); err != nil {
		return err
	}
	p.Server, err = api.New(api.Deps{
		Tenants: p.TenantCache, TenantAdmin: p.Tenants, Agencies: p.Agencies, Ready: p.Ready,
		Auth: p.Auth, Access: p.Access, Delegations: p.Delegations, Directories: p.Directories,
		Audit: p.Audit, Persons: p.Persons, Measures: p.Measures, Casework: p.Casework, Assignments: p.Assignments,
		Catalog: p.Catalog, Plugins: p.Plugins, Metrics: p.Registry, Gatherer: p.Registry, Logger: p.log,
	}, api.Options{
		Version: BuildVersion(), BodyLimit: cfg.BodyLimit, ImportBodyLimit: cfg.ImportBodyLimit,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout,
		MetricsElsewhere: cfg.MetricsListen != "",
	})
	return err
}

// migrateOnStart applies pending migrations — as the schema owner when a
// separate owner URL is configured, then re-grants the server's role.
func migrateOnStart(ctx context.Context, cfg Config, app *store.DB, log *slog.Logger) error {
	owner := app
	if cfg.MigrateDatabaseURL != "" && cfg.MigrateDatabaseURL != cfg.DatabaseURL {
		var err error
		if owner, err = store.Open(ctx, store.Options{URL: cfg.MigrateDatabaseURL, MaxOpenConns: 2, Logger: log}); err != nil {
			return fmt.Errorf("migration connection: %w", err)
		}
		defer owner.Close()
	}
	m, err := store.NewMigrator(owner, log)
	if err != nil {
		return err
	}
	applied, err := m.Up(ctx)
	if err != nil {
		return err
	}
	if len(applied) > 0 {
		log.InfoContext(ctx, "migrated", "applied", len(applied), "version", m.Latest())
	}
	if owner != app {
		role, err := app.CurrentRole(ctx)
		if err != nil {
			return err
		}
		return owner.GrantAppRole(ctx, role.Name, "")
	}
	return nil
}

// signingKey loads the configured token key, or the development key kept in
// the data directory.
func signingKey(cfg Config, log *slog.Logger) (ed25519.PrivateKey, error) {
	if cfg.TokenKeyFile != "" {
		return auth.LoadSigningKey(cfg.TokenKeyFile)
	}
	k, created, err := auth.DevSigningKey(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if created {
		log.Warn("generated a token signing key in the data dir; replicas behind one load balancer need a shared --token-key-file",
			"dir", cfg.DataDir)
	}
	return k, nil
}

// Ready reports whether the platform can serve: the database answers and
// its schema is not behind this binary. A schema ahead of it is a rollout
// under way: the next release migrated before its servers start, and this
// one keeps serving until it is replaced (migrations add before they take
// away, so one release runs on the next one's schema). Taking it out of
// service then would leave no server ready until the first new one is. A
// server still refuses to start on a schema ahead of it.
func (p *Platform) Ready(ctx context.Context) error {
	if err := p.DB.Ping(ctx); err != nil {
		return errors.New("database unreachable")
	}
	if err := p.migrator.Check(ctx); err != nil && !errors.Is(err, store.ErrSchemaNewer) {
		return err
	}
	return nil
}

// startPlugins opens the plug-in catalog and the host of the plug-in
// directory, creating the directory (owner-writable only) if need be.
func (p *Platform) startPlugins(cfg Config) error {
	p.Catalog = pluginhost.NewCatalog(p.DB.Gorm)
	dir := cfg.Plugins()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("plug-in directory: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			return fmt.Errorf("plug-in directory: %w", err)
		}
	}
	opts := pluginhost.DefaultOptions(dir)
	opts.Registerer, opts.Log = p.Registry, p.log
	if cfg.PluginCallTimeout > 0 {
		opts.CallTimeout = cfg.PluginCallTimeout
	}
	if cfg.PluginCPUs > 0 {
		opts.CPUs = cfg.PluginCPUs
	}
	if cfg.PluginMemoryMiB > 0 {
		opts.MemoryBytes = uint64(cfg.PluginMemoryMiB) << 20
	}
	if cfg.PluginGOGC > 0 {
		opts.GCPercent = cfg.PluginGOGC
	}
	var err error
	if p.Plugins, err = pluginhost.New(p.Catalog, p.TenantCache, opts); err != nil {
		return err
	}
	p.Measures.UsePlugins(p.Plugins)
	return nil
}

// Close stops the plug-ins and releases the database.
func (p *Platform) Close() error {
	if p.Plugins != nil {
		p.Plugins.Close()
	}
	return p.DB.Close()
}

// Serve runs the platform until ctx ends (SIGTERM), printing where it
// listens to out.
func Serve(ctx context.Context, cfg Config, out io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := NewLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	start := time.Now()
	p, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer p.Close()
	var demo *DemoInfo
	if cfg.Demo {
		if demo, err = SeedDemo(ctx, p); err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return configErrorf("--listen: %v", err)
	}
	url := "http://" + displayAddr(ln.Addr())
	metricsURL := url
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			_ = ln.Close()
			return configErrorf("--metrics-listen: %v", err)
		}
		metricsURL = "http://" + displayAddr(mln.Addr())
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", p.Server.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ms.Serve(mln) }()
		defer ms.Close()
	}
	fmt.Fprintf(out, "Social Treasury %s is ready at %s (%s, %s)\n", BuildVersion(), url, p.DB.Dialect, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "  API docs:  %s/docs\n  OpenAPI:   %s/openapi.json\n  Health:    %s/readyz\n  Metrics:   %s/metrics\n", url, url, url, metricsURL)
	if demo != nil {
		demo.Print(out, url)
	}
	go p.Access.Watch(ctx, cfg.PolicyPoll)
	go p.Persons.RunImports(ctx, cfg.ImportPoll, log.With("component", "import"))
	go p.Measures.RunSimulations(ctx, cfg.ImportPoll, log.With("component", "simulation"))
	// The audit chainer stops after the server has drained its requests, and
	// chains what they committed before the database closes.
	actx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { p.Audit.Run(actx); close(auditDone) }()
	defer func() { stopAudit(); <-auditDone }()
	log.InfoContext(ctx, "listening", "addr", ln.Addr().String(), "dialect", string(p.DB.Dialect), "version", BuildVersion())
	err = p.Server.Serve(ctx, ln, api.Shutdown{Delay: cfg.ShutdownDelay, Grace: cfg.ShutdownTimeout})
	log.InfoContext(context.Background(), "stopped")
	return err
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
