package connector_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/connector"
)

func order(id string, kopecks int64) connector.PaymentOrder {
	return connector.PaymentOrder{ID: id, SNILS: snilsA, Recipient: "Иванова Мария Петровна", Account: "40817810099910004312",
		BIK: "044525225", AmountKopecks: kopecks, Measure: "child_allowance",
		Period: connector.Period{From: date("2026-06-01"), To: date("2026-06-30")}, Purpose: "Пособие за июнь 2026"}
}

// lines are every line of the directory's files of a prefix, by file.
func lines(t *testing.T, dir, prefix string) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("a temporary file is left: %s", e.Name())
		}
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: %v", e.Name(), err)
			}
			out[e.Name()] = append(out[e.Name()], m)
		}
		f.Close()
	}
	return out
}

func TestFileSinkWritesEachOrderOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	sink, err := connector.OpenPaymentSink(connector.Spec{Type: "file", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	bad := order("o3", 100)
	bad.Account = "4081781009991000431" // 19 digits
	sts, err := sink.Submit(ctx, []connector.PaymentOrder{order("o1", 1_234_567), order("o2", 500_000), bad})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 || sts[0].Status != "accepted" || sts[1].Status != "accepted" || sts[2].Status != "rejected" ||
		!strings.Contains(sts[2].Detail, "account") {
		t.Fatalf("statuses %+v", sts)
	}
	// The platform lost the answer and submits again, with one new order
	// and one different order under a used id.
	changed := order("o2", 999)
	sts, err = sink.Submit(ctx, []connector.PaymentOrder{order("o1", 1_234_567), order("o4", 100), changed, bad})
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].Status != "accepted" || sts[1].Status != "accepted" || sts[2].Status != "accepted" || sts[3].Status != "rejected" {
		t.Fatalf("statuses again %+v", sts)
	}
	if !strings.Contains(sts[2].Detail, "another order") {
		t.Fatalf("a different order under a used id: %+v", sts[2])
	}
	orders := lines(t, dir, "orders-")
	var names []string
	count := map[string]int{}
	for name, ls := range orders {
		names = append(names, name)
		for _, l := range ls {
			count[l["id"].(string)]++
			if l["status"] != "accepted" {
				t.Fatalf("%s holds %v", name, l)
			}
		}
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "orders-000001.jsonl,orders-000002.jsonl" {
		t.Fatalf("files %v", names)
	}
	if count["o1"] != 1 || count["o2"] != 1 || count["o4"] != 1 || count["o3"] != 0 {
		t.Fatalf("orders written %v: each once, the rejected one in no orders file", count)
	}
	if o1 := orders["orders-000001.jsonl"][0]; o1["amount_kopecks"] != float64(1_234_567) || o1["period"].(map[string]any)["from"] != "2026-06-01" {
		t.Fatalf("o1 written as %v", o1)
	}
	if r := lines(t, dir, "rejected-"); len(r["rejected-000001.jsonl"]) != 1 || len(r) != 1 {
		t.Fatalf("rejected files %v", r)
	}

	// A sink opened afresh on the directory reads the statuses back and
	// still writes nothing twice.
	again, err := connector.OpenPaymentSink(connector.Spec{Type: "file", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	sts, err = again.Statuses(ctx, []string{"o4", "o9", "o3", "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 3 || sts[0].OrderID != "o4" || sts[1].Status != "rejected" || sts[2].OrderID != "o1" || sts[2].Status != "accepted" {
		t.Fatalf("statuses read back %+v", sts)
	}
	if _, err := again.Submit(ctx, []connector.PaymentOrder{order("o1", 1_234_567)}); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, dir, "orders-")); n != 2 {
		t.Fatalf("%d order files after resubmitting a known order", n)
	}
	if _, err := again.Submit(ctx, []connector.PaymentOrder{order("o5", 1), order("o5", 1)}); err == nil {
		t.Fatal("an order id twice in one call")
	}
}

// A file that does not read back stops the sink rather than let it guess.
func TestFileSinkRefusesACorruptDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders-000001.jsonl"), []byte(`{"id":"o1","status":"accepted"}`+"\n"+`{"id":`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := connector.OpenPaymentSink(connector.Spec{Type: "file", Path: dir})
	if err == nil || !strings.Contains(err.Error(), "orders-000001.jsonl line 2") {
		t.Fatalf("a corrupt file: %v", err)
	}
	if _, err := connector.OpenPaymentSink(connector.Spec{Type: "file", Path: filepath.Join(dir, "none")}); err == nil {
		t.Fatal("a missing directory")
	}
}
