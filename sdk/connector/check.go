package connector

import "fmt"

// The checks of the contract's answers, shared by every host-side client:
// the platform's for plug-ins (sdk/grpcplugin) and its built-in HTTP
// connectors. Each says what is wrong in words; the caller says whose
// answer it was.

// IndexIDs is each id's place. An empty or repeated id is the caller's
// error, found before anything is sent: answers refer to them by id.
func IndexIDs(what string, ids []string) (map[string]int, error) {
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("%s %d has no id", what, i)
		}
		if _, dup := index[id]; dup {
			return nil, fmt.Errorf("%s id %q twice", what, id)
		}
		index[id] = i
	}
	return index, nil
}

// PlaceStatuses puts payment statuses in the order of the ids asked about
// (index, from IndexIDs). every: each order must have its status (Submit's
// answer); otherwise an unknown order may be left out (Statuses'). A status
// of an order not asked about, two of one order, or one the contract does
// not have refuses the answer.
func PlaceStatuses(index map[string]int, sts []PaymentStatus, every bool) ([]PaymentStatus, error) {
	if every && len(sts) != len(index) {
		return nil, fmt.Errorf("%d statuses for %d orders", len(sts), len(index))
	}
	placed := make([]*PaymentStatus, len(index))
	for i := range sts {
		st := &sts[i]
		at, ok := index[st.OrderID]
		switch {
		case !ok:
			return nil, fmt.Errorf("status %d is of order %q, which was not asked about", i, st.OrderID)
		case placed[at] != nil:
			return nil, fmt.Errorf("order %q has two statuses", st.OrderID)
		}
		switch st.Status {
		case PaymentAccepted, PaymentPaid, PaymentReturned, PaymentRejected:
		default:
			return nil, fmt.Errorf("order %q: status %q is none of accepted, paid, returned, rejected", st.OrderID, st.Status)
		}
		placed[at] = st
	}
	var out []PaymentStatus
	for _, s := range placed {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// PlaceDeliveries puts deliveries in the order of the notices sent (index,
// from IndexIDs): exactly one each, with a status the contract has.
func PlaceDeliveries(index map[string]int, ds []Delivery) ([]Delivery, error) {
	if len(ds) != len(index) {
		return nil, fmt.Errorf("%d deliveries for %d notices", len(ds), len(index))
	}
	out := make([]Delivery, len(index))
	for i, d := range ds {
		at, ok := index[d.NoticeID]
		switch {
		case !ok:
			return nil, fmt.Errorf("delivery %d is of notice %q, which was not sent", i, d.NoticeID)
		case out[at].NoticeID != "":
			return nil, fmt.Errorf("notice %q has two deliveries", d.NoticeID)
		}
		switch d.Status {
		case DeliveryDelivered, DeliveryQueued, DeliveryFailed:
		default:
			return nil, fmt.Errorf("notice %q: status %q is none of delivered, queued, failed", d.NoticeID, d.Status)
		}
		out[at] = d
	}
	return out, nil
}
