package main

import (
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func TestGolden(t *testing.T) {
	sdktest.Golden(t, sdktest.Measure(t, lowIncomeChild{}), "testdata/cases.yaml")
}

// Each reason names the figures of its case, in both languages.
func TestReasons(t *testing.T) {
	c := &measure.Case{ID: "a", Person: measure.Subject{Age: 17, OKTMO: "45000000"},
		Household: measure.Household{PerCapitaKopecks: 2_000_000}, Minimum: measure.Minimums{PerCapita: 1_893_900},
		Assignments: []measure.Assignment{{Measure: "low_income_child", Status: "active"}}}
	var figures []measure.Figure
	o := decide(c, make([]measure.ConditionResult, len(conditions)), true, &figures)
	for i, want := range []measure.Text{
		{RU: "адрес регистрации (ОКТМО 45000000) не в Свердловской области", EN: "the registered address (OKTMO 45000000) is not in the Sverdlovsk region"},
		{RU: "возраст 17 лет, нужно 18 или больше", EN: "age 17, 18 or more is required"},
		{RU: "в семье нет ребёнка младше трёх лет", EN: "no child under three in the household"},
		{RU: "семья не признана малоимущей", EN: "the family is not recognised as low-income"},
		{RU: "доход на человека 20 000 ₽ не ниже прожиточного минимума 18 939 ₽", EN: "per-capita income 20 000 ₽ is not below the subsistence minimum 18 939 ₽"},
		{RU: "выплата уже назначена", EN: "the allowance is already assigned"},
	} {
		got := o.Explained(i)
		got.RU, got.EN = strings.ReplaceAll(got.RU, "\u00a0", " "), strings.ReplaceAll(got.EN, "\u00a0", " ")
		if o.Conditions[i].Held || got != want {
			t.Errorf("condition %d: %+v, explained %+v, want %+v", i, o.Conditions[i], got, want)
		}
	}
	if err := o.CheckFigures(); err != nil {
		t.Error(err)
	}
	// Conditions that held are explained by their titles, and an outcome
	// whose reasons name no figure has none.
	c.Person.Resident, c.Person.Age, c.Household.PerCapitaKopecks = true, 30, 100
	if o := decide(c, make([]measure.ConditionResult, len(conditions)), true, &figures); o.Conditions[0].Explanation != conditions[0].Title || o.Figures != nil {
		t.Errorf("held: %+v", o)
	}
}
