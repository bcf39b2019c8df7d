package facts

import (
	"cmp"
	"fmt"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
)

// Month is a calendar month (year, month). Incomes are declared per month,
// and means tests count whole months, so it is a type of its own rather
// than a civil.Date pinned to the first day. Its text form is "YYYY-MM",
// the form the registry stores.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads "YYYY-MM" strictly: four-digit year 1900..2200, two-digit
// month 01..12, nothing before or after.
func ParseMonth(s string) (Month, error) {
	if len(s) != 7 || s[4] != '-' || !digits(s[:4]) || !digits(s[5:]) {
		return Month{}, fmt.Errorf("%q is not a month YYYY-MM", s)
	}
	y := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	m := int(s[5]-'0')*10 + int(s[6]-'0')
	if y < 1900 || y > 2200 {
		return Month{}, fmt.Errorf("month %q: year %d is outside 1900..2200", s, y)
	}
	if m < 1 || m > 12 {
		return Month{}, fmt.Errorf("month %q: month %02d is outside 01..12", s, m)
	}
	return Month{y, time.Month(m)}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MonthOf is the month a date falls in.
func MonthOf(d civil.Date) Month { return Month{d.Year(), d.Month()} }

// String is "YYYY-MM", the text ParseMonth reads.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Add moves the month by n months (n may be negative), across years.
func (m Month) Add(n int) Month {
	t := m.Year*12 + int(m.Month) - 1 + n
	y, mo := t/12, t%12
	if mo < 0 { // Go's % truncates toward zero; months want the floor.
		y, mo = y-1, mo+12
	}
	return Month{y, time.Month(mo + 1)}
}

// Before reports whether m is earlier than o.
func (m Month) Before(o Month) bool { return m.Compare(o) < 0 }

// Compare is -1, 0 or +1 as m is before, equal to or after o.
func (m Month) Compare(o Month) int {
	if c := cmp.Compare(m.Year, o.Year); c != 0 {
		return c
	}
	return cmp.Compare(m.Month, o.Month)
}
