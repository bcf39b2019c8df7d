package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/connector"
)

// Config is the region's configuration: the directory the bank collects
// registries from (it must exist) and the bank's name for the header.
type Config struct {
	Dir  string `json:"dir"`
	Bank string `json:"bank"`
}

// rejectedFile keeps the orders the sink rejected: they are in no
// registry, and their status must survive a restart too.
const rejectedFile = "rejected.jsonl"

// registryName is a registry's file: the date it was written and a
// sequence number across all dates, of six digits or more (the
// millionth registry has seven), so that names sort in the order the
// registries were written within a day's first million.
var registryName = regexp.MustCompile(`^(\d{8})-(\d{6,})\.reg$`)

// Sink is the payment sink: each Submit writes one registry with the
// orders it accepts. The files in the directory are the sink's whole
// state — it reads them when it starts — so a status survives a restart,
// and an order submitted again is answered from them, never written
// twice. One process a directory: two would not see each other's orders.
type Sink struct {
	dir, bank string
	now       func() time.Time

	mu       sync.Mutex
	known    map[string]entry // by order id; nil until the directory is read
	rejected []rejection      // rejectedFile's lines
	seq      int              // the last registry's sequence number
}

// entry is the sink's record of an order.
type entry struct {
	status, detail string
	fields         string // an accepted order's fields, to tell a different order under the same id
}

// rejection is a line of rejectedFile.
type rejection struct {
	Order  string `json:"order"`
	Reason string `json:"reason"`
}

// New checks cfg and returns the sink it configures.
func New(cfg Config) (*Sink, error) {
	switch {
	case cfg.Dir == "" || !filepath.IsAbs(cfg.Dir):
		return nil, fmt.Errorf("dir %q is not an absolute path", cfg.Dir)
	case strings.TrimSpace(cfg.Bank) == "":
		return nil, errors.New("bank is not set")
	case strings.Contains(cfg.Bank, sep) || strings.ContainsFunc(cfg.Bank, isControl):
		return nil, fmt.Errorf("bank holds %q or a control character", sep)
	}
	return &Sink{dir: cfg.Dir, bank: cfg.Bank, now: time.Now}, nil
}

// fromEnv is the sink the region configured. A configuration that is
// wrong gives a sink that fails every call with the reason.
func fromEnv() connector.PaymentSink {
	var cfg Config
	if err := sdk.Config(&cfg); err != nil {
		return broken{err}
	}
	s, err := New(cfg)
	if err != nil {
		return broken{err}
	}
	return s
}

type broken struct{ err error }

func (b broken) Submit(context.Context, []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
	return nil, b.fail()
}

func (b broken) Statuses(context.Context, []string) ([]connector.PaymentStatus, error) {
	return nil, b.fail()
}

func (b broken) fail() error { return fmt.Errorf("bankregistry configuration: %w", b.err) }

// Submit writes the orders it has not seen into a new registry. A valid
// order is accepted, an invalid one rejected with the reason; an order
// seen before keeps the status it has (a retry must not pay twice), and a
// different order under a seen id is not written, which the status's
// detail says.
func (s *Sink) Submit(ctx context.Context, orders []connector.PaymentOrder) ([]connector.PaymentStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return nil, err
	}
	reg := &registry{ID: fmt.Sprintf("%s-%06d", s.now().UTC().Format("20060102"), s.seq+1), Date: today(s.now()), Bank: s.bank}
	out := make([]connector.PaymentStatus, len(orders))
	var rejected []rejection
	first := make(map[string]int, len(orders)) // an id's first place in this batch
	var sum int64
	for i := range orders {
		o := &orders[i]
		if e, ok := s.known[o.ID]; ok {
			out[i] = connector.PaymentStatus{OrderID: o.ID, Status: e.status, Detail: e.detail}
			if e.fields != "" && e.fields != strings.Join(orderFields(o), sep) {
				out[i].Detail += "; submitted again with other details, which were not written"
			}
			continue
		}
		if j, ok := first[o.ID]; ok {
			out[i] = out[j]
			continue
		}
		first[o.ID] = i
		reason := checkOrder(o)
		if reason == "" && o.AmountKopecks > math.MaxInt64-sum { // far beyond any real registry
			// Not recorded: the order may come again in another call.
			out[i] = connector.PaymentStatus{OrderID: o.ID, Status: connector.PaymentRejected,
				Detail: "the registry's total would not fit in an int64: submit the order in another call"}
			continue
		}
		if reason != "" {
			out[i] = connector.PaymentStatus{OrderID: o.ID, Status: connector.PaymentRejected, Detail: reason}
			rejected = append(rejected, rejection{Order: o.ID, Reason: reason})
			continue
		}
		sum += o.AmountKopecks
		reg.Orders = append(reg.Orders, *o)
		out[i] = connector.PaymentStatus{OrderID: o.ID, Status: connector.PaymentAccepted, Detail: "registry " + reg.ID}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(reg.Orders) > 0 {
		placed, err := writeAtomic(s.dir, reg.ID+".reg", reg.format(), false)
		if placed {
			// The bank may collect it from now on, even should its name
			// not yet be durable: its orders are known, and a retry of this
			// call finds them accepted rather than writes them again.
			s.seq++
			for i := range reg.Orders {
				o := &reg.Orders[i]
				s.known[o.ID] = entry{status: connector.PaymentAccepted, detail: "registry " + reg.ID, fields: strings.Join(orderFields(o), sep)}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("writing registry %s: %w", reg.ID, err)
		}
	}
	if len(rejected) > 0 {
		// Should this fail, the registry above is written and known: the
		// platform's retry finds those orders accepted and rejects the
		// others again.
		all := append(s.rejected[:len(s.rejected):len(s.rejected)], rejected...)
		placed, err := writeAtomic(s.dir, rejectedFile, rejectionsText(all), true)
		if placed {
			s.rejected = all
			for _, r := range rejected {
				s.known[r.Order] = entry{status: connector.PaymentRejected, detail: r.Reason}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", rejectedFile, err)
		}
	}
	return out, nil
}

// Statuses are the statuses the sink gave; an order it never saw is left
// out. This sink does not hear back from the bank, so an order stays
// accepted: a sink that reads the bank's answers would report paid and
// returned from them.
func (s *Sink) Statuses(_ context.Context, ids []string) ([]connector.PaymentStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.load(); err != nil {
		return nil, err
	}
	var out []connector.PaymentStatus
	for _, id := range ids {
		if e, ok := s.known[id]; ok {
			out = append(out, connector.PaymentStatus{OrderID: id, Status: e.status, Detail: e.detail})
		}
	}
	return out, nil
}

// load reads the directory once: the registries for the accepted orders
// and the last sequence number, rejectedFile for the rejected ones. A
// registry that does not read, or an order in two registries, stops the
// sink: someone has edited the files, and guessing could pay twice.
func (s *Sink) load() error {
	if s.known != nil {
		return nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("the registries' directory: %w", err)
	}
	known := make(map[string]entry)
	seq := 0
	for _, de := range entries {
		m := registryName.FindStringSubmatch(de.Name())
		if m == nil || !de.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.dir, de.Name()))
		if err != nil {
			return err
		}
		reg, err := parseRegistry(data)
		if err != nil {
			return fmt.Errorf("registry %s: %w", de.Name(), err)
		}
		id := strings.TrimSuffix(de.Name(), ".reg")
		if reg.ID != id {
			return fmt.Errorf("registry %s calls itself %q", de.Name(), reg.ID)
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return fmt.Errorf("registry %s: its number is out of range", de.Name())
		}
		seq = max(seq, n)
		for i := range reg.Orders {
			o := &reg.Orders[i]
			if prev, dup := known[o.ID]; dup {
				return fmt.Errorf("order %q is in two registries: %s and %s", o.ID, strings.TrimPrefix(prev.detail, "registry "), id)
			}
			known[o.ID] = entry{status: connector.PaymentAccepted, detail: "registry " + id, fields: strings.Join(orderFields(o), sep)}
		}
	}
	rejected, err := readRejections(filepath.Join(s.dir, rejectedFile))
	if err != nil {
		return err
	}
	for _, r := range rejected {
		if _, ok := known[r.Order]; !ok {
			known[r.Order] = entry{status: connector.PaymentRejected, detail: r.Reason}
		}
	}
	s.known, s.rejected, s.seq = known, rejected, seq
	return nil
}

func readRejections(path string) ([]rejection, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseRejections(data)
}

// parseRejections reads rejectedFile's lines, which must be as the sink
// writes them, byte for byte (as parseRegistry reads a registry): anything
// else is an edit, which stops the sink.
func parseRejections(data []byte) ([]rejection, error) {
	var out []rejection
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var r rejection
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %v", rejectedFile, n, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", rejectedFile, err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%s: the last line does not end", rejectedFile)
	}
	if want := rejectionsText(out); !bytes.Equal(want, data) {
		return nil, fmt.Errorf("%s line %d is not as the sink writes it", rejectedFile, firstLineApart(data, want))
	}
	return out, nil
}

func rejectionsText(rs []rejection) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // a line each
	for _, r := range rs {
		_ = enc.Encode(r)
	}
	return b.Bytes()
}

// writeAtomic writes name in dir so that it is there whole or not at all:
// the bank never picks up half a registry, and a crash never leaves half
// a state. The data is on disk before the name points to it. A file
// already there under the name is replaced only when replace is set: a
// registry is never written over, collected or not. placed: the name
// points to the data, even when err then says that the directory, and so
// the name, could not be made durable.
func writeAtomic(dir, name string, data []byte, replace bool) (placed bool, err error) {
	f, err := os.CreateTemp(dir, "."+name+".*.tmp") // 0600: registries hold personal data
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // gone once renamed; after a link, a second name
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return false, err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return false, err
	}
	if err = f.Close(); err != nil {
		return false, err
	}
	final := filepath.Join(dir, name)
	if replace {
		err = os.Rename(tmp, final)
	} else if err = os.Link(tmp, final); errors.Is(err, fs.ErrExist) {
		err = fmt.Errorf("%s is there already, though the sink did not write it", name)
	}
	if err != nil {
		return false, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return true, err
	}
	err = d.Sync()
	return true, errors.Join(err, d.Close())
}

// today is t's date, midnight UTC, as the registry's header has it.
func today(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
