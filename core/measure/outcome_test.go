package measure

import (
	"encoding/json"
	"strings"
	"testing"

	sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"
)

// A plug-in's outcome names its figures in its explanations; what the
// platform stores and shows (JSON, Failed) has them written in, and
// reads back as the same text.
func TestOutcomeWritesItsFiguresIn(t *testing.T) {
	o := Outcome{CaseID: "a", Conditions: []ConditionResult{
		{Name: "resident", Held: true, Explanation: Text{RU: "Проживает в регионе", EN: "Lives in the region"}},
		{Name: "income", Explanation: Text{RU: "доход {1} не ниже ПМ {2}", EN: "income {1} is not below the minimum {2}"}}},
		Figures: []sdkmeasure.Figure{sdkmeasure.Money(2_000_050), sdkmeasure.Money(1_893_900)}}
	want := Text{RU: "доход 20\u00a0000,50\u00a0₽ не ниже ПМ 18\u00a0939\u00a0₽", EN: "income 20\u00a0000,50\u00a0₽ is not below the minimum 18\u00a0939\u00a0₽"}
	if f := o.Failed(); len(f) != 1 || f[0].Explanation != want {
		t.Errorf("failed: %+v, want the income's with %+v", f, want)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "{1}") || strings.Contains(string(b), "figures") {
		t.Errorf("JSON with placeholders or figures: %s", b)
	}
	var back Outcome
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Conditions[1].Explanation != want || back.Conditions[0].Explanation != o.Conditions[0].Explanation || back.Figures != nil {
		t.Errorf("read back as %+v", back)
	}
	// Written again, it is the same JSON: a stored decision replays equal.
	if again, _ := json.Marshal(back); string(again) != string(b) {
		t.Errorf("%s\nthen\n%s", b, again)
	}
	// The outcome itself keeps its template.
	if o.Conditions[1].Explanation.RU != "доход {1} не ниже ПМ {2}" {
		t.Errorf("the outcome's own condition changed: %+v", o.Conditions[1])
	}
}
