package measure

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestFiguresWrittenIn(t *testing.T) {
	day := time.Date(2026, 6, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		text    Text
		figures []Figure
		want    Text
	}{
		{Text{RU: "доход {1} не ниже {2}", EN: "income {1} is not below {2}"}, []Figure{Money(1_234_567), Money(1_893_900)},
			Text{RU: "доход 12\u00a0345,67\u00a0₽ не ниже 18\u00a0939\u00a0₽", EN: "income 12\u00a0345,67\u00a0₽ is not below 18\u00a0939\u00a0₽"}},
		{Text{RU: "{2} раньше {1}", EN: "{1} after {2}"}, []Figure{Day(day), Number(-42)},
			Text{RU: "-42 раньше 05.06.2026", EN: "2026-06-05 after -42"}},
		{Text{RU: "ОКТМО {1}", EN: "{1}{1}"}, []Figure{Plain("65701000")}, Text{RU: "ОКТМО 65701000", EN: "6570100065701000"}},
		// Not placeholders, or no figure for them: left as they are.
		{Text{RU: "{0} {3} {} {x} {1", EN: "{{1}} {100}"}, []Figure{Number(7)}, Text{RU: "{0} {3} {} {x} {1", EN: "{7} {100}"}},
		{Text{RU: "без {1}", EN: "none {1}"}, nil, Text{RU: "без {1}", EN: "none {1}"}},
		{Text{RU: "{1}", EN: "{1}"}, []Figure{Money(-5)}, Text{RU: "−0,05\u00a0₽", EN: "−0,05\u00a0₽"}},
		{Text{RU: "{1}", EN: "{1}"}, []Figure{Money(0)}, Text{RU: "0\u00a0₽", EN: "0\u00a0₽"}},
		{Text{RU: "{1}", EN: "{1}"}, []Figure{Money(-9223372036854775808)}, Text{RU: "−92\u00a0233\u00a0720\u00a0368\u00a0547\u00a0758,08\u00a0₽", EN: "−92\u00a0233\u00a0720\u00a0368\u00a0547\u00a0758,08\u00a0₽"}},
		{Text{RU: "{1}", EN: "{1}"}, []Figure{Day(time.Date(33, 1, 2, 0, 0, 0, 0, time.UTC))}, Text{RU: "02.01.0033", EN: "0033-01-02"}},
		{Text{RU: "{10}", EN: "{1}"}, []Figure{Number(1), Number(2), Number(3), Number(4), Number(5), Number(6), Number(7), Number(8), Number(9), Number(10)},
			Text{RU: "10", EN: "1"}},
	} {
		o := Outcome{Conditions: []ConditionResult{{Name: "x", Explanation: tc.text}}, Figures: tc.figures}
		if got := o.Explained(0); got != tc.want {
			t.Errorf("%q with %v: %q, want %q", tc.text, tc.figures, got, tc.want)
		}
	}
}

func TestFigureOfTheWire(t *testing.T) {
	for _, f := range []Figure{Number(3), Money(-100), Plain("а"), Day(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC))} {
		if g, ok := FigureOf(f.Wire()); !ok || g != f {
			t.Errorf("%v came back as %v, %t", f, g, ok)
		}
	}
	if _, ok := FigureOf(0, 1, ""); ok {
		t.Error("kind 0 read")
	}
	if _, ok := FigureOf(5, 1, ""); ok {
		t.Error("kind 5 read")
	}
}

func TestCheckFigures(t *testing.T) {
	ok := Outcome{Conditions: []ConditionResult{{Name: "x", Explanation: Text{RU: "{1} и {2}", EN: "{2}"}}, {Name: "y"}},
		Figures: []Figure{Number(1), Number(2)}}
	if err := ok.CheckFigures(); err != nil {
		t.Error(err)
	}
	short := Outcome{Conditions: []ConditionResult{{Name: "x", Explanation: Text{RU: "{1}", EN: "{1}"}},
		{Name: "y", Explanation: Text{RU: "{1}", EN: "{1} and {3}"}}}, Figures: []Figure{Number(1), Number(2)}}
	if err := short.CheckFigures(); err == nil || !strings.Contains(err.Error(), "condition y") || !strings.Contains(err.Error(), "{3}") {
		t.Errorf("%v, want one naming condition y and {3}", err)
	}
}

func FuzzFill(f *testing.F) {
	f.Add("доход {1} не ниже {2}", int64(123456), "65701000")
	f.Add("{0}{99}{1}{", int64(-1), "")
	f.Fuzz(func(t *testing.T, template string, v int64, s string) {
		figures := []Figure{Money(v), Number(v), Plain(s), Day(time.Unix(v%(1<<40), 0).UTC())}
		got := Text{RU: template, EN: s}.With(figures)
		if !strings.Contains(template, "{") && got.RU != template {
			t.Fatalf("%q without placeholders written as %q", template, got.RU)
		}
		if !strings.Contains(s, "{") && got.EN != s {
			t.Fatalf("%q without placeholders written as %q", s, got.EN)
		}
		if want := slowFill(template, figures); got.RU != want {
			t.Fatalf("%q written as %q, want %q", template, got.RU, want)
		}
		if utf8.ValidString(template) && utf8.ValidString(s) && !utf8.ValidString(got.RU+got.EN) {
			t.Fatalf("%q with %q written as text that is not UTF-8: %q", template, s, got)
		}
	})
}

// slowFill is fill as its rule says it, a byte at a time: what the
// fuzz test holds fill to.
func slowFill(template string, figures []Figure) string {
	var b []byte
	for i := 0; i < len(template); i++ {
		if n, end, ok := placeholder(template, i); ok && n <= len(figures) {
			b, i = figures[n-1].appendTo(b, false), end-1
			continue
		}
		b = append(b, template[i])
	}
	return string(b)
}

func BenchmarkExplained(b *testing.B) {
	o := Outcome{Conditions: []ConditionResult{{Explanation: Text{RU: "Проживает в регионе", EN: "Lives in the region"}},
		{Explanation: Text{RU: "доход на человека {3} не ниже прожиточного минимума {4}", EN: "per-capita income {3} is not below the subsistence minimum {4}"}}},
		Figures: []Figure{Plain("65701000"), Number(17), Money(2_345_678), Money(1_893_900)}}
	for _, i := range []int{0, 1} {
		b.Run(fmt.Sprint("condition=", i), func(b *testing.B) {
			for b.Loop() {
				o.Explained(i)
			}
		})
	}
}
