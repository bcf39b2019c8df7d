package grpcplugin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// MeasurePlugin is the go-plugin type of a measure: Impl is set on the
// plug-in's side; the host's client is a *MeasureClient.
type MeasurePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl measure.Measure
}

func (p *MeasurePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterMeasureServer(s, &measureServer{impl: p.Impl})
	return nil
}

func (p *MeasurePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &MeasureClient{c: pluginv1.NewMeasureClient(c)}, nil
}

// MeasureClient calls a measure plug-in. It implements measure.Measure and
// measure.ApplicationValidator (sdk.ErrUnsupported when the plug-in does
// not validate). It is safe for concurrent use. Outcomes whose conditions
// came out alike share one list of them: a caller reads an outcome's
// Conditions and does not write them.
type MeasureClient struct {
	c pluginv1.MeasureClient

	mu   sync.Mutex
	idle []*evalStream // open streams between calls
	// unary: the plug-in lacks EvaluateStream (it was built before it);
	// its batches go by Evaluate.
	unary atomic.Bool
	// sent: the columns of a case the measure reads (its Reads), asked of
	// it once; 0 until then.
	sent atomic.Uint64
}

func (m *MeasureClient) Describe(ctx context.Context) (measure.Description, error) {
	r, err := m.c.Describe(outgoing(ctx), &pluginv1.DescribeRequest{})
	if err != nil {
		return measure.Description{}, fromStatus(err)
	}
	d := measure.Description{Code: r.GetCode(), Name: textFrom(r.GetName()), Needs: r.GetNeeds(), Reads: r.GetReads()}
	for _, c := range r.GetConditions() {
		d.Conditions = append(d.Conditions, measure.ConditionInfo{Name: c.GetName(), Title: textFrom(c.GetTitle())})
	}
	if d.Code == "" {
		return d, badAnswer("Describe gave no code")
	}
	if _, err := columnsRead(d.Reads); err != nil {
		return d, badAnswer("Describe %v", err)
	}
	return d, nil
}

// columnsSent are the columns a batch carries: those the measure reads,
// as its description says (asked on the first call), or every one — when
// the context asks for every field (WithEveryField), or the description
// cannot be had (the call goes on; the next asks again).
func (m *MeasureClient) columnsSent(ctx context.Context) columnSet {
	if everyField(ctx) {
		return everyColumn
	}
	if s := m.sent.Load(); s != 0 {
		return columnSet(s)
	}
	d, err := m.Describe(ctx)
	if err != nil {
		return everyColumn
	}
	s, _ := columnsRead(d.Reads) // Describe has checked them
	m.sent.Store(uint64(s))
	return s
}

// Evaluate sends the batch in one call and asks for explanations. The
// answer must have one outcome a case with the case's id, in order:
// anything else is the plug-in's error, never outcomes put on the wrong
// persons.
func (m *MeasureClient) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	return m.evaluate(ctx, cases, true)
}

// Decide is Evaluate without explanations: whether each condition held,
// for runs over the whole registry whose outcomes nobody reads one by one.
func (m *MeasureClient) Decide(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	return m.evaluate(ctx, cases, false)
}

// outcomesResponse is an EvaluateResponse whose outcomes' columns are
// marshalled by hand (appendOutcomesField) into its unknown fields. A
// stream keeps one from answer to answer, for its columns and buffer.
type outcomesResponse struct {
	resp pluginv1.EvaluateResponse
	cols pluginv1.Outcomes
	buf  []byte
}

// set makes the response carry the outcomes. It holds no pointer into
// them once set returns.
func (r *outcomesResponse) set(out []measure.Outcome, h requestHeader) *pluginv1.EvaluateResponse {
	r.buf = appendOutcomesField(r.buf[:0], outcomesInto(&r.cols, out, h.explain, !h.byPosition, h.figures))
	r.resp.ProtoReflect().SetUnknown(r.buf)
	return &r.resp
}

// casesRequest is an EvaluateRequest whose cases' columns are marshalled
// by hand (appendCasesField) into its unknown fields. Requests are kept
// from call to call, for their columns' arrays and their buffer.
type casesRequest struct {
	req  pluginv1.EvaluateRequest
	cols pluginv1.Cases
	buf  []byte
}

var requests = sync.Pool{New: func() any { return new(casesRequest) }}

// set makes the request carry the cases' columns in sent. It holds no
// pointer into them once set returns. The host asks for outcomes by
// position: it checks ids an answer has, and needs none.
func (r *casesRequest) set(cases []measure.Case, explain bool, deadlineUnixMicros int64, sent columnSet) *pluginv1.EvaluateRequest {
	r.buf = appendCasesField(r.buf[:0], casesInto(&r.cols, cases, sent))
	r.req.Explain, r.req.DeadlineUnixMicros, r.req.OutcomesByPosition, r.req.Figures = explain, deadlineUnixMicros, true, true
	r.req.LeftOut = sent.appendLeftOut(r.req.LeftOut[:0])
	r.req.ProtoReflect().SetUnknown(r.buf)
	return &r.req
}

func (m *MeasureClient) evaluate(ctx context.Context, cases []measure.Case, explain bool) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, 0, len(cases))
	if err := m.EvaluateEach(ctx, cases, explain, func(o *measure.Outcome) { out = append(out, *o) }); err != nil {
		return nil, err
	}
	return out, nil
}

// EvaluateEach is Evaluate (explain) or Decide handing each outcome, in
// the cases' order, to keep rather than returning a list of them: a host
// that keeps outcomes in a type of its own then makes no second copy of
// a batch's. keep may keep what the outcome holds (its conditions, its
// texts) but not the outcome itself, whose memory the next one reuses.
// A call that fails may have handed over some outcomes first; keep is
// not called once EvaluateEach has returned.
func (m *MeasureClient) EvaluateEach(ctx context.Context, cases []measure.Case, explain bool, keep func(*measure.Outcome)) error {
	sent := m.columnsSent(ctx)
	if !m.unary.Load() {
		err := m.evaluateOnStream(ctx, cases, explain, sent, keep)
		if !lacksStream(err) {
			return fromStatus(err)
		}
		m.unary.Store(true)
	}
	req := requests.Get().(*casesRequest)
	r, err := m.c.Evaluate(outgoing(ctx), req.set(cases, explain, 0, sent))
	// gRPC has marshalled the request before the call returns: the next
	// call may reuse it.
	requests.Put(req)
	if err != nil {
		return fromStatus(err)
	}
	out, err := outcomesFrom(nil, r.GetOutcomes(), cases, explain)
	if err != nil {
		return badAnswer("%v", err)
	}
	for i := range out {
		keep(&out[i])
	}
	return nil
}

// lacksStream: the plug-in was built before EvaluateStream. gRPC answers
// an unknown method, and generated code a method not implemented, with
// UNIMPLEMENTED naming it; a plug-in's own UNIMPLEMENTED (from a system
// behind it) is its error, not a reason to send the batch again.
func lacksStream(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.Unimplemented && strings.Contains(st.Message(), "EvaluateStream")
}

func (m *MeasureClient) ValidateApplication(ctx context.Context, application map[string]string) ([]measure.FieldProblem, error) {
	r, err := m.c.ValidateApplication(outgoing(ctx), &pluginv1.ValidateApplicationRequest{Application: application})
	if err != nil {
		return nil, fromStatus(err)
	}
	var out []measure.FieldProblem
	for _, p := range r.GetProblems() {
		out = append(out, measure.FieldProblem{Field: p.GetField(), Message: textFrom(p.GetMessage())})
	}
	return out, nil
}

type measureServer struct {
	pluginv1.UnimplementedMeasureServer
	impl measure.Measure

	reads atomic.Uint64 // columnsRead's answer, once had; 0 until then
}

// columnsRead are the columns the measure reads, from its description
// (asked once it has answered): every one when it lists none, or the
// description cannot be had (it is asked again next time).
func (s *measureServer) columnsRead(ctx context.Context) columnSet {
	if v := s.reads.Load(); v != 0 {
		return columnSet(v)
	}
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return everyColumn
	}
	read, err := columnsRead(d.Reads)
	if err != nil {
		read = everyColumn
	}
	s.reads.Store(uint64(read))
	return read
}

func (s *measureServer) Describe(ctx context.Context, _ *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	d, err := s.impl.Describe(incoming(ctx))
	if err != nil {
		return nil, toStatus(err)
	}
	if _, err := columnsRead(d.Reads); err != nil {
		return nil, toStatus(fmt.Errorf("the measure's description %w", err))
	}
	r := &pluginv1.DescribeResponse{Code: d.Code, Name: textTo(d.Name), Needs: d.Needs, Reads: d.Reads}
	for _, c := range d.Conditions {
		r.Conditions = append(r.Conditions, &pluginv1.ConditionInfo{Name: c.Name, Title: textTo(c.Title)})
	}
	return r, nil
}

func (s *measureServer) Evaluate(ctx context.Context, req *pluginv1.EvaluateRequest) (*pluginv1.EvaluateResponse, error) {
	h := headerOf(req) // its deadline is gRPC's own here
	out, err := s.answer(incoming(ctx), req.GetCases(), h, new(caseArrays))
	if err != nil {
		return nil, err
	}
	return &pluginv1.EvaluateResponse{Outcomes: outcomesInto(new(pluginv1.Outcomes), out, h.explain, !h.byPosition, h.figures)}, nil
}

// answer is a request's outcomes, on Evaluate and on EvaluateStream alike;
// its errors are statuses. Each outcome is checked to be its case's here,
// where the measure's mistake is told as the plug-in's error, whether or
// not the host checks again.
func (s *measureServer) answer(ctx context.Context, c *pluginv1.Cases, h requestHeader, arrays *caseArrays) ([]measure.Outcome, error) {
	leftOut, ok := columnsOf(h.leftOut)
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "the host left out columns %v, not all of them a case's fields", h.leftOut)
	}
	if leftOut != 0 {
		if missing := leftOut & s.columnsRead(ctx); missing != 0 {
			return nil, status.Errorf(codes.InvalidArgument, "the host left out fields the measure reads: %s", columnNames(missing))
		}
	}
	cases, err := arrays.read(c, leftOut)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "the host sent a batch against the protocol: %v", err)
	}
	out, err := s.impl.Evaluate(measure.WithExplanations(ctx, h.explain), cases)
	if err != nil {
		return nil, toStatus(err)
	}
	if len(out) != len(cases) {
		return nil, toStatus(fmt.Errorf("the measure gave %d outcomes for %d cases", len(out), len(cases)))
	}
	for i := range out {
		if out[i].CaseID != cases[i].ID {
			return nil, toStatus(fmt.Errorf("the measure gave outcome %d for case %q, not %q", i, out[i].CaseID, cases[i].ID))
		}
	}
	return out, nil
}

func (s *measureServer) ValidateApplication(ctx context.Context, req *pluginv1.ValidateApplicationRequest) (*pluginv1.ValidateApplicationResponse, error) {
	v, ok := s.impl.(measure.ApplicationValidator)
	if !ok {
		return s.UnimplementedMeasureServer.ValidateApplication(ctx, req)
	}
	ps, err := v.ValidateApplication(incoming(ctx), req.GetApplication())
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.ValidateApplicationResponse{}
	for _, p := range ps {
		r.Problems = append(r.Problems, &pluginv1.FieldProblem{Field: p.Field, Message: textTo(p.Message)})
	}
	return r, nil
}

var _ measure.ApplicationValidator = (*MeasureClient)(nil)

func textTo(t measure.Text) *pluginv1.Text { return &pluginv1.Text{Ru: t.RU, En: t.EN} }
func textFrom(t *pluginv1.Text) measure.Text {
	return measure.Text{RU: t.GetRu(), EN: t.GetEn()}
}
