package main

import (
	"context"
	"math"
	"slices"

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
	// One array for the whole batch's condition results, and one for its
	// outcomes' figures: a slice of each for each outcome, rather than an
	// allocation for each.
	results := make([]measure.ConditionResult, len(cases)*len(conditions))
	var figures []measure.Figure
	explain := measure.Explaining(ctx)
	if explain {
		figures = make([]measure.Figure, 0, 4*len(cases))
	}
	for i := range cases {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		k := i * len(conditions)
		out[i] = decide(&cases[i], results[k:k+len(conditions):k+len(conditions)], explain, &figures)
	}
	return out, nil
}

// decide decides a case into its conditions' results (one for each of
// conditions); explanations are written only when explain (a simulation
// over the registry reads only whether each condition held), the figures
// they name appended to figures.
func decide(c *measure.Case, results []measure.ConditionResult, explain bool, figures *[]measure.Figure) measure.Outcome {
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
				o.Conditions[i].Explanation = reasons[i]
			}
		}
	}
	if explain && !(held[0] && held[1] && held[4]) {
		n := len(*figures)
		*figures = append(*figures, measure.Plain(c.Person.OKTMO), measure.Number(c.Person.Age),
			measure.Money(c.Household.PerCapitaKopecks), measure.Money(c.Minimum.PerCapita))
		o.Figures = (*figures)[n:len(*figures):len(*figures)]
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

// reasons are why each condition did not hold. Their placeholders are
// the figures an outcome gives when a reason names one: {1} the OKTMO,
// {2} the age, {3} the per-capita income, {4} the minimum.
var reasons = [6]measure.Text{
	{RU: "адрес регистрации (ОКТМО {1}) не в Свердловской области", EN: "the registered address (OKTMO {1}) is not in the Sverdlovsk region"},
	{RU: "возраст {2} лет, нужно 18 или больше", EN: "age {2}, 18 or more is required"},
	{RU: "в семье нет ребёнка младше трёх лет", EN: "no child under three in the household"},
	{RU: "семья не признана малоимущей", EN: "the family is not recognised as low-income"},
	{RU: "доход на человека {3} не ниже прожиточного минимума {4}", EN: "per-capita income {3} is not below the subsistence minimum {4}"},
	{RU: "выплата уже назначена", EN: "the allowance is already assigned"},
}
