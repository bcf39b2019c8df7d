package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

// registryCases are 1,000 cases as a registry gives them: most persons
// eligible for nothing, each for a reason of their own (an age, an
// income).
func registryCases() []measure.Case {
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	out := make([]measure.Case, 1000)
	for i := range out {
		age := int64(i % 90)
		c := measure.Case{ID: fmt.Sprintf("019a0000-0000-7000-8000-%012d", i), Date: d,
			Person: measure.Subject{Age: age, Resident: i%10 != 0, OKTMO: "65701000", Categories: []string{}},
			Household: measure.Household{Size: 2, PerCapitaKopecks: int64(1_000_000 + i*7_919), Members: []measure.Member{
				{Relation: "self", Age: age}, {Relation: "child", Age: int64(i % 7)}}},
			Minimum: measure.Minimums{PerCapita: 1_893_900, Children: 1_837_100}}
		if i%3 == 0 {
			c.Person.Categories = []string{"low_income"}
		}
		out[i] = c
	}
	return out
}

// BenchmarkEvaluate is the measure's own cost for 1,000 cases, the same
// over the protocol in this process (both sides' encoding), and through
// the built binary as the platform runs it (a second process, mutual TLS).
func BenchmarkEvaluate(b *testing.B) {
	cases := registryCases()
	ctx := context.Background()
	for _, explain := range []bool{true, false} {
		b.Run(fmt.Sprint("measure/explain=", explain), func(b *testing.B) {
			ctx := measure.WithExplanations(ctx, explain)
			for b.Loop() {
				if _, err := (lowIncomeChild{}).Evaluate(ctx, cases); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	client := sdktest.Measure(b, lowIncomeChild{})
	ctx = sdktest.Context(b, "66")
	b.Run("protocol/explain=true", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Evaluate(ctx, cases); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protocol/explain=false", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Decide(ctx, cases); err != nil {
				b.Fatal(err)
			}
		}
	})
	process := sdktest.Start(b, sdktest.Build(b, "."), "measure").(*grpcplugin.MeasureClient)
	for _, explain := range []bool{true, false} {
		call := process.Evaluate
		if !explain {
			call = process.Decide
		}
		b.Run(fmt.Sprint("process/explain=", explain), func(b *testing.B) {
			if _, err := call(ctx, cases); err != nil {
				b.Fatal(err)
			}
			self, child := cpuTimes()
			for b.Loop() {
				if _, err := call(ctx, cases); err != nil {
					b.Fatal(err)
				}
			}
			if self2, child2 := cpuTimes(); self > 0 {
				b.ReportMetric(float64(self2-self)/float64(b.N), "host-cpu-ns/op")
				b.ReportMetric(float64(child2-child)/float64(b.N), "plugin-cpu-ns/op")
			}
		})
	}
}

// cpuTimes are the CPU time this process and its running children have
// spent (Linux; 0 elsewhere): a call's time is not the two sides' sum,
// as they work at once.
func cpuTimes() (self, children time.Duration) {
	self = procCPU("self")
	entries, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || e.Name() == me {
			continue
		}
		if f := statFields(string(stat)); len(f) > 1 && f[1] == me {
			children += procCPU(e.Name())
		}
	}
	return self, children
}

func procCPU(pid string) time.Duration {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	f := statFields(string(stat))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// statFields are a /proc stat line's fields after the command's name (in
// parentheses, which may hold spaces): the state first, the parent's pid
// second, utime and stime the 12th and 13th.
func statFields(stat string) []string {
	return strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
}
