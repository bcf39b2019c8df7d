package grpcplugin

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// A batch goes over EvaluateStream in parts of at most partCases cases,
// sent by one goroutine while the caller reads the answers: the plug-in
// decides one part while the host writes the next and reads the last.
// Both processes then work at once, where a single message keeps one idle
// while the other encodes or decodes. Reading while sending also means
// that no flow-control window, however small, can stall the two sides.
const (
	partCases = 250
	// maxIdleStreams is how many open streams a client keeps between
	// calls: as many as calls it has had at once, up to this.
	maxIdleStreams = 8
)

// evalStream is an open EvaluateStream. It is used by one call at a time
// and kept open for the next; any error closes it.
type evalStream struct {
	s      grpc.BidiStreamingClient[pluginv1.EvaluateRequest, pluginv1.EvaluateResponse]
	cancel context.CancelFunc
	tenant string
	read   *outcomesReader
	part   []measure.Outcome // an answer's outcomes, kept from part to part
}

func (s *evalStream) close() { s.cancel() }

// evaluateOnStream answers the cases over an idle stream of the
// context's region, or a new one. Its errors are gRPC's, as they came.
func (m *MeasureClient) evaluateOnStream(ctx context.Context, cases []measure.Case, explain bool, sent columnSet, keep func(*measure.Outcome)) error {
	s, err := m.stream(ctx)
	if err != nil {
		return err
	}
	reusable, err := s.evaluate(ctx, cases, explain, sent, keep)
	if ctx.Err() != nil && err != nil {
		err = ctx.Err()
	}
	if !reusable {
		s.close()
		return err
	}
	m.mu.Lock()
	if len(m.idle) < maxIdleStreams {
		m.idle, s = append(m.idle, s), nil
	}
	m.mu.Unlock()
	if s != nil {
		s.close()
	}
	return err
}

// stream is an idle stream opened for the context's region, or a new
// one. A stream outlives the call that opens it: its context keeps the
// call's metadata (the region) but not its deadline.
func (m *MeasureClient) stream(ctx context.Context) (*evalStream, error) {
	tenant, _ := sdk.Tenant(ctx)
	m.mu.Lock()
	for i := len(m.idle) - 1; i >= 0; i-- {
		if s := m.idle[i]; s.tenant == tenant {
			m.idle = slices.Delete(m.idle, i, i+1)
			m.mu.Unlock()
			return s, nil
		}
	}
	m.mu.Unlock()
	sctx, cancel := context.WithCancel(context.WithoutCancel(outgoing(ctx)))
	s, err := m.c.EvaluateStream(sctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &evalStream{s: s, cancel: cancel, tenant: tenant, read: newOutcomesReader()}, nil
}

// evaluate sends the cases in parts and reads one answer for each, in
// order, handing its outcomes to keep. The call's end (its deadline, the
// caller giving up) ends the stream, so a plug-in that never answers is
// not waited for past it. reusable: the stream may serve another call (it
// did not fail and was not ended with the call).
func (s *evalStream) evaluate(ctx context.Context, cases []measure.Case, explain bool, columns columnSet, keep func(*measure.Outcome)) (reusable bool, err error) {
	stop := context.AfterFunc(ctx, s.cancel)
	var deadline int64
	if d, ok := ctx.Deadline(); ok {
		deadline = d.UnixMicro()
	}
	parts := (len(cases) + partCases - 1) / partCases
	part := func(i int) []measure.Case { return cases[i*partCases : min((i+1)*partCases, len(cases))] }
	sent := make(chan error, 1)
	send := func() {
		req := requests.Get().(*casesRequest)
		defer requests.Put(req)
		for i := range parts {
			// Send has marshalled the request when it returns: the next
			// part may be written over it. io.EOF: the stream has ended,
			// and Recv tells why.
			if err := s.s.Send(req.set(part(i), explain, deadline, columns)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}
	if parts > 1 {
		go send()
	} else {
		send() // one message each way: nothing to wait on
	}
	for got := 0; got < parts && err == nil; got++ {
		var o *pluginv1.Outcomes
		o, err = s.recv()
		switch {
		case errors.Is(err, io.EOF):
			err = badAnswer("the stream ended before the answer to part %d of %d", got+1, parts)
		case err != nil:
		default:
			if s.part, err = outcomesFrom(s.part[:0], o, part(got), explain); err != nil {
				err = badAnswer("part %d of %d: %v", got+1, parts, err)
			} else {
				for i := range s.part {
					keep(&s.part[i])
				}
			}
		}
	}
	clear(s.part[:cap(s.part)]) // an idle stream holds no answer's texts
	if err != nil {
		s.cancel() // a sender still waiting to write stops
	}
	if serr := <-sent; err == nil && serr != nil {
		err = serr // not seen: every part was answered, so every part was sent
	}
	// stop is false when the call's end has cancelled the stream already,
	// even after the last answer came: such a stream serves no other call.
	return stop() && err == nil, err
}

// recv reads the next answer's outcomes, by hand where it can (wire.go).
func (s *evalStream) recv() (*pluginv1.Outcomes, error) {
	var raw emptypb.Empty // its unknown fields must be a fresh array each time
	if err := s.s.RecvMsg(&raw); err != nil {
		return nil, err
	}
	if o, ok := s.read.response(raw.ProtoReflect().GetUnknown()); ok {
		return o, nil
	}
	var r pluginv1.EvaluateResponse
	if err := proto.Unmarshal(raw.ProtoReflect().GetUnknown(), &r); err != nil {
		return nil, badAnswer("%v", err)
	}
	return r.GetOutcomes(), nil
}

// EvaluateStream answers each request in turn until the host closes the
// stream. An error ends it, as a status the host reads as Evaluate's.
func (s *measureServer) EvaluateStream(stream grpc.BidiStreamingServer[pluginv1.EvaluateRequest, pluginv1.EvaluateResponse]) error {
	ctx := incoming(stream.Context())
	cols, arrays, resp := newCasesReader(), new(caseArrays), new(outcomesResponse)
	for {
		var raw emptypb.Empty // its unknown fields must be a fresh array each time (wire.go)
		err := stream.RecvMsg(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		c, h, ok := cols.request(raw.ProtoReflect().GetUnknown())
		if !ok {
			var req pluginv1.EvaluateRequest
			if err := proto.Unmarshal(raw.ProtoReflect().GetUnknown(), &req); err != nil {
				return status.Errorf(codes.InvalidArgument, "the host sent a request against the protocol: %v", err)
			}
			c, h = req.GetCases(), headerOf(&req)
		}
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if h.deadlineUnixMicros != 0 {
			rctx, cancel = context.WithDeadline(ctx, time.UnixMicro(h.deadlineUnixMicros))
		}
		out, err := s.answer(rctx, c, h, arrays)
		cancel()
		if err != nil {
			return err
		}
		// Send has marshalled the response when it returns: the next
		// answer may be written over it.
		if err := stream.Send(resp.set(out, h)); err != nil {
			return err
		}
	}
}
