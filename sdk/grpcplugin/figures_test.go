package grpcplugin

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// figuredOutcomes are outcomes whose failed conditions are explained by
// templates and the case's figures: alike but for their figures.
func figuredOutcomes(n int) []measure.Outcome {
	d := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	title := measure.Text{RU: "выполнено", EN: "holds"}
	out := make([]measure.Outcome, n)
	for i := range out {
		out[i] = measure.Outcome{CaseID: string(rune('a' + i%26)), Conditions: []measure.ConditionResult{
			{Name: "resident", Held: true, Explanation: title}, {Name: "income", Explanation: notBelow}, {Name: "where", Explanation: elsewhere}},
			Figures: []measure.Figure{measure.Money(int64(1_000_000 + i)), measure.Money(1_893_900),
				measure.Plain("6570100" + string(rune('0'+i%10))), measure.Day(d.AddDate(0, 0, i)), measure.Number(int64(i))}}
		if i%4 == 3 { // an outcome without figures among them
			out[i].Conditions[1].Held, out[i].Conditions[2].Held = true, true
			out[i].Conditions[1].Explanation, out[i].Conditions[2].Explanation = title, title
			out[i].Figures = nil
		}
	}
	return out
}

// A template crosses once a batch and its figures once a case; the host
// writes them in as the plug-in would have.
func TestFiguresCrossAsTemplates(t *testing.T) {
	outs := figuredOutcomes(40)
	cases := casesOf(outs)
	wire := outcomesInto(new(pluginv1.Outcomes), outs, true, false, true)
	if n := len(wire.GetExplanationRu().GetEnds()); n != 5 {
		t.Errorf("%d texts sent, want the title for each condition and the two templates", n)
	}
	if n := len(wire.GetFigureKind()); n != 5*30 {
		t.Errorf("%d figures sent, want %d", n, 5*30)
	}
	got, err := outcomesFrom(nil, wire, cases, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, outs) {
		t.Fatalf("outcomes changed on the way:\n%+v\nwant\n%+v", got[:2], outs[:2])
	}
	if e := got[6].Explained(1); e.RU != "доход на человека 10\u00a0000,06\u00a0₽ не ниже минимума 18\u00a0939\u00a0₽" {
		t.Errorf("written as %q", e.RU)
	}
	if e := got[6].Explained(2); e.EN != "OKTMO 65701006 on 2026-06-21 (age 6) is not in the region" {
		t.Errorf("written as %q", e.EN)
	}
	// Outcomes alike but for their figures share their conditions.
	if &got[5].Conditions[0] != &got[6].Conditions[0] {
		t.Error("outcomes alike but for their figures have lists of their own")
	}

	// A host that does not write figures in gets the texts written out.
	texts := outcomesInto(new(pluginv1.Outcomes), outs, true, false, false)
	if len(texts.GetFigureKind())+len(texts.GetFiguresEnd())+len(texts.GetFigureText().GetEnds()) != 0 {
		t.Error("figures sent to a host that does not read them")
	}
	plain, err := outcomesFrom(nil, texts, cases, true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range outs {
		if plain[i].Figures != nil {
			t.Fatalf("outcome %d has figures %v", i, plain[i].Figures)
		}
		for k := range outs[i].Conditions {
			if p := plain[i].Conditions[k]; p.Explanation != outs[i].Explained(k) {
				t.Fatalf("outcome %d condition %d: %+v, want %+v", i, k, p, outs[i].Explained(k))
			}
		}
	}
	// Without explanations, no figures either.
	if d := outcomesInto(new(pluginv1.Outcomes), outs, false, false, true); len(d.GetFigureKind()) != 0 {
		t.Error("figures sent without explanations")
	}
}

// A plug-in answers a request without figures (a host from before them)
// with the texts written out, and one with figures with templates.
func TestPluginWritesFiguresInForAnOldHost(t *testing.T) {
	cases := benchCases(10)
	s := &measureServer{impl: echo{}}
	for _, figures := range []bool{false, true} {
		resp, err := s.Evaluate(context.Background(), &pluginv1.EvaluateRequest{Cases: casesInto(new(pluginv1.Cases), cases, everyColumn),
			Explain: true, OutcomesByPosition: true, Figures: figures})
		if err != nil {
			t.Fatal(err)
		}
		o := resp.GetOutcomes()
		if got := len(o.GetFigureKind()) > 0; got != figures {
			t.Errorf("figures %t: figures sent %t", figures, got)
		}
		got, err := outcomesFrom(nil, o, cases, true)
		if err != nil {
			t.Fatal(err)
		}
		c := got[4].Explained(4)
		if !strings.HasPrefix(c.RU, "доход на человека ") || strings.Contains(c.RU, "{") {
			t.Errorf("figures %t: %q", figures, c.RU)
		}
	}
}

// Figures that do not line up, or are not the protocol's, are refused.
func TestFiguresThatDoNotLineUp(t *testing.T) {
	good := figuredOutcomes(2)
	for _, tc := range []struct {
		name, want string
		spoil      func(o *pluginv1.Outcomes)
	}{
		{"ends too few", "figures: 1 ends for 2 rows", func(o *pluginv1.Outcomes) { o.FiguresEnd = o.FiguresEnd[1:] }},
		{"figures and no ends", "10 figures and no figures_end", func(o *pluginv1.Outcomes) { o.FiguresEnd = nil }},
		{"a value too few", "column figure_value has 9 values for 10 figures", func(o *pluginv1.Outcomes) { o.FigureValue = o.FigureValue[1:] }},
		{"an unknown kind", "figure 0 is of kind 9", func(o *pluginv1.Outcomes) { o.FigureKind[0] = 9 }},
		{"a text out of range", "figure 2 is text 7 of 2", func(o *pluginv1.Outcomes) { o.FigureValue[2] = 7 }},
		{"a day not in the calendar", "figure 3: 20260230 is not a date", func(o *pluginv1.Outcomes) { o.FigureValue[3] = 20260230 }},
		{"a day past int32", "figure 3: 4294967297 is not a date", func(o *pluginv1.Outcomes) { o.FigureValue[3] = 1<<32 + 1 }},
		{"ends past the figures", "figures: row 1 ends at 11", func(o *pluginv1.Outcomes) { o.FiguresEnd[1]++ }},
	} {
		o := outcomesInto(new(pluginv1.Outcomes), good, true, false, true)
		tc.spoil(o)
		if _, err := outcomesFrom(nil, o, casesOf(good), true); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
