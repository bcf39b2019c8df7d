package grpcplugin

import (
	"time"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
)

// dateTo is a calendar date as a Date message (the connectors'); the zero
// time is no date.
func dateTo(t time.Time) *pluginv1.Date {
	if t.IsZero() {
		return nil
	}
	y, m, d := t.Date()
	return &pluginv1.Date{Year: int32(y), Month: int32(m), Day: int32(d)}
}

func dateFrom(d *pluginv1.Date) time.Time {
	if d == nil {
		return time.Time{}
	}
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
}

// validDate: no date, or one the calendar has (time.Date would quietly
// turn February 30 into March 2).
func validDate(d *pluginv1.Date) bool {
	if d == nil {
		return true
	}
	t := dateFrom(d)
	return d.GetYear() >= 1 && d.GetYear() <= 9999 && t.Year() == int(d.GetYear()) && int(t.Month()) == int(d.GetMonth()) && t.Day() == int(d.GetDay())
}
