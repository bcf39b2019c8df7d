package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humafiber"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/directory"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Deps are the services the API serves.
type Deps struct {
	Tenants     *tenancy.Cache
	TenantAdmin *tenancy.Service
	Agencies    *agency.Service
	Auth        *auth.Service
	Access      *access.Authorizer
	Delegations *access.Delegations
	Directories *directory.Service
	Audit       *audit.Trail
	Persons     *registry.Service
	Measures    *measure.Service
	Casework    *casework.Service
	Assignments *assignment.Service
	Catalog     *pluginhost.Catalog
	Plugins     *pluginhost.Host
	// Ready reports whether the server can take traffic (database reachable,
	// schema current); nil error means ready.
	Ready func(ctx context.Context) error
	// Metrics receives the HTTP metrics; Gatherer serves /metrics.
	Metrics  prometheus.Registerer
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
}

// Options tune the HTTP server.
type Options struct {
	Version   string
	BodyLimit int // bytes
	// ImportBodyLimit bounds a registry import file (streamed); 16 GiB when 0.
	ImportBodyLimit int64
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	// MetricsElsewhere: /metrics is not on the API's port; the caller serves
	// MetricsHandler on a port of its own (one no ingress routes to).
	MetricsElsewhere bool
}

// Server is the platform's HTTP server.
type Server struct {
	bodyLimit       int64
	importBodyLimit int64
	app             *fiber.App
	api             huma.API
	deps            Deps
	log             *slog.Logger
	// stopping: the server is about to shut down; /readyz says so.
	stopping atomic.Bool
}

// New builds the server and registers every route.
func New(deps Deps, opts Options) (*Server, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		r := prometheus.NewRegistry()
		deps.Metrics, deps.Gatherer = r, r
	}
	if opts.BodyLimit <= 0 {
		opts.BodyLimit = 1 << 20
	}
	if opts.ImportBodyLimit <= 0 {
		opts.ImportBodyLimit = 16 << 30
	}
	s := &Server{deps: deps, log: deps.Logger.With("component", "http"), bodyLimit: int64(opts.BodyLimit), importBodyLimit: opts.ImportBodyLimit}
	s.app = fiber.New(fiber.Config{
		AppName:               "treasury",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ReadTimeout:           opts.ReadTimeout,
		WriteTimeout:          opts.WriteTimeout,
		IdleTimeout:           opts.IdleTimeout,
		ErrorHandler:          s.fiberError,
		// Bodies are streamed to the handler: an import file of gigabytes
		// goes to the database in chunks, never whole into memory. Every other
		// operation reads at most BodyLimit (declared lengths over it are
		// refused before any handler runs, see limitBody).
		StreamRequestBody: true,
	})
	s.app.Server().HeaderReceived = s.headerReceived
	m, err := newMetrics(deps.Metrics)
	if err != nil {
		return nil, err
	}
	s.app.Use(s.requestID, s.accessLog, m.middleware(s), s.recoverer, s.limitBody)

	cfg := huma.DefaultConfig("Social Treasury API", opts.Version)
	cfg.Info.Description = "The platform on which regions provide social support measures: " +
		"regions, their assigning bodies, and (in later versions) recipients, measures, decisions, payments and EGISSO reporting."
	cfg.OpenAPIPath = "/openapi"
	cfg.DocsPath = "" // Huma's page loads its assets from a CDN; ours are embedded.
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A platform access token, an API key (st_…), or a token of the configured OIDC issuer."},
	}
	s.api = humafiber.New(s.app, cfg)
	s.api.UseMiddleware(func(ctx huma.Context, next func(huma.Context)) {
		markRoute(humafiber.Unwrap(ctx), ctx.Operation().Path)
		next(ctx)
	}, s.guard, streamBody)
	s.registerHealth()
	s.registerTenants()
	s.registerAgencies()
	s.registerAuth()
	s.registerUsers()
	s.registerAPIKeys()
	s.registerDelegations()
	s.registerDirectories()
	s.registerAudit()
	s.registerPersons()
	s.registerImports()
	s.registerMeasures()
	s.registerPlugins()
	s.registerSimulations()
	s.registerCasework()
	s.registerDocs()
	if !opts.MetricsElsewhere {
		s.registerMetrics()
	}
	return s, nil
}

// App exposes the Fiber app (tests drive it with app.Test).
func (s *Server) App() *fiber.App { return s.app }

// OpenAPI returns the API's description.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Shutdown is how Serve stops once its context ends.
type Shutdown struct {
	// Delay: first, /readyz answers 503 while requests are still served,
	// for this long: the time a load balancer takes to stop sending new
	// ones (Kubernetes removes a terminating pod from its Service's
	// endpoints only after the pod has received SIGTERM).
	Delay time.Duration
	// Grace: then the listener closes, and in-flight requests get at most
	// this to finish.
	Grace time.Duration
}

// Serve answers on ln until ctx ends, then stops as sd says.
func (s *Server) Serve(ctx context.Context, ln net.Listener, sd Shutdown) error {
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if sd.Delay > 0 {
		s.stopping.Store(true)
		s.log.Info("shutting down: not ready, still serving", "for", sd.Delay)
		select {
		case err := <-errc:
			return err
		case <-time.After(sd.Delay):
		}
	}
	if err := s.app.ShutdownWithTimeout(sd.Grace); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return <-errc
}
