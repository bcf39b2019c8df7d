package connector

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/sdk"
)

// The file event source reads NDJSON, one event a line:
//
//	{"id": "zags-2026-000123", "kind": "birth", "snils": "112-233-445 95", "date": "2026-06-01", "attributes": {"order": "2"}}
//
// id, kind and date (YYYY-MM-DD) are required; snils is optional (11
// digits or XXX-XXX-XXX YY, answered as 11 digits), attributes too. The
// cursor is the number of the last line read ("" is the beginning). The
// file is read on each call, so events appended to it are seen; a last
// line without its newline is still being written and waits for the next
// call. Blank lines are skipped. A malformed line is ErrBadAnswer naming
// the line; a cursor past the end of the file (it was replaced by a
// shorter one) is an error rather than a silent start from the beginning.

// defaultEventLimit is how many events a call with no limit gives.
const defaultEventLimit = 1000

// maxEventLine bounds a line: an event is a few hundred bytes.
const maxEventLine = 1 << 20

type fileEvents struct{ path string }

type eventJSON struct {
	ID         string            `json:"id"`
	Kind       string            `json:"kind"`
	SNILS      string            `json:"snils"`
	Date       string            `json:"date"`
	Attributes map[string]string `json:"attributes"`
}

// Events reads the events after the cursor's line, at most limit (0: a
// thousand).
func (s *fileEvents) Events(ctx context.Context, cursor string, limit int) ([]Event, string, error) {
	after := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 || strconv.Itoa(n) != cursor {
			return nil, "", fmt.Errorf("connector: event cursor %q is not a line number", cursor)
		}
		after = n
	}
	if limit < 0 {
		return nil, "", fmt.Errorf("connector: Events with limit %d", limit)
	}
	if limit == 0 {
		limit = defaultEventLimit
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	name := filepath.Base(s.path)
	f, err := os.Open(s.path)
	if err != nil {
		return nil, "", sdk.Upstream(fmt.Errorf("event file: %w", err))
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		out  []Event
		buf  []byte
		n    int // complete lines read
		last int // the line of the last event
		seen = map[string]int{}
	)
	for len(out) < limit {
		b, complete, err := nextLine(r, n+1 > after, buf)
		if err != nil {
			if errors.Is(err, errLongLine) {
				return nil, "", badAnswer("%s line %d: longer than %d KiB", name, n+1, maxEventLine>>10)
			}
			return nil, "", sdk.Upstream(fmt.Errorf("event file %s: %w", name, err))
		}
		if !complete {
			break
		}
		n, buf = n+1, b
		if n <= after || len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		ev, err := parseEvent(b)
		if err != nil {
			return nil, "", badAnswer("%s line %d: %v", name, n, err)
		}
		if at, dup := seen[ev.ID]; dup {
			return nil, "", badAnswer("%s line %d: the id of line %d again", name, n, at)
		}
		seen[ev.ID] = n
		out = append(out, ev)
		last = n
	}
	if n < after {
		return nil, "", fmt.Errorf("connector: event cursor %d is past the end of %s (%d lines): was the file replaced?", after, name, n)
	}
	if len(out) == 0 {
		return nil, cursor, nil
	}
	return out, strconv.Itoa(last), nil
}

var errLongLine = errors.New("line too long")

// nextLine reads a line with its newline into buf (when keep; otherwise
// the line is only passed over). complete is false at the end of the
// file, for a line without its newline or none.
func nextLine(r *bufio.Reader, keep bool, buf []byte) (line []byte, complete bool, err error) {
	buf = buf[:0]
	for {
		chunk, err := r.ReadSlice('\n')
		if keep {
			if len(buf)+len(chunk) > maxEventLine {
				return nil, false, errLongLine
			}
			buf = append(buf, chunk...)
		}
		switch err {
		case nil:
			return buf, true, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return buf, false, nil
		default:
			return nil, false, err
		}
	}
}

// parseEvent reads one line; its errors never echo the SNILS.
func parseEvent(b []byte) (Event, error) {
	var e eventJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("not an event: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	switch {
	case e.ID == "":
		return Event{}, errors.New("no id")
	case e.Kind == "":
		return Event{}, fmt.Errorf("event %q has no kind", e.ID)
	}
	d, err := civil.Parse(e.Date)
	if err != nil {
		return Event{}, fmt.Errorf("event %q: date: %v", e.ID, err)
	}
	ev := Event{ID: e.ID, Kind: e.Kind, Date: d.Time(), Attributes: e.Attributes}
	if e.SNILS != "" {
		if ev.SNILS, err = ident.NormalizeSNILS(e.SNILS); err != nil {
			return Event{}, fmt.Errorf("event %q: snils is not a SNILS (11 digits or XXX-XXX-XXX YY): %v", e.ID, err)
		}
	}
	return ev, nil
}
