package connector

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/ident"
	sdkconnector "github.com/socialtreasury/treasury/sdk/connector"
)

// The file data source reads a CSV of facts: UTF-8, comma-separated, the
// header line first (a BOM, capitals and spaces in it are tolerated):
//
//	snils,fact,code,from,to,amount_kopecks
//	112-233-445 95,category,large_family,2024-02-01,2027-01-31,
//	11223344595,income,salary,2025-03,,5400000
//
//   - snils: 11 digits, or "XXX-XXX-XXX YY"; the check number must hold.
//   - fact: category or income.
//   - code: the category's code (recipient_categories) or the income's
//     kind (income_kinds).
//   - from: a category's first day, YYYY-MM-DD; an income's month, YYYY-MM.
//   - to: a category's last day, YYYY-MM-DD, or empty (open-ended); empty
//     for an income.
//   - amount_kopecks: an income's amount in whole kopecks, 0 or more
//     (5400000 is 54 000,00 ₽); empty for a category.
//
// A person may have many lines. The file is read and checked whole when
// the source is opened — a malformed line, or one repeating an earlier
// line's person, fact, code and from, is an error naming the line — so
// that a file half right never answers "no facts" for the persons past
// the fault. A new file needs the source opened again.

const factsHeader = "snils,fact,code,from,to,amount_kopecks"

// maxFactsBytes bounds the file: it is held in memory.
const maxFactsBytes = 256 << 20

// fileSource is the CSV's facts by SNILS (11 digits).
type fileSource struct {
	source string
	facts  map[string][]fileFact
}

type fileFact struct {
	category bool
	code     string
	from, to time.Time // a category's period
	month    string    // an income's
	amount   int64
}

func openFileSource(path, source string) (*fileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("facts file: %w", err)
	}
	defer f.Close()
	facts, err := readFacts(f)
	if err != nil {
		return nil, fmt.Errorf("facts file %s: %w", filepath.Base(path), err)
	}
	if source == "" {
		source = "file " + filepath.Base(path)
	}
	return &fileSource{source: source, facts: facts}, nil
}

// readFacts reads and checks the CSV.
func readFacts(r io.Reader) (map[string][]fileFact, error) {
	lr := &io.LimitedReader{R: r, N: maxFactsBytes + 1}
	cr := csv.NewReader(lr)
	cr.FieldsPerRecord = -1 // counted here, so the error says which columns
	cr.ReuseRecord = true
	out := map[string][]fileFact{}
	type key struct{ snils, fact, code, from string }
	seen := map[key]int{} // the line a key was first on
	first := true
	for {
		rec, err := cr.Read()
		if lr.N <= 0 {
			return nil, fmt.Errorf("larger than %d MiB", maxFactsBytes>>20)
		}
		if err == io.EOF {
			if first {
				return nil, errors.New("it is empty: the first line must be the header " + factsHeader)
			}
			return out, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %v", pe.Line, pe.Err)
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			got := strings.ToLower(strings.TrimPrefix(strings.Join(rec, ","), "\ufeff"))
			if strings.ReplaceAll(got, " ", "") != factsHeader {
				return nil, fmt.Errorf("line %d: the header is not %s", line, factsHeader)
			}
			continue
		}
		if len(rec) != 6 {
			return nil, fmt.Errorf("line %d: %d columns, not the 6 of %s", line, len(rec), factsHeader)
		}
		snils, f, err := parseFact(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line, err)
		}
		k := key{snils, rec[1], f.code, strings.TrimSpace(rec[3])}
		if at, dup := seen[k]; dup {
			return nil, fmt.Errorf("line %d repeats line %d: the same person, fact, code and from", line, at)
		}
		seen[k] = line
		out[snils] = append(out[snils], f)
	}
}

// parseFact reads one line; its errors never echo the SNILS.
func parseFact(rec []string) (string, fileFact, error) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	var f fileFact
	snils, err := ident.NormalizeSNILS(rec[0])
	if err != nil {
		return "", f, fmt.Errorf("snils is not a SNILS (11 digits or XXX-XXX-XXX YY): %v", err)
	}
	f.code = rec[2]
	if f.code == "" || utf8.RuneCountInString(f.code) > 100 || !printable(f.code) {
		return "", f, errors.New("code must be 1 to 100 printable characters")
	}
	switch rec[1] {
	case "category":
		f.category = true
		from, err := civil.Parse(rec[3])
		if err != nil {
			return "", f, fmt.Errorf("from of a category: %v", err)
		}
		f.from = from.Time()
		if rec[4] != "" {
			to, err := civil.Parse(rec[4])
			if err != nil {
				return "", f, fmt.Errorf("to of a category: %v", err)
			}
			if to.Before(from) {
				return "", f, fmt.Errorf("to %s is before from %s", to, from)
			}
			f.to = to.Time()
		}
		if rec[5] != "" {
			return "", f, errors.New("amount_kopecks must be empty for a category")
		}
	case "income":
		if _, err := sdkconnector.ParseMonth(rec[3]); err != nil {
			return "", f, fmt.Errorf("from of an income: %v", err)
		}
		f.month = rec[3]
		if rec[4] != "" {
			return "", f, errors.New("to must be empty for an income: from is its month")
		}
		if f.amount, err = parseKopecks(rec[5]); err != nil {
			return "", f, err
		}
	default:
		return "", f, fmt.Errorf("fact %q is neither category nor income", echo(rec[1]))
	}
	return snils, f, nil
}

// parseKopecks reads whole kopecks: digits only, no sign, no fraction.
func parseKopecks(s string) (int64, error) {
	bad := errors.New("amount_kopecks must be whole kopecks, 0 or more, digits only (5400000 is 54 000,00 ₽)")
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

func printable(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// echo is s when it may be repeated in an error: short, without digits (so
// never a SNILS), printable.
func echo(s string) string {
	if len(s) <= 40 && printable(s) && !strings.ContainsAny(s, "0123456789") {
		return s
	}
	return "…"
}

// Facts answers from the file: for each person asked about who has lines
// in it, the categories that began by asOf (ended ones too: the platform
// decides by the periods) and the incomes of months up to asOf's. The zero
// asOf is today.
func (s *fileSource) Facts(ctx context.Context, persons []PersonRef, asOf time.Time) ([]PersonFacts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if asOf.IsZero() {
		asOf = civil.Today().Time()
	}
	asOf = civil.Of(asOf).Time() // a date: the time of day does not count
	month := sdkconnector.Month(asOf)
	var out []PersonFacts
	done := make(map[string]bool, len(persons))
	for _, p := range persons {
		fs, ok := s.facts[snilsKey(p.SNILS)]
		if !ok || done[p.SNILS] {
			continue
		}
		done[p.SNILS] = true
		pf := PersonFacts{SNILS: p.SNILS, Source: s.source}
		for _, f := range fs {
			switch {
			case f.category && !f.from.After(asOf):
				pf.Categories = append(pf.Categories, CategoryFact{Code: f.code, Period: Period{From: f.from, To: f.to}})
			case !f.category && f.month <= month:
				pf.Incomes = append(pf.Incomes, IncomeFact{Month: f.month, Kind: f.code, AmountKopecks: f.amount})
			}
		}
		out = append(out, pf)
	}
	return out, nil
}
