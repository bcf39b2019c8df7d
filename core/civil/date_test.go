package civil_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
)

func TestParseIsStrict(t *testing.T) {
	for _, bad := range []string{"", "2025-1-01", "2025-02-30", "2025-01-01T00:00:00Z", " 2025-01-01", "01.01.2025"} {
		if _, err := civil.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	d := civil.MustParse("2024-02-29")
	if d.String() != "2024-02-29" || d.Weekday() != time.Thursday {
		t.Fatalf("%s %s", d, d.Weekday())
	}
	if got := d.AddDays(1).String(); got != "2024-03-01" {
		t.Fatalf("AddDays: %s", got)
	}
	if n := d.DaysUntil(civil.MustParse("2025-02-28")); n != 365 {
		t.Fatalf("DaysUntil: %d", n)
	}
}

func TestScanEitherDialect(t *testing.T) {
	for _, src := range []any{
		"2025-05-09", []byte("2025-05-09"), "2025-05-09 00:00:00+00:00", "2025-05-09T00:00:00Z",
		time.Date(2025, 5, 9, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 9, 0, 0, 0, 0, civil.Moscow),
	} {
		var d civil.Date
		if err := d.Scan(src); err != nil || d.String() != "2025-05-09" {
			t.Errorf("Scan(%#v) = %s, %v", src, d, err)
		}
	}
	var d civil.Date
	if err := d.Scan(nil); err != nil || !d.IsZero() {
		t.Fatalf("Scan(nil): %v %v", d, err)
	}
	if v, _ := d.Value(); v != nil {
		t.Fatalf("zero Value = %v", v)
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		A civil.Date  `json:"a"`
		B *civil.Date `json:"b"`
	}
	if err := json.Unmarshal([]byte(`{"a":"2026-01-09","b":null}`), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"a":"2026-01-09","b":null}` {
		t.Fatalf("%s", out)
	}
	if err := json.Unmarshal([]byte(`{"a":"2026-13-01"}`), &v); err == nil {
		t.Fatal("a bad date was accepted")
	}
}
