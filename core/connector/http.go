package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/sdk"
)

// The HTTP connectors POST JSON and read JSON back (UTF-8, field names as
// below; a field the format does not have is an error, so that a misspelt
// "amount" is not read as no amount). An answer other than 2xx, or none,
// is the service's failure (sdk.Upstream); an answer that is not the
// format, or larger than maxAnswerBytes, is ErrBadAnswer.
//
// Data source: POST <url>
//
//	{"snils": ["11223344595", …], "as_of": "2026-06-15"}        (as_of absent: today)
//	→ {"persons": [{"snils": "11223344595", "source": "ЕГР многодетных",
//	     "categories": [{"code": "large_family", "from": "2024-02-01", "to": "2027-01-31"}],
//	     "incomes": [{"month": "2025-03", "kind": "salary", "amount_kopecks": 5400000}]}]}
//
// A person the service does not know is left out; "persons" itself is
// required (an empty array: nobody known). "to" may be absent
// (open-ended), "source" too (then the Spec's). Money is whole kopecks.
//
// Payment sink: POST <url>/submit with {"orders": [order, …]} and POST
// <url>/statuses with {"order_ids": ["…", …]}, both answered
// {"statuses": [{"order_id": "…", "status": "accepted", "detail": "…"}]},
// where an order is
//
//	{"id": "…", "snils": "…", "recipient": "…", "account": "…", "bik": "…",
//	 "amount_kopecks": 1234567, "measure": "…", "period": {"from": "2026-06-01", "to": "2026-06-30"},
//	 "purpose": "…"}
//
// and a status is accepted, paid, returned or rejected. Submit's answer has
// one status each order; Statuses' leaves out an order the sink does not
// know. Submit must be idempotent on order id.
//
// Notifier: POST <url> with {"notices": [{"id": "…", "snils": "…",
// "channel": "sms", "address": "…", "subject": {"ru": "…", "en": "…"},
// "body": {"ru": "…", "en": "…"}}]}, answered {"deliveries": [{"notice_id":
// "…", "status": "delivered", "detail": "…"}]}: one each notice, status
// delivered, queued or failed.

// maxAnswerBytes bounds an answer read: a thousand persons' facts are
// well under a megabyte; more is a wrong URL.
const maxAnswerBytes = 32 << 20

type httpClient struct {
	url    string
	client *http.Client
}

func newHTTPClient(u string, timeout time.Duration) httpClient {
	return httpClient{url: u, client: &http.Client{Timeout: timeout}}
}

// where is the URL as errors show it: no credentials, no query (either
// may carry a token).
func (c httpClient) where(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "the service"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// post sends in as JSON to path below the URL ("": the URL itself) and
// gives the answer's body to decode.
func (c httpClient) post(ctx context.Context, path string, in any, decode func([]byte) error) error {
	target := c.url
	if path != "" {
		var err error
		if target, err = url.JoinPath(c.url, path); err != nil {
			return err
		}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	where := c.where(target)
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL is the full one
		}
		return sdk.Upstream(fmt.Errorf("%s does not answer: %w", where, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is not shown: it may echo the request's personal data.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return sdk.Upstream(fmt.Errorf("%s answered %s", where, resp.Status))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return sdk.Upstream(fmt.Errorf("%s: reading the answer: %w", where, err))
	}
	if len(b) > maxAnswerBytes {
		return badAnswer("%s answered more than %d MiB", where, maxAnswerBytes>>20)
	}
	if err := decode(b); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badAnswer("not the JSON documented: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badAnswer("not the JSON documented: more after the answer")
	}
	return nil
}

func dateString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return civil.Of(t).String()
}

// ---- DataSource ---------------------------------------------------------

type httpSource struct {
	c      httpClient
	source string
}

func newHTTPSource(u string, timeout time.Duration, source string) *httpSource {
	c := newHTTPClient(u, timeout)
	if source == "" {
		if p, err := url.Parse(u); err == nil {
			source = "http " + p.Host
		}
	}
	return &httpSource{c: c, source: source}
}

type factsRequest struct {
	SNILS []string `json:"snils"`
	AsOf  string   `json:"as_of,omitempty"`
}

type factsAnswer struct {
	Persons *[]personJSON `json:"persons"`
}

type personJSON struct {
	SNILS      string         `json:"snils"`
	Source     string         `json:"source"`
	Categories []categoryJSON `json:"categories"`
	Incomes    []incomeJSON   `json:"incomes"`
}

type categoryJSON struct {
	Code string `json:"code"`
	From string `json:"from"`
	To   string `json:"to"`
}

type incomeJSON struct {
	Month         string `json:"month"`
	Kind          string `json:"kind"`
	AmountKopecks *int64 `json:"amount_kopecks"`
}

// Facts asks the service about persons in one request.
func (s *httpSource) Facts(ctx context.Context, persons []PersonRef, asOf time.Time) ([]PersonFacts, error) {
	if len(persons) == 0 {
		return nil, nil
	}
	req := factsRequest{SNILS: make([]string, len(persons)), AsOf: dateString(asOf)}
	for i, p := range persons {
		req.SNILS[i] = p.SNILS
	}
	var out []PersonFacts
	err := s.c.post(ctx, "", req, func(b []byte) error {
		var err error
		out, err = decodeFacts(b, persons, s.source)
		return err
	})
	return out, err
}

// decodeFacts reads a data source's answer to a question about asked,
// checked as a plug-in's is; source is the name of facts without one.
func decodeFacts(b []byte, asked []PersonRef, source string) ([]PersonFacts, error) {
	var a factsAnswer
	if err := decodeStrict(b, &a); err != nil {
		return nil, err
	}
	if a.Persons == nil {
		return nil, badAnswer(`no "persons" array`)
	}
	out := make([]PersonFacts, len(*a.Persons))
	for i, p := range *a.Persons {
		f := PersonFacts{SNILS: p.SNILS, Source: p.Source}
		if f.Source == "" {
			f.Source = source
		}
		for j, c := range p.Categories {
			from, err := civil.Parse(c.From)
			if err != nil {
				return nil, badAnswer("persons[%d].categories[%d].from: %v", i, j, err)
			}
			cf := CategoryFact{Code: c.Code, Period: Period{From: from.Time()}}
			if c.To != "" {
				to, err := civil.Parse(c.To)
				if err != nil {
					return nil, badAnswer("persons[%d].categories[%d].to: %v", i, j, err)
				}
				cf.Period.To = to.Time()
			}
			f.Categories = append(f.Categories, cf)
		}
		for j, in := range p.Incomes {
			if in.AmountKopecks == nil {
				return nil, badAnswer("persons[%d].incomes[%d] has no amount_kopecks", i, j)
			}
			f.Incomes = append(f.Incomes, IncomeFact{Month: in.Month, Kind: in.Kind, AmountKopecks: *in.AmountKopecks})
		}
		out[i] = f
	}
	return checkFacts(asked, out)
}

// ---- PaymentSink --------------------------------------------------------

type orderJSON struct {
	ID            string     `json:"id"`
	SNILS         string     `json:"snils"`
	Recipient     string     `json:"recipient"`
	Account       string     `json:"account"`
	BIK           string     `json:"bik"`
	AmountKopecks int64      `json:"amount_kopecks"`
	Measure       string     `json:"measure"`
	Period        periodJSON `json:"period"`
	Purpose       string     `json:"purpose"`
}

type periodJSON struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

func orderToJSON(o *PaymentOrder) orderJSON {
	return orderJSON{ID: o.ID, SNILS: o.SNILS, Recipient: o.Recipient, Account: o.Account, BIK: o.BIK,
		AmountKopecks: o.AmountKopecks, Measure: o.Measure,
		Period: periodJSON{From: dateString(o.Period.From), To: dateString(o.Period.To)}, Purpose: o.Purpose}
}

type statusJSON struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Detail  string `json:"detail,omitempty"`
}

type statusesAnswer struct {
	Statuses *[]statusJSON `json:"statuses"`
}

type httpSink struct{ c httpClient }

// Submit sends the orders in one request; their ids must be set and
// unique. The answer must have one status each, in any order; it is given
// back in the order of orders.
func (s *httpSink) Submit(ctx context.Context, orders []PaymentOrder) ([]PaymentStatus, error) {
	if len(orders) == 0 {
		return nil, nil
	}
	ids := make([]string, len(orders))
	req := struct {
		Orders []orderJSON `json:"orders"`
	}{make([]orderJSON, len(orders))}
	for i := range orders {
		ids[i] = orders[i].ID
		req.Orders[i] = orderToJSON(&orders[i])
	}
	index, err := indexIDs("order", ids)
	if err != nil {
		return nil, err
	}
	var out []PaymentStatus
	err = s.c.post(ctx, "submit", req, func(b []byte) error {
		var err error
		out, err = decodeStatuses(b, index, true)
		return err
	})
	return out, err
}

// Statuses asks for orders' statuses; an order the sink does not know is
// left out.
func (s *httpSink) Statuses(ctx context.Context, orderIDs []string) ([]PaymentStatus, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	index, err := indexIDs("order", orderIDs)
	if err != nil {
		return nil, err
	}
	req := struct {
		OrderIDs []string `json:"order_ids"`
	}{orderIDs}
	var out []PaymentStatus
	err = s.c.post(ctx, "statuses", req, func(b []byte) error {
		var err error
		out, err = decodeStatuses(b, index, false)
		return err
	})
	return out, err
}

func decodeStatuses(b []byte, index map[string]int, every bool) ([]PaymentStatus, error) {
	var a statusesAnswer
	if err := decodeStrict(b, &a); err != nil {
		return nil, err
	}
	if a.Statuses == nil {
		return nil, badAnswer(`no "statuses" array`)
	}
	sts := make([]PaymentStatus, len(*a.Statuses))
	for i, s := range *a.Statuses {
		sts[i] = PaymentStatus{OrderID: s.OrderID, Status: s.Status, Detail: s.Detail}
	}
	return checkStatuses(index, sts, every)
}

// ---- Notifier -----------------------------------------------------------

type textJSON struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

type noticeJSON struct {
	ID      string   `json:"id"`
	SNILS   string   `json:"snils"`
	Channel string   `json:"channel"`
	Address string   `json:"address"`
	Subject textJSON `json:"subject"`
	Body    textJSON `json:"body"`
}

type deliveryJSON struct {
	NoticeID string `json:"notice_id"`
	Status   string `json:"status"`
	Detail   string `json:"detail,omitempty"`
}

type httpNotifier struct{ c httpClient }

// Deliver sends the notices in one request; their ids must be set and
// unique. The answer must have one delivery each; it is given back in the
// order of notices.
func (n *httpNotifier) Deliver(ctx context.Context, notices []Notice) ([]Delivery, error) {
	if len(notices) == 0 {
		return nil, nil
	}
	ids := make([]string, len(notices))
	req := struct {
		Notices []noticeJSON `json:"notices"`
	}{make([]noticeJSON, len(notices))}
	for i, x := range notices {
		ids[i] = x.ID
		req.Notices[i] = noticeJSON{ID: x.ID, SNILS: x.SNILS, Channel: x.Channel, Address: x.Address,
			Subject: textJSON(x.Subject), Body: textJSON(x.Body)}
	}
	index, err := indexIDs("notice", ids)
	if err != nil {
		return nil, err
	}
	var out []Delivery
	err = n.c.post(ctx, "", req, func(b []byte) error {
		var a struct {
			Deliveries *[]deliveryJSON `json:"deliveries"`
		}
		if err := decodeStrict(b, &a); err != nil {
			return err
		}
		if a.Deliveries == nil {
			return badAnswer(`no "deliveries" array`)
		}
		ds := make([]Delivery, len(*a.Deliveries))
		for i, d := range *a.Deliveries {
			ds[i] = Delivery(d)
		}
		var err error
		out, err = checkDeliveries(index, ds)
		return err
	})
	return out, err
}
