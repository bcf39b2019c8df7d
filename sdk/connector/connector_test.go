package connector_test

import (
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk/connector"
)

func TestParseMonth(t *testing.T) {
	for s, want := range map[string]time.Time{
		"2026-06": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		"0001-01": time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		"9999-12": time.Date(9999, 12, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := connector.ParseMonth(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseMonth(%q) = %v, %v; want %v", s, got, err, want)
		}
		if connector.Month(got) != s {
			t.Errorf("Month(ParseMonth(%q)) = %q", s, connector.Month(got))
		}
	}
	for _, s := range []string{"", "2026-6", "2026-00", "2026-13", "0000-01", "2026/06", "2026-06-01", "+026-06", "2026-0a", " 2026-06", "２０２６-06"} {
		if _, err := connector.ParseMonth(s); err == nil {
			t.Errorf("ParseMonth(%q) accepted", s)
		}
	}
}

// FuzzParseMonth: a month has one spelling, so what ParseMonth accepts
// Month spells back the same, and the time is the first of the month.
func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2026-06", "0001-01", "9999-12", "2026-13", "2026-6", "", "20260-1", "-2026-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := connector.ParseMonth(s)
		if err != nil {
			return
		}
		if got := connector.Month(m); got != s {
			t.Fatalf("ParseMonth(%q) = %v, which is month %q", s, m, got)
		}
		if m.Day() != 1 || m.Hour() != 0 || m.Location() != time.UTC {
			t.Fatalf("ParseMonth(%q) = %v, not midnight UTC of the first", s, m)
		}
	})
}
