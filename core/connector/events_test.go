package connector_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/connector"
	"github.com/socialtreasury/treasury/sdk"
)

func TestFileEventsFromCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := writeFile(t, "events.ndjson",
		`{"id":"e1","kind":"birth","snils":"`+dashed(snilsA)+`","date":"2026-06-01","attributes":{"order":"2"}}`+"\n"+
			"\n"+
			`{"id":"e2","kind":"death","date":"2026-06-02"}`+"\n"+
			`{"id":"e3","kind":"retirement","snils":"`+snilsB+`","date":"2026-06-03"}`+"\n"+
			`{"id":"e4","kind":"birth"`) // being written
	es, err := connector.OpenEventSource(connector.Spec{Type: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	evs, next, err := es.Events(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].ID != "e1" || evs[0].SNILS != snilsA || evs[0].Attributes["order"] != "2" ||
		!evs[0].Date.Equal(date("2026-06-01")) || evs[1].ID != "e2" || next != "3" {
		t.Fatalf("first call: %+v, next %q", evs, next)
	}
	evs, next, err = es.Events(ctx, next, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].ID != "e3" || next != "4" {
		t.Fatalf("second call: %+v, next %q (the unfinished line waits)", evs, next)
	}
	if evs, again, err := es.Events(ctx, next, 0); err != nil || len(evs) != 0 || again != next {
		t.Fatalf("nothing new: %+v %q %v", evs, again, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`,"date":"2026-06-04"}` + "\n")
	f.Close()
	if evs, next, err = es.Events(ctx, next, 0); err != nil || len(evs) != 1 || evs[0].ID != "e4" || next != "5" {
		t.Fatalf("after the line was finished: %+v %q %v", evs, next, err)
	}
	if _, _, err := es.Events(ctx, "50", 0); err == nil || !strings.Contains(err.Error(), "past the end") {
		t.Fatalf("a cursor past the end: %v", err)
	}
	if _, _, err := es.Events(ctx, "x", 0); err == nil {
		t.Fatal("a cursor that is no line number")
	}
}

func TestFileEventsRefuseBadLines(t *testing.T) {
	t.Parallel()
	good := `{"id":"e1","kind":"birth","date":"2026-06-01"}` + "\n"
	for _, c := range []struct{ name, line, want string }{
		{"json", `{"id":"e2",` + "\n", "line 2"},
		{"no id", `{"kind":"birth","date":"2026-06-01"}` + "\n", "line 2: no id"},
		{"no kind", `{"id":"e2","date":"2026-06-01"}` + "\n", "line 2: event \"e2\" has no kind"},
		{"date", `{"id":"e2","kind":"birth","date":"01.06.2026"}` + "\n", "line 2: event \"e2\": date"},
		{"snils", `{"id":"e2","kind":"birth","date":"2026-06-01","snils":"` + wrongCheck(snilsA) + `"}` + "\n", "line 2: event \"e2\": snils"},
		{"field", `{"id":"e2","kind":"birth","date":"2026-06-01","when":"now"}` + "\n", "line 2"},
		{"twice", good, "line 2: the id of line 1 again"},
	} {
		t.Run(c.name, func(t *testing.T) {
			es, err := connector.OpenEventSource(connector.Spec{Type: "file", Path: writeFile(t, "e.ndjson", good+c.line)})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = es.Events(context.Background(), "", 0)
			if !errors.Is(err, connector.ErrBadAnswer) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrBadAnswer with %q", err, c.want)
			}
			if strings.Contains(err.Error(), snilsA[:9]) {
				t.Fatalf("the error echoes a SNILS: %v", err)
			}
		})
	}
	es, _ := connector.OpenEventSource(connector.Spec{Type: "file", Path: "/nonexistent/events.ndjson"})
	if _, _, err := es.Events(context.Background(), "", 0); !sdk.IsUpstream(err) {
		t.Fatalf("a missing file: %v, want upstream", err)
	}
}
