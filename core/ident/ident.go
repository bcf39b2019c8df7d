// Package ident validates the identifiers of Russian state registers that
// the platform receives from people and systems: INN and SNILS, by their
// check digits.
package ident

import (
	"errors"
	"fmt"
	"strings"
)

var (
	ErrFormat = errors.New("wrong length or characters")
	ErrCheck  = errors.New("check digit does not match")
)

var (
	innOrg    = []int{2, 4, 10, 3, 5, 9, 4, 6, 8}
	innPerson = [2][]int{{7, 2, 4, 10, 3, 5, 9, 4, 6, 8}, {3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8}}
)

// OrgINN checks a 10-digit organisation INN.
func OrgINN(s string) error {
	d, ok := digits(s, 10)
	if !ok {
		return ErrFormat
	}
	if innDigit(d, innOrg) != d[9] {
		return ErrCheck
	}
	return nil
}

// PersonINN checks a 12-digit individual's INN.
func PersonINN(s string) error {
	d, ok := digits(s, 12)
	if !ok {
		return ErrFormat
	}
	if innDigit(d, innPerson[0]) != d[10] || innDigit(d, innPerson[1]) != d[11] {
		return ErrCheck
	}
	return nil
}

func innDigit(d []int, weights []int) int {
	sum := 0
	for i, w := range weights {
		sum += d[i] * w
	}
	return sum % 11 % 10
}

// NormalizeSNILS accepts "XXX-XXX-XXX YY" or eleven bare digits, checks the
// check number and returns the eleven digits.
func NormalizeSNILS(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) == 14 && s[3] == '-' && s[7] == '-' && s[11] == ' ' {
		s = s[0:3] + s[4:7] + s[8:11] + s[12:14]
	}
	d, ok := digits(s, 11)
	if !ok {
		return "", ErrFormat
	}
	// The check number is defined only for numbers above 001-001-998.
	if s[:9] > "001001998" {
		sum := 0
		for i := 0; i < 9; i++ {
			sum += d[i] * (9 - i)
		}
		for sum > 101 {
			sum %= 101
		}
		if sum == 100 || sum == 101 {
			sum = 0
		}
		if sum != d[9]*10+d[10] {
			return "", ErrCheck
		}
	}
	return s, nil
}

// SNILSOf returns the SNILS whose first nine digits are n, with its check
// number: synthetic registries (demo data, benchmarks, tests) need valid
// ones. n must be above 1001998 and below a billion.
func SNILSOf(n int) string {
	if n <= 1001998 || n > 999_999_999 {
		panic("ident: SNILSOf needs 1001998 < n < 1e9")
	}
	sum, x := 0, n
	for w := 1; w <= 9; w++ {
		sum += (x % 10) * w
		x /= 10
	}
	for sum > 101 {
		sum %= 101
	}
	if sum == 100 || sum == 101 {
		sum = 0
	}
	return fmt.Sprintf("%09d%02d", n, sum)
}

func digits(s string, n int) ([]int, bool) {
	if len(s) != n {
		return nil, false
	}
	d := make([]int, n)
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return nil, false
		}
		d[i] = int(c - '0')
	}
	return d, true
}
