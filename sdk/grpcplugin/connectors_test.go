package grpcplugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// The fakes below are plug-ins written straight against the generated
// code, answering whatever a test gives them: what a broken or hostile
// plug-in can send, which the SDK's own server adapters never would.

type rawDataSource struct {
	pluginv1.UnimplementedDataSourceServer
	answer *pluginv1.FactsResponse
}

func (s *rawDataSource) Facts(context.Context, *pluginv1.FactsRequest) (*pluginv1.FactsResponse, error) {
	return s.answer, nil
}

type rawEventSource struct {
	pluginv1.UnimplementedEventSourceServer
	answer *pluginv1.EventsResponse
}

func (s *rawEventSource) Events(context.Context, *pluginv1.EventsRequest) (*pluginv1.EventsResponse, error) {
	return s.answer, nil
}

type rawPaymentSink struct {
	pluginv1.UnimplementedPaymentSinkServer
	statuses []*pluginv1.PaymentStatus
}

func (s *rawPaymentSink) Submit(context.Context, *pluginv1.SubmitRequest) (*pluginv1.SubmitResponse, error) {
	return &pluginv1.SubmitResponse{Statuses: s.statuses}, nil
}

func (s *rawPaymentSink) Statuses(context.Context, *pluginv1.StatusesRequest) (*pluginv1.StatusesResponse, error) {
	return &pluginv1.StatusesResponse{Statuses: s.statuses}, nil
}

type rawNotifier struct {
	pluginv1.UnimplementedNotifierServer
	answer *pluginv1.DeliverResponse
}

func (s *rawNotifier) Deliver(context.Context, *pluginv1.DeliverRequest) (*pluginv1.DeliverResponse, error) {
	return s.answer, nil
}

func rawConn(t *testing.T, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	conn, server := plugin.TestGRPCConn(t, register)
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	return conn
}

func pdate(y, m, d int32) *pluginv1.Date { return &pluginv1.Date{Year: y, Month: m, Day: d} }

// wantBadAnswer fails unless err is the host's refusal of an answer
// against the protocol, naming part.
func wantBadAnswer(t *testing.T, err error, part string) {
	t.Helper()
	var e *sdk.Error
	switch {
	case !errors.As(err, &e):
		t.Errorf("error %T %v, want an *sdk.Error", err, err)
	case e.Upstream:
		t.Errorf("error %v is upstream; a bad answer is the plug-in's", err)
	case !strings.Contains(e.Message, "answered against the protocol") || !strings.Contains(e.Message, part):
		t.Errorf("error %q, want an answer against the protocol with %q", e.Message, part)
	}
}

func TestFactsBadAnswers(t *testing.T) {
	asked := []connector.PersonRef{{SNILS: "11223344595"}, {SNILS: "12345678964"}}
	person := func(f func(*pluginv1.PersonFacts)) *pluginv1.FactsResponse {
		pf := &pluginv1.PersonFacts{Snils: "11223344595", Source: "register",
			Categories: []*pluginv1.CategoryFact{{Code: "large_family", Period: &pluginv1.Period{From: pdate(2026, 1, 1)}}},
			Incomes:    []*pluginv1.IncomeFact{{Month: "2026-05", Kind: "salary", AmountKopecks: 100}}}
		f(pf)
		return &pluginv1.FactsResponse{Persons: []*pluginv1.PersonFacts{pf}}
	}
	for _, tc := range []struct {
		name   string
		answer *pluginv1.FactsResponse
		want   string
	}{
		{"a person not asked about", person(func(p *pluginv1.PersonFacts) { p.Snils = "99999999999" }), "facts 0 are of a person that was not asked about"},
		{"no SNILS", person(func(p *pluginv1.PersonFacts) { p.Snils = "" }), "not asked about"},
		{"a person twice", &pluginv1.FactsResponse{Persons: []*pluginv1.PersonFacts{{Snils: "12345678964"}, {Snils: "12345678964"}}},
			"facts 1 are of person 1, answered twice"},
		{"a category without a code", person(func(p *pluginv1.PersonFacts) { p.Categories[0].Code = "" }), "category 0 has no code"},
		{"a period ending before it starts", person(func(p *pluginv1.PersonFacts) {
			p.Categories[0].Period = &pluginv1.Period{From: pdate(2026, 6, 1), To: pdate(2026, 5, 31)}
		}), "period ends 2026-05-31 before it starts 2026-06-01"},
		{"February 30", person(func(p *pluginv1.PersonFacts) { p.Categories[0].Period.From = pdate(2026, 2, 30) }), "not of calendar dates"},
		{"year 0", person(func(p *pluginv1.PersonFacts) { p.Categories[0].Period.To = pdate(0, 1, 1) }), "not of calendar dates"},
		{"month 13", person(func(p *pluginv1.PersonFacts) { p.Incomes[0].Month = "2026-13" }), `income 0: "2026-13" is not a month`},
		{"a month with its day", person(func(p *pluginv1.PersonFacts) { p.Incomes[0].Month = "2026-05-01" }), "is not a month"},
		{"no month", person(func(p *pluginv1.PersonFacts) { p.Incomes[0].Month = "" }), "is not a month"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, func(s *grpc.Server) { pluginv1.RegisterDataSourceServer(s, &rawDataSource{answer: tc.answer}) })
			_, err := (&DataSourceClient{c: pluginv1.NewDataSourceClient(conn)}).Facts(context.Background(), asked, time.Time{})
			wantBadAnswer(t, err, tc.want)
			if err != nil && strings.Contains(err.Error(), "99999999999") {
				t.Errorf("error %q echoes a SNILS", err)
			}
		})
	}

	// The fake's good answer passes: the cases above fail for their one
	// change.
	conn := rawConn(t, func(s *grpc.Server) {
		pluginv1.RegisterDataSourceServer(s, &rawDataSource{answer: person(func(*pluginv1.PersonFacts) {})})
	})
	got, err := (&DataSourceClient{c: pluginv1.NewDataSourceClient(conn)}).Facts(context.Background(), asked, time.Time{})
	if err != nil || len(got) != 1 || got[0].Categories[0].Period.From != time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("good answer: %+v, %v", got, err)
	}
}

func TestEventsBadAnswers(t *testing.T) {
	ev := func(f func(*pluginv1.Event)) *pluginv1.EventsResponse {
		e := &pluginv1.Event{Id: "e1", Kind: "birth", Snils: "11223344595", Date: pdate(2026, 6, 1)}
		f(e)
		return &pluginv1.EventsResponse{Events: []*pluginv1.Event{e}, Cursor: "c2"}
	}
	for _, tc := range []struct {
		name   string
		answer *pluginv1.EventsResponse
		limit  int
		want   string
	}{
		{"no id", ev(func(e *pluginv1.Event) { e.Id = "" }), 10, "event 0 has no id"},
		{"no kind", ev(func(e *pluginv1.Event) { e.Kind = "" }), 10, `event "e1" has no kind`},
		{"no date", ev(func(e *pluginv1.Event) { e.Date = nil }), 10, `event "e1": date`},
		{"April 31", ev(func(e *pluginv1.Event) { e.Date = pdate(2026, 4, 31) }), 10, "not a calendar date"},
		{"month 0", ev(func(e *pluginv1.Event) { e.Date = pdate(2026, 0, 1) }), 10, "not a calendar date"},
		{"an id twice", &pluginv1.EventsResponse{Cursor: "c2", Events: []*pluginv1.Event{
			{Id: "e1", Kind: "birth", Date: pdate(2026, 6, 1)}, {Id: "e1", Kind: "death", Date: pdate(2026, 6, 1)}}}, 10, `event 1: id "e1" twice`},
		{"more than the limit", &pluginv1.EventsResponse{Cursor: "c2", Events: []*pluginv1.Event{
			{Id: "e1", Kind: "birth", Date: pdate(2026, 6, 1)}, {Id: "e2", Kind: "death", Date: pdate(2026, 6, 1)}}}, 1, "2 events for a limit of 1"},
		{"the same cursor", &pluginv1.EventsResponse{Cursor: "c1", Events: ev(func(*pluginv1.Event) {}).Events}, 10, `cursor "c1" does not move on`},
		{"no cursor", &pluginv1.EventsResponse{Events: ev(func(*pluginv1.Event) {}).Events}, 10, `cursor "" does not move on`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, func(s *grpc.Server) { pluginv1.RegisterEventSourceServer(s, &rawEventSource{answer: tc.answer}) })
			_, _, err := (&EventSourceClient{c: pluginv1.NewEventSourceClient(conn)}).Events(context.Background(), "c1", tc.limit)
			wantBadAnswer(t, err, tc.want)
		})
	}

	conn := rawConn(t, func(s *grpc.Server) {
		pluginv1.RegisterEventSourceServer(s, &rawEventSource{answer: ev(func(*pluginv1.Event) {})})
	})
	c := &EventSourceClient{c: pluginv1.NewEventSourceClient(conn)}
	if evs, next, err := c.Events(context.Background(), "c1", 0); err != nil || len(evs) != 1 || next != "c2" {
		t.Errorf("good answer: %v, %q, %v", evs, next, err)
	}
	if _, _, err := c.Events(context.Background(), "c1", -1); err == nil || !strings.Contains(err.Error(), "limit -1") {
		t.Errorf("a negative limit: %v", err)
	}
}

func TestPaymentBadAnswers(t *testing.T) {
	orders := []connector.PaymentOrder{{ID: "o1", AmountKopecks: 100}, {ID: "o2", AmountKopecks: 200}}
	st := func(id, s string) *pluginv1.PaymentStatus { return &pluginv1.PaymentStatus{OrderId: id, Status: s} }
	for _, tc := range []struct {
		name     string
		answer   []*pluginv1.PaymentStatus
		submit   string // Submit's error
		statuses string // Statuses' error; "" when the answer is good for it
	}{
		{"no statuses", nil, "0 statuses for 2 orders", ""},
		{"one status short", []*pluginv1.PaymentStatus{st("o1", "accepted")}, "1 statuses for 2 orders", ""},
		{"one status too many", []*pluginv1.PaymentStatus{st("o1", "accepted"), st("o2", "accepted"), st("o2", "paid")},
			"3 statuses for 2 orders", `order "o2" has two statuses`},
		{"an order twice", []*pluginv1.PaymentStatus{st("o1", "accepted"), st("o1", "accepted")},
			`order "o1" has two statuses`, `order "o1" has two statuses`},
		{"an order not submitted", []*pluginv1.PaymentStatus{st("o1", "accepted"), st("o3", "accepted")},
			`order "o3", which was not asked about`, `order "o3", which was not asked about`},
		{"no order id", []*pluginv1.PaymentStatus{st("o1", "accepted"), st("", "accepted")},
			`order "", which was not asked about`, `order "", which was not asked about`},
		{"an unknown status", []*pluginv1.PaymentStatus{st("o1", "accepted"), st("o2", "sent")},
			`order "o2": status "sent" is none of`, `order "o2": status "sent" is none of`},
		{"no status", []*pluginv1.PaymentStatus{st("o1", ""), st("o2", "accepted")},
			`order "o1": status "" is none of`, `order "o1": status "" is none of`},
		{"a status in capitals", []*pluginv1.PaymentStatus{st("o1", "PAID"), st("o2", "accepted")},
			`status "PAID"`, `status "PAID"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, func(s *grpc.Server) { pluginv1.RegisterPaymentSinkServer(s, &rawPaymentSink{statuses: tc.answer}) })
			c := &PaymentSinkClient{c: pluginv1.NewPaymentSinkClient(conn)}
			_, err := c.Submit(context.Background(), orders)
			wantBadAnswer(t, err, tc.submit)
			_, err = c.Statuses(context.Background(), []string{"o1", "o2"})
			if tc.statuses == "" {
				if err != nil {
					t.Errorf("Statuses: %v; an order the sink does not know may be left out", err)
				}
			} else {
				wantBadAnswer(t, err, tc.statuses)
			}
		})
	}

	// Ids are how an answer refers to orders: the host must give each one.
	conn := rawConn(t, func(s *grpc.Server) { pluginv1.RegisterPaymentSinkServer(s, &rawPaymentSink{}) })
	c := &PaymentSinkClient{c: pluginv1.NewPaymentSinkClient(conn)}
	if _, err := c.Submit(context.Background(), []connector.PaymentOrder{{ID: "o1"}, {ID: "o1"}}); err == nil || !strings.Contains(err.Error(), `order id "o1" twice`) {
		t.Errorf("orders with the same id: %v", err)
	}
	if _, err := c.Statuses(context.Background(), []string{"o1", ""}); err == nil || !strings.Contains(err.Error(), "order 1 has no id") {
		t.Errorf("an order without an id: %v", err)
	}
}

func TestDeliverBadAnswers(t *testing.T) {
	notices := []connector.Notice{{ID: "n1"}, {ID: "n2"}}
	d := func(id, s string) *pluginv1.Delivery { return &pluginv1.Delivery{NoticeId: id, Status: s} }
	for _, tc := range []struct {
		name string
		ds   []*pluginv1.Delivery
		want string
	}{
		{"no deliveries", nil, "0 deliveries for 2 notices"},
		{"one delivery short", []*pluginv1.Delivery{d("n1", "delivered")}, "1 deliveries for 2 notices"},
		{"a notice twice", []*pluginv1.Delivery{d("n1", "delivered"), d("n1", "failed")}, `notice "n1" has two deliveries`},
		{"a notice not sent", []*pluginv1.Delivery{d("n1", "delivered"), d("n9", "delivered")}, `notice "n9", which was not sent`},
		{"an unknown status", []*pluginv1.Delivery{d("n1", "delivered"), d("n2", "read")}, `notice "n2": status "read" is none of`},
		{"no status", []*pluginv1.Delivery{d("n1", ""), d("n2", "queued")}, `notice "n1": status "" is none of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, func(s *grpc.Server) {
				pluginv1.RegisterNotifierServer(s, &rawNotifier{answer: &pluginv1.DeliverResponse{Deliveries: tc.ds}})
			})
			_, err := (&NotifierClient{c: pluginv1.NewNotifierClient(conn)}).Deliver(context.Background(), notices)
			wantBadAnswer(t, err, tc.want)
		})
	}
}

// TestConnectorUnimplemented: a plug-in that does not serve the kind's
// service at all answers UNIMPLEMENTED, which the host reads as
// sdk.ErrUnsupported.
func TestConnectorUnimplemented(t *testing.T) {
	conn := rawConn(t, func(s *grpc.Server) { pluginv1.RegisterNotifierServer(s, &pluginv1.UnimplementedNotifierServer{}) })
	_, err := (&NotifierClient{c: pluginv1.NewNotifierClient(conn)}).Deliver(context.Background(), []connector.Notice{{ID: "n1"}})
	if !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("error %v, want sdk.ErrUnsupported", err)
	}
}

// TestConnectorStatusIsThePluginsError: an error a connector returns that
// is itself a gRPC status (its own upstream's, say) is the plug-in's error
// like any other, its code kept in the message. UNAVAILABLE as it was would
// read to the host as a dead process, killed and sent the call again.
func TestConnectorStatusIsThePluginsError(t *testing.T) {
	for _, code := range []codes.Code{codes.Unavailable, codes.Canceled, codes.Unimplemented, codes.PermissionDenied} {
		conn := rawConn(t, func(s *grpc.Server) {
			pluginv1.RegisterDataSourceServer(s, &dataSourceServer{impl: errDataSource{status.Error(code, "the register says no")}})
		})
		_, err := (&DataSourceClient{c: pluginv1.NewDataSourceClient(conn)}).Facts(context.Background(), []connector.PersonRef{{SNILS: "11223344595"}}, time.Now())
		var e *sdk.Error
		if !errors.As(err, &e) || e.Upstream || !strings.Contains(e.Message, "the register says no") || !strings.Contains(e.Message, code.String()) {
			t.Errorf("%s: error %T %v, want the plug-in's *sdk.Error naming the code and the message", code, err, err)
		}
		if errors.Is(err, sdk.ErrUnsupported) || status.Code(err) == codes.Unavailable {
			t.Errorf("%s: error %v reads as the transport's", code, err)
		}
	}
	// sdk.Upstream around a status: the region's system failed.
	conn := rawConn(t, func(s *grpc.Server) {
		pluginv1.RegisterDataSourceServer(s, &dataSourceServer{impl: errDataSource{sdk.Upstream(status.Error(codes.Unavailable, "down"))}})
	})
	_, err := (&DataSourceClient{c: pluginv1.NewDataSourceClient(conn)}).Facts(context.Background(), []connector.PersonRef{{SNILS: "11223344595"}}, time.Now())
	if !sdk.IsUpstream(err) {
		t.Errorf("error %v, want upstream", err)
	}
}

type errDataSource struct{ err error }

func (e errDataSource) Facts(context.Context, []connector.PersonRef, time.Time) ([]connector.PersonFacts, error) {
	return nil, e.err
}

// TestPluginSetHasEveryKind: a host can start a plug-in of any kind.
func TestPluginSetHasEveryKind(t *testing.T) {
	set := PluginSet()
	for _, k := range Kinds {
		if set[k] == nil {
			t.Errorf("PluginSet has no %s", k)
		}
	}
	if len(set) != len(Kinds) {
		t.Errorf("PluginSet has %d kinds, Kinds %d", len(set), len(Kinds))
	}
}
