package grpcplugin

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// The connectors' clients check every answer before the host sees it: an
// answer that names a person, order or notice that was not asked about, or
// leaves one out, or carries a value the protocol does not have, is
// refused whole with badAnswer. Putting a fact on the wrong person, or
// taking an order for paid that was never answered, is worse than a failed
// call the host can report and retry.

// ---- DataSource ---------------------------------------------------------

// DataSourcePlugin is the go-plugin type of a data source: Impl is set on
// the plug-in's side; the host's client is a *DataSourceClient.
type DataSourcePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl connector.DataSource
}

func (p *DataSourcePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterDataSourceServer(s, &dataSourceServer{impl: p.Impl})
	return nil
}

func (p *DataSourcePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &DataSourceClient{c: pluginv1.NewDataSourceClient(c)}, nil
}

// DataSourceClient calls a data source plug-in. It implements
// connector.DataSource.
type DataSourceClient struct {
	c pluginv1.DataSourceClient
}

var _ connector.DataSource = (*DataSourceClient)(nil)

// Facts asks about persons in one call. The answer comes back in the order
// of persons (an unknown person is left out); a person the plug-in was not
// asked about, one answered twice, a month that is not "YYYY-MM", a
// category without a code or a period that is not of calendar dates or
// ends before it starts is the plug-in's error. No persons is no call.
func (d *DataSourceClient) Facts(ctx context.Context, persons []connector.PersonRef, asOf time.Time) ([]connector.PersonFacts, error) {
	if len(persons) == 0 {
		return nil, nil
	}
	req := &pluginv1.FactsRequest{AsOf: dateTo(asOf), Persons: make([]*pluginv1.PersonRef, len(persons))}
	asked := make(map[string]int, len(persons)) // SNILS: its first place in persons
	for i, p := range persons {
		req.Persons[i] = &pluginv1.PersonRef{Snils: p.SNILS}
		if _, ok := asked[p.SNILS]; !ok {
			asked[p.SNILS] = i
		}
	}
	r, err := d.c.Facts(outgoing(ctx), req)
	if err != nil {
		return nil, fromStatus(err)
	}
	byPlace := make(map[int]connector.PersonFacts, len(r.GetPersons()))
	for i, pf := range r.GetPersons() {
		place, ok := asked[pf.GetSnils()]
		if !ok {
			// The SNILS is not echoed: the host's log must not collect
			// numbers it never asked about.
			return nil, badAnswer("facts %d are of a person that was not asked about", i)
		}
		if _, dup := byPlace[place]; dup {
			return nil, badAnswer("facts %d are of person %d, answered twice", i, place)
		}
		f, err := personFactsFrom(pf)
		if err != nil {
			return nil, badAnswer("facts of person %d: %v", place, err)
		}
		byPlace[place] = f
	}
	var out []connector.PersonFacts
	for i := range persons {
		if f, ok := byPlace[i]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

type dataSourceServer struct {
	pluginv1.UnimplementedDataSourceServer
	impl connector.DataSource
}

func (s *dataSourceServer) Facts(ctx context.Context, req *pluginv1.FactsRequest) (*pluginv1.FactsResponse, error) {
	var persons []connector.PersonRef
	for _, p := range req.GetPersons() {
		persons = append(persons, connector.PersonRef{SNILS: p.GetSnils()})
	}
	out, err := s.impl.Facts(incoming(ctx), persons, dateFrom(req.GetAsOf()))
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.FactsResponse{Persons: make([]*pluginv1.PersonFacts, len(out))}
	for i := range out {
		r.Persons[i] = personFactsTo(&out[i])
	}
	return r, nil
}

func personFactsTo(f *connector.PersonFacts) *pluginv1.PersonFacts {
	pf := &pluginv1.PersonFacts{Snils: f.SNILS, Source: f.Source}
	for _, c := range f.Categories {
		pf.Categories = append(pf.Categories, &pluginv1.CategoryFact{Code: c.Code, Period: periodTo(c.Period)})
	}
	for _, in := range f.Incomes {
		pf.Incomes = append(pf.Incomes, &pluginv1.IncomeFact{Month: in.Month, Kind: in.Kind, AmountKopecks: in.AmountKopecks})
	}
	return pf
}

// personFactsFrom reads one person's facts, refusing what no source can
// mean. Incomes may be negative: a source may report a month's correction.
func personFactsFrom(pf *pluginv1.PersonFacts) (connector.PersonFacts, error) {
	f := connector.PersonFacts{SNILS: pf.GetSnils(), Source: pf.GetSource()}
	for i, c := range pf.GetCategories() {
		if c.GetCode() == "" {
			return f, fmt.Errorf("category %d has no code", i)
		}
		p, err := periodFrom(c.GetPeriod())
		if err != nil {
			return f, fmt.Errorf("category %q: %v", c.GetCode(), err)
		}
		f.Categories = append(f.Categories, connector.CategoryFact{Code: c.GetCode(), Period: p})
	}
	for i, in := range pf.GetIncomes() {
		if _, err := connector.ParseMonth(in.GetMonth()); err != nil {
			return f, fmt.Errorf("income %d: %v", i, err)
		}
		f.Incomes = append(f.Incomes, connector.IncomeFact{Month: in.GetMonth(), Kind: in.GetKind(), AmountKopecks: in.GetAmountKopecks()})
	}
	return f, nil
}

// ---- EventSource --------------------------------------------------------

// EventSourcePlugin is the go-plugin type of an event source: Impl is set
// on the plug-in's side; the host's client is an *EventSourceClient.
type EventSourcePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl connector.EventSource
}

func (p *EventSourcePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterEventSourceServer(s, &eventSourceServer{impl: p.Impl})
	return nil
}

func (p *EventSourcePlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &EventSourceClient{c: pluginv1.NewEventSourceClient(c)}, nil
}

// EventSourceClient calls an event source plug-in. It implements
// connector.EventSource.
type EventSourceClient struct {
	c pluginv1.EventSourceClient
}

var _ connector.EventSource = (*EventSourceClient)(nil)

// Events reads the events after cursor. More events than limit, an event
// without an id or kind, an id twice, a missing or impossible date, or
// events with a cursor that does not move on (the host would read them
// again for ever) is the plug-in's error. A limit above the wire's int32
// is sent as its largest.
func (e *EventSourceClient) Events(ctx context.Context, cursor string, limit int) ([]connector.Event, string, error) {
	if limit < 0 {
		return nil, "", fmt.Errorf("grpcplugin: Events with limit %d", limit)
	}
	r, err := e.c.Events(outgoing(ctx), &pluginv1.EventsRequest{Cursor: cursor, Limit: int32(min(limit, math.MaxInt32))})
	if err != nil {
		return nil, "", fromStatus(err)
	}
	evs := r.GetEvents()
	if limit > 0 && len(evs) > limit {
		return nil, "", badAnswer("%d events for a limit of %d", len(evs), limit)
	}
	if len(evs) > 0 && (r.GetCursor() == cursor || r.GetCursor() == "") {
		return nil, "", badAnswer("%d events, but the cursor %q does not move on from %q", len(evs), r.GetCursor(), cursor)
	}
	var out []connector.Event
	seen := make(map[string]bool, len(evs))
	for i, ev := range evs {
		switch {
		case ev.GetId() == "":
			return nil, "", badAnswer("event %d has no id", i)
		case seen[ev.GetId()]:
			return nil, "", badAnswer("event %d: id %q twice", i, ev.GetId())
		case ev.GetKind() == "":
			return nil, "", badAnswer("event %q has no kind", ev.GetId())
		case ev.GetDate() == nil || !validDate(ev.GetDate()):
			return nil, "", badAnswer("event %q: date %v is not a calendar date", ev.GetId(), ev.GetDate())
		}
		seen[ev.GetId()] = true
		out = append(out, connector.Event{ID: ev.GetId(), Kind: ev.GetKind(), SNILS: ev.GetSnils(),
			Date: dateFrom(ev.GetDate()), Attributes: ev.GetAttributes()})
	}
	return out, r.GetCursor(), nil
}

type eventSourceServer struct {
	pluginv1.UnimplementedEventSourceServer
	impl connector.EventSource
}

func (s *eventSourceServer) Events(ctx context.Context, req *pluginv1.EventsRequest) (*pluginv1.EventsResponse, error) {
	evs, next, err := s.impl.Events(incoming(ctx), req.GetCursor(), max(int(req.GetLimit()), 0))
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.EventsResponse{Cursor: next, Events: make([]*pluginv1.Event, len(evs))}
	for i, ev := range evs {
		r.Events[i] = &pluginv1.Event{Id: ev.ID, Kind: ev.Kind, Snils: ev.SNILS, Date: dateTo(ev.Date), Attributes: ev.Attributes}
	}
	return r, nil
}

// ---- PaymentSink --------------------------------------------------------

// PaymentSinkPlugin is the go-plugin type of a payment sink: Impl is set on
// the plug-in's side; the host's client is a *PaymentSinkClient.
type PaymentSinkPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl connector.PaymentSink
}

func (p *PaymentSinkPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPaymentSinkServer(s, &paymentSinkServer{impl: p.Impl})
	return nil
}

func (p *PaymentSinkPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &PaymentSinkClient{c: pluginv1.NewPaymentSinkClient(c)}, nil
}

// PaymentSinkClient calls a payment sink plug-in. It implements
// connector.PaymentSink.
type PaymentSinkClient struct {
	c pluginv1.PaymentSinkClient
}

var _ connector.PaymentSink = (*PaymentSinkClient)(nil)

// Submit sends the orders in one call; their ids must be set and unique.
// The answer must have exactly one status an order, by id, among accepted,
// paid, returned and rejected; it is given back in the order of orders.
// No orders is no call.
func (p *PaymentSinkClient) Submit(ctx context.Context, orders []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
	if len(orders) == 0 {
		return nil, nil
	}
	ids := make([]string, len(orders))
	req := &pluginv1.SubmitRequest{Orders: make([]*pluginv1.PaymentOrder, len(orders))}
	for i := range orders {
		o := &orders[i]
		ids[i] = o.ID
		req.Orders[i] = &pluginv1.PaymentOrder{Id: o.ID, Snils: o.SNILS, Recipient: o.Recipient, Account: o.Account, Bik: o.BIK,
			AmountKopecks: o.AmountKopecks, Measure: o.Measure, Period: periodTo(o.Period), Purpose: o.Purpose}
	}
	index, err := indexIDs("order", ids)
	if err != nil {
		return nil, err
	}
	r, err := p.c.Submit(outgoing(ctx), req)
	if err != nil {
		return nil, fromStatus(err)
	}
	return placeStatuses(r.GetStatuses(), index, true)
}

// Statuses asks for the statuses of orders; one the sink does not know is
// left out. The answer is checked as Submit's and given back in the order
// of orderIDs.
func (p *PaymentSinkClient) Statuses(ctx context.Context, orderIDs []string) ([]connector.PaymentStatus, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	index, err := indexIDs("order", orderIDs)
	if err != nil {
		return nil, err
	}
	r, err := p.c.Statuses(outgoing(ctx), &pluginv1.StatusesRequest{OrderIds: orderIDs})
	if err != nil {
		return nil, fromStatus(err)
	}
	return placeStatuses(r.GetStatuses(), index, false)
}

// placeStatuses checks the answered statuses (connector.PlaceStatuses)
// and puts them in the places of the orders asked about.
func placeStatuses(sts []*pluginv1.PaymentStatus, index map[string]int, every bool) ([]connector.PaymentStatus, error) {
	in := make([]connector.PaymentStatus, len(sts))
	for i, st := range sts {
		in[i] = connector.PaymentStatus{OrderID: st.GetOrderId(), Status: st.GetStatus(), Detail: st.GetDetail()}
	}
	out, err := connector.PlaceStatuses(index, in, every)
	if err != nil {
		return nil, badAnswer("%v", err)
	}
	return out, nil
}

type paymentSinkServer struct {
	pluginv1.UnimplementedPaymentSinkServer
	impl connector.PaymentSink
}

func (s *paymentSinkServer) Submit(ctx context.Context, req *pluginv1.SubmitRequest) (*pluginv1.SubmitResponse, error) {
	var orders []connector.PaymentOrder
	for _, o := range req.GetOrders() {
		orders = append(orders, connector.PaymentOrder{ID: o.GetId(), SNILS: o.GetSnils(), Recipient: o.GetRecipient(),
			Account: o.GetAccount(), BIK: o.GetBik(), AmountKopecks: o.GetAmountKopecks(), Measure: o.GetMeasure(),
			Period: connector.Period{From: dateFrom(o.GetPeriod().GetFrom()), To: dateFrom(o.GetPeriod().GetTo())}, Purpose: o.GetPurpose()})
	}
	sts, err := s.impl.Submit(incoming(ctx), orders)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.SubmitResponse{Statuses: paymentStatusesTo(sts)}, nil
}

func (s *paymentSinkServer) Statuses(ctx context.Context, req *pluginv1.StatusesRequest) (*pluginv1.StatusesResponse, error) {
	sts, err := s.impl.Statuses(incoming(ctx), req.GetOrderIds())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pluginv1.StatusesResponse{Statuses: paymentStatusesTo(sts)}, nil
}

func paymentStatusesTo(sts []connector.PaymentStatus) []*pluginv1.PaymentStatus {
	out := make([]*pluginv1.PaymentStatus, len(sts))
	for i, s := range sts {
		out[i] = &pluginv1.PaymentStatus{OrderId: s.OrderID, Status: s.Status, Detail: s.Detail}
	}
	return out
}

// ---- Notifier -----------------------------------------------------------

// NotifierPlugin is the go-plugin type of a notifier: Impl is set on the
// plug-in's side; the host's client is a *NotifierClient.
type NotifierPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl connector.Notifier
}

func (p *NotifierPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterNotifierServer(s, &notifierServer{impl: p.Impl})
	return nil
}

func (p *NotifierPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &NotifierClient{c: pluginv1.NewNotifierClient(c)}, nil
}

// NotifierClient calls a notifier plug-in. It implements
// connector.Notifier.
type NotifierClient struct {
	c pluginv1.NotifierClient
}

var _ connector.Notifier = (*NotifierClient)(nil)

// Deliver sends the notices in one call; their ids must be set and unique.
// The answer must have exactly one delivery a notice, by id, among
// delivered, queued and failed; it is given back in the order of notices.
// No notices is no call.
func (n *NotifierClient) Deliver(ctx context.Context, notices []connector.Notice) ([]connector.Delivery, error) {
	if len(notices) == 0 {
		return nil, nil
	}
	ids := make([]string, len(notices))
	req := &pluginv1.DeliverRequest{Notices: make([]*pluginv1.Notice, len(notices))}
	for i := range notices {
		x := &notices[i]
		ids[i] = x.ID
		req.Notices[i] = &pluginv1.Notice{Id: x.ID, Snils: x.SNILS, Channel: x.Channel, Address: x.Address,
			Subject: &pluginv1.Text{Ru: x.Subject.RU, En: x.Subject.EN}, Body: &pluginv1.Text{Ru: x.Body.RU, En: x.Body.EN}}
	}
	index, err := indexIDs("notice", ids)
	if err != nil {
		return nil, err
	}
	r, err := n.c.Deliver(outgoing(ctx), req)
	if err != nil {
		return nil, fromStatus(err)
	}
	ds := make([]connector.Delivery, len(r.GetDeliveries()))
	for i, d := range r.GetDeliveries() {
		ds[i] = connector.Delivery{NoticeID: d.GetNoticeId(), Status: d.GetStatus(), Detail: d.GetDetail()}
	}
	out, err := connector.PlaceDeliveries(index, ds)
	if err != nil {
		return nil, badAnswer("%v", err)
	}
	return out, nil
}

type notifierServer struct {
	pluginv1.UnimplementedNotifierServer
	impl connector.Notifier
}

func (s *notifierServer) Deliver(ctx context.Context, req *pluginv1.DeliverRequest) (*pluginv1.DeliverResponse, error) {
	var notices []connector.Notice
	for _, x := range req.GetNotices() {
		notices = append(notices, connector.Notice{ID: x.GetId(), SNILS: x.GetSnils(), Channel: x.GetChannel(), Address: x.GetAddress(),
			Subject: connector.Text{RU: x.GetSubject().GetRu(), EN: x.GetSubject().GetEn()},
			Body:    connector.Text{RU: x.GetBody().GetRu(), EN: x.GetBody().GetEn()}})
	}
	ds, err := s.impl.Deliver(incoming(ctx), notices)
	if err != nil {
		return nil, toStatus(err)
	}
	r := &pluginv1.DeliverResponse{Deliveries: make([]*pluginv1.Delivery, len(ds))}
	for i, d := range ds {
		r.Deliveries[i] = &pluginv1.Delivery{NoticeId: d.NoticeID, Status: d.Status, Detail: d.Detail}
	}
	return r, nil
}

// ---- shared -------------------------------------------------------------

// indexIDs is connector.IndexIDs, its error the caller's.
func indexIDs(what string, ids []string) (map[string]int, error) {
	index, err := connector.IndexIDs(what, ids)
	if err != nil {
		return nil, fmt.Errorf("grpcplugin: %w", err)
	}
	return index, nil
}

// periodTo is a period on the wire; a period of no dates is none.
func periodTo(p connector.Period) *pluginv1.Period {
	if p.From.IsZero() && p.To.IsZero() {
		return nil
	}
	return &pluginv1.Period{From: dateTo(p.From), To: dateTo(p.To)}
}

// periodFrom reads a period a plug-in answered: calendar dates, not
// ending before it starts.
func periodFrom(p *pluginv1.Period) (connector.Period, error) {
	out := connector.Period{From: dateFrom(p.GetFrom()), To: dateFrom(p.GetTo())}
	switch {
	case !validDate(p.GetFrom()) || !validDate(p.GetTo()):
		return out, fmt.Errorf("period %v..%v is not of calendar dates", p.GetFrom(), p.GetTo())
	case !out.To.IsZero() && out.To.Before(out.From):
		return out, fmt.Errorf("period ends %s before it starts %s", out.To.Format(time.DateOnly), out.From.Format(time.DateOnly))
	}
	return out, nil
}
