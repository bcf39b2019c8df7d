package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/pluginhost"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// PluginOptions configure `treasury bench plugin`.
type PluginOptions struct {
	Common
	Persons int
	// Regions are the regions' files: the CEL measure comes from
	// 66-sverdlovsk/measures.
	Regions fs.FS
	// Source is the repository's root: the plug-ins are built from
	// plugins/lowincomechild and core/internal/testplugin (Go toolchain).
	Source string
	// Calls is how many single-case calls are timed (a quarter as many
	// 1,000-case batches of each kind).
	Calls int
}

// DefaultPlugin are the defaults of `treasury bench plugin`.
func DefaultPlugin() PluginOptions {
	return PluginOptions{Common: Common{Seconds: 1, Rounds: 3, Seed: 1}, Persons: 1_000_000, Source: ".", Calls: 2000}
}

// benchCallTimeout is the plug-in calls' deadline in the benchmark: the
// hung plug-in is killed at it.
const benchCallTimeout = 2 * time.Second

// Plugin measures a measure plug-in against the same logic as CEL rules:
// region 66's low-income child allowance (rules) and plugins/lowincomechild
// (the plug-in) each simulated over one registry, alternately, Rounds
// times; the eligible sets must be equal. Then single calls and 1,000-case
// batches through the host, and a region's latency while another region's
// plug-in hangs. It returns the BENCH line, which it prints last.
func Plugin(ctx context.Context, o PluginOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	if o.Persons < 1000 || o.Persons > maxImportPersons {
		return "", configErrorf("--persons: %d is outside 1000..%d", o.Persons, maxImportPersons)
	}
	if o.Calls < 100 {
		return "", configErrorf("--calls: %d is below 100", o.Calls)
	}
	if o.Regions == nil {
		return "", configErrorf("no region files to take the measure from")
	}
	if _, err := os.Stat(filepath.Join(o.Source, "plugins", "lowincomechild")); err != nil {
		return "", configErrorf("--source: %v (the repository's root, where plugins/ is)", err)
	}
	r, err := newMeansTest(ctx, "plugin", o.Common, o.Persons, o.Regions, out)
	if err != nil {
		return "", err
	}
	defer r.s.close()
	p := r.p
	p.Plugins.Close()
	opts := pluginhost.DefaultOptions(p.Plugins.Dir())
	opts.CallTimeout = benchCallTimeout
	host, err := pluginhost.New(p.Catalog, p.Tenants, opts)
	if err != nil {
		return "", err
	}
	defer host.Close()
	p.Measures.UsePlugins(host)

	// The plug-ins, built, registered and enabled as an operator would.
	for _, b := range []struct{ name, dir, pkg, kind string }{
		{"low-income-child", filepath.Join(o.Source, "plugins"), "./lowincomechild", "measure"},
		{"fault", o.Source, "./core/internal/testplugin", "measure"},
	} {
		if err := buildAndRegister(ctx, host, b.name, b.dir, b.pkg, b.kind); err != nil {
			return "", err
		}
	}
	regions := map[string]tenancy.Tenant{}
	for _, code := range []string{"01", "02", "03"} {
		if regions[code], err = p.Tenants.ByCode(ctx, code); err != nil {
			return "", err
		}
	}
	in := func(code string) context.Context { return tenancy.WithTenant(ctx, regions[code].ID) }
	for code, en := range map[string]struct{ name, config string }{
		"01": {"low-income-child", "{}"}, "02": {"low-income-child", "{}"}, "03": {"fault", `{"hang": true}`},
	} {
		if _, err := p.Catalog.Enable(in(code), regions[code], en.name, "1.0.0", []byte(en.config)); err != nil {
			return "", err
		}
	}
	const pluginCode = "low_income_child_plugin"
	v := r.m.Versions[0]
	v.Conditions, v.Amount, v.Period = nil, "", measure.Period{}
	v.Plugin = &measure.PluginRef{Name: "low-income-child", Version: "1.0.0"}
	if err := p.Measures.Install(r.rctx, &measure.Measure{Code: pluginCode, Versions: []measure.Version{v}}); err != nil {
		return "", err
	}

	// Rules and plug-in over the whole registry, alternately.
	var celTimes, pluginTimes []time.Duration
	var celSet, pluginSet []uuid.UUID
	var persons int
	for round := range o.Rounds {
		took, set, res, err := r.simulate(ctx, eligibilityMeasure, o.Log)
		if err != nil {
			return "", err
		}
		celTimes, celSet, persons = append(celTimes, took), set, res.Persons
		if took, set, _, err = r.simulate(ctx, pluginCode, o.Log); err != nil {
			return "", err
		}
		pluginTimes, pluginSet = append(pluginTimes, took), set
		printf(out, "round %d: rules %s, plug-in %s; %d and %d eligible of %d\n", round+1, celTimes[round].Round(time.Millisecond),
			took.Round(time.Millisecond), len(celSet), len(pluginSet), persons)
	}
	same := slices.Equal(celSet, pluginSet)
	if !same {
		return "", fmt.Errorf("rules and plug-in disagree: %d and %d eligible, first difference %s", len(celSet), len(pluginSet), firstDifference(celSet, pluginSet))
	}
	cel, plug := median(celTimes), median(pluginTimes)

	// Calls through the host, on cases assembled from the registry.
	cases, err := measure.Cases(r.rctx, p.Measures.Population(), uuid.Nil, 1000, eligibilityDate)
	if err != nil {
		return "", err
	}
	ev, err := host.Measure(in("02"), "low-income-child", "1.0.0")
	if err != nil {
		return "", err
	}
	stopProfile, err := o.profile(1)
	if err != nil {
		return "", err
	}
	single, err := timeCalls(ctx, ev, cases[:1], o.Calls)
	if err != nil {
		return "", err
	}
	batch, err := timeCalls(ctx, ev, cases, o.Calls/4)
	if err != nil {
		return "", err
	}
	// As a simulation calls: whether each condition held, no explanations.
	decide := decider{ev.(interface {
		Decide(context.Context, []measure.Case) ([]measure.Outcome, error)
	})}
	decideBatch, err := timeCalls(ctx, decide, cases, o.Calls/4)
	if err != nil {
		return "", err
	}
	// As if every explanation were read: each written out, figures in.
	writtenBatch, err := timeCalls(ctx, writer{ev}, cases, o.Calls/4)
	if err != nil {
		return "", err
	}
	if err := stopProfile(); err != nil {
		return "", err
	}
	printf(out, "calls: one case p50 %.0f µs p99 %.0f µs; 1,000 cases p50 %.2f ms p99 %.2f ms (explained), p50 %.2f ms p99 %.2f ms (decided only), "+
		"p50 %.2f ms p99 %.2f ms (explained, every explanation written out)\n",
		us(single.p50), us(single.p99), ms(batch.p50), ms(batch.p99), ms(decideBatch.p50), ms(decideBatch.p99), ms(writtenBatch.p50), ms(writtenBatch.p99))

	// Region 02's batches alone and while region 03's plug-in hangs (and
	// is killed at its deadline, over and over), in alternate windows so
	// that both see the same phases of the machine. The p99 of each is
	// over all its windows' calls: a window's own p99, its few slowest
	// calls, moves with whatever else the machine does more than with
	// the hang.
	hung, err := host.Measure(in("03"), "fault", "1.0.0")
	if err != nil {
		return "", err
	}
	killed := make(chan time.Duration, 1)
	var alone, during latencies
	for range isolationRounds {
		a, err := callLatencies(ctx, ev, cases, o.Calls/4, nil)
		if err != nil {
			return "", err
		}
		d, err := whileHanging(ctx, hung, ev, cases, o.Calls/4, killed)
		if err != nil {
			return "", err
		}
		alone, during = append(alone, a...), append(during, d...)
	}
	var killedAfter time.Duration
	select {
	case killedAfter = <-killed:
	default:
		return "", errors.New("the hung plug-in was not killed while region 02 was measured")
	}
	sa, sd := summarize(alone), summarize(during)
	isolation := float64(sd.p99) / float64(sa.p99)
	printf(out, "isolation: region 02's 1,000-case p99 %.2f ms alone (%d calls), %.2f ms while region 03's plug-in hangs (%d calls, %d windows each; killed after %s, deadline %s)\n",
		ms(sa.p99), sa.n, ms(sd.p99), sd.n, isolationRounds, killedAfter.Round(time.Millisecond), benchCallTimeout)

	l := line{{"name", "plugin"}, {"db", string(r.s.dialect)}, {"persons", fmt.Sprint(persons)}, {"eligible", fmt.Sprint(len(pluginSet))},
		{"rounds", fmt.Sprint(o.Rounds)}, {"cel_s", num(cel.Seconds())}, {"plugin_s", num(plug.Seconds())},
		{"ratio", num(plug.Seconds() / cel.Seconds())}, {"sets_equal", fmt.Sprint(same)},
		{"call_p50_us", num(us(single.p50))}, {"call_p99_us", num(us(single.p99))},
		{"batch1000_p50_ms", num(ms(batch.p50))}, {"batch1000_p99_ms", num(ms(batch.p99))},
		{"batch1000_decide_p50_ms", num(ms(decideBatch.p50))}, {"batch1000_written_p50_ms", num(ms(writtenBatch.p50))},
		{"hang_killed_s", num(killedAfter.Seconds())}, {"isolation_p99_ratio", num(isolation)}}
	printf(out, "%s\n", l)
	return l.String(), nil
}

// buildAndRegister builds a plug-in into the host's directory and
// registers it as name 1.0.0, for every region.
func buildAndRegister(ctx context.Context, host *pluginhost.Host, name, dir, pkg, kind string) error {
	file := name + "-1.0.0"
	bin, err := filepath.Abs(filepath.Join(host.Dir(), file))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, err, out)
	}
	sum, err := pluginhost.FileSHA256(bin)
	if err != nil {
		return err
	}
	_, err = host.Register(ctx, pluginhost.NewEntry{Name: name, Version: "1.0.0", Kind: kind, SHA256: sum, File: file})
	return err
}

// decider evaluates by deciding only (no explanations).
type decider struct {
	d interface {
		Decide(context.Context, []measure.Case) ([]measure.Outcome, error)
	}
}

func (d decider) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	return d.d.Decide(ctx, cases)
}

// writer evaluates and writes every outcome's explanations out, figures
// in, as reading them all would: what an explained batch leaves for when
// it is read.
type writer struct{ measure.Evaluator }

func (w writer) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out, err := w.Evaluator.Evaluate(ctx, cases)
	if err != nil {
		return nil, err
	}
	written := 0
	for i := range out {
		for _, c := range out[i].Conditions {
			t := c.Explanation.With(out[i].Figures)
			written += len(t.RU) + len(t.EN)
		}
	}
	if written == 0 && len(out) > 0 {
		return nil, errors.New("an explained batch without explanations")
	}
	return out, nil
}

// isolationRounds is how many windows of region 02's calls are timed
// alone and while region 03's plug-in hangs.
const isolationRounds = 8

// whileHanging times calls of ev while another goroutine calls the
// hanging plug-in again and again, each call killed at its deadline: at
// least n calls, and on until a kill has happened among them. The first
// hung call's duration goes to killed.
func whileHanging(ctx context.Context, hung, ev measure.Evaluator, cases []measure.Case, n int, killed chan<- time.Duration) (latencies, error) {
	hctx, stop := context.WithCancel(ctx)
	var kills atomic.Int64
	done := make(chan error, 1)
	go func() {
		for hctx.Err() == nil {
			t := time.Now()
			_, err := hung.Evaluate(hctx, cases[:10])
			if hctx.Err() != nil {
				break
			}
			var ce *pluginhost.CallError
			if !errors.As(err, &ce) || !ce.Hung {
				done <- fmt.Errorf("the hung plug-in's call: %v", err)
				return
			}
			kills.Add(1)
			select {
			case killed <- time.Since(t):
			default:
			}
		}
		done <- nil
	}()
	l, err := callLatencies(ctx, ev, cases, n, func() bool { return kills.Load() > 0 })
	stop()
	return l, errors.Join(err, <-done)
}

// timeCalls evaluates the cases n times, one call after another (the
// first call, which starts the process, is not counted). It collects the
// garbage of what ran before first, as go test -bench does before each
// benchmark: the simulations leave a heap of it, and its collection would
// otherwise run during the calls and be counted as theirs.
func timeCalls(ctx context.Context, ev measure.Evaluator, cases []measure.Case, n int) (summary, error) {
	l, err := callLatencies(ctx, ev, cases, n, nil)
	return summarize(l), err
}

// callLatencies is timeCalls' latencies, going on past n calls until
// done (nil: at n).
func callLatencies(ctx context.Context, ev measure.Evaluator, cases []measure.Case, n int, done func() bool) (latencies, error) {
	if _, err := ev.Evaluate(ctx, cases); err != nil {
		return nil, err
	}
	runtime.GC()
	var l latencies
	for i := 0; i < n || done != nil && !done(); i++ {
		t := time.Now()
		out, err := ev.Evaluate(ctx, cases)
		if err != nil {
			return nil, err
		}
		if len(out) != len(cases) {
			return nil, fmt.Errorf("%d outcomes for %d cases", len(out), len(cases))
		}
		l.add(time.Since(t))
	}
	return l, nil
}
