package connector_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/sdk"
)

// server answers every POST with answer (a status and a body), after
// handing the request's body to seen.
func server(t *testing.T, status int, answer string, seen func(path string, body []byte)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "POST JSON", http.StatusMethodNotAllowed)
			return
		}
		if seen != nil {
			seen(r.URL.Path, b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func httpSource(t *testing.T, url string) connector.DataSource {
	t.Helper()
	ds, err := connector.OpenDataSource(connector.Spec{Type: "http", URL: url, Timeout: "5s", Source: "spec source"})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestHTTPSourceAnswers(t *testing.T) {
	t.Parallel()
	answer := `{"persons": [
		{"snils": "` + dashed(snilsA) + `", "categories": [{"code": "large_family", "from": "2024-02-01", "to": "2027-01-31"}],
		 "incomes": [{"month": "2025-03", "kind": "salary", "amount_kopecks": 5400000}]},
		{"snils": "` + snilsB + `", "source": "ФНС", "categories": [{"code": "veteran", "from": "2020-01-01"}]}]}`
	var req struct {
		SNILS []string `json:"snils"`
		AsOf  string   `json:"as_of"`
	}
	url := server(t, 200, answer, func(_ string, b []byte) {
		if err := json.Unmarshal(b, &req); err != nil {
			t.Errorf("request %s: %v", b, err)
		}
	})
	got, err := httpSource(t, url+"/facts").Facts(context.Background(),
		[]connector.PersonRef{{SNILS: snilsB}, {SNILS: snilsC}, {SNILS: snilsA}}, date("2026-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	if req.AsOf != "2026-06-15" || strings.Join(req.SNILS, ",") != snilsB+","+snilsC+","+snilsA {
		t.Fatalf("request %+v", req)
	}
	if len(got) != 2 || got[0].SNILS != snilsB || got[1].SNILS != snilsA {
		t.Fatalf("answer %+v: want B then A, each as asked", got)
	}
	if got[0].Source != "ФНС" || got[1].Source != "spec source" {
		t.Fatalf("sources %q %q", got[0].Source, got[1].Source)
	}
	a := got[1]
	if len(a.Categories) != 1 || !a.Categories[0].Period.To.Equal(date("2027-01-31")) || len(a.Incomes) != 1 || a.Incomes[0].AmountKopecks != 5_400_000 {
		t.Fatalf("A's facts %+v", a)
	}
	if !got[0].Categories[0].Period.To.IsZero() {
		t.Fatalf("an open period ends %v", got[0].Categories[0].Period.To)
	}
}

// A service that fails is the upstream's failure; one that answers
// something else than the format is ErrBadAnswer; neither is the other.
func TestHTTPSourceErrors(t *testing.T) {
	t.Parallel()
	asked := []connector.PersonRef{{SNILS: snilsA}}
	facts := func(url string) error {
		_, err := httpSource(t, url).Facts(context.Background(), asked, date("2026-06-15"))
		return err
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	for _, c := range []struct {
		name     string
		url      string
		upstream bool
	}{
		{"500", server(t, 500, `{"error":"down"}`, nil), true},
		{"404", server(t, 404, ``, nil), true},
		{"unreachable", goneURL, true},
		{"garbage", server(t, 200, `<html>hello</html>`, nil), false},
		{"no persons", server(t, 200, `{}`, nil), false},
		{"null", server(t, 200, `null`, nil), false},
		{"two values", server(t, 200, `{"persons":[]} {"persons":[]}`, nil), false},
		{"unknown field", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","incomes":[{"month":"2025-03","kind":"salary","amount":5}]}]}`, nil), false},
		{"no amount", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","incomes":[{"month":"2025-03","kind":"salary"}]}]}`, nil), false},
		{"fraction", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","incomes":[{"month":"2025-03","kind":"salary","amount_kopecks":12.5}]}]}`, nil), false},
		{"bad month", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","incomes":[{"month":"2025-3","kind":"salary","amount_kopecks":1}]}]}`, nil), false},
		{"bad date", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","categories":[{"code":"x","from":"01.02.2024"}]}]}`, nil), false},
		{"backwards", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","categories":[{"code":"x","from":"2024-02-01","to":"2024-01-01"}]}]}`, nil), false},
		{"no code", server(t, 200, `{"persons":[{"snils":"`+snilsA+`","categories":[{"code":"","from":"2024-02-01"}]}]}`, nil), false},
		{"not asked", server(t, 200, `{"persons":[{"snils":"`+snilsB+`"}]}`, nil), false},
		{"twice", server(t, 200, `{"persons":[{"snils":"`+snilsA+`"},{"snils":"`+dashed(snilsA)+`"}]}`, nil), false},
		{"huge", server(t, 200, `{"persons":[`+strings.Repeat(" ", 33<<20)+`]}`, nil), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := facts(c.url)
			switch {
			case err == nil:
				t.Fatal("no error")
			case sdk.IsUpstream(err) != c.upstream:
				t.Fatalf("%v: upstream %v, want %v", err, sdk.IsUpstream(err), c.upstream)
			case !c.upstream && !errors.Is(err, connector.ErrBadAnswer):
				t.Fatalf("%v is not ErrBadAnswer", err)
			case strings.Contains(err.Error(), snilsB[:9]):
				t.Fatalf("the error echoes a SNILS: %v", err)
			}
		})
	}
	// A service slower than the spec's timeout has failed, too.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server notices the client hang up
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	ds, err := connector.OpenDataSource(connector.Spec{Type: "http", URL: slow.URL, Timeout: "100ms"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Facts(context.Background(), asked, date("2026-06-15")); !sdk.IsUpstream(err) {
		t.Fatalf("a timeout: %v, want upstream", err)
	}
	// No persons is no request.
	if got, err := httpSource(t, goneURL).Facts(context.Background(), nil, date("2026-06-15")); err != nil || got != nil {
		t.Fatalf("no persons: %v %v", got, err)
	}
}

func TestHTTPSink(t *testing.T) {
	t.Parallel()
	orders := []connector.PaymentOrder{
		{ID: "o1", SNILS: snilsA, Recipient: "Иванова Мария", Account: "40817810099910004312", BIK: "044525225",
			AmountKopecks: 1_234_567, Measure: "child", Period: connector.Period{From: date("2026-06-01"), To: date("2026-06-30")}, Purpose: "июнь"},
		{ID: "o2", SNILS: snilsB, Account: "1", BIK: "2", AmountKopecks: 1},
	}
	var paths []string
	var sent struct {
		Orders []map[string]any `json:"orders"`
	}
	url := server(t, 200, `{"statuses":[{"order_id":"o2","status":"rejected","detail":"account"},{"order_id":"o1","status":"accepted"}]}`,
		func(p string, b []byte) {
			paths = append(paths, p)
			_ = json.Unmarshal(b, &sent)
		})
	sink, err := connector.OpenPaymentSink(connector.Spec{Type: "http", URL: url + "/bank/"})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := sink.Submit(context.Background(), orders)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].OrderID != "o1" || sts[0].Status != "accepted" || sts[1].Status != "rejected" || sts[1].Detail != "account" {
		t.Fatalf("statuses %+v", sts)
	}
	if paths[0] != "/bank/submit" || len(sent.Orders) != 2 || sent.Orders[0]["amount_kopecks"] != float64(1_234_567) ||
		sent.Orders[0]["period"].(map[string]any)["to"] != "2026-06-30" {
		t.Fatalf("sent to %s: %+v", paths[0], sent)
	}
	if _, err := sink.Submit(context.Background(), []connector.PaymentOrder{{ID: "x"}, {ID: "x"}}); err == nil || sdk.IsUpstream(err) {
		t.Fatalf("an order id twice: %v", err)
	}
	for name, answer := range map[string]string{
		"missing":  `{"statuses":[{"order_id":"o1","status":"accepted"}]}`,
		"unknown":  `{"statuses":[{"order_id":"o1","status":"accepted"},{"order_id":"o9","status":"accepted"}]}`,
		"twice":    `{"statuses":[{"order_id":"o1","status":"accepted"},{"order_id":"o1","status":"paid"}]}`,
		"status":   `{"statuses":[{"order_id":"o1","status":"accepted"},{"order_id":"o2","status":"ok"}]}`,
		"garbage":  `not json`,
		"no array": `{"status":[]}`,
	} {
		sink, _ := connector.OpenPaymentSink(connector.Spec{Type: "http", URL: server(t, 200, answer, nil)})
		if _, err := sink.Submit(context.Background(), orders); !errors.Is(err, connector.ErrBadAnswer) {
			t.Errorf("%s: %v, want ErrBadAnswer", name, err)
		}
	}
	sink, _ = connector.OpenPaymentSink(connector.Spec{Type: "http", URL: server(t, 503, ``, nil)})
	if _, err := sink.Submit(context.Background(), orders); !sdk.IsUpstream(err) {
		t.Fatalf("503: %v, want upstream", err)
	}

	// Statuses: an unknown order is left out; the answer comes in the
	// order asked.
	paths = nil
	url = server(t, 200, `{"statuses":[{"order_id":"o2","status":"returned"},{"order_id":"o1","status":"paid"}]}`, func(p string, _ []byte) { paths = append(paths, p) })
	sink, _ = connector.OpenPaymentSink(connector.Spec{Type: "http", URL: url})
	sts, err = sink.Statuses(context.Background(), []string{"o1", "o9", "o2"})
	if err != nil {
		t.Fatal(err)
	}
	if paths[0] != "/statuses" || len(sts) != 2 || sts[0].Status != "paid" || sts[1].Status != "returned" {
		t.Fatalf("statuses %+v from %v", sts, paths)
	}
	sink, _ = connector.OpenPaymentSink(connector.Spec{Type: "http", URL: server(t, 200, `{"statuses":[{"order_id":"o7","status":"paid"}]}`, nil)})
	if _, err := sink.Statuses(context.Background(), []string{"o1"}); !errors.Is(err, connector.ErrBadAnswer) {
		t.Fatalf("a status of an order not asked about: %v", err)
	}
}

func TestHTTPNotifier(t *testing.T) {
	t.Parallel()
	notices := []connector.Notice{
		{ID: "n1", SNILS: snilsA, Channel: "sms", Address: "+79990000000", Subject: connector.Text{RU: "Назначено", EN: "Assigned"}},
		{ID: "n2", SNILS: snilsB, Channel: "email", Address: "a@example.ru"},
	}
	var sent map[string][]map[string]any
	url := server(t, 200, `{"deliveries":[{"notice_id":"n2","status":"queued"},{"notice_id":"n1","status":"delivered"}]}`,
		func(_ string, b []byte) { _ = json.Unmarshal(b, &sent) })
	n, err := connector.OpenNotifier(connector.Spec{Type: "http", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := n.Deliver(context.Background(), notices)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].NoticeID != "n1" || ds[0].Status != "delivered" || ds[1].Status != "queued" {
		t.Fatalf("deliveries %+v", ds)
	}
	if len(sent["notices"]) != 2 || sent["notices"][0]["subject"].(map[string]any)["ru"] != "Назначено" {
		t.Fatalf("sent %+v", sent)
	}
	for name, answer := range map[string]string{
		"missing": `{"deliveries":[{"notice_id":"n1","status":"delivered"}]}`,
		"unknown": `{"deliveries":[{"notice_id":"n1","status":"delivered"},{"notice_id":"n3","status":"delivered"}]}`,
		"status":  `{"deliveries":[{"notice_id":"n1","status":"delivered"},{"notice_id":"n2","status":"sent"}]}`,
		"twice":   `{"deliveries":[{"notice_id":"n1","status":"delivered"},{"notice_id":"n1","status":"failed"}]}`,
	} {
		n, _ := connector.OpenNotifier(connector.Spec{Type: "http", URL: server(t, 200, answer, nil)})
		if _, err := n.Deliver(context.Background(), notices); !errors.Is(err, connector.ErrBadAnswer) {
			t.Errorf("%s: %v, want ErrBadAnswer", name, err)
		}
	}
	n, _ = connector.OpenNotifier(connector.Spec{Type: "http", URL: server(t, 500, ``, nil)})
	if _, err := n.Deliver(context.Background(), notices); !sdk.IsUpstream(err) {
		t.Fatalf("500: %v, want upstream", err)
	}
}
