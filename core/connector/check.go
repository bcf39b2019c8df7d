package connector

import (
	"fmt"
	"time"

	"github.com/socialtreasury/treasury/core/ident"
	sdkconnector "github.com/socialtreasury/treasury/sdk/connector"
)

// These checks are the plug-in clients' (sdk/grpcplugin), for answers that
// do not come through them: an HTTP service's, or any DataSource's in
// Pull. Errors name places in the request, never a SNILS.

// snilsKey is the form two spellings of one SNILS share: its eleven
// digits, or the text itself when it is no SNILS (then only the same text
// matches).
func snilsKey(s string) string {
	if n, err := ident.NormalizeSNILS(s); err == nil {
		return n
	}
	return s
}

// checkFacts puts an answer in the order of the persons asked, each with
// the SNILS as asked. A person not asked about, one answered twice, a
// category without a code or with a period ending before it starts, an
// income without a kind or with a month not "YYYY-MM" refuses the answer.
func checkFacts(asked []PersonRef, answer []PersonFacts) ([]PersonFacts, error) {
	place := make(map[string]int, len(asked))
	for i, p := range asked {
		if _, ok := place[snilsKey(p.SNILS)]; !ok {
			place[snilsKey(p.SNILS)] = i
		}
	}
	byPlace := make(map[int]PersonFacts, len(answer))
	for i, pf := range answer {
		at, ok := place[snilsKey(pf.SNILS)]
		if !ok {
			return nil, badAnswer("facts %d are of a person that was not asked about", i)
		}
		if _, dup := byPlace[at]; dup {
			return nil, badAnswer("facts %d are of person %d, answered twice", i, at)
		}
		if err := checkPersonFacts(&pf); err != nil {
			return nil, badAnswer("facts of person %d: %v", at, err)
		}
		pf.SNILS = asked[at].SNILS
		byPlace[at] = pf
	}
	var out []PersonFacts
	for i := range asked {
		if f, ok := byPlace[i]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func checkPersonFacts(pf *PersonFacts) error {
	for i, c := range pf.Categories {
		if c.Code == "" {
			return fmt.Errorf("category %d has no code", i)
		}
		if err := checkPeriod(c.Period); err != nil {
			return fmt.Errorf("category %q: %v", c.Code, err)
		}
	}
	for i, in := range pf.Incomes {
		if _, err := sdkconnector.ParseMonth(in.Month); err != nil {
			return fmt.Errorf("income %d: %v", i, err)
		}
		if in.Kind == "" {
			return fmt.Errorf("income %d has no kind", i)
		}
	}
	return nil
}

func checkPeriod(p Period) error {
	if !p.To.IsZero() && p.To.Before(p.From) {
		return fmt.Errorf("period ends %s before it starts %s", p.To.Format(time.DateOnly), p.From.Format(time.DateOnly))
	}
	return nil
}

// indexIDs is each id's place. An empty or repeated id is the caller's
// error, found before anything is sent: answers refer to them by id.
func indexIDs(what string, ids []string) (map[string]int, error) {
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("connector: %s %d has no id", what, i)
		}
		if _, dup := index[id]; dup {
			return nil, fmt.Errorf("connector: %s id %q twice", what, id)
		}
		index[id] = i
	}
	return index, nil
}

// checkStatuses puts payment statuses in the order of the ids asked
// about. every: each id must have its status (Submit's answer); otherwise
// an unknown order may be left out (Statuses').
func checkStatuses(index map[string]int, sts []PaymentStatus, every bool) ([]PaymentStatus, error) {
	if every && len(sts) != len(index) {
		return nil, badAnswer("%d statuses for %d orders", len(sts), len(index))
	}
	placed := make([]*PaymentStatus, len(index))
	for i := range sts {
		st := &sts[i]
		at, ok := index[st.OrderID]
		switch {
		case !ok:
			return nil, badAnswer("status %d is of order %q, which was not asked about", i, st.OrderID)
		case placed[at] != nil:
			return nil, badAnswer("order %q has two statuses", st.OrderID)
		}
		switch st.Status {
		case sdkconnector.PaymentAccepted, sdkconnector.PaymentPaid, sdkconnector.PaymentReturned, sdkconnector.PaymentRejected:
		default:
			return nil, badAnswer("order %q: status %q is none of accepted, paid, returned, rejected", st.OrderID, st.Status)
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

// checkDeliveries puts deliveries in the order of the notices sent: one
// each, with a status the contract has.
func checkDeliveries(index map[string]int, ds []Delivery) ([]Delivery, error) {
	if len(ds) != len(index) {
		return nil, badAnswer("%d deliveries for %d notices", len(ds), len(index))
	}
	out := make([]Delivery, len(index))
	for i, d := range ds {
		at, ok := index[d.NoticeID]
		switch {
		case !ok:
			return nil, badAnswer("delivery %d is of notice %q, which was not sent", i, d.NoticeID)
		case out[at].NoticeID != "":
			return nil, badAnswer("notice %q has two deliveries", d.NoticeID)
		}
		switch d.Status {
		case sdkconnector.DeliveryDelivered, sdkconnector.DeliveryQueued, sdkconnector.DeliveryFailed:
		default:
			return nil, badAnswer("notice %q: status %q is none of delivered, queued, failed", d.NoticeID, d.Status)
		}
		out[at] = d
	}
	return out, nil
}
