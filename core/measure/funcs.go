package measure

import (
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/socialtreasury/treasury/core/civil"
	sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"
)

// Rubles writes kopecks as Russian money: "31 200 ₽", "1 234,50 ₽", with a
// no-break space between thousands: as a plug-in's figures are written.
func Rubles(kopecks int64) string { return sdkmeasure.Money(kopecks).String() }

// addMonths moves a date by whole months; the 31st of a month that has no
// 31st becomes its last day (31 January + 1 month is 28 or 29 February).
func addMonths(t, n ref.Val) ref.Val {
	ts, ok := t.(types.Timestamp)
	if !ok {
		return types.MaybeNoSuchOverloadErr(t)
	}
	months, ok := n.(types.Int)
	if !ok {
		return types.MaybeNoSuchOverloadErr(n)
	}
	if months > 12*200 || months < -12*200 {
		return types.NewErr("add_months: %d months is out of range", int64(months))
	}
	d := civil.Of(ts.Time.UTC())
	first := civil.New(d.Year(), d.Month(), 1).AddDate(0, int(months), 0)
	last := first.AddDate(0, 1, -1).Day()
	return types.Timestamp{Time: civil.New(first.Year(), first.Month(), min(d.Day(), last)).Time()}
}

// parseDay is day('2026-01-01'): a date literal.
func parseDay(s ref.Val) ref.Val {
	str, ok := s.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(s)
	}
	d, err := civil.Parse(string(str))
	if err != nil {
		return types.NewErr("day: %v", err)
	}
	return types.Timestamp{Time: d.Time()}
}

// midnight is a date as the case schema's timestamps are.
func midnight(d civil.Date) time.Time { return d.Time() }
