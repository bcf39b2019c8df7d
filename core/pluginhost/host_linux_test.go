package pluginhost_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/measure/measuretest"
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
