package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/socialtreasury/treasury/sdk/connector"
)

// A registry is one file the bank takes: UTF-8 text, a line each record,
// fields separated by "|", every line ending in "\n".
//
//	REGISTRY|<id>|<date YYYY-MM-DD>|<bank>|<count>|<total kopecks>
//	ORDER|<n>|<order id>|<amount kopecks>|<account>|<bik>|<snils>|<recipient>|<measure>|<period from>|<period to>|<purpose>
//	...
//	TOTAL|<count>|<total kopecks>
//
// n counts the orders from 1; amounts are whole kopecks, never a fraction
// of a rouble; a period's dates are YYYY-MM-DD or empty. The header and the
// trailer both carry the count and the total, so that a file cut short or
// edited is found out. No field may hold "|" or a line break: an order
// with one is rejected rather than written in a way the bank would read
// otherwise.
type registry struct {
	ID     string
	Date   time.Time
	Bank   string
	Orders []connector.PaymentOrder
}

const (
	headerTag  = "REGISTRY"
	orderTag   = "ORDER"
	trailerTag = "TOTAL"
	sep        = "|"
	orderCols  = 12
)

// total is the registry's sum; false when it would overflow an int64,
// which no real registry reaches but a forged one could.
func total(orders []connector.PaymentOrder) (int64, bool) {
	var sum int64
	for _, o := range orders {
		if o.AmountKopecks > 0 && sum > math.MaxInt64-o.AmountKopecks {
			return 0, false
		}
		sum += o.AmountKopecks
	}
	return sum, true
}

// format writes r. Its orders must have passed checkOrder.
func (r *registry) format() []byte {
	sum, _ := total(r.Orders)
	var b bytes.Buffer
	line := func(fields ...string) {
		b.WriteString(strings.Join(fields, sep))
		b.WriteByte('\n')
	}
	count := strconv.Itoa(len(r.Orders))
	line(headerTag, r.ID, r.Date.Format(time.DateOnly), r.Bank, count, strconv.FormatInt(sum, 10))
	for i := range r.Orders {
		line(append([]string{orderTag, strconv.Itoa(i + 1)}, orderFields(&r.Orders[i])...)...)
	}
	line(trailerTag, count, strconv.FormatInt(sum, 10))
	return b.Bytes()
}

// orderFields are an order's fields after ORDER|n: also how two orders
// with the same id are compared.
func orderFields(o *connector.PaymentOrder) []string {
	return []string{o.ID, strconv.FormatInt(o.AmountKopecks, 10), o.Account, o.BIK, o.SNILS, o.Recipient, o.Measure,
		dateText(o.Period.From), dateText(o.Period.To), o.Purpose}
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// parseRegistry reads a registry written by format, checking what the bank
// would: the header, a trailer agreeing with it, and each order's line.
// Errors name the line.
func parseRegistry(data []byte) (*registry, error) {
	r := &registry{}
	var (
		count    int
		sum      int64
		trailer  bool
		lines    int
		hasHead  bool
		orderSum int64
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		text := sc.Text()
		f := strings.Split(text, sep)
		fail := func(format string, args ...any) (*registry, error) {
			return nil, fmt.Errorf("line %d: "+format, append([]any{lines}, args...)...)
		}
		switch {
		case trailer:
			return fail("a line after the trailer")
		case lines == 1:
			if len(f) != 6 || f[0] != headerTag {
				return fail("not a header %s|id|date|bank|count|total", headerTag)
			}
			var err error
			r.ID, r.Bank = f[1], f[3]
			if r.Date, err = time.Parse(time.DateOnly, f[2]); err != nil {
				return fail("date %q", f[2])
			}
			if count, err = strconv.Atoi(f[4]); err != nil || count < 0 {
				return fail("count %q", f[4])
			}
			if sum, err = strconv.ParseInt(f[5], 10, 64); err != nil || sum < 0 {
				return fail("total %q", f[5])
			}
			hasHead = true
		case f[0] == orderTag:
			if len(f) != orderCols {
				return fail("%d fields, an order has %d", len(f), orderCols)
			}
			if n, err := strconv.Atoi(f[1]); err != nil || n != len(r.Orders)+1 {
				return fail("order number %q, want %d", f[1], len(r.Orders)+1)
			}
			o, err := parseOrder(f[2:])
			if err != nil {
				return fail("%v", err)
			}
			if orderSum > math.MaxInt64-o.AmountKopecks {
				return fail("the total overflows")
			}
			orderSum += o.AmountKopecks
			r.Orders = append(r.Orders, o)
		case f[0] == trailerTag:
			if len(f) != 3 || f[1] != strconv.Itoa(count) || f[2] != strconv.FormatInt(sum, 10) {
				return fail("the trailer %q does not repeat the header's count %d and total %d", text, count, sum)
			}
			trailer = true
		default:
			return fail("not an order or a trailer")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %v", lines+1, err)
	}
	switch {
	case !hasHead:
		return nil, errors.New("empty")
	case !trailer:
		return nil, fmt.Errorf("no trailer after line %d: the file is cut short", lines)
	case len(r.Orders) != count || orderSum != sum:
		return nil, fmt.Errorf("%d orders of %d kopecks, the header says %d of %d", len(r.Orders), orderSum, count, sum)
	case len(data) > 0 && data[len(data)-1] != '\n':
		return nil, errors.New("the last line does not end")
	}
	// What was read must be what the sink would write of it, byte for
	// byte: a number spelt "+100" or "01", a line ending in CRLF, is an
	// edit, and an edited registry stops the sink.
	if want := r.format(); !bytes.Equal(want, data) {
		return nil, fmt.Errorf("line %d is not as the sink writes it", firstLineApart(data, want))
	}
	return r, nil
}

// firstLineApart is the number of the first line in which got and want,
// which differ, differ.
func firstLineApart(got, want []byte) int {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	n := 0
	for n < len(g) && n < len(w) && g[n] == w[n] {
		n++
	}
	return n + 1
}

// parseOrder reads the fields orderFields wrote; an order read back must
// pass checkOrder again, so that a registry read is one that could have
// been written.
func parseOrder(f []string) (connector.PaymentOrder, error) {
	o := connector.PaymentOrder{ID: f[0], Account: f[2], BIK: f[3], SNILS: f[4], Recipient: f[5], Measure: f[6], Purpose: f[9]}
	var err error
	if o.AmountKopecks, err = strconv.ParseInt(f[1], 10, 64); err != nil {
		return o, fmt.Errorf("amount %q is not kopecks", f[1])
	}
	for i, p := range []*time.Time{&o.Period.From, &o.Period.To} {
		if f[7+i] == "" {
			continue
		}
		if *p, err = time.Parse(time.DateOnly, f[7+i]); err != nil {
			return o, fmt.Errorf("period date %q", f[7+i])
		}
	}
	if reason := checkOrder(&o); reason != "" {
		return o, errors.New(reason)
	}
	return o, nil
}

// checkOrder is why the sink rejects o, or "" when it takes it: what the
// bank would refuse is refused here, at once and with the reason, rather
// than days later in the bank's answer.
func checkOrder(o *connector.PaymentOrder) string {
	switch {
	case o.ID == "":
		return "the order has no id"
	case o.AmountKopecks <= 0:
		return fmt.Sprintf("amount %d kopecks is not positive", o.AmountKopecks)
	case !digits(o.Account, 20):
		return "account is not 20 digits"
	case !digits(o.BIK, 9):
		return "BIK is not 9 digits"
	case !o.Period.To.IsZero() && o.Period.To.Before(o.Period.From):
		return "the period ends before it starts"
	}
	for _, f := range []struct{ name, value string }{
		{"id", o.ID}, {"snils", o.SNILS}, {"recipient", o.Recipient}, {"measure", o.Measure}, {"purpose", o.Purpose},
	} {
		if strings.ContainsAny(f.value, sep+"\r\n") || strings.ContainsFunc(f.value, isControl) {
			return fmt.Sprintf("%s holds %q, a control character or bytes that are not UTF-8, which the registry cannot", f.name, sep)
		}
	}
	for _, d := range []time.Time{o.Period.From, o.Period.To} {
		if !d.IsZero() && (d.Year() < 1 || d.Year() > 9999) {
			return "a period date is outside years 1 to 9999"
		}
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r == '\uFFFD' }

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
