package main

import (
	"context"
	"math"
	"slices"
	"strconv"

	"github.com/socialtreasury/treasury/sdk/measure"
)

type lowIncomeChild struct{}

var conditions = []measure.ConditionInfo{
	{Name: "resident", Title: measure.Text{RU: "Проживает в Свердловской области", EN: "Lives in the Sverdlovsk region"}},
	{Name: "adult", Title: measure.Text{RU: "Заявитель совершеннолетний", EN: "The recipient is an adult"}},
	{Name: "child_under_three", Title: measure.Text{RU: "В семье есть ребёнок до трёх лет", EN: "A child under three in the household"}},
	{Name: "low_income_category", Title: measure.Text{RU: "Семья признана малоимущей", EN: "The family is recognised as low-income"}},
	{Name: "income_below_minimum", Title: measure.Text{RU: "Доход на человека ниже прожиточного минимума", EN: "Per-capita income below the subsistence minimum"}},
	{Name: "not_yet_assigned", Title: measure.Text{RU: "Выплата ещё не назначена", EN: "Not yet receiving the allowance"}},
}

func (lowIncomeChild) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "low_income_child",
		Name:       measure.Text{RU: "Ежемесячная выплата малоимущим семьям на ребёнка до трёх лет", EN: "Monthly allowance to low-income families for a child under three"},
		Conditions: conditions, Needs: []string{"registry.persons", "registry.relations", "registry.incomes", "registry.categories", "assignments"},
		// What decide and why read: the platform sends a batch only these.
		Reads: []string{"date", "person.resident", "person.oktmo", "person.age", "person.categories", "household.members.relation",
			"household.members.age", "household.per_capita_income", "minimum.per_capita", "minimum.children", "assignments.measure",
			"assignments.status"}}, nil
}

func (lowIncomeChild) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cases))
	// One array for the whole batch's condition results: a slice of it
	// for each outcome, rather than an allocation for each.
	results := make([]measure.ConditionResult, len(cases)*len(conditions))
	explain := measure.Explaining(ctx)
	for i := range cases {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		k := i * len(conditions)
		out[i] = decide(&cases[i], results[k:k+len(conditions):k+len(conditions)], explain)
	}
	return out, nil
}

// decide decides a case into its conditions' results (one for each of
// conditions); explanations are written only when explain (a simulation
// over the registry reads only whether each condition held).
func decide(c *measure.Case, results []measure.ConditionResult, explain bool) measure.Outcome {
	under3 := int64(0)
	for _, m := range c.Household.Members {
		if m.Relation == "child" && m.Age < 3 {
			under3++
		}
	}
	assigned := slices.ContainsFunc(c.Assignments, func(a measure.Assignment) bool {
		return a.Measure == "low_income_child" && a.Status == "active"
	})
	held := [6]bool{c.Person.Resident, c.Person.Age >= 18, under3 > 0, slices.Contains(c.Person.Categories, "low_income"),
		c.Household.PerCapitaKopecks < c.Minimum.PerCapita, !assigned}
	o := measure.Outcome{CaseID: c.ID, Eligible: true, Conditions: results}
	for i, ok := range held {
		o.Conditions[i] = measure.ConditionResult{Name: conditions[i].Name, Held: ok}
		o.Eligible = o.Eligible && ok
		if explain {
			o.Conditions[i].Explanation = conditions[i].Title
			if !ok {
				o.Conditions[i].Explanation = why(c, i)
			}
		}
	}
	if o.Eligible {
		if c.Minimum.Children <= 0 || c.Minimum.Children > math.MaxInt64/under3 {
			// Undecidable, not an allowance of nothing (or of an overflow).
			o.Eligible = false
			o.Error = "the region's child subsistence minimum on the decision date is not known"
			return o
		}
		o.AmountKopecks = c.Minimum.Children * under3
		o.Start, o.End = c.Date, c.Date.AddDate(0, 12, 0)
	}
	return o
}

// why is the reason condition i did not hold. A reason with a figure of
// the case in it is written for every case that fails the condition, so
// its two texts are made in one buffer and share one string.
func why(c *measure.Case, i int) measure.Text {
	var b [320]byte
	switch i {
	case 0:
		ru := append(append(append(b[:0], "адрес регистрации (ОКТМО "...), c.Person.OKTMO...), ") не в Свердловской области"...)
		return pair(ru, "the registered address (OKTMO ", c.Person.OKTMO, ") is not in the Sverdlovsk region")
	case 1:
		ru := append(strconv.AppendInt(append(b[:0], "возраст "...), c.Person.Age, 10), " лет, нужно 18 или больше"...)
		n := len(ru)
		both := append(strconv.AppendInt(append(ru, "age "...), c.Person.Age, 10), ", 18 or more is required"...)
		return split(both, n)
	case 2:
		return measure.Text{RU: "в семье нет ребёнка младше трёх лет", EN: "no child under three in the household"}
	case 3:
		return measure.Text{RU: "семья не признана малоимущей", EN: "the family is not recognised as low-income"}
	case 4:
		ru := appendRub(append(b[:0], "доход на человека "...), c.Household.PerCapitaKopecks)
		ru = appendRub(append(ru, " не ниже прожиточного минимума "...), c.Minimum.PerCapita)
		n := len(ru)
		both := appendRub(append(ru, "per-capita income "...), c.Household.PerCapitaKopecks)
		both = appendRub(append(both, " is not below the subsistence minimum "...), c.Minimum.PerCapita)
		return split(both, n)
	default:
		return measure.Text{RU: "выплата уже назначена", EN: "the allowance is already assigned"}
	}
}

// pair is ru and the English text en1+v+en2 as one string.
func pair(ru []byte, en1, v, en2 string) measure.Text {
	n := len(ru)
	return split(append(append(append(ru, en1...), v...), en2...), n)
}

// split makes one string of both texts, the Russian one its first n bytes.
func split(both []byte, n int) measure.Text {
	s := string(both)
	return measure.Text{RU: s[:n], EN: s[n:]}
}

// rub writes kopecks as roubles: 1234567 → "12 345,67 ₽".
func rub(k int64) string { return string(appendRub(nil, k)) }

// appendRub appends kopecks written as roubles to b.
func appendRub(b []byte, k int64) []byte {
	neg := k < 0
	u := uint64(k)
	if neg {
		u = -u
	}
	var d [40]byte
	const sign = " ₽"
	i := len(d) - len(sign)
	copy(d[i:], sign)
	d[i-1], d[i-2], d[i-3] = byte('0'+u%10), byte('0'+u/10%10), ','
	i -= 3
	u /= 100
	for digits := 0; ; digits++ {
		if digits > 0 && digits%3 == 0 {
			i--
			d[i] = ' '
		}
		i--
		d[i] = byte('0' + u%10)
		if u /= 10; u == 0 {
			break
		}
	}
	if neg {
		i--
		d[i] = '-'
	}
	return append(b, d[i:]...)
}
