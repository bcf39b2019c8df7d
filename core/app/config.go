package app

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	iofs "io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
)

// ConfigError is a configuration mistake: the command says it in one line and
// exits with status 2.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Msg: fmt.Sprintf(format, args...)}
}

// EnvPrefix prefixes the environment variable of every flag.
const EnvPrefix = "TREASURY_"

// Config is the server's configuration.
type Config struct {
	Listen             string
	DatabaseURL        string
	MigrateDatabaseURL string
	DataDir            string
	Demo               bool
	// Regions are the regions' own files (the tenants directory): the demo
	// installs each demo region's measures from <code>-*/measures/.
	Regions           iofs.FS
	NoMigrate         bool
	LogLevel          string
	LogFormat         string
	EncryptionKeyFile string
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	ShutdownDelay     time.Duration
	MetricsListen     string
	BodyLimit         int
	ImportBodyLimit   int64
	ImportPoll        time.Duration
	ImportLease       time.Duration
	DBMaxConns        int
	TokenKeyFile      string
	AccessTokenTTL    time.Duration
	DemoPassword      string
	DemoPersons       int
	OIDCIssuer        string
	OIDCAudience      string
	OIDCUsernameClaim string
	OIDCTenantClaim   string
	OIDCRolesClaim    string
	PolicyPoll        time.Duration
	// PasswordCost overrides argon2id's cost (tests); zero is the default.
	PasswordCost auth.Argon2

	// PluginDir is the only directory plug-in binaries run from (default
	// <data-dir>/plugins); PluginCallTimeout every plug-in call's deadline.
	PluginDir         string
	PluginCallTimeout time.Duration
	// PluginCPUs, PluginMemoryMiB and PluginGOGC set each plug-in process's
	// runtime (pluginhost.Options CPUs, MemoryBytes and GCPercent).
	PluginCPUs      int
	PluginMemoryMiB int
	PluginGOGC      int
	// DemoPluginSources is the example plug-ins' module (plugins/): the
	// demo builds a hybrid region's plug-ins from it. Empty: the demo goes
	// without them.
	DemoPluginSources string

	// PreviousEncryptionKeyFile unwraps (never wraps) region keys during a
	// master key rotation (docs/personal-data.md).
	PreviousEncryptionKeyFile string
}

// DatabaseFlags registers the flags every database-using command shares.
func (c *Config) DatabaseFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.DatabaseURL, "database-url", "", "PostgreSQL URL the server connects with (the app role); empty: embedded SQLite in the data dir")
	fs.StringVar(&c.MigrateDatabaseURL, "migrate-database-url", "", "PostgreSQL URL of the schema owner that runs migrations (default: --database-url)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the embedded SQLite database and generated keys")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", 0, "database connection pool size (0: 20 on PostgreSQL, 8 on SQLite)")
}

// PluginFlags registers the flags of the plug-in directory and calls.
func (c *Config) PluginFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.PluginDir, "plugin-dir", "", "the only directory plug-in binaries run from; neither group nor others may write it (default: <data-dir>/plugins)")
	d := pluginhost.DefaultOptions("")
	fs.DurationVar(&c.PluginCallTimeout, "plugin-call-timeout", d.CallTimeout, "deadline of every plug-in call; a plug-in that misses it is killed")
	fs.IntVar(&c.PluginCPUs, "plugin-cpus", d.CPUs, "CPUs each plug-in process's Go runtime runs code on at once (its GOMAXPROCS)")
	fs.IntVar(&c.PluginMemoryMiB, "plugin-memory-mib", int(d.MemoryBytes>>20), "address-space limit of each plug-in process, MiB (Linux; at least 3072); its Go runtime is told what is left beyond 2 GiB as a soft limit (GOMEMLIMIT)")
	fs.IntVar(&c.PluginGOGC, "plugin-gogc", d.GCPercent, "each plug-in process's GOGC: how much its heap grows between collections, percent (0: the default)")
}

// minPluginMemoryMiB is the least address-space limit a plug-in runs
// under: the limit is on address space, not memory, and a Go program maps
// far more than it uses.
const minPluginMemoryMiB = 3072

// Plugins is the plug-in directory.
func (c *Config) Plugins() string {
	if c.PluginDir != "" {
		return c.PluginDir
	}
	return filepath.Join(c.DataDir, "plugins")
}

// ServeFlags registers the server's flags.
func (c *Config) ServeFlags(fs *pflag.FlagSet) {
	c.DatabaseFlags(fs)
	c.PluginFlags(fs)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address the HTTP server listens on")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "address /metrics is served on instead of the API's (a port no ingress routes to); empty: the API's")
	fs.BoolVar(&c.Demo, "demo", false, "create the demo regions, users and data (idempotent)")
	fs.BoolVar(&c.NoMigrate, "no-migrate", false, "do not apply migrations on start; refuse to start if any are pending")
	fs.StringVar(&c.EncryptionKeyFile, "encryption-key-file", "", "file holding the 32-byte master key for personal data (raw, hex or base64); default: generated into the data dir — replicas need one shared file")
	fs.StringVar(&c.PreviousEncryptionKeyFile, "previous-encryption-key-file", "", "the master key being rotated away from: it still unwraps region keys, never wraps new ones")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", 30*time.Second, "longest time to read a request")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 60*time.Second, "longest time to write a response")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", 120*time.Second, "keep-alive connections close after this idle time")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "time in-flight requests get to finish after SIGTERM")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 0, "after SIGTERM, how long the server goes on serving while /readyz says it is not ready, before it stops taking requests: the time a load balancer takes to stop sending them")
	fs.IntVar(&c.BodyLimit, "body-limit", 1<<20, "largest request body in bytes")
	fs.Int64Var(&c.ImportBodyLimit, "import-body-limit", 16<<30, "largest registry import file in bytes (streamed, not held in memory)")
	fs.DurationVar(&c.ImportPoll, "import-poll", 2*time.Second, "how often a replica looks for queued or abandoned imports")
	fs.DurationVar(&c.ImportLease, "import-lease", 2*time.Minute, "an import whose runner committed nothing for this long is resumed by another runner")
	fs.StringVar(&c.TokenKeyFile, "token-key-file", "", "Ed25519 key that signs access tokens (PKCS#8 PEM or 32-byte seed); default: generated into the data dir — replicas need one shared file")
	fs.DurationVar(&c.AccessTokenTTL, "access-token-ttl", 15*time.Minute, "lifetime of an access token")
	fs.StringVar(&c.DemoPluginSources, "demo-plugins", "plugins", "the example plug-ins' module the demo builds region 16's plug-ins from (needs the Go toolchain); empty: none")
	fs.IntVar(&c.DemoPersons, "demo-persons", 10_000, "synthetic persons in each demo region's registry (seeded once, into an empty registry)")
	fs.StringVar(&c.DemoPassword, "demo-password", "", "password of the demo users (default: generated once and kept in the data dir)")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", "", "URL of a trusted OpenID Connect issuer whose bearer tokens are accepted")
	fs.StringVar(&c.OIDCAudience, "oidc-audience", "", "audience (client id) the OIDC tokens must name")
	fs.StringVar(&c.OIDCUsernameClaim, "oidc-username-claim", "preferred_username", "OIDC claim with the user name")
	fs.StringVar(&c.OIDCTenantClaim, "oidc-tenant-claim", "treasury_tenant", "OIDC claim with the user's region code (absent: federal)")
	fs.StringVar(&c.OIDCRolesClaim, "oidc-roles-claim", "treasury_roles", "OIDC claim with the user's platform roles")
	fs.DurationVar(&c.PolicyPoll, "policy-poll", 500*time.Millisecond, "how often a replica checks for access changes made elsewhere")
}

// BindEnv fills every flag not given on the command line from its
// environment variable (--data-dir from TREASURY_DATA_DIR, …).
func BindEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, configErrorf("%s=%q: %v", name, v, err))
		}
	})
	return errors.Join(errs...)
}

// ValidateDatabase checks what every database-using command needs.
func (c *Config) ValidateDatabase() error {
	if _, err := store.DialectOf(c.DatabaseURL); err != nil {
		return configErrorf("--database-url: %v", err)
	}
	if c.MigrateDatabaseURL != "" {
		d, err := store.DialectOf(c.MigrateDatabaseURL)
		if err != nil {
			return configErrorf("--migrate-database-url: %v", err)
		}
		if d != store.Postgres || c.DatabaseURL == "" {
			return configErrorf("--migrate-database-url goes with a PostgreSQL --database-url")
		}
	}
	if c.DatabaseURL == "" && strings.TrimSpace(c.DataDir) == "" {
		return configErrorf("--data-dir: must not be empty with embedded SQLite")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return configErrorf("--log-level: %q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return configErrorf("--log-format: %q is not json or text", c.LogFormat)
	}
	if c.DBMaxConns < 0 || c.DBMaxConns > 1000 {
		return configErrorf("--db-max-conns: %d is outside 0..1000", c.DBMaxConns)
	}
	return nil
}

// Validate checks the server's whole configuration.
func (c *Config) Validate() error {
	if err := c.ValidateDatabase(); err != nil {
		return err
	}
	host, err := listenHost("--listen", c.Listen)
	if err != nil {
		return err
	}
	if c.MetricsListen != "" {
		if _, err := listenHost("--metrics-listen", c.MetricsListen); err != nil {
			return err
		}
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		if _, err := net.LookupHost(host); err != nil {
			return configErrorf("--listen: host %q does not resolve", host)
		}
	}
	for name, d := range map[string]time.Duration{
		"--read-timeout": c.ReadTimeout, "--write-timeout": c.WriteTimeout,
		"--idle-timeout": c.IdleTimeout, "--shutdown-timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			return configErrorf("%s: must be positive, got %s", name, d)
		}
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		return configErrorf("--shutdown-delay: %s is outside 0..5m", c.ShutdownDelay)
	}
	if c.ImportBodyLimit < 1<<10 {
		return configErrorf("--import-body-limit: %d is below 1 KiB", c.ImportBodyLimit)
	}
	if c.ImportLease < time.Second {
		return configErrorf("--import-lease: %s is below 1s", c.ImportLease)
	}
	if c.ImportPoll < 10*time.Millisecond {
		return configErrorf("--import-poll: %s is below 10ms", c.ImportPoll)
	}
	if c.BodyLimit < 1<<10 || c.BodyLimit > 1<<30 {
		return configErrorf("--body-limit: %d is outside 1 KiB..1 GiB", c.BodyLimit)
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		return configErrorf("--access-token-ttl: %s is outside 1m..24h", c.AccessTokenTTL)
	}
	if c.PolicyPoll < 50*time.Millisecond || c.PolicyPoll > time.Minute {
		return configErrorf("--policy-poll: %s is outside 50ms..1m", c.PolicyPoll)
	}
	if (c.OIDCIssuer == "") != (c.OIDCAudience == "") {
		return configErrorf("--oidc-issuer and --oidc-audience go together")
	}
	if c.OIDCIssuer != "" {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return configErrorf("--oidc-issuer: %q is not an http(s) URL", c.OIDCIssuer)
		}
	}
	if c.PluginCallTimeout < 0 || c.PluginCPUs < 0 || c.PluginGOGC < 0 || c.PluginMemoryMiB < 0 {
		return configErrorf("--plugin-call-timeout, --plugin-cpus, --plugin-gogc and --plugin-memory-mib must not be negative")
	}
	if c.PluginMemoryMiB != 0 && c.PluginMemoryMiB < minPluginMemoryMiB {
		return configErrorf("--plugin-memory-mib: %d is below %d: a Go plug-in maps about 1.7 GiB of address space before it allocates anything, and would die at its first call",
			c.PluginMemoryMiB, minPluginMemoryMiB)
	}
	if c.DemoPersons < 0 || c.DemoPersons > 1_000_000 {
		return configErrorf("--demo-persons: %d is outside 0..1000000", c.DemoPersons)
	}
	if l := utf8.RuneCountInString(c.DemoPassword); c.DemoPassword != "" && (l < auth.MinPasswordLen || l > auth.MaxPasswordLen) {
		return configErrorf("--demo-password: the password must be %d to %d characters", auth.MinPasswordLen, auth.MaxPasswordLen)
	}
	if c.TokenKeyFile != "" {
		if _, err := auth.LoadSigningKey(c.TokenKeyFile); err != nil {
			return configErrorf("--token-key-file: %v", err)
		}
	}
	if c.EncryptionKeyFile != "" {
		if _, err := ReadKeyFile(c.EncryptionKeyFile); err != nil {
			return configErrorf("--encryption-key-file: %v", err)
		}
	}
	if c.PreviousEncryptionKeyFile != "" {
		if c.EncryptionKeyFile == "" {
			return configErrorf("--previous-encryption-key-file goes with --encryption-key-file")
		}
		if _, err := ReadKeyFile(c.PreviousEncryptionKeyFile); err != nil {
			return configErrorf("--previous-encryption-key-file: %v", err)
		}
	}
	return nil
}

// listenHost checks that a listening flag's address is host:port with a
// port number, and returns the host.
func listenHost(flag, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", configErrorf("%s: %q is not host:port", flag, addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return "", configErrorf("%s: port %q is not a number from 0 to 65535", flag, port)
	}
	return host, nil
}

// ReadKeyFile reads a 32-byte key stored raw, as hex, or as base64.
func ReadKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by group or others (mode %o); chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 32 {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("%s does not hold a 32-byte key (raw, 64 hex digits or base64)", path)
}
