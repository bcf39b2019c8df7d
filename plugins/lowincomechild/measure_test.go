package main

import (
	"math"
	"testing"

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
