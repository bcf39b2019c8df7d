package pluginhost

import (
	"context"
	"fmt"
	"time"

	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
)

// The connector plug-ins, behind core/connector's interfaces: a region's
// plug-in and a built-in connector are used alike. Each is bound to the
// region of the context it was resolved in, as Measure's evaluator is;
// its process starts on the first call.
//
// A call whose process dies under it is sent again, whole, to a restarted
// process (proc.call). For a data source or an event source that is
// harmless — they only read — but a payment sink's Submit may then reach
// the sink twice with orders it has taken: that is safe only because a
// sink must be idempotent on order id (sdk/connector.PaymentSink), and a
// notifier's Deliver may repeat a notice unless it keeps its ids.

// connectorBatch is the most items (persons, orders, notices) one call
// carries; more are sent in several calls, each checked on its own.
const connectorBatch = 1000

// DataSource is the data source plug-in the context's region has enabled
// under name.
func (h *Host) DataSource(ctx context.Context, name string) (connector.DataSource, error) {
	p, err := h.enabled(ctx, name, "", grpcplugin.KindDataSource)
	if err != nil {
		return nil, err
	}
	return dataSource{p}, nil
}

// EventSource is the event source plug-in the context's region has
// enabled under name.
func (h *Host) EventSource(ctx context.Context, name string) (connector.EventSource, error) {
	p, err := h.enabled(ctx, name, "", grpcplugin.KindEventSource)
	if err != nil {
		return nil, err
	}
	return eventSource{p}, nil
}

// PaymentSink is the payment sink plug-in the context's region has
// enabled under name.
func (h *Host) PaymentSink(ctx context.Context, name string) (connector.PaymentSink, error) {
	p, err := h.enabled(ctx, name, "", grpcplugin.KindPaymentSink)
	if err != nil {
		return nil, err
	}
	return paymentSink{p}, nil
}

// Notifier is the notifier plug-in the context's region has enabled under
// name.
func (h *Host) Notifier(ctx context.Context, name string) (connector.Notifier, error) {
	p, err := h.enabled(ctx, name, "", grpcplugin.KindNotifier)
	if err != nil {
		return nil, err
	}
	return notifier{p}, nil
}

// batched calls fn on consecutive parts of in of at most connectorBatch,
// joining the answers.
func batched[In, Out any](in []In, fn func([]In) ([]Out, error)) ([]Out, error) {
	var out []Out
	for len(in) > 0 {
		n := min(len(in), connectorBatch)
		res, err := fn(in[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
		in = in[n:]
	}
	return out, nil
}

// distinct refuses an id twice across parts, as the client does within
// one: answers refer to them by id.
func distinct(what string, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return fmt.Errorf("pluginhost: %s id %q twice", what, id)
		}
		seen[id] = true
	}
	return nil
}

type dataSource struct{ p *proc }

func (d dataSource) Facts(ctx context.Context, persons []connector.PersonRef, asOf time.Time) ([]connector.PersonFacts, error) {
	return batched(persons, func(part []connector.PersonRef) ([]connector.PersonFacts, error) {
		var res []connector.PersonFacts
		err := d.p.call(ctx, "Facts", func(ctx context.Context, raw any) error {
			var err error
			res, err = raw.(*grpcplugin.DataSourceClient).Facts(ctx, part, asOf)
			return err
		})
		return res, err
	})
}

type eventSource struct{ p *proc }

func (e eventSource) Events(ctx context.Context, cursor string, limit int) ([]connector.Event, string, error) {
	var (
		evs  []connector.Event
		next string
	)
	err := e.p.call(ctx, "Events", func(ctx context.Context, raw any) error {
		var err error
		evs, next, err = raw.(*grpcplugin.EventSourceClient).Events(ctx, cursor, limit)
		return err
	})
	return evs, next, err
}

type paymentSink struct{ p *proc }

// Submit relies on the sink being idempotent on order id: a part whose
// process dies is submitted again to the restarted one.
func (s paymentSink) Submit(ctx context.Context, orders []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
	ids := make([]string, len(orders))
	for i := range orders {
		ids[i] = orders[i].ID
	}
	if err := distinct("order", ids); err != nil {
		return nil, err
	}
	return batched(orders, func(part []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
		var res []connector.PaymentStatus
		err := s.p.call(ctx, "Submit", func(ctx context.Context, raw any) error {
			var err error
			res, err = raw.(*grpcplugin.PaymentSinkClient).Submit(ctx, part)
			return err
		})
		return res, err
	})
}

func (s paymentSink) Statuses(ctx context.Context, orderIDs []string) ([]connector.PaymentStatus, error) {
	if err := distinct("order", orderIDs); err != nil {
		return nil, err
	}
	return batched(orderIDs, func(part []string) ([]connector.PaymentStatus, error) {
		var res []connector.PaymentStatus
		err := s.p.call(ctx, "Statuses", func(ctx context.Context, raw any) error {
			var err error
			res, err = raw.(*grpcplugin.PaymentSinkClient).Statuses(ctx, part)
			return err
		})
		return res, err
	})
}

type notifier struct{ p *proc }

func (n notifier) Deliver(ctx context.Context, notices []connector.Notice) ([]connector.Delivery, error) {
	ids := make([]string, len(notices))
	for i := range notices {
		ids[i] = notices[i].ID
	}
	if err := distinct("notice", ids); err != nil {
		return nil, err
	}
	return batched(notices, func(part []connector.Notice) ([]connector.Delivery, error) {
		var res []connector.Delivery
		err := n.p.call(ctx, "Deliver", func(ctx context.Context, raw any) error {
			var err error
			res, err = raw.(*grpcplugin.NotifierClient).Deliver(ctx, part)
			return err
		})
		return res, err
	})
}
