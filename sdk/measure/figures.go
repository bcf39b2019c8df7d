package measure

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Figure is a value of a case written into an explanation. A measure
// that explains conditions by the case's own figures ("per-capita income
// 12 345,67 ₽ is not below the minimum 18 939 ₽") writes each text once,
// with placeholders {1}, {2}… (the numbers of Outcome.Figures), and gives
// each outcome its figures. A batch then carries each text once and a
// few numbers a case, outcomes alike but for their figures share their
// conditions, and the platform writes the texts out when someone reads
// them (Outcome.Explained).
type Figure struct {
	kind  figureKind
	value int64 // the number, the kopecks, or the date as YYYYMMDD
	text  string
}

type figureKind uint8

// The kinds' numbers are the protocol's (Outcomes.figure_kind).
const (
	figureNumber figureKind = iota + 1
	figureMoney
	figureText
	figureDate
)

// Number is a whole number: "3".
func Number(n int64) Figure { return Figure{kind: figureNumber, value: n} }

// Money is kopecks, written as roubles: "31 200 ₽", "1 234,50 ₽" (a
// no-break space between thousands and before the sign).
func Money(kopecks int64) Figure { return Figure{kind: figureMoney, value: kopecks} }

// Plain is a text written as it is: an OKTMO code, a category's name.
func Plain(s string) Figure { return Figure{kind: figureText, text: s} }

// Day is a date: "15.06.2026" in Russian, "2026-06-15" in English.
func Day(t time.Time) Figure {
	y, m, d := t.Date()
	return Figure{kind: figureDate, value: int64(y)*10000 + int64(m)*100 + int64(d)}
}

// FigureOf is the figure of the protocol's kind and value (Money for 2,
// and so on; a text is in text): what a host reads off the wire. ok is
// false for a kind it does not know.
func FigureOf(kind uint32, value int64, text string) (f Figure, ok bool) {
	switch k := figureKind(kind); k {
	case figureNumber, figureMoney, figureDate:
		return Figure{kind: k, value: value}, true
	case figureText:
		return Figure{kind: k, text: text}, true
	}
	return Figure{}, false
}

// Wire is the figure as the protocol carries it, FigureOf's arguments.
func (f Figure) Wire() (kind uint32, value int64, text string) {
	return uint32(f.kind), f.value, f.text
}

// String is the figure as a Russian text reads it.
func (f Figure) String() string { return string(f.appendTo(nil, false)) }

func (f Figure) appendTo(b []byte, english bool) []byte {
	switch f.kind {
	case figureNumber:
		return strconv.AppendInt(b, f.value, 10)
	case figureMoney:
		return appendRoubles(b, f.value)
	case figureText:
		return append(b, f.text...)
	case figureDate:
		y, m, d := f.value/10000, f.value/100%100, f.value%100
		if english {
			return pad(append(pad(append(pad(b, y, 4), '-'), m, 2), '-'), d, 2)
		}
		return pad(append(pad(append(pad(b, d, 2), '.'), m, 2), '.'), y, 4)
	}
	return append(b, '?')
}

// pad appends n (not negative) with leading zeros to width digits.
func pad(b []byte, n int64, width int) []byte {
	var d [20]byte
	digits := strconv.AppendInt(d[:0], n, 10)
	for range width - len(digits) {
		b = append(b, '0')
	}
	return append(b, digits...)
}

// appendRoubles writes kopecks as roubles: whole thousands parted by a
// no-break space, kopecks after a comma when there are any.
func appendRoubles(b []byte, kopecks int64) []byte {
	u := uint64(kopecks)
	if kopecks < 0 {
		b, u = append(b, "−"...), -u
	}
	var d [20]byte
	r := strconv.AppendUint(d[:0], u/100, 10)
	for i, c := range r {
		if i > 0 && (len(r)-i)%3 == 0 {
			b = append(b, "\u00a0"...)
		}
		b = append(b, c)
	}
	if k := u % 100; k != 0 {
		b = append(b, ',', byte('0'+k/10), byte('0'+k%10))
	}
	return append(b, "\u00a0₽"...)
}

// Explained is condition i's explanation with the outcome's figures
// written in.
func (o Outcome) Explained(i int) Text { return o.Conditions[i].Explanation.With(o.Figures) }

// With is the text with figures written into its placeholders: each {n}
// is the n-th figure (from 1). A placeholder with no figure stays as it
// is, and so does a text given none.
func (t Text) With(figures []Figure) Text {
	ru, en := strings.IndexByte(t.RU, '{'), strings.IndexByte(t.EN, '{')
	if len(figures) == 0 || ru < 0 && en < 0 {
		return t
	}
	// Both texts are written into one buffer and made one string.
	var stack [256]byte
	b := stack[:0]
	if ru >= 0 {
		b = fill(b, t.RU, ru, figures, false)
	}
	n := len(b)
	if en >= 0 {
		b = fill(b, t.EN, en, figures, true)
	}
	both := string(b)
	if ru >= 0 {
		t.RU = both[:n]
	}
	if en >= 0 {
		t.EN = both[n:]
	}
	return t
}

// fill appends a template with figures written into its placeholders,
// the first of which may be at first.
func fill(b []byte, template string, first int, figures []Figure, english bool) []byte {
	b = append(b, template[:first]...)
	for i := first; i < len(template); {
		if n, end, ok := placeholder(template, i); ok && n <= len(figures) {
			b, i = figures[n-1].appendTo(b, english), end
			continue
		}
		// On to the next brace, the text between copied as it is.
		next := strings.IndexByte(template[i+1:], '{')
		if next < 0 {
			return append(b, template[i:]...)
		}
		b, i = append(b, template[i:i+1+next]...), i+1+next
	}
	return b
}

// placeholder reads "{n}" at s[i:], n from 1 and at most two digits; end
// is just past it.
func placeholder(s string, i int) (n, end int, ok bool) {
	if s[i] != '{' {
		return 0, 0, false
	}
	j := i + 1
	for j < len(s) && j-i <= 2 && s[j] >= '0' && s[j] <= '9' {
		n = n*10 + int(s[j]-'0')
		j++
	}
	if j == i+1 || j >= len(s) || s[j] != '}' || n == 0 {
		return 0, 0, false
	}
	return n, j + 1, true
}

// CheckFigures reports a placeholder of an explanation that has no
// figure: a measure's tests call it (sdktest's Golden does for every
// outcome), as the platform writes such a placeholder out as it is.
func (o Outcome) CheckFigures() error {
	for _, c := range o.Conditions {
		for _, t := range []string{c.Explanation.RU, c.Explanation.EN} {
			for i := range len(t) {
				if n, _, ok := placeholder(t, i); ok && n > len(o.Figures) {
					return fmt.Errorf("condition %s: the explanation %q has {%d} and the outcome %d figures", c.Name, t, n, len(o.Figures))
				}
			}
		}
	}
	return nil
}
