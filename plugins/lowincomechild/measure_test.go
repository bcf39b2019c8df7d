package main

import (
	"testing"

	"github.com/socialtreasury/treasury/sdk/sdktest"
)

func TestGolden(t *testing.T) {
	sdktest.Golden(t, sdktest.Measure(t, lowIncomeChild{}), "testdata/cases.yaml")
}

func TestRub(t *testing.T) {
	for k, want := range map[int64]string{0: "0,00 ₽", 5: "0,05 ₽", 1893900: "18 939,00 ₽", -123456789: "-1 234 567,89 ₽"} {
		if got := rub(k); got != want {
			t.Errorf("rub(%d) = %q, want %q", k, got, want)
		}
	}
}
