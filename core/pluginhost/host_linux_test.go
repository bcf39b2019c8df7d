package pluginhost_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
)

// Every thread of a running plug-in has the lower CPU priority (Linux keeps
// one for each thread), and the process has the address-space limit.
func TestPluginLimits(t *testing.T) {
	opts := fast()
	opts.MemoryBytes = 3 << 30 // a Go program maps more than 1 GiB of address space at once
	f := newFixture(t, store.SQLite, opts)
	statFile := filepath.Join(t.TempDir(), "stat")
	ev := f.enable(t, "66", "contract", map[string]any{"stat_file": statFile})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(100)); err != nil {
		t.Fatal(err)
	}
	// From its first instruction, before the handshake: the priority came
	// with the fork, not after.
	stat, err := os.ReadFile(statFile)
	if err != nil {
		t.Fatal(err)
	}
	if nice := niceOf(string(stat)); nice != "5" {
		t.Fatalf("the plug-in started at nice %q, not 5", nice)
	}
	pid := f.runningPID()
	if pid == 0 {
		t.Fatal("no plug-in process is running")
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	limits, err := os.ReadFile(filepath.Join(dir, "limits"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(strings.Fields(string(limits)), " "), "Max address space 3221225472 3221225472 bytes") {
		t.Fatalf("the plug-in's address space is not limited to 3 GiB:\n%s", limits)
	}
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) < 2 {
		t.Fatalf("the plug-in has %d threads; a Go program has more", len(tasks))
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join(dir, "task", task.Name(), "stat"))
		if err != nil {
			continue // the thread has ended
		}
		if nice := niceOf(string(stat)); nice != "5" {
			t.Fatalf("thread %s of the plug-in runs at nice %q, not 5", task.Name(), nice)
		}
	}
}

// niceOf is the nice value in a /proc stat line.
func niceOf(stat string) string {
	if fields := statFields(stat); len(fields) >= 17 {
		return fields[16]
	}
	return "?"
}

// A plug-in runs as the host's user, yet cannot read the host's
// environment (its database URL) through /proc once the host runs. The
// host is this test binary run again, by a user without privileges (as
// root every /proc file is readable, whatever the host does), and the
// plug-in is that host's child of the same user. Without the host, the same
// child reads the URL: the probe can see what it looks for.
func TestHostHiddenFromPlugins(t *testing.T) {
	bin := unprivilegedCopy(t)
	for _, c := range []struct{ mode, want string }{{"bare", "read the secret"}, {"host", "refused"}} {
		cmd := exec.Command(bin, "-test.run=^TestHiddenHostChild$", "-test.v")
		cmd.Dir = filepath.Dir(bin)
		cmd.Env = append(os.Environ(), "PLUGINHOST_HIDDEN="+c.mode, "TREASURY_DATABASE_URL=postgres://app:s3cret@db/treasury")
		if os.Getuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", c.mode, err, out)
		}
		got := regexp.MustCompile(`(?m)^reader: (.*)$`).FindStringSubmatch(string(out))
		if got == nil || !strings.HasPrefix(got[1], c.want) {
			t.Fatalf("%s: the child of the same user: %q, want %q\n%s", c.mode, got, c.want, out)
		}
	}
}

// Each plug-in process is non-dumpable too (the SDK makes it so before it
// serves): one region's plug-in, running as the same user as another's,
// cannot read the other's configuration or cases through /proc.
func TestPluginsHiddenFromEachOther(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	file := filepath.Join(t.TempDir(), "dumpable")
	ev := f.enable(t, "66", "contract", map[string]any{"dumpable_file": file})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "0" {
		t.Fatalf("the plug-in process is dumpable: PR_GET_DUMPABLE says %q", b)
	}
}

// TestHiddenHostChild is TestHostHiddenFromPlugins's host ("host": a
// pluginhost.Host runs; "bare": none) and plug-in ("reader").
func TestHiddenHostChild(t *testing.T) {
	switch mode := os.Getenv("PLUGINHOST_HIDDEN"); mode {
	case "":
		t.Skip("run by TestHostHiddenFromPlugins")
	case "reader":
		b, err := os.ReadFile(os.Getenv("PLUGINHOST_READ"))
		switch {
		case err != nil:
			fmt.Println("reader: refused:", err)
		case strings.Contains(string(b), "s3cret"):
			fmt.Println("reader: read the secret")
		default:
			fmt.Println("reader: read, without the secret")
		}
	default:
		if mode == "host" {
			dir, err := os.MkdirTemp("", "plugins")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			h, err := pluginhost.New(nil, nil, pluginhost.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
		}
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(self, "-test.run=^TestHiddenHostChild$", "-test.v")
		cmd.Env = []string{"PLUGINHOST_HIDDEN=reader", fmt.Sprintf("PLUGINHOST_READ=/proc/%d/environ", os.Getpid())}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		os.Stdout.Write(out)
	}
}

// unprivilegedCopy is this test binary where a user without privileges may
// run it.
func unprivilegedCopy(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "hidden")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "pluginhost.test")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// A plug-in runs from a sealed copy of the bytes whose checksum was
// checked, not from its path: a binary renamed over it or written into
// it after the check (by another region's plug-in, which runs as the
// same user and can write the directory) is not what runs.
func TestStartsFromTheBytesChecked(t *testing.T) {
	f := newFixture(t, store.SQLite, fast())
	ev := f.enable(t, "66", "contract", map[string]any{})
	if _, err := ev.Evaluate(context.Background(), measuretest.Cases(1)); err != nil {
		t.Fatal(err)
	}
	pid := f.runningPID()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, "/memfd:contract-1.0.0") {
		t.Errorf("the plug-in runs from %q, not from a memory file", exe)
	}
	got, err := os.ReadFile(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := testPlugin(t); !bytes.Equal(got, want) {
		t.Errorf("the plug-in runs %d bytes that are not its binary's %d", len(got), len(want))
	}
	// The copy is sealed: not even its owner can write it.
	fd, err := syscall.Open(fmt.Sprintf("/proc/%d/exe", pid), syscall.O_WRONLY, 0)
	if err == nil {
		syscall.Close(fd)
		t.Error("the running copy could be opened for writing")
	}
}
