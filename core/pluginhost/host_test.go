package pluginhost_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/internal/plugintest"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
	"github.com/socialtreasury/treasury/sdk"
)

// testPlugin is the test plug-in's binary.
func testPlugin(t testing.TB) []byte { return plugintest.Binary(t) }

type fixture struct {
	env     *storetest.Env
	catalog *pluginhost.Catalog
	host    *pluginhost.Host
	dir     string
	regions map[string]tenancy.Tenant
	ts      *tenancy.Service
}

// newFixture is a host over a plug-in directory holding the test plug-in
// as "contract-1.0.0", registered, and regions 66 and 16.
func newFixture(t testing.TB, d store.Dialect, opts pluginhost.Options) *fixture {
	t.Helper()
	f := &fixture{env: storetest.New(t, d), dir: t.TempDir(), regions: map[string]tenancy.Tenant{}}
	if err := os.Chmod(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f.ts = tenancy.NewService(f.env.App.Gorm)
	for _, nt := range []tenancy.NewTenant{
		{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000"},
		{Code: "16", Name: "Республика Татарстан", OKATO: "92", OKTMO: "92000000"},
	} {
		tn, err := f.ts.Create(context.Background(), nt)
		if err != nil {
			t.Fatal(err)
		}
		f.regions[nt.Code] = tn
	}
	f.catalog = pluginhost.NewCatalog(f.env.App.Gorm)
	f.install(t, "contract", "1.0.0", testPlugin(t))
	opts.Dir = f.dir
	h, err := pluginhost.New(f.catalog, f.ts, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	f.host = h
	return f
}

// runningPID is the process id of a running plug-in process; 0: none runs.
func (f *fixture) runningPID() int {
	for _, p := range f.host.Processes() {
		if p.Running {
			return p.PID
		}
	}
	return 0
}

// install writes a binary into the plug-in directory and registers it.
func (f *fixture) install(t testing.TB, name, version string, bin []byte) pluginhost.Entry {
	t.Helper()
	file := name + "-" + version
	if err := os.WriteFile(filepath.Join(f.dir, file), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	e, err := f.catalog.Register(context.Background(), pluginhost.NewEntry{Name: name, Version: version, Kind: "measure",
		SHA256: hex.EncodeToString(sum[:]), File: file})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) ctx(region string) context.Context {
	return tenancy.WithTenant(context.Background(), f.regions[region].ID)
}

// enable enables a plug-in in a region with a configuration and returns
// its evaluator.
func (f *fixture) enable(t testing.TB, region, name string, config any) measure.Evaluator {
	t.Helper()
	b, _ := json.Marshal(config)
	if _, err := f.catalog.Enable(f.ctx(region), f.regions[region], name, "1.0.0", b); err != nil {
		t.Fatal(err)
	}
	ev, err := f.host.Measure(f.ctx(region), name, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func fast() pluginhost.Options {
	return pluginhost.Options{CallTimeout: 20 * time.Second, StartTimeout: 20 * time.Second}
}

// The batch interface's contract holds for the same logic as a plug-in as
// it does for the CEL version (core/measure's TestContract).
func TestContractOverPlugin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env.Owner.Dialect, fast())
		measuretest.Contract(t, f.enable(t, "66", "contract", map[string]any{}))
	})
}

// A region cannot use a plug-in it has not enabled, nor another region's
// configuration; a catalog entry limited to some regions refuses others.
func TestEnablementIsPerRegion(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	f.enable(t, "66", "contract", map[string]any{})
	if _, err := f.host.Measure(f.ctx("16"), "contract", "1.0.0"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("region 16 uses 66's plug-in: %v", err)
	}
	if _, err := f.host.Measure(context.Background(), "contract", "1.0.0"); !errors.Is(err, tenancy.ErrNoTenant) {
		t.Fatalf("no region: %v", err)
	}
	bin := testPlugin(t)
	sum := sha256.Sum256(bin)
	if err := os.WriteFile(filepath.Join(f.dir, "only66"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.catalog.Register(context.Background(), pluginhost.NewEntry{Name: "only66", Version: "1.0.0", Kind: "measure",
		SHA256: hex.EncodeToString(sum[:]), File: "only66", Regions: []string{"66"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.catalog.Enable(f.ctx("16"), f.regions["16"], "only66", "1.0.0", nil); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("region 16 enabled a plug-in registered for 66 only: %v", err)
	}
	if _, err := f.catalog.Register(context.Background(), pluginhost.NewEntry{Name: "only66", Version: "1.0.0", Kind: "measure",
		SHA256: hex.EncodeToString(sum[:]), File: "only66"}); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a version registered twice: %v", err)
	}
	_, err := f.catalog.Register(context.Background(), pluginhost.NewEntry{Name: "Bad Name", Version: "one", Kind: "widget", SHA256: "x", File: "../x"})
	var inv *fault.Invalid
	if !errors.As(err, &inv) || !inv.Has("name") || !inv.Has("version") || !inv.Has("kind") || !inv.Has("sha256") || !inv.Has("file") {
		t.Fatalf("a bad entry: %v", err)
	}
}

// A plug-in killed in the middle of a batch: the batch completes on a
// restarted process, every case with exactly one outcome.
func TestCrashMidBatch(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	ev := f.enable(t, "66", "contract", map[string]any{"crash_once": t.TempDir()})
	cases := measuretest.Cases(5000)
	out, err := ev.Evaluate(context.Background(), cases)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(cases) {
		t.Fatalf("%d outcomes for %d cases", len(out), len(cases))
	}
	for i, o := range out {
		want := measuretest.Expected(cases[i])
		if o.CaseID != want.CaseID || o.Eligible != want.Eligible || o.AmountKopecks != want.AmountKopecks {
			t.Fatalf("case %d: %+v, want %+v", i, o, want)
		}
	}
	ps := f.host.Processes()
	if len(ps) != 1 || ps[0].Restarts != 1 || !ps[0].Running {
		t.Fatalf("processes %+v, want one running after one restart", ps)
	}
	assertIncident(t, f, "crash")
}

func assertIncident(t *testing.T, f *fixture, kind string) {
	t.Helper()
	is, err := f.catalog.Incidents(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range is {
		if in.Kind == kind {
			return
		}
	}
	t.Fatalf("no %s incident in %+v", kind, is)
}

// incidents counts the incidents of a kind.
func incidents(t *testing.T, f *fixture, kind string) int {
	t.Helper()
	is, err := f.catalog.Incidents(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range is {
		if in.Kind == kind {
			n++
		}
	}
	return n
}

// within polls ok until it holds, or fails the test after d.
func within(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
	}
}

// A plug-in that hangs is killed at its deadline (plus at most 3 s) with
// a visible error; meanwhile another region's plug-in answers as ever.
func TestHangKilledAtDeadline(t *testing.T) {
	opts := fast()
	opts.CallTimeout = time.Second
	f := newFixture(t, store.SQLite, opts)
	hung := f.enable(t, "66", "contract", map[string]any{"hang": true})
	other := f.enable(t, "16", "contract", map[string]any{})
	if _, err := other.Evaluate(context.Background(), measuretest.Cases(10)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var otherErr error
	var otherCalls int
	go func() {
		defer close(done)
		for start := time.Now(); time.Since(start) < 1500*time.Millisecond; otherCalls++ {
			if _, err := other.Evaluate(context.Background(), measuretest.Cases(100)); err != nil {
				otherErr = err
				return
			}
		}
	}()
	start := time.Now()
	_, err := hung.Evaluate(context.Background(), measuretest.Cases(10))
	took := time.Since(start)
	<-done
	var ce *pluginhost.CallError
	if !errors.As(err, &ce) || !ce.Hung || !strings.Contains(err.Error(), "did not answer within 1s; killed") {
		t.Fatalf("a hung plug-in: %v", err)
	}
	if took > opts.CallTimeout+3*time.Second {
		t.Fatalf("the hung call took %s, past its deadline %s plus 3 s", took, opts.CallTimeout)
	}
	if otherErr != nil || otherCalls == 0 {
		t.Fatalf("region 16 meanwhile: %d calls, %v", otherCalls, otherErr)
	}
	for _, p := range f.host.Processes() {
		if p.Region == "66" && (p.Running || processAlive(p.PID)) {
			t.Fatalf("the hung plug-in still runs: %+v", p)
		}
	}
	assertIncident(t, f, "hang")
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	// A killed child not yet reaped is a zombie: not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// Answers against the protocol are clear errors, not outcomes on the
// wrong persons, and not retried.
func TestGarbageAnswers(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	// One outcome too few and outcomes of other cases are caught by the
	// SDK in the plug-in's process (the host checks the ids of a plug-in
	// that sends them: sdk/grpcplugin's TestOutcomesOfOtherCasesRefused).
	for region, garbage := range map[string]string{"66": "count", "16": "ids"} {
		ev := f.enable(t, region, "contract", map[string]any{"garbage": garbage})
		_, err := ev.Evaluate(context.Background(), measuretest.Cases(10))
		var se *sdk.Error
		want := map[string]string{"count": "9 outcomes for 10 cases", "ids": `the measure gave outcome 0 for case "someone else", not "case-0"`}[garbage]
		if !errors.As(err, &se) || se.Upstream || !strings.Contains(err.Error(), want) {
			t.Fatalf("garbage %q: %v", garbage, err)
		}
	}
	ev := f.enable(t, "66", "contract", map[string]any{"garbage": "amount"})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(10)); err == nil || !strings.Contains(err.Error(), "amount -1 kopecks") {
		t.Fatalf("a negative amount: %v", err)
	}
	ev = f.enable(t, "16", "contract", map[string]any{"upstream": true})
	_, err := ev.Evaluate(context.Background(), measuretest.Cases(3))
	if !sdk.IsUpstream(err) || !strings.Contains(err.Error(), "the regional register is down") {
		t.Fatalf("an upstream failure: %v", err)
	}
	for _, p := range f.host.Processes() {
		if p.Restarts != 0 {
			t.Fatalf("an answer was retried on a new process: %+v", p)
		}
	}
}

// A binary with one byte changed is refused before it runs, and the
// refusal is recorded; so are a symbolic link and a group-writable file.
func TestTamperedBinaryRefused(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	bin := append([]byte(nil), testPlugin(t)...)
	f.install(t, "tampered", "1.0.0", bin)
	bin[len(bin)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(f.dir, "tampered-1.0.0"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	ev := f.enable(t, "66", "tampered", map[string]any{})
	for range 5 {
		_, err := ev.Evaluate(context.Background(), measuretest.Cases(3))
		if !errors.Is(err, pluginhost.ErrRefused) || !strings.Contains(err.Error(), "does not match its catalog SHA-256") {
			t.Fatalf("a tampered binary: %v", err)
		}
	}
	// Recorded once, not once a call.
	if n := incidents(t, f, "checksum"); n != 1 {
		t.Errorf("%d checksum incidents for five refused calls, want 1", n)
	}

	link := f.install(t, "linked", "1.0.0", testPlugin(t))
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(filepath.Join(f.dir, link.File), target); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(f.dir, link.File)); err != nil {
		t.Fatal(err)
	}
	ev = f.enable(t, "66", "linked", map[string]any{})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(3)); !errors.Is(err, pluginhost.ErrRefused) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("a symbolic link: %v", err)
	}
	writable := f.install(t, "writable", "1.0.0", testPlugin(t))
	if err := os.Chmod(filepath.Join(f.dir, writable.File), 0o775); err != nil {
		t.Fatal(err)
	}
	ev = f.enable(t, "66", "writable", map[string]any{})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(3)); !errors.Is(err, pluginhost.ErrRefused) || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("a group-writable binary: %v", err)
	}
	assertIncident(t, f, "refused")
}

// A plug-in sees its region's configuration, its CPU limit and none of
// the host's environment: no database URL, no key.
func TestPluginEnvironment(t *testing.T) {
	t.Setenv("TREASURY_DATABASE_URL", "postgres://app:secret@db/treasury")
	t.Setenv("TREASURY_ENCRYPTION_KEY_FILE", "/run/secrets/master.key")
	opts := fast()
	opts.CPUs, opts.GCPercent, opts.MemoryBytes = 1, 400, 3<<30
	f := newFixture(t, store.SQLite, opts)
	envFile := filepath.Join(t.TempDir(), "env")
	ev := f.enable(t, "66", "contract", map[string]any{"env_file": envFile})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(b)
	if !strings.Contains(env, sdk.ConfigEnv+"=") {
		t.Fatalf("the plug-in's configuration is missing from its environment:\n%s", env)
	}
	for _, want := range []string{"GOMAXPROCS=1", "GOGC=400", "GOMEMLIMIT=1073741824"} {
		if !slices.Contains(strings.Split(env, "\n"), want) {
			t.Fatalf("the plug-in's runtime setting %s is missing from its environment:\n%s", want, env)
		}
	}
	for _, line := range strings.Split(env, "\n") {
		name, _, _ := strings.Cut(line, "=")
		if strings.HasPrefix(name, "TREASURY_") && name != sdk.ConfigEnv || strings.Contains(line, "secret") || name == "PATH" || name == "HOME" {
			t.Fatalf("the plug-in sees %q of the host's environment:\n%s", line, env)
		}
	}
}

// The host killed with SIGKILL while ten plug-ins run leaves no plug-in
// process 5 s later. The host is this test binary run again as a child
// (TestHostChild) on its own SQLite database.
func TestHostKilledLeavesNoPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a host process and ten plug-ins")
	}
	testPlugin(t)
	pids := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostChild$", "-test.v")
	cmd.Env = append(os.Environ(), "PLUGINHOST_CHILD_PIDS="+pids)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.Contains(s.Text(), "ten plug-ins running") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatal("the host child ended before its plug-ins ran")
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the host child did not start ten plug-ins")
	}
	b, err := os.ReadFile(pids)
	if err != nil {
		t.Fatal(err)
	}
	var running []int
	for _, f := range strings.Fields(string(b)) {
		pid, _ := strconv.Atoi(f)
		running = append(running, pid)
	}
	if len(running) != 10 {
		t.Fatalf("pids %v", running)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive []int
		for _, pid := range running {
			if processAlive(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plug-ins %v outlived their host by 5 s", alive)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHostChild is the host TestHostKilledLeavesNoPlugins kills.
func TestHostChild(t *testing.T) {
	pids := os.Getenv("PLUGINHOST_CHILD_PIDS")
	if pids == "" {
		t.Skip("run by TestHostKilledLeavesNoPlugins")
	}
	f := newFixture(t, store.SQLite, fast())
	var list []string
	for i := range 10 {
		name := fmt.Sprintf("p%d", i)
		f.install(t, name, "1.0.0", testPlugin(t))
		ev := f.enable(t, []string{"66", "16"}[i%2], name, map[string]any{})
		if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range f.host.Processes() {
		list = append(list, strconv.Itoa(p.PID))
	}
	if err := os.WriteFile(pids, []byte(strings.Join(list, " ")), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ten plug-ins running")
	select {} // until killed
}

// A measure version may name a plug-in instead of rules: it is saved only
// when the region has that plug-in enabled, and it is evaluated by the
// plug-in through the same interface as rules.
func TestMeasureVersionNamesAPlugin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		f := newFixture(t, env.Owner.Dialect, fast())
		ms := measure.NewService(f.env.App.Gorm, nil)
		ms.UsePlugins(f.host)
		v := measuretest.Spec()
		v.Conditions, v.Amount, v.Period = nil, "", measure.Period{}
		v.Plugin = &measure.PluginRef{Name: "contract", Version: "1.0.0"}
		_, err := ms.PutDraft(f.ctx("66"), "contract", v)
		var inv *fault.Invalid
		if !errors.As(err, &inv) || !inv.Has("plugin") {
			t.Fatalf("a version naming a plug-in the region has not enabled: %v", err)
		}
		f.enable(t, "66", "contract", map[string]any{})
		withRules := v
		withRules.Amount = "1"
		if _, err := ms.PutDraft(f.ctx("66"), "contract", withRules); !errors.As(err, &inv) || !inv.Has("plugin") {
			t.Fatalf("a plug-in's version with rules: %v", err)
		}
		st, err := ms.PutDraft(f.ctx("66"), "contract", v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ms.Publish(f.ctx("66"), "contract", st.Number); err != nil {
			t.Fatal(err)
		}
		if _, err := ms.Program(st); err == nil {
			t.Fatal("a plug-in's version compiled as rules")
		}
		ev, err := ms.Evaluator(f.ctx("66"), st)
		if err != nil {
			t.Fatal(err)
		}
		cases := measuretest.Cases(50)
		out, err := ev.Evaluate(f.ctx("66"), cases)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range out {
			if w := measuretest.Expected(cases[i]); o.Eligible != w.Eligible || o.AmountKopecks != w.AmountKopecks {
				t.Fatalf("case %d: %+v, want %+v", i, o, w)
			}
		}
		// Region 16 has not enabled it: its own version cannot name it.
		if _, err := ms.PutDraft(f.ctx("16"), "contract", v); !errors.As(err, &inv) || !inv.Has("plugin") {
			t.Fatalf("region 16 named 66's plug-in: %v", err)
		}
	})
}

// A region that moves on to a newer version of a plug-in still runs the
// version its older measure versions name, so their decisions replay.
func TestOlderVersionStillRuns(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	f.enable(t, "66", "contract", map[string]any{})
	bin := testPlugin(t)
	sum := sha256.Sum256(bin)
	if err := os.WriteFile(filepath.Join(f.dir, "contract-1.1.0"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := f.catalog.Register(context.Background(), pluginhost.NewEntry{Name: "contract", Version: "1.1.0", Kind: "measure",
		SHA256: hex.EncodeToString(sum[:]), File: "contract-1.1.0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.catalog.Enable(f.ctx("66"), f.regions["66"], "contract", "1.1.0", nil); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		ev, err := f.host.Measure(f.ctx("66"), "contract", v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if _, err := ev.Evaluate(context.Background(), measuretest.Cases(3)); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
	}
	if _, err := f.host.Measure(f.ctx("66"), "contract", "2.0.0"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a version not in the catalog: %v", err)
	}
	if _, err := f.host.Measure(f.ctx("16"), "contract", "1.0.0"); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("a region that never enabled it: %v", err)
	}
}

// A plug-in without the optional application check accepts any data: the
// host reads its UNIMPLEMENTED as nothing to say, not as a failure.
func TestApplicationCheckOfAPluginWithoutIt(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	ev := f.enable(t, "66", "contract", map[string]any{})
	v, ok := ev.(measure.ApplicationValidator)
	if !ok {
		t.Fatal("a plug-in measure's evaluator does not check applications")
	}
	problems, err := v.ValidateApplication(context.Background(), map[string]string{"plan": ""})
	if err != nil || problems != nil {
		t.Fatalf("%+v, %v", problems, err)
	}
}
