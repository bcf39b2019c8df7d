package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
	"github.com/socialtreasury/treasury/sdk/grpcplugin"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// clock is 2026-06-15 in Moscow but still 06-14 in UTC: registries are
// dated in UTC.
var clock = time.Date(2026, 6, 15, 2, 30, 0, 0, time.FixedZone("MSK", 3*3600))

func newSink(t *testing.T, dir string) *Sink {
	t.Helper()
	s, err := New(Config{Dir: dir, Bank: "ПАО Сбербанк"})
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return clock }
	return s
}

func order(id string, kopecks int64) connector.PaymentOrder {
	return connector.PaymentOrder{ID: id, SNILS: "11223344595", Recipient: "Иванова Мария Петровна", Account: "40817810099910004312",
		BIK: "044525225", AmountKopecks: kopecks, Measure: "child_allowance",
		Period: connector.Period{From: day(2026, 6, 1), To: day(2026, 6, 30)}, Purpose: "Пособие на ребёнка за июнь 2026"}
}

func with(o connector.PaymentOrder, f func(*connector.PaymentOrder)) connector.PaymentOrder {
	f(&o)
	return o
}

// orders are two good orders and one of each kind of bad one.
var orders = []connector.PaymentOrder{
	order("o1", 1_234_567),
	order("o2", 0),
	order("o3", -100),
	with(order("o4", 100), func(o *connector.PaymentOrder) { o.Account = "4081781009991000431" }),
	with(order("o5", 100), func(o *connector.PaymentOrder) { o.Account = "4081781009991000431x" }),
	with(order("o6", 100), func(o *connector.PaymentOrder) { o.BIK = "04452522" }),
	with(order("o7", 100), func(o *connector.PaymentOrder) { o.BIK = "04452522O" }),
	with(order("o8", 100), func(o *connector.PaymentOrder) { o.Purpose = "за июнь | июль" }),
	with(order("o9", 100), func(o *connector.PaymentOrder) { o.Recipient = "Иванова\nМария" }),
	with(order("o10", 100), func(o *connector.PaymentOrder) { o.Period.To = day(2026, 5, 31) }),
	with(order("o11", 1), func(o *connector.PaymentOrder) { o.Period = connector.Period{}; o.SNILS = ""; o.Purpose = "" }),
}

var wantStatuses = []connector.PaymentStatus{
	{OrderID: "o1", Status: "accepted", Detail: "registry 20260614-000001"},
	{OrderID: "o2", Status: "rejected", Detail: "amount 0 kopecks is not positive"},
	{OrderID: "o3", Status: "rejected", Detail: "amount -100 kopecks is not positive"},
	{OrderID: "o4", Status: "rejected", Detail: "account is not 20 digits"},
	{OrderID: "o5", Status: "rejected", Detail: "account is not 20 digits"},
	{OrderID: "o6", Status: "rejected", Detail: "BIK is not 9 digits"},
	{OrderID: "o7", Status: "rejected", Detail: "BIK is not 9 digits"},
	{OrderID: "o8", Status: "rejected", Detail: `purpose holds "|", a control character or bytes that are not UTF-8, which the registry cannot`},
	{OrderID: "o9", Status: "rejected", Detail: `recipient holds "|", a control character or bytes that are not UTF-8, which the registry cannot`},
	{OrderID: "o10", Status: "rejected", Detail: "the period ends before it starts"},
	{OrderID: "o11", Status: "accepted", Detail: "registry 20260614-000001"},
}

const wantRegistry = "REGISTRY|20260614-000001|2026-06-14|ПАО Сбербанк|2|1234568\n" +
	"ORDER|1|o1|1234567|40817810099910004312|044525225|11223344595|Иванова Мария Петровна|child_allowance|2026-06-01|2026-06-30|Пособие на ребёнка за июнь 2026\n" +
	"ORDER|2|o11|1|40817810099910004312|044525225||Иванова Мария Петровна|child_allowance|||\n" +
	"TOTAL|2|1234568\n"

func ids(os []connector.PaymentOrder) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.ID)
	}
	return out
}

// files are the names in dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestSubmit(t *testing.T) {
	dir := t.TempDir()
	c := sdktest.PaymentSink(t, newSink(t, dir))
	got, err := c.Submit(sdktest.Context(t, "16"), orders)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantStatuses) {
		t.Errorf("Submit =\n%+v\nwant\n%+v", got, wantStatuses)
	}
	// One registry of the accepted orders, the rejected ones on their
	// own, no temporary file left.
	if f := files(t, dir); !reflect.DeepEqual(f, []string{"20260614-000001.reg", rejectedFile}) {
		t.Errorf("the directory holds %v", f)
	}
	data, err := os.ReadFile(filepath.Join(dir, "20260614-000001.reg"))
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != wantRegistry {
		t.Errorf("registry:\n%s\nwant\n%s", data, wantRegistry)
	}

	got, err = c.Statuses(sdktest.Context(t, "16"), append([]string{"unknown"}, ids(orders)...))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantStatuses) {
		t.Errorf("Statuses =\n%+v\nwant\n%+v", got, wantStatuses)
	}
}

// TestResubmit: the platform retries a call whose answer it lost; no order
// is written twice and each keeps its status.
func TestResubmit(t *testing.T) {
	dir := t.TempDir()
	c := sdktest.PaymentSink(t, newSink(t, dir))
	if _, err := c.Submit(sdktest.Context(t, "16"), orders); err != nil {
		t.Fatal(err)
	}
	got, err := c.Submit(sdktest.Context(t, "16"), orders)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantStatuses) {
		t.Errorf("Submit again =\n%+v\nwant\n%+v", got, wantStatuses)
	}
	if f := files(t, dir); len(f) != 2 {
		t.Errorf("submitting again wrote files: %v", f)
	}

	// A different order under a used id is not written; the detail says
	// so. A new order goes into the next registry.
	changed := order("o1", 999)
	got, err = c.Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{changed, order("o12", 500)})
	if err != nil {
		t.Fatal(err)
	}
	want := []connector.PaymentStatus{
		{OrderID: "o1", Status: "accepted", Detail: "registry 20260614-000001; submitted again with other details, which were not written"},
		{OrderID: "o12", Status: "accepted", Detail: "registry 20260614-000002"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Submit =\n%+v\nwant\n%+v", got, want)
	}
	reg := readRegistry(t, filepath.Join(dir, "20260614-000002.reg"))
	if !reflect.DeepEqual(ids(reg.Orders), []string{"o12"}) {
		t.Errorf("the second registry has %v", ids(reg.Orders))
	}
}

func readRegistry(t *testing.T, path string) *registry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := parseRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRestart: a new process on the same directory knows every status and
// goes on with the numbering.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	if _, err := sdktest.PaymentSink(t, newSink(t, dir)).Submit(sdktest.Context(t, "16"), orders); err != nil {
		t.Fatal(err)
	}

	c := sdktest.PaymentSink(t, newSink(t, dir))
	got, err := c.Statuses(sdktest.Context(t, "16"), ids(orders))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantStatuses) {
		t.Errorf("Statuses after a restart =\n%+v\nwant\n%+v", got, wantStatuses)
	}
	got, err = c.Submit(sdktest.Context(t, "16"), append(slices.Clone(orders), order("o12", 500)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[:len(orders)], wantStatuses) || got[len(orders)].Detail != "registry 20260614-000002" {
		t.Errorf("Submit after a restart = %+v", got)
	}
	if reg := readRegistry(t, filepath.Join(dir, "20260614-000002.reg")); !reflect.DeepEqual(ids(reg.Orders), []string{"o12"}) {
		t.Errorf("the second registry has %v", ids(reg.Orders))
	}
}

// TestEditedDirectory: registries someone has changed stop the sink rather
// than let it guess which orders were paid.
func TestEditedDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string)
		want string
	}{
		{"a registry cut short", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "20260614-000001.reg")
			if err := os.WriteFile(p, []byte(strings.TrimSuffix(wantRegistry, "TOTAL|2|1234568\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "registry 20260614-000001.reg: no trailer after line 3"},
		{"an order in two registries", func(t *testing.T, dir string) {
			data := strings.ReplaceAll(wantRegistry, "20260614-000001", "20260614-000007")
			if err := os.WriteFile(filepath.Join(dir, "20260614-000007.reg"), []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
		}, `order "o1" is in two registries: 20260614-000001 and 20260614-000007`},
		{"a registry renamed", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "20260614-000001.reg"), filepath.Join(dir, "20260614-000003.reg")); err != nil {
				t.Fatal(err)
			}
		}, `registry 20260614-000003.reg calls itself "20260614-000001"`},
		{"rejections garbled", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, rejectedFile), []byte("{\"order\":\"o2\",\"reason\":\"amount 0 kopecks is not positive\"}\nnot json\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, rejectedFile + " line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := sdktest.PaymentSink(t, newSink(t, dir)).Submit(sdktest.Context(t, "16"), orders); err != nil {
				t.Fatal(err)
			}
			tc.edit(t, dir)
			_, err := sdktest.PaymentSink(t, newSink(t, dir)).Statuses(sdktest.Context(t, "16"), []string{"o1"})
			var e *sdk.Error
			if !errors.As(err, &e) || e.Upstream || !strings.Contains(e.Message, tc.want) {
				t.Errorf("error %v, want the plug-in's with %q", err, tc.want)
			}
		})
	}
}

// TestWriteFails: a registry that could not be written leaves no trace:
// nothing is taken for accepted, and the next call succeeds afresh.
func TestWriteFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bank")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, dir)
	c := sdktest.PaymentSink(t, s)
	if _, err := c.Statuses(sdktest.Context(t, "16"), []string{"o1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	_, err := c.Submit(sdktest.Context(t, "16"), orders)
	var e *sdk.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "writing registry 20260614-000001") {
		t.Errorf("error %v, want writing the registry", err)
	}
	if got, err := c.Statuses(sdktest.Context(t, "16"), ids(orders)); err != nil || got != nil {
		t.Errorf("after a failed write Statuses = %v, %v", got, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := c.Submit(sdktest.Context(t, "16"), orders)
	if err != nil || !reflect.DeepEqual(got, wantStatuses) {
		t.Errorf("Submit after the directory is back = %+v, %v", got, err)
	}
}

// TestRegistryTotalOverflow: an order that would overflow the registry's
// total is refused for this call only, as its reason says: submitted
// again in another call, it is written.
func TestRegistryTotalOverflow(t *testing.T) {
	c := sdktest.PaymentSink(t, newSink(t, t.TempDir()))
	got, err := c.Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{order("a", math.MaxInt64), order("b", 1), order("c", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != "accepted" || got[1].Status != "rejected" || !strings.Contains(got[1].Detail, "int64") || got[2].Status != "rejected" {
		t.Errorf("Submit = %+v", got)
	}
	got, err = c.Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{order("b", 1)})
	if err != nil || got[0].Status != "accepted" || got[0].Detail != "registry 20260614-000002" {
		t.Errorf("the order in another call: %+v, %v", got, err)
	}
}

// TestMillionthRegistry: past 999,999 a registry's number has seven
// digits; a restarted sink still reads it, so an order in it is answered
// from it rather than written again into registry 000001.
func TestMillionthRegistry(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t, dir)
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	s.seq = 999_999
	got, err := sdktest.PaymentSink(t, s).Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{order("p1", 100)})
	if err != nil || got[0].Detail != "registry 20260614-1000000" {
		t.Fatalf("Submit = %+v, %v", got, err)
	}
	c := sdktest.PaymentSink(t, newSink(t, dir))
	got, err = c.Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{order("p1", 100), order("p2", 200)})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Detail != "registry 20260614-1000000" || got[1].Detail != "registry 20260614-1000001" {
		t.Errorf("after a restart Submit = %+v", got)
	}
	if want := []string{"20260614-1000000.reg", "20260614-1000001.reg"}; !slices.Equal(files(t, dir), want) {
		t.Errorf("files %v, want %v", files(t, dir), want)
	}
}

// TestRegistryNeverWrittenOver: a file the sink did not write under the
// next registry's name (a link someone made, which the sink does not read
// as a registry) is left as it is, and the call fails with nothing taken
// for accepted.
func TestRegistryNeverWrittenOver(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "collected.reg")
	if err := os.WriteFile(elsewhere, []byte("the bank's copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "20260614-000001.reg")); err != nil {
		t.Fatal(err)
	}
	c := sdktest.PaymentSink(t, newSink(t, dir))
	_, err := c.Submit(sdktest.Context(t, "16"), []connector.PaymentOrder{order("p1", 100)})
	if err == nil || !strings.Contains(err.Error(), "20260614-000001.reg is there already") {
		t.Errorf("error %v, want the name taken", err)
	}
	if b, err := os.ReadFile(elsewhere); err != nil || string(b) != "the bank's copy" {
		t.Errorf("the file under the name: %q, %v", b, err)
	}
	if got, err := c.Statuses(sdktest.Context(t, "16"), []string{"p1"}); err != nil || got != nil {
		t.Errorf("Statuses = %+v, %v; want p1 unknown", got, err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "20260614-000001.reg")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi, err)
	}
	if n := len(files(t, dir)); n != 1 {
		t.Errorf("files %v: a temporary file was left", files(t, dir))
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Dir: "relative", Bank: "B"},
		{Dir: "/abs"},
		{Dir: "/abs", Bank: "  "},
		{Dir: "/abs", Bank: "A|B"},
		{Dir: "/abs", Bank: "A\nB"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}

	for _, env := range []string{`{"dir": "relative", "bank": "B"}`, `{"dir": "/abs", "bank": "B", "format": "x"}`, `[]`, ``} {
		t.Setenv(sdk.ConfigEnv, env)
		_, err := sdktest.PaymentSink(t, fromEnv()).Submit(sdktest.Context(t, "16"), orders)
		var e *sdk.Error
		if !errors.As(err, &e) || e.Upstream || !strings.Contains(e.Message, "bankregistry configuration") {
			t.Errorf("config %q: error %v, want the plug-in's configuration error", env, err)
		}
	}

	// A directory that is not there fails the calls until it is.
	dir := filepath.Join(t.TempDir(), "missing")
	t.Setenv(sdk.ConfigEnv, fmt.Sprintf(`{"dir": %q, "bank": "B"}`, dir))
	c := sdktest.PaymentSink(t, fromEnv())
	if _, err := c.Statuses(sdktest.Context(t, "16"), []string{"o1"}); err == nil || !strings.Contains(err.Error(), "the registries' directory") {
		t.Errorf("a missing directory: %v", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Statuses(sdktest.Context(t, "16"), []string{"o1"}); err != nil {
		t.Errorf("once the directory is there: %v", err)
	}
}

// TestBinary builds the plug-in and calls it as the platform does, then
// starts it again on the same directory: the statuses survive.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plug-in")
	}
	bin := sdktest.Build(t, ".")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"dir": %q, "bank": "ПАО Сбербанк"}`, dir)
	c := sdktest.StartWithConfig(t, bin, grpcplugin.KindPaymentSink, cfg).(*grpcplugin.PaymentSinkClient)
	got, err := c.Submit(sdktest.Context(t, "16"), orders[:2])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Status != "accepted" || got[1] != wantStatuses[1] {
		t.Errorf("Submit = %+v", got)
	}
	regs, _ := filepath.Glob(filepath.Join(dir, "*.reg"))
	if len(regs) != 1 || len(readRegistry(t, regs[0]).Orders) != 1 {
		t.Errorf("registries %v", regs)
	}

	c = sdktest.StartWithConfig(t, bin, grpcplugin.KindPaymentSink, cfg).(*grpcplugin.PaymentSinkClient)
	again, err := c.Statuses(sdktest.Context(t, "16"), []string{"o1", "o2"})
	if err != nil || !reflect.DeepEqual(again, got) {
		t.Errorf("Statuses from a new process = %+v, %v; want %+v", again, err, got)
	}
}

// FuzzParseRejections: reading never panics, and what reads is what the
// sink would write of it.
func FuzzParseRejections(f *testing.F) {
	f.Add(rejectionsText([]rejection{{Order: "o2", Reason: "amount 0 kopecks is not positive"}, {Order: "o8", Reason: `purpose holds "|"`}}))
	f.Add([]byte("{\"order\":\"o2\"}\nnot json\n"))
	f.Add([]byte("{\"order\":\"o2\",\"reason\":\"x\",\"extra\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := parseRejections(data)
		if err == nil && !bytes.Equal(rejectionsText(rs), data) {
			t.Fatalf("read %q, though the sink would write %q", data, rejectionsText(rs))
		}
	})
}

// TestParseRejectionsAsWritten: the rejections file reads only as the
// sink writes it; an edit names its line.
func TestParseRejectionsAsWritten(t *testing.T) {
	good := `{"order":"o2","reason":"amount 0 kopecks is not positive"}` + "\n"
	if rs, err := parseRejections([]byte(good + good)); err != nil || len(rs) != 2 {
		t.Errorf("as written: %v, %v", rs, err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"an unknown field", good + `{"order":"o3","reason":"x","by":"me"}` + "\n", "line 2 is not as the sink writes it"},
		{"CRLF", strings.ReplaceAll(good, "\n", "\r\n"), "line 1 is not as the sink writes it"},
		{"no end to the last line", strings.TrimSuffix(good, "\n"), "the last line does not end"},
		{"spaces", `{"order": "o2", "reason": "amount 0 kopecks is not positive"}` + "\n", "line 1 is not as the sink writes it"},
		{"not JSON", good + "not json\n", rejectedFile + " line 2:"},
	} {
		if _, err := parseRejections([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
