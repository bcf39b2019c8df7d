package directory

import (
	"context"
	"errors"
	"time"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// DirHolidays is the production calendar.
const DirHolidays = "holidays"

// Kinds of calendar entries.
const (
	// Holiday is a non-working public holiday (Labour Code art. 112).
	Holiday = "holiday"
	// DayOff is a weekday made a day off by a transfer.
	DayOff = "day_off"
	// WorkingDay is a Saturday or Sunday made a working day by a transfer.
	WorkingDay = "working_day"
)

// ErrNegativeDays is returned for a negative number of working days.
var ErrNegativeDays = errors.New("directory: a number of working days cannot be negative")

// Calendar answers whether days are working days: Monday to Friday unless
// the holidays directory says otherwise (with the region's own entries when
// the context that made it carries a tenant).
type Calendar struct {
	kinds map[civil.Date]string
}

// Calendar loads the production calendar for the days from..to.
func (s *Service) Calendar(ctx context.Context, from, to civil.Date) (*Calendar, error) {
	c := &Calendar{kinds: map[civil.Date]string{}}
	// Every version of the codes in range: a date's kind is the version in
	// force on that date itself.
	q := Query{Page: page.KeyRequest{Limit: 0}}
	var (
		es  []Entry
		err error
	)
	if _, ok := tenancy.FromContext(ctx); ok {
		es, _, err = s.RegionEntries(ctx, DirHolidays, q)
	} else {
		es, _, err = s.Entries(ctx, DirHolidays, q)
	}
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		d, err := civil.Parse(e.Code)
		if err != nil || d.Before(from) || d.After(to) || !e.InForce(d) {
			continue
		}
		c.kinds[d] = e.Attributes.String("kind")
	}
	return c, nil
}

// IsWorkingDay tells whether d is a working day.
func (c *Calendar) IsWorkingDay(d civil.Date) bool {
	switch c.kinds[d] {
	case Holiday, DayOff:
		return false
	case WorkingDay:
		return true
	}
	return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
}

// Kind is the calendar's entry for d ("" when d is as its weekday says).
func (c *Calendar) Kind(d civil.Date) string { return c.kinds[d] }

// WorkingDays returns the day on which n working days counted from the day
// after from end — the deadline "within n working days of from". n = 0
// returns from itself.
func (s *Service) WorkingDays(ctx context.Context, from civil.Date, n int) (civil.Date, error) {
	if n < 0 {
		return civil.Date{}, ErrNegativeDays
	}
	if n == 0 {
		return from, nil
	}
	// Enough calendar for n working days: never more than 2n+31 days (the
	// longest run of non-working days is the New Year's twelve).
	span := 2*n + 31
	for {
		to := from.AddDays(span)
		cal, err := s.Calendar(ctx, from.AddDays(1), to)
		if err != nil {
			return civil.Date{}, err
		}
		d, left := from, n
		for left > 0 && d.Before(to) {
			d = d.AddDays(1)
			if cal.IsWorkingDay(d) {
				left--
			}
		}
		if left == 0 {
			return d, nil
		}
		span *= 2
	}
}
