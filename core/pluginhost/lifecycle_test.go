//go:build unix

package pluginhost_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
)

// A process that does not answer its ping (here stopped with SIGSTOP) is
// killed once the ping's deadline passes; it holds up neither the other
// processes' checks nor the host's Close.
func TestStoppedPluginFailsItsPing(t *testing.T) {
	opts := fast()
	opts.CheckEvery = 200 * time.Millisecond
	f := newFixture(t, store.SQLite, opts)
	stopped := f.enable(t, "66", "contract", map[string]any{})
	other := f.enable(t, "16", "contract", map[string]any{})
	for _, ev := range []measure.Evaluator{stopped, other} {
		if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
			t.Fatal(err)
		}
	}
	pid := 0
	for _, p := range f.host.Processes() {
		if p.Region == "66" {
			pid = p.PID
		}
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the stopped process killed, and recorded", func() bool { return !processAlive(pid) && incidents(t, f, "health") == 1 })
	for _, p := range f.host.Processes() {
		if p.Region == "16" && (!p.Running || p.Restarts != 0) {
			t.Errorf("region 16's process meanwhile: %+v", p)
		}
	}
	closed := make(chan struct{})
	go func() { f.host.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

// A caller's deadline shorter than the host's is the call's: a plug-in
// that has not answered by it is killed as hung, not left running once
// its caller stopped waiting. A caller that cancels kills nothing.
func TestCallersDeadlineKillsAHang(t *testing.T) {
	f := newFixture(t, store.SQLite, fast()) // CallTimeout 20 s
	ev := f.enable(t, "66", "contract", map[string]any{"hang": true})
	if _, err := f.host.Describe(f.ctx("66"), "contract"); err != nil { // started, and answering
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	if _, err := ev.Evaluate(ctx, measuretest.Cases(3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled call: %v", err)
	}
	pid := f.runningPID()
	if pid == 0 || incidents(t, f, "hang") != 0 {
		t.Fatalf("a cancelled call killed the process (pid %d running, %d hang incidents)", pid, incidents(t, f, "hang"))
	}

	ctx, cancel = context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ev.Evaluate(ctx, measuretest.Cases(3))
	var ce *pluginhost.CallError
	if !errors.As(err, &ce) || !ce.Hung {
		t.Fatalf("a call past its caller's deadline: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("it took %s", took)
	}
	within(t, 2*time.Second, "the hung process killed", func() bool { return !processAlive(pid) })
	assertIncident(t, f, "hang")
}

// An evaluator held across a change of the region's configuration, or
// across Close, never starts a process with the old configuration, nor
// one the host no longer tracks.
func TestHeldEvaluatorFollowsTheRegion(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	held := f.enable(t, "66", "contract", map[string]any{"env_file": first})
	if _, err := held.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	oldPID := f.runningPID()
	f.enable(t, "66", "contract", map[string]any{"env_file": second}) // the region's new configuration
	if err := os.Remove(first); err != nil {
		t.Fatal(err)
	}
	if _, err := held.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); err == nil {
		t.Error("a process started again with the old configuration")
	}
	env, err := os.ReadFile(second)
	if err != nil || !strings.Contains(string(env), "second") {
		t.Errorf("the held evaluator's call did not run with the new configuration: %q, %v", env, err)
	}
	within(t, 5*time.Second, "the old process gone", func() bool { return !processAlive(oldPID) })
	if n := len(f.host.Processes()); n != 1 {
		t.Errorf("%d processes tracked, want 1", n)
	}

	running := f.runningPID()
	f.host.Close()
	if _, err := held.Evaluate(context.Background(), measuretest.Cases(1)); err == nil {
		t.Error("a call after Close succeeded")
	}
	within(t, 5*time.Second, "every process gone after Close", func() bool { return !processAlive(running) })
	for _, p := range f.host.Processes() {
		if p.Running {
			t.Errorf("a process runs after Close: %+v", p)
		}
	}
}

// A process that died between calls is counted when the next call finds
// it dead: a restart, a crash incident, a back-off.
func TestCrashBetweenCallsIsCounted(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	ev := f.enable(t, "66", "contract", map[string]any{})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	pid := f.runningPID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Dead, and seen so by the host, before the next call comes.
	within(t, 5*time.Second, "the process dead", func() bool {
		ps := f.host.Processes()
		return !processAlive(pid) && len(ps) == 1 && !ps[0].Running
	})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	if ps := f.host.Processes(); len(ps) != 1 || ps[0].Restarts != 1 || !ps[0].Running {
		t.Errorf("processes %+v, want one running after one restart", ps)
	}
	assertIncident(t, f, "crash")
}

// Waiting for a process to start (here one that never answers the
// handshake) ends with the caller's deadline, for every caller.
func TestStartWaitsEndWithTheCaller(t *testing.T) {
	opts := fast()
	opts.StartTimeout = 3 * time.Second
	f := newFixture(t, store.SQLite, opts)
	script := []byte("#!/bin/sh\nsleep 30\n")
	f.install(t, "silent", "1.0.0", script)
	ev := f.enable(t, "66", "silent", map[string]any{})
	errs := make(chan error, 2)
	start := time.Now()
	for range 2 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := ev.Evaluate(ctx, measuretest.Cases(1))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a caller waiting for the start: %v", err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the callers waited %s past their 500 ms", took)
	}

}

// A process retired while its start waits out a back-off (the region
// changed the configuration meanwhile) never starts with the old one.
func TestRetiredProcessNeverStartsAgain(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	log := filepath.Join(t.TempDir(), "starts")
	f.install(t, "failing", "1.0.0", []byte("#!/bin/sh\necho \"$TREASURY_PLUGIN_CONFIG\" >> "+log+"\nexit 1\n"))
	ev := f.enable(t, "66", "failing", map[string]any{"generation": "old"})
	for range 2 { // six failed starts: the next waits 3.2 s
		if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err == nil {
			t.Fatal("a plug-in that exits at once answered")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, _ = ev.Evaluate(ctx, measuretest.Cases(1)) // leaves a start waiting out the back-off
	cancel()
	before, _ := os.ReadFile(log)
	f.enable(t, "66", "failing", map[string]any{"generation": "new"})
	time.Sleep(4 * time.Second)
	after, _ := os.ReadFile(log)
	if added := strings.TrimPrefix(string(after), string(before)); strings.Contains(added, "old") {
		t.Errorf("started with the old configuration after it was replaced: %q", added)
	}
}

// One call starts at most MaxAttempts processes, even of a plug-in that
// answers the handshake and exits at once.
func TestOneCallStartsAtMostMaxAttempts(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	log := filepath.Join(t.TempDir(), "starts")
	f.install(t, "flaky", "1.0.0", []byte("#!/bin/sh\necho x >> "+log+"\necho '1|1|tcp|127.0.0.1:1|grpc'\nexit 0\n"))
	ev := f.enable(t, "66", "flaky", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := ev.Evaluate(ctx, measuretest.Cases(1)); err == nil {
		t.Fatal("a plug-in that exits at once answered")
	}
	b, _ := os.ReadFile(log)
	if n := strings.Count(string(b), "x"); n < 1 || n > 3 {
		t.Errorf("%d processes started for one call; MaxAttempts is 3", n)
	}
}

// A plug-in's child that left its process group, holding the plug-in's
// output open, holds up neither Close nor anyone asking for the
// processes: go-plugin's Kill, which waits for that output, runs with no
// lock held and is not waited for past a second.
func TestStrayChildHoldsNothingUp(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	tmp := t.TempDir()
	real := filepath.Join(tmp, "testplugin")
	if err := os.WriteFile(real, testPlugin(t), 0o755); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(tmp, "pid")
	f.install(t, "escaper", "1.0.0", []byte("#!/bin/sh\nsetsid sh -c 'echo $$ > "+pidFile+"; exec sleep 60' &\nexec "+real+"\n"))
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	ev := f.enable(t, "66", "escaper", map[string]any{})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { f.host.Close(); close(closed) }()
	listed := make(chan struct{})
	go func() { f.host.Processes(); close(listed) }()
	for what, ch := range map[string]chan struct{}{"Close": closed, "Processes": listed} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Errorf("%s blocked", what)
		}
	}
}
