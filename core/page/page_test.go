package page_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/page"
)

func TestKeyCursorRoundTrip(t *testing.T) {
	for _, key := range [][]string{{"66", "2025-01-01"}, {"", ""}, {"код-ü", "x\x00y"}} {
		r, err := page.ParseKey(10, page.KeyCursor(key...), len(key))
		if err != nil || !slices.Equal(r.After, key) || r.Limit != 10 {
			t.Fatalf("%q: %+v %v", key, r, err)
		}
	}
	if r, err := page.ParseKey(0, "", 2); err != nil || r.After != nil || r.Limit != page.DefaultLimit {
		t.Fatalf("first page: %+v %v", r, err)
	}
	bad := []string{"!!", page.Cursor(uuid.New()), page.KeyCursor("only-one"), "Ag", "AgU"}
	for _, c := range bad {
		if _, err := page.ParseKey(1, c, 2); !errors.Is(err, page.ErrBadCursor) {
			t.Errorf("ParseKey(%q): %v", c, err)
		}
	}
	// An id cursor is not a key cursor, nor the other way round.
	if _, err := page.Parse(1, page.KeyCursor("a", "b")); !errors.Is(err, page.ErrBadCursor) {
		t.Errorf("Parse accepted a key cursor: %v", err)
	}
}

func TestTrimKey(t *testing.T) {
	rows := []string{"a", "b", "c"}
	got, next := page.TrimKey(rows, 2, func(s string) []string { return []string{s} })
	if len(got) != 2 || next != page.KeyCursor("b") {
		t.Fatalf("%v %q", got, next)
	}
	if _, next := page.TrimKey(rows, 3, func(s string) []string { return []string{s} }); next != "" {
		t.Fatalf("last page has a cursor %q", next)
	}
}
