package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// probe answers each case with what the plug-in saw of the call: the
// region and whether a deadline came with it (in Error), and its batch's
// size (in AmountKopecks). A case "fail" fails the batch as the system
// behind the plug-in would; a case "hang" answers a second after the
// call's end; a case "cancel" cancels the host's call (cancel).
type probe struct {
	plain
	mu      sync.Mutex
	batches []int
	cancel  context.CancelFunc // of the host's call, for a case "cancel"
}

func (p *probe) Evaluate(ctx context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	p.mu.Lock()
	p.batches = append(p.batches, len(cs))
	p.mu.Unlock()
	region, _ := sdk.Tenant(ctx)
	_, deadline := ctx.Deadline()
	out := make([]measure.Outcome, len(cs))
	for i, c := range cs {
		switch c.ID {
		case "cancel":
			p.mu.Lock()
			cancel := p.cancel
			p.mu.Unlock()
			cancel()
		case "fail":
			return nil, sdk.Upstream(errors.New("the register is down"))
		case "hang": // past the call's end, as a plug-in stuck in a loop would
			<-ctx.Done()
			time.Sleep(time.Second)
			return nil, ctx.Err()
		}
		out[i] = measure.Outcome{CaseID: c.ID, Eligible: c.Person.Age >= 18, AmountKopecks: int64(len(cs)),
			Error: region + " " + strconv.FormatBool(deadline), Conditions: []measure.ConditionResult{
				{Name: "adult", Held: c.Person.Age >= 18, Explanation: measure.Text{RU: "возраст " + strconv.FormatInt(c.Person.Age, 10), EN: "age " + strconv.FormatInt(c.Person.Age, 10)}}}}
	}
	return out, nil
}

func probed(t *testing.T) (*MeasureClient, *probe) {
	t.Helper()
	p := &probe{}
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: &MeasurePlugin{Impl: p}})
	t.Cleanup(func() {
		server.Stop() // before the client closes: two stops race
		client.Close()
	})
	raw, err := client.Dispense(KindMeasure)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*MeasureClient), p
}

func aged(n int) []measure.Case {
	cs := make([]measure.Case, n)
	for i := range cs {
		cs[i] = measure.Case{ID: fmt.Sprint("case-", i), Person: measure.Subject{Age: int64(i % 40)}}
	}
	return cs
}

// A call whose context ends as its last answer arrives does not leave its
// stream, cancelled, to the next call.
func TestStreamEndedWithTheCallIsNotKept(t *testing.T) {
	m, p := probed(t)
	for range 50 {
		ctx, cancel := context.WithCancel(sdk.WithTenant(context.Background(), "16"))
		p.mu.Lock()
		p.cancel = cancel
		p.mu.Unlock()
		cs := aged(2)
		cs[1].ID = "cancel"
		_, _ = m.Evaluate(ctx, cs) // answered or cancelled: either may win
		if out, err := m.Evaluate(sdk.WithTenant(context.Background(), "16"), aged(3)); err != nil || len(out) != 3 {
			t.Fatalf("the call after one that ended with its answer: %+v, %v", out, err)
		}
	}
}

// Parts far larger than gRPC's default flow-control windows (those of
// sdktest) cross without either side waiting on the other.
func TestStreamLargePartsOverSmallWindows(t *testing.T) {
	m, _ := probed(t)
	cs := aged(4 * partCases)
	note := strings.Repeat("x", 2000)
	for i := range cs {
		cs[i].Application = map[string]string{"note": note}
	}
	ctx, cancel := context.WithTimeout(sdk.WithTenant(context.Background(), "16"), 30*time.Second)
	defer cancel()
	out, err := m.Evaluate(ctx, cs)
	if err != nil || len(out) != len(cs) {
		t.Fatalf("%d outcomes, %v", len(out), err)
	}
}

// EvaluateEach hands each outcome over in order, and what an outcome
// holds stays the caller's though the outcome's own memory is reused for
// the next: the kept copies are Evaluate's outcomes. An idle stream then
// holds nothing of the answers.
func TestEvaluateEachHandsOverInOrder(t *testing.T) {
	m, _ := probed(t)
	cs := aged(partCases*2 + 3)
	ctx := sdk.WithTenant(context.Background(), "16")
	var kept []measure.Outcome
	seen := map[*measure.Outcome]bool{}
	if err := m.EvaluateEach(ctx, cs, true, func(o *measure.Outcome) {
		kept = append(kept, *o)
		seen[o] = true
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) > partCases {
		t.Errorf("%d outcomes' memory for parts of %d", len(seen), partCases)
	}
	for _, s := range m.idle {
		for i, o := range s.part[:cap(s.part)] {
			if o.CaseID != "" || o.Conditions != nil {
				t.Fatalf("an idle stream holds outcome %d of the last answer: %+v", i, o)
			}
		}
	}
	want, err := m.Evaluate(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kept, want) {
		t.Fatalf("EvaluateEach kept %d outcomes unlike Evaluate's %d", len(kept), len(want))
	}
}

// A batch larger than the parts in flight crosses in parts, each answered
// in order: every case gets its own outcome, once.
func TestStreamSendsABatchInParts(t *testing.T) {
	m, p := probed(t)
	n := partCases*6 + 17
	cs := aged(n)
	ctx := sdk.WithTenant(context.Background(), "16")
	out, err := m.Evaluate(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != n {
		t.Fatalf("%d outcomes for %d cases", len(out), n)
	}
	for i, o := range out {
		if o.CaseID != cs[i].ID || o.Eligible != (cs[i].Person.Age >= 18) || o.Conditions[0].Explanation.EN != "age "+strconv.FormatInt(cs[i].Person.Age, 10) {
			t.Fatalf("outcome %d: %+v for case %+v", i, o, cs[i])
		}
	}
	if want := []int{250, 250, 250, 250, 250, 250, 17}; fmt.Sprint(p.batches) != fmt.Sprint(want) {
		t.Fatalf("the plug-in was sent batches of %v, want %v", p.batches, want)
	}
	if out[0].Error != "16 true" && out[0].Error != "16 false" {
		t.Fatalf("the plug-in saw the call as %q", out[0].Error)
	}
	if m.unary.Load() {
		t.Fatal("a plug-in with EvaluateStream was called by Evaluate")
	}
	// The stream stays open for the next call, which it answers.
	if len(m.idle) != 1 {
		t.Fatalf("%d idle streams after a call, want 1", len(m.idle))
	}
	if out, err := m.Decide(ctx, cs[:1]); err != nil || len(out) != 1 || out[0].Conditions[0].Explanation.EN != "" {
		t.Fatalf("the next call on the stream: %+v, %v", out, err)
	}
	if len(m.idle) != 1 {
		t.Fatalf("%d idle streams after two calls one after the other, want 1", len(m.idle))
	}
}

// Streams are kept per region: a call never goes on a stream opened for
// another region, and the plug-in sees each call's deadline.
func TestStreamPerRegionAndDeadline(t *testing.T) {
	m, _ := probed(t)
	for _, region := range []string{"16", "66", "16"} {
		ctx, cancel := context.WithTimeout(sdk.WithTenant(context.Background(), region), time.Minute)
		out, err := m.Evaluate(ctx, aged(3))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if o.Error != region+" true" {
				t.Fatalf("a call for region %s with a deadline reached the plug-in as %q", region, o.Error)
			}
		}
	}
	if len(m.idle) != 2 {
		t.Fatalf("%d idle streams for two regions", len(m.idle))
	}
}

// Calls at once each get a stream of their own and their own outcomes.
func TestStreamConcurrentCalls(t *testing.T) {
	m, _ := probed(t)
	ctx := sdk.WithTenant(context.Background(), "16")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			cs := aged(300 + g)
			for range 20 {
				out, err := m.Evaluate(ctx, cs)
				if err == nil && len(out) != len(cs) {
					err = fmt.Errorf("%d outcomes for %d cases", len(out), len(cs))
				}
				for i := 0; err == nil && i < len(out); i++ {
					if out[i].CaseID != cs[i].ID || out[i].Eligible != (cs[i].Person.Age >= 18) {
						err = fmt.Errorf("outcome %d is %+v for case %q aged %d", i, out[i], cs[i].ID, cs[i].Person.Age)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(m.idle) == 0 || len(m.idle) > maxIdleStreams {
		t.Fatalf("%d idle streams after calls at once", len(m.idle))
	}
}

// The plug-in's error ends its stream and reaches the caller as it would
// from Evaluate; the next call opens another stream. A call past its
// deadline ends its stream too, and the plug-in sees its context end.
func TestStreamErrorsEndTheStream(t *testing.T) {
	m, _ := probed(t)
	ctx := sdk.WithTenant(context.Background(), "16")
	cs := aged(2000)
	cs[400].ID = "fail"
	for range 50 { // the failure ends the stream while parts are still being sent
		_, err := m.Evaluate(ctx, cs)
		var e *sdk.Error
		if !errors.As(err, &e) || !e.Upstream || !strings.Contains(e.Message, "the register is down") {
			t.Fatalf("the plug-in's upstream failure came as %v", err)
		}
	}
	if len(m.idle) != 0 {
		t.Fatalf("a stream that failed was kept")
	}
	if _, err := m.Evaluate(ctx, aged(2)); err != nil {
		t.Fatalf("the call after a failure: %v", err)
	}
	hang := aged(2)
	hang[1].ID = "hang"
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := m.Evaluate(tctx, hang); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a call with a 100 ms deadline returned after %s", took)
	}
	if len(m.idle) != 0 { // the one stream, taken by the hung call
		t.Fatalf("%d idle streams: the hung one was kept", len(m.idle))
	}
	if _, err := m.Evaluate(ctx, aged(2)); err != nil {
		t.Fatalf("the call after a hung one: %v", err)
	}
}

// quitter reads a request on the stream and ends it without an answer.
type quitter struct{ oldMeasure }

func (quitter) EvaluateStream(s grpc.BidiStreamingServer[pluginv1.EvaluateRequest, pluginv1.EvaluateResponse]) error {
	_, err := s.Recv()
	return err
}

type quitterPlugin struct{ oldPlugin }

func (quitterPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterMeasureServer(s, quitter{})
	return nil
}

// A plug-in that ends the stream without answering breaks the protocol:
// the call fails saying so, and gets no outcomes.
func TestStreamEndedWithoutAnAnswer(t *testing.T) {
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: quitterPlugin{}})
	defer client.Close()
	defer server.Stop()
	m := &MeasureClient{c: pluginv1.NewMeasureClient(client.Conn)}
	out, err := m.Evaluate(context.Background(), aged(3))
	var e *sdk.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "the stream ended before the answer") || out != nil {
		t.Fatalf("%+v, %v", out, err)
	}
}

// A request in a form the plug-in's hand reader leaves to protobuf (here
// a column in two packed runs, which protobuf joins) is answered as any
// other; so is one in protobuf's own form.
func TestStreamReadsAnyProtobufForm(t *testing.T) {
	m, _ := probed(t)
	cs := aged(30)
	cols := casesInto(new(pluginv1.Cases), cs, everyColumn)
	ages := cols.Age
	cols.Age = nil
	inner, err := proto.Marshal(cols)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range [][]int64{ages[:10], ages[10:]} {
		var packed []byte
		for _, a := range run {
			packed = protowire.AppendVarint(packed, uint64(a))
		}
		inner = protowire.AppendBytes(protowire.AppendTag(inner, 3, protowire.BytesType), packed)
	}
	split := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), inner)
	whole, err := proto.Marshal(&pluginv1.EvaluateRequest{Cases: casesInto(new(pluginv1.Cases), cs, everyColumn), Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := newCasesReader().request(split); ok {
		t.Fatal("the hand reader read a column in two runs: the test no longer reaches protobuf's reading")
	}
	s, err := m.c.EvaluateStream(outgoing(sdk.WithTenant(context.Background(), "16")))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.CloseSend() }()
	for name, b := range map[string][]byte{"split": split, "protobuf's": whole} {
		var req pluginv1.EvaluateRequest
		req.ProtoReflect().SetUnknown(b)
		if err := s.Send(&req); err != nil {
			t.Fatal(err)
		}
		r, err := s.Recv()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := outcomesFrom(nil, r.GetOutcomes(), cs, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, o := range got {
			if o.CaseID != cs[i].ID || o.Eligible != (cs[i].Person.Age >= 18) {
				t.Fatalf("%s: outcome %d is %+v for a case aged %d", name, i, o, cs[i].Person.Age)
			}
		}
	}
}
