package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/socialtreasury/treasury/sdk/measure"
)

// Caps of the lump sums, kopecks (the federal co-financing rules' caps; a
// region may pay less, not more).
const (
	businessCap = 35_000_000 // 350,000 ₽
	farmCap     = 20_000_000 // 200,000 ₽
)

// socialContract is the social contract (социальный контракт): targeted
// assistance to a low-income family whose member signs an individual plan
// to raise the family's income. Rules cannot say it: the plan is a list of
// dated steps whose shape depends on the activity, and the amount and
// period follow from the plan.
type socialContract struct{}

var conditions = []measure.ConditionInfo{
	{Name: "resident", Title: measure.Text{RU: "Проживает в регионе", EN: "Lives in the region"}},
	{Name: "adult", Title: measure.Text{RU: "Совершеннолетний заявитель", EN: "The applicant is an adult"}},
	{Name: "low_income", Title: measure.Text{RU: "Семья малоимущая", EN: "A low-income family"}},
	{Name: "plan", Title: measure.Text{RU: "Программа социальной адаптации выполнима", EN: "A workable individual plan"}},
	{Name: "income_growth", Title: measure.Text{RU: "План выводит доход выше ПМ", EN: "The plan lifts the income above the minimum"}},
	{Name: "not_receiving", Title: measure.Text{RU: "Контракт не заключён ранее", EN: "No contract in force"}},
}

func (socialContract) Describe(context.Context) (measure.Description, error) {
	return measure.Description{
		Code:       "social_contract",
		Name:       measure.Text{RU: "Социальный контракт", EN: "Social contract"},
		Conditions: conditions,
		Needs:      []string{"household", "per_capita_income", "application:activity", "application:plan", "application:expected_income", "application:requested_amount"},
		Reads: []string{"date", "person.resident", "person.oktmo", "person.age", "household.size", "household.per_capita_income",
			"minimum.per_capita", "minimum.working_age", "assignments.measure", "application"},
	}, nil
}

func (socialContract) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cases))
	for i := range cases {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		out[i] = decide(&cases[i])
	}
	return out, nil
}

// ValidateApplication checks an application before it is registered, so
// that a specialist fixes a plan's typo at the desk rather than in a
// refusal.
func (socialContract) ValidateApplication(_ context.Context, app map[string]string) ([]measure.FieldProblem, error) {
	var ps []measure.FieldProblem
	add := func(field, ru, en string) {
		ps = append(ps, measure.FieldProblem{Field: field, Message: measure.Text{RU: ru, EN: en}})
	}
	if !slices.Contains(activities, app["activity"]) {
		add("activity", "укажите мероприятие: "+fmt.Sprint(activities), "name the activity: "+fmt.Sprint(activities))
	}
	if _, err := ParsePlan(app["plan"]); err != nil {
		add("plan", "программа: "+err.Error(), "plan: "+err.Error())
	}
	if _, err := parseKopecks(app["expected_income"]); err != nil {
		add("expected_income", "ожидаемый доход семьи в месяц, в копейках", "the family's expected monthly income, in kopecks")
	}
	if a := app["activity"]; a == Business || a == Farm {
		if n, err := parseKopecks(app["requested_amount"]); err != nil || n == 0 {
			add("requested_amount", "запрошенная сумма по бизнес-плану, в копейках", "the amount the business plan asks for, in kopecks")
		}
	}
	return ps, nil
}

// terms is what a plan gives: the amount and the period.
type terms struct {
	amount     int64
	start, end time.Time
}

// planTerms checks the plan against its activity and says what it gives,
// or why it does not work.
func planTerms(c *measure.Case) (terms, string, string) {
	app := c.Application
	activity := app["activity"]
	if !slices.Contains(activities, activity) {
		return terms{}, fmt.Sprintf("мероприятие %q не предусмотрено", activity), fmt.Sprintf("activity %q is not provided for", activity)
	}
	steps, err := ParsePlan(app["plan"])
	if err != nil {
		return terms{}, "программа: " + err.Error(), "plan: " + err.Error()
	}
	first := time.Date(c.Date.Year(), c.Date.Month(), 1, 0, 0, 0, 0, time.UTC)
	last := steps[len(steps)-1].Month
	if steps[0].Month.Before(first) || last.After(first.AddDate(1, 0, 0)) {
		return terms{}, "шаги программы должны лежать в 12 месяцах с месяца решения", "the plan's steps must lie within 12 months of the decision month"
	}
	has := func(kind string) (time.Time, bool) {
		for _, s := range steps {
			if s.Kind == kind {
				return s.Month, true
			}
		}
		return time.Time{}, false
	}
	t := terms{start: c.Date}
	switch activity {
	case JobSearch:
		if _, ok := has("job_search"); !ok {
			return terms{}, "в программе нет поиска работы", "the plan has no job search"
		}
		employed, ok := has("employment")
		if !ok {
			return terms{}, "в программе нет трудоустройства", "the plan has no employment"
		}
		// Paid while searching and for 3 months after employment, 9 months at most.
		t.amount = c.Minimum.WorkingAge
		t.end = minTime(employed.AddDate(0, 4, -1), c.Date.AddDate(0, 9, 0))
	case Business, Farm:
		kind, limit := "business_registration", int64(businessCap)
		if activity == Farm {
			kind, limit = "farm_start", farmCap
		}
		if _, ok := has(kind); !ok {
			return terms{}, "в программе нет шага " + kind, "the plan has no step " + kind
		}
		requested, err := parseKopecks(app["requested_amount"])
		if err != nil || requested == 0 {
			return terms{}, "не указана сумма по бизнес-плану", "the business plan's amount is missing"
		}
		t.amount, t.end = min(requested, limit), c.Date // a lump sum
	case HardSituation:
		t.amount, t.end = c.Minimum.PerCapita, c.Date.AddDate(0, 6, 0)
	}
	return t, "", ""
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func decide(c *measure.Case) measure.Outcome {
	t, planRU, planEN := planTerms(c)
	size := max(c.Household.Size, 1)
	expected, err := parseKopecks(c.Application["expected_income"])
	growthRU, growthEN := "", ""
	switch {
	case err != nil:
		growthRU, growthEN = "не указан ожидаемый доход семьи", "the family's expected income is missing"
	case expected/size < c.Minimum.PerCapita || expected/size <= c.Household.PerCapitaKopecks:
		growthRU = fmt.Sprintf("ожидаемый доход %s на человека не выше ПМ %s и текущего %s", rub(expected/size), rub(c.Minimum.PerCapita), rub(c.Household.PerCapitaKopecks))
		growthEN = fmt.Sprintf("expected income %s a person is not above the minimum %s and the current %s", rub(expected/size), rub(c.Minimum.PerCapita), rub(c.Household.PerCapitaKopecks))
	}
	receiving := slices.ContainsFunc(c.Assignments, func(a measure.Assignment) bool { return a.Measure == "social_contract" })
	held := []struct {
		ok     bool
		ru, en string
	}{
		{c.Person.Resident, "ОКТМО " + c.Person.OKTMO + " не в регионе", "OKTMO " + c.Person.OKTMO + " is not in the region"},
		{c.Person.Age >= 18, fmt.Sprintf("возраст %d", c.Person.Age), fmt.Sprintf("age %d", c.Person.Age)},
		{c.Household.PerCapitaKopecks < c.Minimum.PerCapita,
			fmt.Sprintf("доход %s на человека не ниже ПМ %s", rub(c.Household.PerCapitaKopecks), rub(c.Minimum.PerCapita)),
			fmt.Sprintf("income %s a person is not below the minimum %s", rub(c.Household.PerCapitaKopecks), rub(c.Minimum.PerCapita))},
		{planRU == "", planRU, planEN},
		{growthRU == "", growthRU, growthEN},
		{!receiving, "социальный контракт уже заключён", "a social contract is in force already"},
	}
	o := measure.Outcome{CaseID: c.ID, Eligible: true, Conditions: make([]measure.ConditionResult, len(held))}
	for i, h := range held {
		o.Conditions[i] = measure.ConditionResult{Name: conditions[i].Name, Held: h.ok, Explanation: conditions[i].Title}
		if !h.ok {
			o.Conditions[i].Explanation = measure.Text{RU: h.ru, EN: h.en}
			o.Eligible = false
		}
	}
	if o.Eligible {
		o.AmountKopecks, o.Start, o.End = t.amount, t.start, t.end
		if t.amount <= 0 {
			// A minimum the region has not set on the date: undecidable, not
			// a contract for nothing.
			o = measure.Outcome{CaseID: c.ID, Conditions: o.Conditions,
				Error: "the amount comes to nothing: the region's subsistence minimum is not known on the decision date"}
		}
	}
	return o
}

// rub writes kopecks as roubles: 1234567 → "12 345,67 ₽".
func rub(k int64) string {
	sign := ""
	if k < 0 {
		sign, k = "-", -k
	}
	s := fmt.Sprint(k / 100)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return fmt.Sprintf("%s%s,%02d ₽", sign, s, k%100)
}
