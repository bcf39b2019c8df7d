package grpcplugin

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// answers is a plug-in of every connector kind whose answer is whatever
// bytes it is given, read as that kind's response.
type answers struct{ raw []byte }

// answer reads raw as a response of type T.
func answer[T any, P interface {
	*T
	proto.Message
}](raw []byte) (P, error) {
	r := P(new(T))
	return r, proto.Unmarshal(raw, r)
}

func (a answers) Facts(context.Context, *pluginv1.FactsRequest, ...grpc.CallOption) (*pluginv1.FactsResponse, error) {
	return answer[pluginv1.FactsResponse](a.raw)
}

func (a answers) Events(context.Context, *pluginv1.EventsRequest, ...grpc.CallOption) (*pluginv1.EventsResponse, error) {
	return answer[pluginv1.EventsResponse](a.raw)
}

func (a answers) Submit(context.Context, *pluginv1.SubmitRequest, ...grpc.CallOption) (*pluginv1.SubmitResponse, error) {
	return answer[pluginv1.SubmitResponse](a.raw)
}

func (a answers) Statuses(context.Context, *pluginv1.StatusesRequest, ...grpc.CallOption) (*pluginv1.StatusesResponse, error) {
	return answer[pluginv1.StatusesResponse](a.raw)
}

func (a answers) Deliver(context.Context, *pluginv1.DeliverRequest, ...grpc.CallOption) (*pluginv1.DeliverResponse, error) {
	return answer[pluginv1.DeliverResponse](a.raw)
}

// FuzzConnectorAnswers: whatever a connector answers, the host's reading
// of it never panics, and an answer it takes is one the protocol allows:
// facts only of persons asked about, once each; events with ids, once
// each, and a cursor that moved; a status or delivery only for what was
// sent, in its place, and for every order submitted.
func FuzzConnectorAnswers(f *testing.F) {
	for _, m := range []proto.Message{
		&pluginv1.FactsResponse{Persons: []*pluginv1.PersonFacts{{Snils: "11223344595", Source: "register",
			Categories: []*pluginv1.CategoryFact{{Code: "large_family", Period: &pluginv1.Period{From: pdate(2024, 1, 1)}}},
			Incomes:    []*pluginv1.IncomeFact{{Month: "2026-05", Kind: "salary", AmountKopecks: 100}}}}},
		&pluginv1.EventsResponse{Cursor: "2", Events: []*pluginv1.Event{{Id: "e1", Kind: "birth", Snils: "11223344595", Date: pdate(2026, 6, 1)}}},
		&pluginv1.SubmitResponse{Statuses: []*pluginv1.PaymentStatus{{OrderId: "o1", Status: connector.PaymentAccepted}, {OrderId: "o2", Status: "rejected", Detail: "x"}}},
		&pluginv1.DeliverResponse{Deliveries: []*pluginv1.Delivery{{NoticeId: "n1", Status: connector.DeliveryDelivered}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		a := answers{raw}
		asked := []connector.PersonRef{{SNILS: "11223344595"}, {SNILS: "11223344595"}, {SNILS: "00000000000"}}
		if facts, err := (&DataSourceClient{c: a}).Facts(ctx, asked, time.Now()); err == nil {
			seen := map[string]bool{}
			for _, pf := range facts {
				if pf.SNILS != "11223344595" && pf.SNILS != "00000000000" || seen[pf.SNILS] {
					t.Fatalf("facts of %q taken", pf.SNILS)
				}
				seen[pf.SNILS] = true
			}
		}
		if evs, cursor, err := (&EventSourceClient{c: a}).Events(ctx, "1", 10); err == nil {
			if len(evs) > 10 || len(evs) > 0 && (cursor == "1" || cursor == "") {
				t.Fatalf("%d events taken with cursor %q", len(evs), cursor)
			}
			seen := map[string]bool{}
			for _, ev := range evs {
				if ev.ID == "" || seen[ev.ID] || ev.Kind == "" {
					t.Fatalf("event %+v taken", ev)
				}
				seen[ev.ID] = true
			}
		}
		sink := &PaymentSinkClient{c: a}
		orders := []connector.PaymentOrder{{ID: "o1", AmountKopecks: 1}, {ID: "o2", AmountKopecks: 2}}
		if sts, err := sink.Submit(ctx, orders); err == nil {
			if len(sts) != len(orders) {
				t.Fatalf("%d statuses taken for %d orders", len(sts), len(orders))
			}
			for i, st := range sts {
				if st.OrderID != orders[i].ID {
					t.Fatalf("status %d is of %q", i, st.OrderID)
				}
			}
		}
		if sts, err := sink.Statuses(ctx, []string{"o1", "o2"}); err == nil && len(sts) > 2 {
			t.Fatalf("%d statuses taken for 2 orders", len(sts))
		}
		notices := []connector.Notice{{ID: "n1"}, {ID: "n2"}}
		if ds, err := (&NotifierClient{c: a}).Deliver(ctx, notices); err == nil {
			for i, d := range ds {
				if d.NoticeID != notices[i].ID {
					t.Fatalf("delivery %d is of %q", i, d.NoticeID)
				}
			}
		}
	})
}
