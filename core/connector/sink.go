package connector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"

	sdkconnector "github.com/socialtreasury/treasury/sdk/connector"
)

// The file payment sink writes each Submit's new orders into a directory
// the bank collects from, as JSON lines — one order a line, the order's
// fields as the HTTP sink sends them (http.go) plus its "status" and
// "detail":
//
//	orders-000001.jsonl     the accepted orders of one Submit: the bank pays these
//	rejected-000001.jsonl   the orders it refused (a malformed account, …), with why
//
// The number counts Submits. A file appears whole or not at all (written
// under a hidden temporary name, synced, then linked into place, so it
// never replaces another), and is never changed afterwards. The files are
// the sink's whole state: an order id already in one is answered the
// status it has and not written again, however often it is submitted —
// the platform retries a call whose answer it lost, and must not pay
// twice — and Statuses reads them back. The bank's answers are not read,
// so an accepted order stays accepted. One process a directory: the
// directory is read again before each call, but two writers could both
// take an order submitted to each at the same moment.

var sinkFile = regexp.MustCompile(`^(orders|rejected)-(\d{6,9})\.jsonl$`)

type fileSink struct {
	dir string

	mu    sync.Mutex
	read  map[string]bool      // files read already (they never change)
	known map[string]sinkEntry // by order id
	seq   int                  // the highest file number
}

type sinkEntry struct {
	status, detail string
	order          []byte // the order's JSON, to tell another order under the same id
	file           string
}

// sinkLine is a line of a sink file.
type sinkLine struct {
	orderJSON
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func openFileSink(dir string) (*fileSink, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("payment sink directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("payment sink directory %s is not a directory", dir)
	}
	s := &fileSink{dir: dir, read: map[string]bool{}, known: map[string]sinkEntry{}}
	if err := s.refresh(); err != nil {
		return nil, err
	}
	return s, nil
}

// refresh reads the files it has not read. A file that does not read
// back, or an order in two files, stops the sink: guessing which orders
// were paid is worse than not paying.
func (s *fileSink) refresh() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("payment sink directory: %w", err)
	}
	for _, e := range entries {
		m := sinkFile.FindStringSubmatch(e.Name())
		if m == nil || s.read[e.Name()] {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		s.seq = max(s.seq, n)
		if err := s.readFile(e.Name()); err != nil {
			return err
		}
		s.read[e.Name()] = true
	}
	return nil
}

func (s *fileSink) readFile(name string) error {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return fmt.Errorf("payment sink: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for line := 1; sc.Scan(); line++ {
		var l sinkLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return fmt.Errorf("payment sink: %s line %d: %v", name, line, err)
		}
		if l.ID == "" || (l.Status != sdkconnector.PaymentAccepted && l.Status != sdkconnector.PaymentRejected) {
			return fmt.Errorf("payment sink: %s line %d: no order id, or a status other than accepted or rejected", name, line)
		}
		if prev, dup := s.known[l.ID]; dup {
			return fmt.Errorf("payment sink: order %q is in both %s and %s", l.ID, prev.file, name)
		}
		order, _ := json.Marshal(l.orderJSON)
		s.known[l.ID] = sinkEntry{status: l.Status, detail: l.Detail, order: order, file: name}
	}
	return sc.Err()
}

// Submit writes the orders it has not seen: the accepted ones into one
// new orders file, the refused ones into a rejected file. An order it has
// seen is answered its status; one whose fields differ from those seen
// under its id keeps that status, and the detail says it was not written.
func (s *fileSink) Submit(ctx context.Context, orders []PaymentOrder) ([]PaymentStatus, error) {
	ids := make([]string, len(orders))
	for i := range orders {
		ids[i] = orders[i].ID
	}
	if _, err := indexIDs("order", ids); err != nil {
		return nil, err
	}
	if len(orders) == 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return nil, err
	}
	out := make([]PaymentStatus, len(orders))
	var accepted, rejected []sinkLine
	var acceptedAt []int // the places in out of the accepted lines
	for i := range orders {
		o := orderToJSON(&orders[i])
		b, _ := json.Marshal(o)
		if e, ok := s.known[o.ID]; ok {
			out[i] = PaymentStatus{OrderID: o.ID, Status: e.status, Detail: e.detail}
			if !bytes.Equal(b, e.order) {
				out[i].Detail = "another order was submitted under this id before; this one was not written"
			}
			continue
		}
		l := sinkLine{orderJSON: o, Status: sdkconnector.PaymentAccepted}
		if why := refuse(&orders[i]); why != "" {
			l.Status, l.Detail = sdkconnector.PaymentRejected, why
			rejected = append(rejected, l)
		} else {
			accepted = append(accepted, l)
			acceptedAt = append(acceptedAt, i)
		}
		out[i] = PaymentStatus{OrderID: o.ID, Status: l.Status, Detail: l.Detail}
	}
	if len(accepted)+len(rejected) == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	seq := s.seq + 1
	s.seq = seq // taken even if a write fails: a number is never reused
	name := fmt.Sprintf("orders-%06d.jsonl", seq)
	for j, i := range acceptedAt {
		accepted[j].Detail = "written to " + name
		out[i].Detail = accepted[j].Detail
	}
	for _, f := range []struct {
		name  string
		lines []sinkLine
	}{{name, accepted}, {fmt.Sprintf("rejected-%06d.jsonl", seq), rejected}} {
		if len(f.lines) == 0 {
			continue
		}
		if err := s.write(f.name, f.lines); err != nil {
			return nil, err
		}
		s.read[f.name] = true
		for _, l := range f.lines {
			order, _ := json.Marshal(l.orderJSON)
			s.known[l.ID] = sinkEntry{status: l.Status, detail: l.Detail, order: order, file: f.name}
		}
	}
	return out, nil
}

// write puts lines into a new file atomically: a hidden temporary file,
// synced, linked to its name (which fails rather than replace a file),
// and the directory synced.
func (s *fileSink) write(name string, lines []sinkLine) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range lines {
		if err := enc.Encode(&lines[i]); err != nil {
			return err
		}
	}
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("payment sink: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("payment sink: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("payment sink: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("payment sink: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("payment sink: %w", err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("payment sink: %w", err)
	}
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("payment sink: %w", err)
	}
	defer d.Close()
	return d.Sync()
}

// refuse is why an order cannot go to a bank, or "".
func refuse(o *PaymentOrder) string {
	switch {
	case o.AmountKopecks <= 0:
		return "the amount must be positive kopecks"
	case !allDigits(o.Account, 20):
		return "the account must be 20 digits"
	case !allDigits(o.BIK, 9):
		return "the BIK must be 9 digits"
	case checkPeriod(o.Period) != nil:
		return "the period ends before it starts"
	}
	return ""
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Statuses reads the statuses back from the directory; an order in no
// file is left out.
func (s *fileSink) Statuses(ctx context.Context, orderIDs []string) ([]PaymentStatus, error) {
	if _, err := indexIDs("order", orderIDs); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refresh(); err != nil {
		return nil, err
	}
	var out []PaymentStatus
	for _, id := range orderIDs {
		if e, ok := s.known[id]; ok {
			out = append(out, PaymentStatus{OrderID: id, Status: e.status, Detail: e.detail})
		}
	}
	return out, nil
}
