package pluginhost_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/store"
)

// BenchmarkEvaluate is a call through the host to a running plug-in
// process, with the host's default limits: one case, and a batch of 1,000.
// Besides the time a call takes, it reports the CPU time each side spent
// on it (Linux): the two processes run at once, so a call's time is not
// their sum.
func BenchmarkEvaluate(b *testing.B) {
	opts, d := fast(), pluginhost.DefaultOptions("")
	opts.CPUs, opts.GCPercent, opts.MemoryBytes = d.CPUs, d.GCPercent, d.MemoryBytes
	f := newFixture(b, store.SQLite, opts)
	ev := f.enable(b, "66", "contract", map[string]any{})
	decider := ev.(interface {
		Decide(context.Context, []measure.Case) ([]measure.Outcome, error)
	})
	for _, n := range []int{1, 1000} {
		cases := measuretest.Cases(n)
		if _, err := ev.Evaluate(context.Background(), cases); err != nil {
			b.Fatal(err)
		}
		pid := f.runningPID()
		for _, kind := range []struct {
			name string
			call func(context.Context, []measure.Case) ([]measure.Outcome, error)
		}{
			{"", ev.Evaluate},
			// As a simulation calls: without explanations.
			{"decide-", decider.Decide},
		} {
			b.Run(kind.name+map[int]string{1: "one", 1000: "batch1000"}[n], func(b *testing.B) {
				host, plugin := cpuTime(os.Getpid()), cpuTime(pid)
				for b.Loop() {
					if _, err := kind.call(context.Background(), cases); err != nil {
						b.Fatal(err)
					}
				}
				if host > 0 && plugin > 0 {
					b.ReportMetric(float64(cpuTime(os.Getpid())-host)/float64(b.N), "host-cpu-ns/op")
					b.ReportMetric(float64(cpuTime(pid)-plugin)/float64(b.N), "plugin-cpu-ns/op")
				}
			})
		}
	}
}

// cpuTime is a process's user and system time so far, from /proc; 0 where
// there is none.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	fields := statFields(string(b))
	if len(fields) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// statFields are the fields of a /proc stat line after the command's name
// (in parentheses, which may hold spaces): the state is the first, utime
// and stime the 12th and 13th, nice the 17th.
func statFields(stat string) []string {
	return strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
}

// clockTicks is the kernel's USER_HZ, 100 on every Linux Go runs on.
const clockTicks = 100
