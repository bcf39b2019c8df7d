package grpcplugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// The handshake's protocol version is the N of the proto package
// treasury.plugin.vN, in the .proto and in the generated code alike: a
// protocol change that breaks old plug-ins cannot keep the handshake.
func TestProtocolVersionIsTheProtoPackage(t *testing.T) {
	src, err := os.ReadFile("../proto/treasury/plugin/v1/plugin.proto")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^package treasury\.plugin\.v(\d+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("plugin.proto has no package treasury.plugin.vN")
	}
	want := fmt.Sprintf("treasury.plugin.v%d", ProtocolVersion)
	if got := "treasury.plugin.v" + string(m[1]); got != want {
		t.Fatalf("plugin.proto is %s, the handshake's ProtocolVersion says %s", got, want)
	}
	if got := string(pluginv1.File_treasury_plugin_v1_plugin_proto.Package()); got != want {
		t.Fatalf("the generated code is %s, the handshake says %s", got, want)
	}
	if Handshake.ProtocolVersion != ProtocolVersion {
		t.Fatalf("Handshake.ProtocolVersion %d, ProtocolVersion %d", Handshake.ProtocolVersion, ProtocolVersion)
	}
}

// oldMeasure is a measure server generated before ValidateApplication
// existed: it has Describe and Evaluate only, the rest UNIMPLEMENTED.
type oldMeasure struct {
	pluginv1.UnimplementedMeasureServer
}

func (oldMeasure) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return &pluginv1.DescribeResponse{Code: "old"}, nil
}

func (oldMeasure) Evaluate(_ context.Context, r *pluginv1.EvaluateRequest) (*pluginv1.EvaluateResponse, error) {
	c := r.GetCases()
	n := len(c.GetId().GetEnds())
	o := &pluginv1.Outcomes{CaseId: c.GetId(), Eligible: make([]bool, n), AmountKopecks: make([]int64, n), Start: make([]int32, n),
		End: make([]int32, n), Error: &pluginv1.Strings{Ends: make([]uint32, n)}, ConditionsEnd: make([]uint32, n)}
	for i, age := range c.GetAge() {
		o.Eligible[i] = age >= 18
	}
	return &pluginv1.EvaluateResponse{Outcomes: o}, nil
}

type oldPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (oldPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterMeasureServer(s, oldMeasure{})
	return nil
}

func (oldPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("server side only")
}

// An old plug-in that lacks an optional RPC keeps working: its required
// calls answer, the optional one is sdk.ErrUnsupported, and batches go by
// Evaluate when it lacks EvaluateStream.
func TestOldPluginWithoutAnOptionalRPC(t *testing.T) {
	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: oldPlugin{}})
	defer client.Close()
	defer server.Stop() // before the client closes: two stops race
	m := &MeasureClient{c: pluginv1.NewMeasureClient(client.Conn)}
	out, err := m.Evaluate(context.Background(), []measure.Case{{ID: "a", Person: measure.Subject{Age: 20}}, {ID: "b", Person: measure.Subject{Age: 10}}})
	if err != nil || len(out) != 2 || !out[0].Eligible || out[1].Eligible {
		t.Fatalf("%+v, %v", out, err)
	}
	if !m.unary.Load() {
		t.Fatal("a plug-in without EvaluateStream is not called by Evaluate from now on")
	}
	if out, err := m.Decide(context.Background(), []measure.Case{{ID: "c", Person: measure.Subject{Age: 30}}}); err != nil || len(out) != 1 || !out[0].Eligible {
		t.Fatalf("the next call: %+v, %v", out, err)
	}
	if _, err := m.ValidateApplication(context.Background(), map[string]string{"x": "1"}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Fatalf("the optional call of an old plug-in: %v", err)
	}
}

// A measure that does not implement the optional extra answers it
// UNIMPLEMENTED too; one that does is called.
type plain struct{}

func (plain) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "plain"}, nil
}
func (plain) Evaluate(_ context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cs))
	for i, c := range cs {
		out[i] = measure.Outcome{CaseID: c.ID}
	}
	return out, nil
}

type validating struct{ plain }

func (validating) ValidateApplication(_ context.Context, app map[string]string) ([]measure.FieldProblem, error) {
	if app["plan"] == "" {
		return []measure.FieldProblem{{Field: "plan", Message: measure.Text{RU: "нужен план", EN: "a plan is required"}}}, nil
	}
	return nil, nil
}

func TestOptionalExtraByTypeAssertion(t *testing.T) {
	for _, tc := range []struct {
		impl measure.Measure
		want error
	}{{plain{}, sdk.ErrUnsupported}, {validating{}, nil}} {
		client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: &MeasurePlugin{Impl: tc.impl}})
		raw, err := client.Dispense(KindMeasure)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := raw.(*MeasureClient).ValidateApplication(context.Background(), map[string]string{})
		if !errors.Is(err, tc.want) || tc.want == nil && (len(ps) != 1 || ps[0].Field != "plan" || ps[0].Message.EN == "") {
			t.Fatalf("%T: %+v, %v", tc.impl, ps, err)
		}
		server.Stop()
		client.Close()
	}
}

// reversed is an old plug-in that answers with its outcomes' ids in
// reverse: each outcome names another case.
type reversed struct{ oldMeasure }

func (r reversed) Evaluate(ctx context.Context, req *pluginv1.EvaluateRequest) (*pluginv1.EvaluateResponse, error) {
	resp, _ := r.oldMeasure.Evaluate(ctx, req)
	ids, err := textsFrom(req.GetCases().GetId(), "id")
	if err != nil {
		return nil, err
	}
	o := resp.GetOutcomes()
	o.CaseId = &pluginv1.Strings{}
	for i := len(ids) - 1; i >= 0; i-- {
		addText(o.CaseId, ids[i])
	}
	return resp, nil
}

type reversedPlugin struct{ oldPlugin }

func (reversedPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterMeasureServer(s, reversed{})
	return nil
}

// swapping is a measure that gives its first two outcomes in each
// other's places.
type swapping struct{ plain }

func (swapping) Evaluate(ctx context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	out, err := plain{}.Evaluate(ctx, cs)
	if len(out) > 1 {
		out[0], out[1] = out[1], out[0]
	}
	return out, err
}

// Outcomes put on the wrong cases are refused on either side: by the SDK
// in the plug-in, before an answer without ids leaves it, and by the
// host, when a plug-in sends ids that are not its cases'.
func TestOutcomesOfOtherCasesRefused(t *testing.T) {
	cs := []measure.Case{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	sdkSide := func() *MeasureClient {
		client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: &MeasurePlugin{Impl: swapping{}}})
		t.Cleanup(func() { server.Stop(); client.Close() })
		raw, err := client.Dispense(KindMeasure)
		if err != nil {
			t.Fatal(err)
		}
		return raw.(*MeasureClient)
	}()
	for _, unary := range []bool{false, true} {
		sdkSide.unary.Store(unary)
		_, err := sdkSide.Evaluate(context.Background(), cs)
		var pe *sdk.Error
		if !errors.As(err, &pe) || !regexp.MustCompile(`outcome 0 for case "b", not "a"`).MatchString(err.Error()) {
			t.Errorf("unary %t: a measure's outcomes on the wrong cases: %v", unary, err)
		}
	}

	client, server := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{KindMeasure: reversedPlugin{}})
	defer client.Close()
	defer server.Stop()
	old := &MeasureClient{c: pluginv1.NewMeasureClient(client.Conn)}
	_, err := old.Evaluate(context.Background(), cs)
	if err == nil || !regexp.MustCompile(`outcome 0 is of case "c", not "a"`).MatchString(err.Error()) {
		t.Errorf("an old plug-in's outcomes on the wrong cases: %v", err)
	}
	if out, err := old.Evaluate(context.Background(), cs[:1]); err != nil || out[0].CaseID != "a" {
		t.Errorf("one case, its own id: %+v, %v", out, err)
	}
}
