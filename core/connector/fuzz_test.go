package connector

import (
	"errors"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/ident"
)

// The readers of what a region's systems send must never panic, and what
// they accept must hold the contract.

func FuzzReadFacts(f *testing.F) {
	a, b := ident.SNILSOf(112233445), ident.SNILSOf(123456789)
	const header = "snils,fact,code,from,to,amount_kopecks\n"
	for _, s := range []string{
		header + a + ",category,large_family,2024-02-01,2027-01-31,\n" + b + ",income,salary,2025-03,,5400000\n",
		"\ufeffSNILS, Fact ,code,from,to,amount_kopecks\r\n" + a[:3] + "-" + a[3:6] + "-" + a[6:9] + " " + a[9:] + ",category,x,2024-02-01,,\r\n",
		header + a + ",income,salary,2025-03,,12.5\n",
		header + a + ",category,x,2024-02-30,,\n",
		header + `"` + a + `,income`,
		header + a + ",income,salary,2025-03,,99999999999999999999\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		facts, err := readFacts(strings.NewReader(string(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "empty") && !strings.Contains(err.Error(), "larger") {
				t.Fatalf("an error that names no line: %v", err)
			}
			return
		}
		for snils, fs := range facts {
			if n, err := ident.NormalizeSNILS(snils); err != nil || n != snils {
				t.Fatalf("a SNILS kept that is not 11 checked digits")
			}
			for _, x := range fs {
				switch {
				case x.code == "":
					t.Fatal("a fact without a code")
				case x.category && (x.from.IsZero() || (!x.to.IsZero() && x.to.Before(x.from))):
					t.Fatalf("a category with period %v..%v", x.from, x.to)
				case !x.category && (len(x.month) != 7 || x.amount < 0):
					t.Fatalf("an income %+v", x)
				}
			}
		}
	})
}

func FuzzDecodeFacts(f *testing.F) {
	a, b := ident.SNILSOf(112233445), ident.SNILSOf(123456789)
	for _, s := range []string{
		`{"persons":[{"snils":"` + a + `","categories":[{"code":"large_family","from":"2024-02-01","to":"2027-01-31"}],"incomes":[{"month":"2025-03","kind":"salary","amount_kopecks":5400000}]}]}`,
		`{"persons":[{"snils":"` + b + `","source":"x"}]}`,
		`{"persons":[]}`,
		`{"persons":[{"snils":"` + a + `"},{"snils":"` + a + `"}]}`,
		`{"persons":[{"snils":"` + a + `","incomes":[{"month":"2025-13","kind":"salary","amount_kopecks":1}]}]}`,
		`{"persons":[{"snils":"` + a + `","incomes":[{"month":"2025-03","kind":"salary","amount_kopecks":1.5}]}]}`,
		`{}`, `null`, `[]`, `{"persons":null}`, `{"persons":[]}x`,
	} {
		f.Add([]byte(s))
	}
	asked := []PersonRef{{SNILS: a}, {SNILS: b}}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := decodeFacts(data, asked, "default")
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("an error that is not ErrBadAnswer: %v", err)
			}
			return
		}
		if len(out) > len(asked) {
			t.Fatalf("%d answers for %d persons", len(out), len(asked))
		}
		seen := map[string]bool{}
		for _, pf := range out {
			if (pf.SNILS != a && pf.SNILS != b) || seen[pf.SNILS] {
				t.Fatalf("an answer of a person not asked about, or twice")
			}
			seen[pf.SNILS] = true
			if pf.Source == "" {
				t.Fatal("facts without a source")
			}
			if err := checkPersonFacts(&pf); err != nil {
				t.Fatalf("accepted facts that break the contract: %v", err)
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"id":"e1","kind":"birth","snils":"112-233-445 95","date":"2026-06-01","attributes":{"order":"2"}}`,
		`{"id":"e1","kind":"birth","date":"2026-02-30"}`,
		`{"id":"","kind":"birth","date":"2026-06-01"}`,
		`{"id":"e1"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := parseEvent(data)
		if err != nil {
			return
		}
		if ev.ID == "" || ev.Kind == "" || ev.Date.IsZero() {
			t.Fatalf("accepted %+v", ev)
		}
		if ev.SNILS != "" {
			if n, err := ident.NormalizeSNILS(ev.SNILS); err != nil || n != ev.SNILS {
				t.Fatal("a SNILS that is not 11 checked digits")
			}
		}
	})
}
