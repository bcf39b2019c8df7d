package sdktest_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// seen is what a fake connector saw of a call: its region and input.
type seen struct {
	tenant string
	input  any
}

func record(ctx context.Context, s *seen, input any) {
	s.tenant, _ = sdk.Tenant(ctx)
	s.input = input
}

type fakeDataSource struct {
	seen
	out []connector.PersonFacts
	err error
}

func (f *fakeDataSource) Facts(ctx context.Context, persons []connector.PersonRef, asOf time.Time) ([]connector.PersonFacts, error) {
	record(ctx, &f.seen, []any{persons, asOf})
	return f.out, f.err
}

type fakeEventSource struct {
	seen
	out  []connector.Event
	next string
	err  error
}

func (f *fakeEventSource) Events(ctx context.Context, cursor string, limit int) ([]connector.Event, string, error) {
	record(ctx, &f.seen, []any{cursor, limit})
	return f.out, f.next, f.err
}

type fakePaymentSink struct {
	seen
	out []connector.PaymentStatus
	err error
}

func (f *fakePaymentSink) Submit(ctx context.Context, orders []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
	record(ctx, &f.seen, orders)
	return f.out, f.err
}

func (f *fakePaymentSink) Statuses(ctx context.Context, ids []string) ([]connector.PaymentStatus, error) {
	record(ctx, &f.seen, ids)
	return f.out, f.err
}

type fakeNotifier struct {
	seen
	out []connector.Delivery
	err error
}

func (f *fakeNotifier) Deliver(ctx context.Context, notices []connector.Notice) ([]connector.Delivery, error) {
	record(ctx, &f.seen, notices)
	return f.out, f.err
}

// check fails unless the fake saw region 16 and want, and got is wantOut.
func check(t *testing.T, s seen, want any, got, wantOut any) {
	t.Helper()
	if s.tenant != "16" {
		t.Errorf("the plug-in's ctx is for region %q, want 16", s.tenant)
	}
	if !reflect.DeepEqual(s.input, want) {
		t.Errorf("the plug-in got\n%#v\nwant\n%#v", s.input, want)
	}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("the host got\n%#v\nwant\n%#v", got, wantOut)
	}
}

func TestDataSourceRoundTrip(t *testing.T) {
	persons := []connector.PersonRef{{SNILS: "11223344595"}, {SNILS: "00000000000"}, {SNILS: "12345678964"}}
	asOf := day(2026, 6, 15)
	facts := []connector.PersonFacts{
		{SNILS: "12345678964", Source: "disability register",
			Categories: []connector.CategoryFact{{Code: "disabled", Period: connector.Period{From: day(2020, 1, 1)}}}},
		{SNILS: "11223344595", Source: "large families register",
			Categories: []connector.CategoryFact{
				{Code: "large_family", Period: connector.Period{From: day(2024, 2, 29), To: day(2027, 2, 28)}},
				{Code: "low_income"},
			},
			Incomes: []connector.IncomeFact{{Month: "2026-05", Kind: "salary", AmountKopecks: 4_500_000}, {Month: "2026-04", Kind: "correction", AmountKopecks: -1}}},
	}
	ds := &fakeDataSource{out: facts}
	got, err := sdktest.DataSource(t, ds).Facts(sdktest.Context(t, "16"), persons, asOf)
	if err != nil {
		t.Fatal(err)
	}
	// The answer comes back in the order of the persons asked about.
	check(t, ds.seen, []any{persons, asOf}, got, []connector.PersonFacts{facts[1], facts[0]})

	// No date is the zero time on the other side too.
	if _, err := sdktest.DataSource(t, ds).Facts(sdktest.Context(t, "16"), persons, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if at := ds.input.([]any)[1].(time.Time); !at.IsZero() {
		t.Errorf("no as-of date arrived as %v", at)
	}
}

func TestEventSourceRoundTrip(t *testing.T) {
	events := []connector.Event{
		{ID: "e1", Kind: "birth", SNILS: "11223344595", Date: day(2026, 6, 1), Attributes: map[string]string{"child_snils": "12345678964"}},
		{ID: "e2", Kind: "death", SNILS: "12345678964", Date: day(2026, 6, 2)},
	}
	es := &fakeEventSource{out: events, next: "c2"}
	got, next, err := sdktest.EventSource(t, es).Events(sdktest.Context(t, "16"), "c1", 100)
	if err != nil {
		t.Fatal(err)
	}
	check(t, es.seen, []any{"c1", 100}, got, events)
	if next != "c2" {
		t.Errorf("next cursor %q", next)
	}

	// Nothing new: no events, the same cursor.
	es.out, es.next = nil, "c2"
	got, next, err = sdktest.EventSource(t, es).Events(sdktest.Context(t, "16"), "c2", 0)
	if err != nil || got != nil || next != "c2" {
		t.Errorf("nothing new = %v, %q, %v", got, next, err)
	}
}

func TestPaymentSinkRoundTrip(t *testing.T) {
	orders := []connector.PaymentOrder{
		{ID: "o1", SNILS: "11223344595", Recipient: "Иванова Мария Петровна", Account: "40817810099910004312", BIK: "044525225",
			AmountKopecks: 1_234_567, Measure: "child_allowance", Period: connector.Period{From: day(2026, 6, 1), To: day(2026, 6, 30)},
			Purpose: "Ежемесячное пособие за июнь 2026"},
		{ID: "o2", SNILS: "12345678964", Recipient: "Петров П. П.", Account: "bad", BIK: "044525225", AmountKopecks: 1},
	}
	// The sink answers in its own order; the host gets the orders' order.
	statuses := []connector.PaymentStatus{
		{OrderID: "o2", Status: connector.PaymentRejected, Detail: "account is not 20 digits"},
		{OrderID: "o1", Status: connector.PaymentAccepted},
	}
	ps := &fakePaymentSink{out: statuses}
	c := sdktest.PaymentSink(t, ps)
	got, err := c.Submit(sdktest.Context(t, "16"), orders)
	if err != nil {
		t.Fatal(err)
	}
	check(t, ps.seen, orders, got, []connector.PaymentStatus{statuses[1], statuses[0]})

	ps.out = []connector.PaymentStatus{{OrderID: "o1", Status: connector.PaymentPaid, Detail: "paid 2026-06-20"}}
	got, err = c.Statuses(sdktest.Context(t, "16"), []string{"o1", "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	check(t, ps.seen, []string{"o1", "unknown"}, got, ps.out)
}

func TestNotifierRoundTrip(t *testing.T) {
	notices := []connector.Notice{
		{ID: "n1", SNILS: "11223344595", Channel: connector.ChannelSMS, Address: "+79001234567",
			Subject: connector.Text{RU: "Решение", EN: "Decision"}, Body: connector.Text{RU: "Назначено", EN: "Granted"}},
		{ID: "n2", SNILS: "12345678964", Channel: connector.ChannelPost, Address: "Казань, ул. Баумана, 1",
			Subject: connector.Text{RU: "Отказ"}, Body: connector.Text{RU: "Отказано"}},
	}
	deliveries := []connector.Delivery{
		{NoticeID: "n1", Status: connector.DeliveryDelivered},
		{NoticeID: "n2", Status: connector.DeliveryQueued, Detail: "printed tomorrow"},
	}
	n := &fakeNotifier{out: deliveries}
	got, err := sdktest.Notifier(t, n).Deliver(sdktest.Context(t, "16"), notices)
	if err != nil {
		t.Fatal(err)
	}
	check(t, n.seen, notices, got, deliveries)
}

// TestConnectorErrors: each kind's error reaches the host as an *sdk.Error
// that says whether the system behind the plug-in or the plug-in failed.
func TestConnectorErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		upstream bool
	}{
		{"upstream", sdk.Upstream(errors.New("the register does not answer")), true},
		{"wrapped upstream", errors.Join(errors.New("reading"), sdk.Upstream(errors.New("the register does not answer"))), true},
		{"plug-in", errors.New("the register does not answer"), false},
	} {
		calls := map[string]func() error{
			"datasource": func() error {
				_, err := sdktest.DataSource(t, &fakeDataSource{err: tc.err}).Facts(sdktest.Context(t, "16"), []connector.PersonRef{{SNILS: "1"}}, time.Time{})
				return err
			},
			"eventsource": func() error {
				_, _, err := sdktest.EventSource(t, &fakeEventSource{err: tc.err}).Events(sdktest.Context(t, "16"), "", 10)
				return err
			},
			"paymentsink submit": func() error {
				_, err := sdktest.PaymentSink(t, &fakePaymentSink{err: tc.err}).Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{{ID: "o1"}})
				return err
			},
			"paymentsink statuses": func() error {
				_, err := sdktest.PaymentSink(t, &fakePaymentSink{err: tc.err}).Statuses(sdktest.Context(t, "16"), []string{"o1"})
				return err
			},
			"notifier": func() error {
				_, err := sdktest.Notifier(t, &fakeNotifier{err: tc.err}).Deliver(sdktest.Context(t, "16"), []connector.Notice{{ID: "n1"}})
				return err
			},
		}
		for kind, call := range calls {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				var e *sdk.Error
				err := call()
				if !errors.As(err, &e) {
					t.Fatalf("error %T %v, want an *sdk.Error", err, err)
				}
				if e.Upstream != tc.upstream || sdk.IsUpstream(err) != tc.upstream {
					t.Errorf("Upstream = %v, want %v", e.Upstream, tc.upstream)
				}
				if !strings.Contains(e.Message, "the register does not answer") {
					t.Errorf("message %q lost the plug-in's", e.Message)
				}
			})
		}
	}
}

// TestConnectorAnswersChecked: a connector answering against the protocol
// through sdktest fails its author's test, as it would fail on the
// platform.
func TestConnectorAnswersChecked(t *testing.T) {
	ctx := sdktest.Context(t, "16")
	_, err := sdktest.DataSource(t, &fakeDataSource{out: []connector.PersonFacts{{SNILS: "99999999999"}}}).
		Facts(ctx, []connector.PersonRef{{SNILS: "11223344595"}}, time.Time{})
	wantProtocol(t, err, "not asked about")

	_, err = sdktest.PaymentSink(t, &fakePaymentSink{out: []connector.PaymentStatus{{OrderID: "o1", Status: "sent"}}}).
		Submit(ctx, []connector.PaymentOrder{{ID: "o1"}})
	wantProtocol(t, err, `status "sent"`)

	_, err = sdktest.Notifier(t, &fakeNotifier{}).Deliver(ctx, []connector.Notice{{ID: "n1"}})
	wantProtocol(t, err, "0 deliveries for 1 notices")

	_, _, err = sdktest.EventSource(t, &fakeEventSource{out: []connector.Event{{ID: "e1", Kind: "birth", Date: day(2026, 1, 1)}}, next: "c"}).
		Events(ctx, "c", 10)
	wantProtocol(t, err, "does not move on")
}

func wantProtocol(t *testing.T, err error, part string) {
	t.Helper()
	var e *sdk.Error
	if !errors.As(err, &e) || e.Upstream || !strings.Contains(e.Message, "against the protocol") || !strings.Contains(e.Message, part) {
		t.Errorf("error %v, want the plug-in's answer against the protocol with %q", err, part)
	}
}

// In this process a plug-in is served with the platform's gRPC settings:
// a request past gRPC's default 4 MiB message limit, which the platform
// carries, crosses here too.
func TestInProcessCarriesWhatThePlatformCarries(t *testing.T) {
	const n = 500_000
	persons := make([]connector.PersonRef, n)
	for i := range persons {
		persons[i] = connector.PersonRef{SNILS: fmt.Sprintf("%011d", i)}
	}
	facts := []connector.PersonFacts{{SNILS: persons[n-1].SNILS, Source: "large families register"}}
	got, err := sdktest.DataSource(t, &fakeDataSource{out: facts}).Facts(sdktest.Context(t, "16"), persons, day(2026, 6, 15))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, facts) {
		t.Fatalf("%d persons asked about, %+v came back", n, got)
	}
}
