// Package pluginhost runs regions' plug-ins: the catalog the federal
// operator keeps (Catalog), and the host (Host) that starts a plug-in
// binary from the catalog in its own process, one a plug-in and region,
// and calls it through the SDK's protocol (sdk/grpcplugin).
//
// What the host guarantees, and where:
//   - only binaries in the configured directory, regular files (not
//     symlinks) that neither group nor others may write, whose SHA-256
//     matches the catalog (checked by go-plugin's SecureConfig before
//     every start); a mismatch is refused and recorded as an incident;
//   - gRPC only, mutual TLS (AutoMTLS), and no environment of the host's:
//     the plug-in sees its region's configuration (sdk.ConfigEnv) and
//     nothing else, so never a database URL or a key;
//   - a deadline on every call; a plug-in that misses it is killed (its
//     process group, SIGKILL) and the error says so;
//   - a plug-in that dies is started again with back-off and the call
//     retried on the new process, up to Options.MaxAttempts processes;
//   - plug-ins die with the host: on Linux the kernel kills them when the
//     host dies (Pdeathsig), and the SDK's serve exits when its parent
//     changes;
//   - on Linux, an address-space limit (Options.MemoryBytes) and a lower
//     CPU priority than the host's; elsewhere neither (on Kubernetes the
//     pod's limits hold the host and its plug-ins together);
//   - processes are checked (Ping) and stopped when idle; calls, errors,
//     latency and restarts are counted per plug-in.
package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/serve"
)

// Options configure a host.
type Options struct {
	// Dir is the plug-in directory: the only place binaries run from.
	Dir string
	// CallTimeout is every call's deadline.
	CallTimeout time.Duration
	// StartTimeout bounds a process's start and handshake.
	StartTimeout time.Duration
	// MaxAttempts is how many processes a call is tried on when the
	// plug-in dies under it.
	MaxAttempts int
	// MemoryBytes is each process's address-space limit (Linux); 0: none.
	MemoryBytes uint64
	// CPUs is how many CPUs a process's Go runtime runs code on at once
	// (its GOMAXPROCS); 0: as many as the machine has. One is the
	// default: a plug-in decides batches one at a time, a misbehaving one
	// then takes at most one core from the other regions, and a call is
	// answered without waking a second thread.
	CPUs int
	// GCPercent is a process's GOGC; 0: Go's default (100). A plug-in
	// keeps little between calls, and at 100 its runtime collects every
	// few megabytes: a 1,000-case batch then pays for a collection and
	// for pages given back to the system and taken again, each call.
	// With MemoryBytes set, the runtime is also given a soft limit
	// (GOMEMLIMIT) of what the address-space limit leaves beyond a Go
	// program's own mappings, so that it collects harder before it nears
	// the hard limit.
	GCPercent int
	// IdleAfter stops a process no call has used for this long.
	IdleAfter time.Duration
	// CheckEvery is how often running processes are pinged.
	CheckEvery time.Duration
	// Registerer takes the host's metrics; nil: they are kept unregistered.
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// DefaultOptions are the host's defaults for a plug-in directory.
func DefaultOptions(dir string) Options {
	return Options{Dir: dir, CallTimeout: 30 * time.Second, StartTimeout: 10 * time.Second, MaxAttempts: 3,
		MemoryBytes: 4 << 30, CPUs: serve.CPUs, GCPercent: serve.GCPercent, IdleAfter: 10 * time.Minute, CheckEvery: 15 * time.Second}
}

// Regions tells a region's code by its id.
type Regions interface {
	ByID(ctx context.Context, id uuid.UUID) (tenancy.Tenant, error)
}

// Host starts and calls plug-ins.
type Host struct {
	opts    Options
	dir     string
	catalog *Catalog
	regions Regions
	log     *slog.Logger
	m       *metrics

	mu     sync.Mutex
	procs  map[procKey]*proc
	closed bool
	stop   chan struct{}
	done   chan struct{}
	starts sync.WaitGroup // starts under way, which Close waits for
}

type procKey struct {
	plugin uuid.UUID
	tenant uuid.UUID
}

// New returns a host of the plug-ins in opts.Dir, which must be a
// directory neither group nor others may write. On Linux it makes this
// process non-dumpable (hideFromPlugins).
func New(catalog *Catalog, regions Regions, opts Options) (*Host, error) {
	d := DefaultOptions(opts.Dir)
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = d.CallTimeout
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = d.StartTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = d.MaxAttempts
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = d.IdleAfter
	}
	if opts.CheckEvery <= 0 {
		opts.CheckEvery = d.CheckEvery
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("plug-in directory: %w", err)
	}
	if !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("plug-in directory %s: must be a directory that neither group nor others may write (mode %s)", dir, fi.Mode().Perm())
	}
	if err := hideFromPlugins(); err != nil {
		return nil, fmt.Errorf("hiding the host's memory and environment from plug-ins: %w", err)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Host{opts: opts, dir: dir, catalog: catalog, regions: regions, log: opts.Log, m: m,
		procs: map[procKey]*proc{}, stop: make(chan struct{}), done: make(chan struct{})}
	go h.watch()
	return h, nil
}

// Close stops every plug-in process.
func (h *Host) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	ps := make([]*proc, 0, len(h.procs))
	for _, p := range h.procs {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	close(h.stop)
	<-h.done
	for _, p := range ps {
		p.retire()
	}
	// A start under way ends within StartTimeout, and its process is
	// killed then: none outlives Close.
	h.starts.Wait()
}

// Dir is the plug-in directory.
func (h *Host) Dir() string { return h.dir }

// watch pings running processes and stops idle ones.
func (h *Host) watch() {
	defer close(h.done)
	t := time.NewTicker(h.opts.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		ps := make([]*proc, 0, len(h.procs))
		for _, p := range h.procs {
			ps = append(ps, p)
		}
		h.mu.Unlock()
		// Each at once: one process slow to answer its ping holds up no
		// other region's check.
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Go(func() { p.check(h.opts.IdleAfter, h.pingTimeout()) })
		}
		wg.Wait()
	}
}

// pingTimeout is how long a running process has to answer a ping.
func (h *Host) pingTimeout() time.Duration { return min(h.opts.CheckEvery, 5*time.Second) }

// Status is a plug-in process as the host sees it.
type Status struct {
	Plugin, Version, Region string
	Running                 bool
	PID                     int
	Restarts                int
	LastError               string
}

// Processes are the host's plug-in processes.
func (h *Host) Processes() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Status, 0, len(h.procs))
	for _, p := range h.procs {
		out = append(out, p.status())
	}
	return out
}

// ErrRefused is a plug-in the host will not start: its binary is not where
// or what the catalog says.
var ErrRefused = errors.New("plug-in refused")

// enabled resolves the context's region's enablement of a plug-in of a
// kind and its process.
func (h *Host) enabled(ctx context.Context, name, version, kind string) (*proc, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return nil, tenancy.ErrNoTenant
	}
	en, e, err := h.catalog.Enabled(ctx, name)
	if err != nil {
		return nil, err
	}
	if version != "" && e.Version != version {
		// A measure version names the plug-in version it was decided by:
		// after the region moves on to a newer one, the older still runs
		// (with the region's configuration) so that its decisions replay.
		enabled := e.Version
		if e, err = h.catalog.Entry(ctx, name, version); err != nil {
			return nil, fault.NotFoundf("plug-in %s %s is not in the catalog (the region has %s enabled)", name, version, enabled)
		}
	}
	if e.Kind != kind {
		return nil, fault.NotFoundf("plug-in %s is a %s, not a %s", name, e.Kind, kind)
	}
	region, err := h.regions.ByID(ctx, tid)
	if err != nil {
		return nil, err
	}
	if !e.allows(region.Code) {
		return nil, fault.Forbiddenf("plug-in %s %s is not registered for region %s", name, e.Version, region.Code)
	}
	key := procKey{e.ID, tid}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("pluginhost: closed")
	}
	p, ok := h.procs[key]
	if !ok || p.config != en.Config {
		if ok {
			// The region changed its configuration: no call from now on
			// uses the old process (an evaluator held across the change
			// follows the region), which stops in the background.
			p.markRetired()
			go p.retire()
		}
		p = &proc{h: h, entry: e, tenant: tid, region: region.Code, config: en.Config, retired: make(chan struct{})}
		h.procs[key] = p
	}
	return p, nil
}

// binary is the path of an entry's binary after the checks that do not
// need its contents (the checksum is go-plugin's, at every start).
func (h *Host) binary(e Entry) (string, error) {
	if e.File != baseName(e.File) {
		return "", fmt.Errorf("%w: file %q is not a name in the plug-in directory", ErrRefused, e.File)
	}
	path := filepath.Join(h.dir, e.File)
	fi, err := os.Lstat(path)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return path, checkInfo(path, fi)
}

// checkMode checks an open binary as binary checks its path.
func checkMode(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return checkInfo(f.Name(), fi)
}

func checkInfo(path string, fi os.FileInfo) error {
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link", ErrRefused, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrRefused, path)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s may be written by group or others (mode %s)", ErrRefused, path, fi.Mode().Perm())
	case fi.Mode().Perm()&0o100 == 0:
		return fmt.Errorf("%w: %s is not executable", ErrRefused, path)
	}
	return nil
}

func baseName(f string) string {
	if strings.ContainsAny(f, `/\`) || f == "." || f == ".." {
		return ""
	}
	return f
}

// proc is one plug-in's process for one region, started on first use and
// again after it dies.
type proc struct {
	h      *Host
	entry  Entry
	tenant uuid.UUID
	region string
	config string

	// mu guards what follows. It is never held while a process starts or
	// a call runs: a caller waits for a start (or its back-off) on the
	// start's done, and may stop waiting when its context ends.
	mu       sync.Mutex
	starting *starting // the start under way; nil: none
	// retired is closed once the process is replaced by a new
	// configuration, or the host closes: it never starts again.
	retired    chan struct{}
	retireOnce sync.Once
	client     *plugin.Client
	gone       chan struct{} // closed once the process is killed: its thread may end
	rpc        plugin.ClientProtocol
	raw        any
	pid        int
	failures   int // consecutive failed starts and crashes: the back-off
	retryAt    time.Time
	restarts   int
	lastUsed   time.Time
	lastError  string
}

// markRetired closes retired, once. It takes no lock: the host marks a
// replaced process under its own lock, so that no call that follows finds
// it, and stops it after (retire).
func (p *proc) markRetired() { p.retireOnce.Do(func() { close(p.retired) }) }

func (p *proc) isRetired() bool {
	select {
	case <-p.retired:
		return true
	default:
		return false
	}
}

// starting is a start under way; err is its error once done is closed.
type starting struct {
	done chan struct{}
	err  error
}

// errRetired: the process a caller holds was replaced (the region changed
// the plug-in's configuration) or the host closed; the call is resolved
// again against the host.
var errRetired = errors.New("pluginhost: the process was replaced")

// labels are a process's: two versions of a plug-in may run for a region at once.
func (p *proc) labels() []string { return []string{p.entry.Name, p.entry.Version, p.region} }

// dispense is the running process's client, starting it if need be. One
// start runs at a time, whoever asked for it; a caller whose context ends
// stops waiting, and the start goes on for the next. A caller waits for
// one start at most: should that process be gone already, call's
// attempts decide whether to start another.
func (p *proc) dispense(ctx context.Context) (any, *plugin.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var finish func()
	p.mu.Lock()
	if p.isRetired() {
		p.mu.Unlock()
		return nil, nil, errRetired
	}
	p.lastUsed = time.Now()
	if c := p.client; c != nil && !c.Exited() {
		raw := p.raw
		p.mu.Unlock()
		return raw, c, nil
	}
	s := p.starting
	if s == nil {
		if c := p.client; c != nil { // it died between calls
			finish = p.ended(c, "crash", "the process exited between calls")
		}
		s = &starting{done: make(chan struct{})}
		p.starting = s
		p.h.starts.Add(1)
		go p.startAfterBackOff(s, time.Until(p.retryAt))
	}
	p.mu.Unlock()
	if finish != nil {
		finish()
	}
	select {
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-s.done:
	}
	if s.err != nil {
		return nil, nil, s.err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch c := p.client; {
	case p.isRetired():
		return nil, nil, errRetired
	case c != nil && !c.Exited():
		return p.raw, c, nil
	}
	return nil, nil, errors.New("the process ended as soon as it started")
}

// startAfterBackOff starts the process once the back-off has passed and
// records how it went in s.
func (p *proc) startAfterBackOff(s *starting, wait time.Duration) {
	defer p.h.starts.Done()
	if wait > 0 {
		// Close retires every process, which ends the wait too.
		select {
		case <-time.After(wait):
		case <-p.retired:
		}
	}
	var l launched
	err := errRetired
	if !p.isRetired() {
		l, err = p.startLowered()
	}
	p.mu.Lock()
	switch {
	case errors.Is(err, errRetired):
	case err != nil:
		p.lastError = err.Error()
		if !errors.Is(err, ErrRefused) {
			p.backOff()
		}
	case p.isRetired():
		// Retired while it started: no caller may use it.
		err = errRetired
		defer l.end()
	default:
		p.client, p.rpc, p.raw, p.pid, p.gone = l.client, l.rpc, l.raw, l.pid, l.gone
		p.h.m.processes.WithLabelValues(p.labels()...).Set(1)
	}
	p.starting = nil
	s.err = err
	close(s.done)
	p.mu.Unlock()
}

// launched is a process that has started and answered the handshake.
type launched struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
	raw    any
	pid    int
	gone   chan struct{}
}

// end kills a launched process: its group at once, with SIGKILL, then
// go-plugin's client, which reaps it. That Kill waits for the process's
// output to close, which a child that left the group may hold open for as
// long as it lives: end waits for it a second at most and lets it finish
// in the background. The thread that started the process may then end.
func (l launched) end() {
	killGroup(l.pid)
	reaped := make(chan struct{})
	go func() {
		l.client.Kill()
		if l.gone != nil {
			close(l.gone)
		}
		close(reaped)
	}()
	select {
	case <-reaped:
	case <-time.After(time.Second):
	}
}

// startLowered starts the process from an OS thread of its own at the
// plug-in's lower priority, which a child takes from the thread that forks
// it: the start's own work in the host (the checksum, the keys) and the
// plug-in from its first instruction yield to the platform and to other
// regions' plug-ins, where limit, after the handshake, would come too late
// (a region's plug-in restarted again and again after each hang would
// otherwise compete at full priority). The thread lives as long as the
// process, because the kernel sends Pdeathsig when the thread that forked
// a child ends; it ends, unreleased, once the process is gone.
func (p *proc) startLowered() (launched, error) {
	type result struct {
		l   launched
		err error
	}
	started := make(chan result, 1)
	gone := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		lowerThisThread()
		l, err := p.start()
		started <- result{l, err}
		if err == nil {
			<-gone
		}
	}()
	r := <-started
	r.l.gone = gone
	return r.l, r.err
}

// start starts the process and answers the handshake, or fails with the
// process gone.
func (p *proc) start() (launched, error) {
	path, err := p.h.binary(p.entry)
	if err != nil {
		return launched{}, p.refused("refused", err)
	}
	sum, err := hex.DecodeString(p.entry.SHA256)
	if err != nil {
		return launched{}, fmt.Errorf("%w: catalog checksum: %v", ErrRefused, err)
	}
	mismatch := func() error {
		return p.refused("checksum", fmt.Errorf("%w: %s does not match its catalog SHA-256 %s", ErrRefused, path, p.entry.SHA256))
	}
	cmd := exec.Command(path)
	exe, copied, err := frozenCopy(path)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return launched{}, p.refused("refused", err)
		}
		return launched{}, err
	}
	// go-plugin checks the checksum of the path it runs where there is no
	// frozen copy; the copy's own was checked here.
	secure := &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	if exe != nil {
		defer exe.Close() // the child has its own once it has started
		if !bytes.Equal(copied, sum) {
			return launched{}, mismatch()
		}
		cmd.Path, cmd.ExtraFiles, secure = childExe, []*os.File{exe}, nil // Args[0] stays the binary's path
	}
	cmd.Dir = p.h.dir
	cmd.Env = []string{sdk.ConfigEnv + "=" + p.config}
	cmd.Env = append(cmd.Env, runtimeEnv(p.h.opts)...)
	isolate(cmd)
	log := slog.NewLogLogger(p.h.log.With("plugin", p.entry.Name, "region", p.region).Handler(), slog.LevelInfo)
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  grpcplugin.Handshake,
		Plugins:          grpcplugin.PluginSet(),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     p.h.opts.StartTimeout,
		GRPCDialOptions:  serve.DialOptions(),
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Info, Output: log.Writer(), DisableTime: true}),
		Stderr:           io.Discard,
	})
	// A process that did not start is killed with what it started: go-plugin
	// waits for its output to close, which a child of its own holding it
	// open would otherwise put off for as long as that child lives.
	abandon := func() {
		l := launched{client: c}
		if cmd.Process != nil {
			l.pid = cmd.Process.Pid
		}
		l.end()
	}
	rpc, err := c.Client()
	if err != nil {
		abandon()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return launched{}, mismatch()
		}
		p.incident("start", err.Error())
		return launched{}, fmt.Errorf("plug-in %s did not start: %w", p.entry.Name, err)
	}
	raw, err := rpc.Dispense(p.entry.Kind)
	if err != nil {
		abandon()
		p.incident("start", err.Error())
		return launched{}, fmt.Errorf("plug-in %s does not serve a %s: %w", p.entry.Name, p.entry.Kind, err)
	}
	l := launched{client: c, rpc: rpc, raw: raw}
	if rc := c.ReattachConfig(); rc != nil {
		l.pid = rc.Pid
		limit(l.pid, p.h.opts.MemoryBytes)
	}
	return l, nil
}

// refused records a refusal to start as an incident, once for as long as
// it repeats: every call would otherwise add the same row again.
func (p *proc) refused(kind string, err error) error {
	p.mu.Lock()
	again := p.lastError == err.Error()
	p.mu.Unlock()
	if !again {
		p.incident(kind, err.Error())
	}
	return err
}

// runtimeEnv is the Go runtime's settings for a plug-in process.
func runtimeEnv(o Options) []string {
	var env []string
	if o.CPUs > 0 {
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", o.CPUs))
	}
	if o.GCPercent > 0 {
		env = append(env, fmt.Sprintf("GOGC=%d", o.GCPercent))
	}
	if o.MemoryBytes > goAddressBaseline {
		env = append(env, fmt.Sprintf("GOMEMLIMIT=%d", o.MemoryBytes-goAddressBaseline))
	}
	return env
}

// goAddressBaseline is the address space a Go plug-in maps beyond its heap
// (about 1.7 GiB before it allocates anything, on amd64 Linux): the
// runtime's soft memory limit is what MemoryBytes leaves of it.
const goAddressBaseline = 2 << 30

// backOff puts the next start off (p.mu held).
func (p *proc) backOff() {
	p.failures++
	d := min(100*time.Millisecond<<min(p.failures-1, 7), 10*time.Second)
	p.retryAt = time.Now().Add(d)
}

// kill ends a process at once: its whole process group, SIGKILL. An idle
// process a call has used since the check is left running.
func (p *proc) kill(c *plugin.Client, reason, detail string) {
	p.mu.Lock()
	if p.client != c || c == nil || reason == "idle" && time.Since(p.lastUsed) <= p.h.opts.IdleAfter {
		p.mu.Unlock()
		return // restarted already, or in use again
	}
	finish := p.ended(c, reason, detail)
	p.mu.Unlock()
	finish()
}

// ended takes the running process c off p and counts why (p.mu held). It
// returns what ends the process, to run once p.mu is released: nothing
// that can wait — go-plugin's Kill, the incident's row — is done under it.
func (p *proc) ended(c *plugin.Client, reason, detail string) (finish func()) {
	l := launched{client: c, pid: p.pid, gone: p.gone}
	p.gone = nil
	p.client, p.raw, p.rpc = nil, nil, nil
	p.restarts++
	p.lastError = detail
	p.h.m.restarts.WithLabelValues(p.entry.Name, p.region, reason).Inc()
	p.h.m.processes.WithLabelValues(p.labels()...).Set(0)
	if reason != "idle" {
		p.backOff()
	}
	return func() {
		l.end()
		if reason != "idle" {
			p.incident(reason, detail)
		}
	}
}

// retire stops the process for good: the region replaced its
// configuration, or the host is closing. A start waiting out its back-off
// gives up; one under way is killed when it is done.
func (p *proc) retire() {
	p.markRetired()
	p.mu.Lock()
	finish := func() {}
	if c := p.client; c != nil {
		finish = p.ended(c, "idle", "stopped")
	}
	p.mu.Unlock()
	finish()
}

// check stops a running process that is idle, has exited or does not
// answer a ping within timeout.
func (p *proc) check(idleAfter, timeout time.Duration) {
	p.mu.Lock()
	c, rpc, idle := p.client, p.rpc, time.Since(p.lastUsed) > idleAfter
	p.mu.Unlock()
	switch {
	case c == nil:
	case idle:
		p.kill(c, "idle", "idle")
	case c.Exited():
		p.kill(c, "crash", "the process exited")
	case ping(rpc, timeout) != nil:
		p.kill(c, "health", fmt.Sprintf("did not answer a ping within %s", timeout))
	}
}

// ping is go-plugin's health check with a deadline: a process that does
// not answer (stopped, or spinning with its runtime wedged) fails it
// rather than hold the watch, and every region's checks, for ever.
func ping(rpc plugin.ClientProtocol, timeout time.Duration) error {
	g, ok := rpc.(*plugin.GRPCClient)
	if !ok {
		return rpc.Ping()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err := healthpb.NewHealthClient(g.Conn).Check(ctx, &healthpb.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err
}

func (p *proc) succeeded() {
	p.mu.Lock()
	p.failures = 0
	p.mu.Unlock()
}

func (p *proc) status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{Plugin: p.entry.Name, Version: p.entry.Version, Region: p.region,
		Running: p.client != nil && !p.client.Exited(), PID: p.pid, Restarts: p.restarts, LastError: p.lastError}
}

func (p *proc) incident(kind, detail string) {
	p.h.log.Warn("plug-in incident", "plugin", p.entry.Name, "version", p.entry.Version, "region", p.region, "kind", kind, "detail", detail)
	if err := p.h.catalog.Record(context.Background(), Incident{PluginID: p.entry.ID, Region: p.region, Kind: kind, Detail: detail}); err != nil {
		p.h.log.Error("plug-in incident not recorded", "err", err)
	}
}

// CallError is a call that failed on the plug-in's side of the boundary.
type CallError struct {
	Plugin, Region, Method string
	// Hung: the plug-in missed the deadline and was killed.
	Hung bool
	Err  error
}

func (e *CallError) Error() string {
	return fmt.Sprintf("plug-in %s (region %s) %s: %v", e.Plugin, e.Region, e.Method, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// Is makes a failed call fault.ErrUpstream: the API answers it 502 with
// what failed, not as the platform's own error. Not a call the caller gave
// up on, nor a binary the host refused to start (the operator's to mend:
// its detail names files of the host).
func (e *CallError) Is(target error) bool {
	return target == fault.ErrUpstream && !errors.Is(e.Err, ErrRefused) &&
		!errors.Is(e.Err, context.Canceled) && !errors.Is(e.Err, context.DeadlineExceeded)
}

// minHangRoom is the least time a caller's deadline must have left a call
// for the plug-in to be killed as hung when it passes: a caller in a hurry
// does not get a healthy process killed.
const minHangRoom = time.Second

// maxRetired bounds how often one call follows the region's plug-in to a
// new process after the one it held was replaced.
const maxRetired = 3

// call runs fn against the plug-in with the call's deadline, for the
// region. A process that dies under the call is replaced and fn run
// again, so fn must be safe to repeat (a batch evaluation is: it decides
// and records nothing). The call's deadline is CallTimeout or the
// caller's, whichever comes first: a plug-in that has not answered by it
// is killed as hung, as the plug-in was told the deadline and a spinning
// one would otherwise go on for ever once its caller stopped waiting. A
// caller that cancels (rather than runs out of time) kills nothing.
func (p *proc) call(ctx context.Context, method string, fn func(ctx context.Context, raw any) error) error {
	fail := func(p *proc, err error, hung bool) error {
		return &CallError{Plugin: p.entry.Name, Region: p.region, Method: method, Hung: hung, Err: err}
	}
	var last error
	for attempt, retired := 0, 0; attempt < p.h.opts.MaxAttempts; attempt++ {
		raw, client, err := p.dispense(ctx)
		switch {
		case errors.Is(err, errRetired) && retired < maxRetired:
			np, rerr := p.h.enabled(tenancy.WithTenant(ctx, p.tenant), p.entry.Name, p.entry.Version, p.entry.Kind)
			if rerr != nil {
				return fail(p, rerr, false)
			}
			p, retired, attempt = np, retired+1, attempt-1
			continue
		case err != nil && ctx.Err() != nil:
			p.h.m.call(p, method, "cancelled", 0)
			return fail(p, err, false)
		case errors.Is(err, ErrRefused):
			p.h.m.call(p, method, "refused", 0)
			return fail(p, err, false)
		case err != nil:
			p.h.m.call(p, method, "start", 0)
			last = err
			continue
		}
		budget := p.h.opts.CallTimeout
		if d, ok := ctx.Deadline(); ok {
			budget = min(budget, time.Until(d))
		}
		cctx, cancel := context.WithTimeout(sdk.WithTenant(ctx, p.region), p.h.opts.CallTimeout)
		start := time.Now()
		err = fn(cctx, raw)
		// The host's own deadline always counts; a caller's, when it left
		// the plug-in time enough to answer.
		hung := errors.Is(cctx.Err(), context.DeadlineExceeded) &&
			(ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) && budget >= minHangRoom)
		cancel()
		elapsed := time.Since(start)
		switch {
		case err == nil:
			p.h.m.call(p, method, "ok", elapsed)
			p.succeeded()
			return nil
		case hung:
			p.h.m.call(p, method, "hang", elapsed)
			detail := fmt.Sprintf("%s did not answer within %s; killed", method, budget.Round(time.Millisecond))
			p.kill(client, "hang", detail)
			return fail(p, errors.New(detail), true)
		case ctx.Err() != nil:
			p.h.m.call(p, method, "cancelled", elapsed)
			return ctx.Err()
		case crashed(err, client):
			p.h.m.call(p, method, "crash", elapsed)
			p.kill(client, "crash", fmt.Sprintf("%s: the process died: %v", method, err))
			last = err
			continue
		default:
			p.h.m.call(p, method, "error", elapsed)
			return fail(p, err, false)
		}
	}
	return fail(p, fmt.Errorf("failed on %d processes: %w", p.h.opts.MaxAttempts, last), false)
}

// crashed tells a dead process from an error the plug-in answered with.
func crashed(err error, c *plugin.Client) bool {
	var e *sdk.Error
	if errors.As(err, &e) {
		return false
	}
	if c.Exited() {
		return true
	}
	code := status.Code(err)
	return code == codes.Unavailable || code == codes.Canceled
}

// Register adds a binary in the plug-in directory to the catalog after
// checking it as a start would: where it is, who may write it, and that
// its SHA-256 is the one given (a typo in the checksum is caught now, not
// at a region's first evaluation).
func (h *Host) Register(ctx context.Context, n NewEntry) (Entry, error) {
	if err := n.validate(); err != nil {
		return Entry{}, err
	}
	path, err := h.binary(Entry{File: n.File})
	if err != nil {
		v := &fault.Invalid{}
		v.Add("file", err.Error(), n.File)
		return Entry{}, v.Err()
	}
	sum, err := FileSHA256(path)
	if err != nil {
		return Entry{}, err
	}
	if sum != n.SHA256 {
		v := &fault.Invalid{}
		v.Add("sha256", fmt.Sprintf("%s has SHA-256 %s", n.File, sum), n.SHA256)
		return Entry{}, v.Err()
	}
	return h.catalog.Register(ctx, n)
}

// FileSHA256 is a file's SHA-256 in lower-case hexadecimal.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

// Catalog is the host's catalog.
func (h *Host) Catalog() *Catalog { return h.catalog }
