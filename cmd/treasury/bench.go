package main

import (
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/bench"
	"github.com/socialtreasury/treasury/tenants"
)

func newBench() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run an end-to-end benchmark and print its BENCH line",
		Long: "Run an end-to-end benchmark on a scratch database: embedded SQLite in a temporary directory, or with\n" +
			"--database-url a database created for the run on that PostgreSQL server (as a role that may create\n" +
			"databases and roles), migrated as that role, used through an unprivileged app role made for the run, and\n" +
			"dropped with the role afterwards, also on failure or interruption. Ours and the baseline are measured in\n" +
			"alternating rounds (A/B/A/B); human lines come first, then one line starting BENCH.\n" +
			"The TREASURY_* environment variables are not read: a benchmark never touches a configured database.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newBenchAuthz(), newBenchAPI(), newBenchImport(), newBenchCard(), newBenchEligibility(), newBenchPlugin())
	return cmd
}

func commonBenchFlags(fs *pflag.FlagSet, c *bench.Common) {
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL server to create the scratch database on (a role that may create databases and roles); empty: embedded SQLite")
	fs.Float64Var(&c.Seconds, "seconds", c.Seconds, "seconds each side (ours, baseline) is measured for, split into --rounds rounds")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "rounds per side, alternated ours/baseline")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the synthetic data and the request sequence")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the first round of ours to this file (go tool pprof -top FILE)")
}

func newBenchAuthz() *cobra.Command {
	o := bench.DefaultAuthz()
	cmd := &cobra.Command{
		Use:   "authz",
		Short: "Per-request authorization decisions: the compiled snapshot against uncached Casbin",
		Long: "Measure each authorization decision. --users region users are spread evenly over --tenants regions\n" +
			"(access-control domains 01, 02, …), each with one role in its home region; one federal user per hundred\n" +
			"region users (at least 2, at most 20) comes on top, and every region delegates one measure to the\n" +
			"federal operator (a third of the periods past, a third current, a third future). 65,536 requests are\n" +
			"drawn from --seed: nine in ten by region users, mostly in their home region. Ours is Authorizer.Allowed\n" +
			"(the compiled snapshot), the baseline Authorizer.Enforce (Casbin, uncached) on the same sequence, each\n" +
			"call timed, while --changes-per-second role changes go through SetTenantRoles (write, version bump,\n" +
			"reload) in the background during both. Afterwards both must agree on the first 2,000 requests.\n\n" +
			"BENCH name=authz db=… tenants=… users=… n=<our decisions> ours_p50_us ours_p99_us baseline_p50_us\n" +
			"baseline_p99_us ratio=<ours_p50/baseline_p50> changes=<role changes applied> errors=<failed changes,\n" +
			"Casbin errors and disagreements>",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			_, err := bench.Authz(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	commonBenchFlags(fs, &o.Common)
	fs.IntVar(&o.Tenants, "tenants", o.Tenants, "regions")
	fs.IntVar(&o.Users, "users", o.Users, "region users in all, spread evenly over the regions (federal users come on top)")
	fs.Float64Var(&o.ChangesPerSecond, "changes-per-second", o.ChangesPerSecond, "role changes per second made while measuring")
	return cmd
}

func newBenchAPI() *cobra.Command {
	o := bench.DefaultAPI()
	cmd := &cobra.Command{
		Use:   "api",
		Short: "GET /api/v1/me through the whole platform over loopback HTTP",
		Long: "Start the whole platform in-process on 127.0.0.1:0 (the regions 01–10 with a user of every region role,\n" +
			"a federal administrator and auditor), log a specialist of region 01 in over HTTP (or, with --auth apikey,\n" +
			"use an API key of a service account of region 01), and drive GET /api/v1/me with --conns keep-alive\n" +
			"connections from a load generator in the same process. The baseline is the same load against a bare Fiber\n" +
			"app on another loopback port answering the same body statically: the HTTP stack's limit on this machine.\n" +
			"Any answer but 200 is an error.\n\n" +
			"BENCH name=api db=… [auth=apikey] conns=… seconds=… n=<our requests> rate_per_s p50_ms p99_ms\n" +
			"errors=<ours and baseline> baseline_rate_per_s ratio=<baseline_rate/ours_rate>",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			_, err := bench.API(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	commonBenchFlags(fs, &o.Common)
	fs.IntVar(&o.Conns, "conns", o.Conns, "concurrent keep-alive connections, one request in flight on each")
	fs.StringVar(&o.Auth, "auth", o.Auth, "how the caller authenticates: password (a platform access token) or apikey")
	return cmd
}

// countFlag is a --persons value: a number, optionally with k or m, or small.
type countFlag struct{ n *int }

func (c countFlag) String() string { return strconv.Itoa(*c.n) }
func (c countFlag) Type() string   { return "count" }
func (c countFlag) Set(s string) error {
	n, err := bench.ParseCount(s)
	if err != nil {
		return err
	}
	*c.n = n
	return nil
}

func newBenchImport() *cobra.Command {
	o := bench.DefaultImport()
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Bulk import of the registry: the platform's import against a plain COPY of the same rows",
		Long: "Write an NDJSON file of --persons persons built from --seed: families of two parents and two to four\n" +
			"children (a spouse relation, a parent→child relation per parent and child, a sibling relation per pair of\n" +
			"children: about two relations a person, each after its persons' lines) and twelve monthly incomes a person\n" +
			"(the months before the current one; salary, pension or benefit; source fns). Ours imports the file into a\n" +
			"fresh region with the registry's import (treasury import's path: parsing, validation, sealing, blind\n" +
			"indexes, batched writes). The baseline loads the same rows, prepared beforehand without validation or\n" +
			"encryption (random bytes stand in for the sealed SNILS and its index), into the same tables of another fresh\n" +
			"region: COPY as the --database-url role on PostgreSQL, prepared multi-row INSERTs in one transaction on\n" +
			"SQLite. Only the loading is timed, not the preparing. After ours, the region's rows are counted against the\n" +
			"file. Each of --rounds rounds runs ours, then the baseline, on new regions; times are the medians.\n\n" +
			"BENCH name=import db=… persons=… rows=<persons+relations+incomes> ours_s baseline_s ratio=<ours/baseline>\n" +
			"rate_per_s=<rows a second, ours> peak_rss_mb=<the process's VmHWM right after the first import of ours>\n" +
			"errors=<lines not imported and rows missing or extra> baseline_kind=copy|insert [rounds=…]",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			_, err := bench.Import(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "PostgreSQL server to create the scratch database on (a role that may create databases and roles); empty: embedded SQLite")
	fs.Var(countFlag{&o.Persons}, "persons", "persons in the file (1000000, 100k, 1m; small: 10000)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds, each ours then the baseline on new regions")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the synthetic registry")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the first import of ours to this file (go tool pprof -top FILE)")
	return cmd
}

func newBenchCard() *cobra.Command {
	o := bench.DefaultCard()
	cmd := &cobra.Command{
		Use:   "card",
		Short: "Person cards read by concurrent clients through the whole platform, every read audited",
		Long: "Start the whole platform in-process on 127.0.0.1:0 (the regions 01–10 with a user of every region role),\n" +
			"import a registry of --persons persons into region 01 (families with relations and twelve monthly incomes a\n" +
			"person, as bench import builds them from --seed), log a specialist of region 01 in over HTTP, and have --conns\n" +
			"clients GET /api/v1/tenants/01/persons/{id}/card?as_of=<today> of random persons with an X-Purpose header\n" +
			"for --seconds, while the audit chainer runs as serve runs it. --via direct calls registry.Service.Card from\n" +
			"the clients instead (auto, the default: http when the build has the card route). Any answer but 200 is an\n" +
			"error. Afterwards region 01's audit chain is verified; every card read must have added a record.\n\n" +
			"BENCH name=card db=… [via=direct] persons=… conns=… seconds=… n=<cards read> rate_per_s p50_ms p99_ms\n" +
			"errors=<failed reads and reads not audited> audit_records=<records in the region's chain> audit_verified",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			_, err := bench.Card(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "PostgreSQL server to create the scratch database on (a role that may create databases and roles); empty: embedded SQLite")
	fs.Float64Var(&o.Seconds, "seconds", o.Seconds, "seconds the clients read cards for")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the synthetic registry and the request sequence")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the measured run to this file (go tool pprof -top FILE)")
	fs.Var(countFlag{&o.Persons}, "persons", "persons in the registry (10000, 100k; small: 10000)")
	fs.IntVar(&o.Conns, "conns", o.Conns, "concurrent clients, one request in flight on each")
	fs.StringVar(&o.Via, "via", o.Via, "how the clients read: http, direct (registry.Service.Card in-process) or auto")
	return cmd
}

func newBenchEligibility() *cobra.Command {
	o := bench.DefaultEligibility()
	cmd := &cobra.Command{
		Use:   "eligibility",
		Short: "A means-tested measure decided over a whole synthetic registry, against one hand-written SQL statement",
		Long: "Import a synthetic registry of --persons persons (families, pensioners, single adults; core/synth from --seed)\n" +
			"into region 01 and install region 66's six-condition measure low_income_child (residence, age, a child under\n" +
			"three, the low-income category, household per-capita income below the subsistence minimum, not yet assigned).\n" +
			"Ours: a policy simulation as the platform runs it — cases assembled from the store page by page, evaluated by\n" +
			"the compiled CEL rules, the eligible persons written. The baseline: one set-based SQL statement written by hand\n" +
			"for this measure. The two eligible sets must be equal. Then raw CEL evaluation is measured over cases\n" +
			"assembled in memory for --eval-seconds.\n\n" +
			"BENCH name=eligibility db=… persons=… eligible=… ours_s baseline_s ratio=ours/baseline sets_equal\n" +
			"cel_evals_per_s=<condition evaluations a second, all CPUs> simulation_s=<the simulation's time>",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			o.Regions = tenants.Files
			_, err := bench.Eligibility(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "PostgreSQL server to create the scratch database on (a role that may create databases and roles); empty: embedded SQLite")
	fs.Var(countFlag{&o.Persons}, "persons", "persons in the registry (1000000, 100k, 1m; small: 10000)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the synthetic registry")
	fs.Float64Var(&o.EvalSeconds, "eval-seconds", o.EvalSeconds, "seconds raw CEL evaluation is measured for")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of ours to this file (go tool pprof -top FILE)")
	return cmd
}

func newBenchPlugin() *cobra.Command {
	o := bench.DefaultPlugin()
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "A measure as a plug-in against the same logic as rules, over the whole registry",
		Long: "Import a synthetic registry of --persons persons into region 01 (as bench eligibility does), build\n" +
			"plugins/lowincomechild and the fault plug-in core/internal/testplugin from --source (needs the Go toolchain),\n" +
			"register them and enable them as an operator would. Simulate region 66's low-income child allowance over the\n" +
			"registry as CEL rules and as the plug-in, alternately, --rounds times (the eligible sets must be equal); then time\n" +
			"--calls single-case calls and a quarter as many 1,000-case batches (explained, and decided only) through the plug-in host, and the 1,000-case\n" +
			"batches in eight windows alone and eight while another region's plug-in hangs and is killed at its 2 s deadline, over\n" +
			"and over, alternately. Each timing starts after a garbage collection, as go test -bench does.\n\n" +
			"BENCH name=plugin db=… persons=… eligible=… rounds=… cel_s plugin_s (medians) ratio=plugin/cel sets_equal\n" +
			"call_p50_us call_p99_us batch1000_p50_ms batch1000_p99_ms batch1000_decide_p50_ms batch1000_written_p50_ms hang_killed_s isolation_p99_ratio=<p99 of the calls during the hang / of those alone>",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Log = app.NewLogger(os.Stderr, "warn", "text")
			o.Regions = tenants.Files
			_, err := bench.Plugin(cmd.Context(), o, cmd.OutOrStdout())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.DatabaseURL, "database-url", o.DatabaseURL, "PostgreSQL server to create the scratch database on (a role that may create databases and roles); empty: embedded SQLite")
	fs.Var(countFlag{&o.Persons}, "persons", "persons in the registry (1000000, 100k, 1m; small: 10000)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "simulations of each side, alternated rules/plug-in")
	fs.IntVar(&o.Calls, "calls", o.Calls, "single-case calls timed (and a quarter as many 1,000-case batches of each kind)")
	fs.StringVar(&o.Source, "source", o.Source, "the repository's root, where plugins/ and core/internal/testplugin are")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the synthetic registry")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the host's side of the timed calls (not the simulations) to this file (go tool pprof -top FILE)")
	return cmd
}
