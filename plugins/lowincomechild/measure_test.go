package main

import (
	"math"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func TestGolden(t *testing.T) {
	sdktest.Golden(t, sdktest.Measure(t, lowIncomeChild{}), "testdata/cases.yaml")
}

func TestRub(t *testing.T) {
	for k, want := range map[int64]string{0: "0,00 ₽", 5: "0,05 ₽", 99999: "999,99 ₽", 100000: "1 000,00 ₽",
		1893900: "18 939,00 ₽", -123456789: "-1 234 567,89 ₽", math.MinInt64: "-92 233 720 368 547 758,08 ₽"} {
		if got := rub(k); got != want {
			t.Errorf("rub(%d) = %q, want %q", k, got, want)
		}
	}
}

// Each reason names the figures of its case, in both languages.
func TestWhy(t *testing.T) {
	c := &measure.Case{Person: measure.Subject{Age: 17, OKTMO: "45000000"},
		Household: measure.Household{PerCapitaKopecks: 2_000_000}, Minimum: measure.Minimums{PerCapita: 1_893_900}}
	for i, want := range map[int]measure.Text{
		0: {RU: "адрес регистрации (ОКТМО 45000000) не в Свердловской области", EN: "the registered address (OKTMO 45000000) is not in the Sverdlovsk region"},
		1: {RU: "возраст 17 лет, нужно 18 или больше", EN: "age 17, 18 or more is required"},
		2: {RU: "в семье нет ребёнка младше трёх лет", EN: "no child under three in the household"},
		3: {RU: "семья не признана малоимущей", EN: "the family is not recognised as low-income"},
		4: {RU: "доход на человека 20 000,00 ₽ не ниже прожиточного минимума 18 939,00 ₽", EN: "per-capita income 20 000,00 ₽ is not below the subsistence minimum 18 939,00 ₽"},
		5: {RU: "выплата уже назначена", EN: "the allowance is already assigned"},
	} {
		if got := why(c, i); got != want {
			t.Errorf("why %d = %+v, want %+v", i, got, want)
		}
	}
	// A figure longer than the buffer the texts start in.
	c.Person.OKTMO = strings.Repeat("4", 400)
	if got := why(c, 0); !strings.Contains(got.RU, c.Person.OKTMO+")") || !strings.HasSuffix(got.EN, c.Person.OKTMO+") is not in the Sverdlovsk region") {
		t.Errorf("a long OKTMO: %+v", got)
	}
}
