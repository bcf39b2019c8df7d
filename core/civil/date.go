// Package civil is the calendar date without a time or a zone — what
// eligibility, validity periods and deadlines are judged on. It maps to a
// DATE column on PostgreSQL and to 'YYYY-MM-DD' text on SQLite, so dates
// compare the same in SQL on both dialects and in Go.
package civil

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Date is a calendar date. The zero Date is not a date (IsZero).
type Date struct {
	t time.Time // midnight UTC
}

// Layout is the date's text form.
const Layout = "2006-01-02"

// Moscow is the zone civil dates are taken in when they come from a clock:
// the federal operator's and most regions' legal time (UTC+3, no DST).
var Moscow = time.FixedZone("MSK", 3*3600)

// New returns the date; out-of-range parts normalise like time.Date.
func New(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// Of returns the date of t in t's own location.
func Of(t time.Time) Date { return New(t.Date()) }

// Today is the current date in Moscow.
func Today() Date { return Of(time.Now().In(Moscow)) }

// Parse reads YYYY-MM-DD, refusing anything else (no time, no zone, no
// February 30).
func Parse(s string) (Date, error) {
	if len(s) != len(Layout) {
		return Date{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	t, err := time.Parse(Layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// MustParse is Parse for constants; it panics on a bad date.
func MustParse(s string) Date {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// String is YYYY-MM-DD ("" for the zero Date).
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(Layout)
}

// Year, Month, Day and Weekday are the date's parts.
func (d Date) Year() int             { return d.t.Year() }
func (d Date) Month() time.Month     { return d.t.Month() }
func (d Date) Day() int              { return d.t.Day() }
func (d Date) Weekday() time.Weekday { return d.t.Weekday() }

// AddDays moves the date by n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// AddDate moves the date like time.Time.AddDate.
func (d Date) AddDate(years, months, days int) Date { return Date{d.t.AddDate(years, months, days)} }

// Before, After and Equal compare dates.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }
func (d Date) After(e Date) bool  { return d.t.After(e.t) }
func (d Date) Equal(e Date) bool  { return d.t.Equal(e.t) }

// Compare is -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.t.Compare(e.t) }

// DaysUntil is the number of days from d to e (negative when e is earlier).
func (d Date) DaysUntil(e Date) int { return int(e.t.Sub(d.t).Hours() / 24) }

// Time is midnight UTC of the date.
func (d Date) Time() time.Time { return d.t }

// Value implements driver.Valuer: the text YYYY-MM-DD, which PostgreSQL
// casts to its DATE and SQLite stores and compares as text.
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// DateValue implements pgx's pgtype.DateValuer, so that PostgreSQL gets a
// date parameter in its binary form: through Value, pgx first fails to
// encode the text as a binary date and then parses it, an error and a scan
// for every date parameter of every statement.
func (d Date) DateValue() (pgtype.Date, error) {
	if d.IsZero() {
		return pgtype.Date{}, nil
	}
	return pgtype.Date{Time: d.t, Valid: true}, nil
}

// ScanDate implements pgx's pgtype.DateScanner: a DATE column read
// straight from its binary form.
func (d *Date) ScanDate(v pgtype.Date) error {
	if !v.Valid {
		*d = Date{}
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("civil: cannot scan an infinite date")
	}
	*d = New(v.Time.Date())
	return nil
}

// Scan implements sql.Scanner for DATE columns of either dialect.
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = Date{}
		return nil
	case time.Time:
		*d = New(v.Date())
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	}
	return fmt.Errorf("civil: cannot scan %T into a date", src)
}

func (d *Date) scanText(s string) error {
	if len(s) > len(Layout) { // "2025-01-01 00:00:00+00:00", "2025-01-01T00:00:00Z"
		s = s[:len(Layout)]
	}
	v, err := Parse(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes "YYYY-MM-DD", or null for the zero Date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.String())
}
