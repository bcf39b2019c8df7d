package connector

import (
	"fmt"
	"time"

	"github.com/socialtreasury/treasury/core/ident"
	sdkconnector "github.com/socialtreasury/treasury/sdk/connector"
)

// These checks are the plug-in clients' (sdk/grpcplugin), for answers that
// do not come through them: an HTTP service's, or any DataSource's in
// Pull. Errors name places in the request, never a SNILS.

// snilsKey is the form two spellings of one SNILS share: its eleven
// digits, or the text itself when it is no SNILS (then only the same text
// matches).
func snilsKey(s string) string {
	if n, err := ident.NormalizeSNILS(s); err == nil {
		return n
	}
	return s
}

// checkFacts puts an answer in the order of the persons asked, each with
// the SNILS as asked. A person not asked about, one answered twice, a
// category without a code or with a period ending before it starts, an
// income without a kind or with a month not "YYYY-MM" refuses the answer.
func checkFacts(asked []PersonRef, answer []PersonFacts) ([]PersonFacts, error) {
	place := make(map[string]int, len(asked))
	for i, p := range asked {
		if _, ok := place[snilsKey(p.SNILS)]; !ok {
			place[snilsKey(p.SNILS)] = i
		}
	}
	byPlace := make(map[int]PersonFacts, len(answer))
	for i, pf := range answer {
		at, ok := place[snilsKey(pf.SNILS)]
		if !ok {
			return nil, badAnswer("facts %d are of a person that was not asked about", i)
		}
		if _, dup := byPlace[at]; dup {
			return nil, badAnswer("facts %d are of person %d, answered twice", i, at)
		}
		if err := checkPersonFacts(&pf); err != nil {
			return nil, badAnswer("facts of person %d: %v", at, err)
		}
		pf.SNILS = asked[at].SNILS
		byPlace[at] = pf
	}
	var out []PersonFacts
	for i := range asked {
		if f, ok := byPlace[i]; ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func checkPersonFacts(pf *PersonFacts) error {
	for i, c := range pf.Categories {
		if c.Code == "" {
			return fmt.Errorf("category %d has no code", i)
		}
		if err := checkPeriod(c.Period); err != nil {
			return fmt.Errorf("category %q: %v", c.Code, err)
		}
	}
	for i, in := range pf.Incomes {
		if _, err := sdkconnector.ParseMonth(in.Month); err != nil {
			return fmt.Errorf("income %d: %v", i, err)
		}
		if in.Kind == "" {
			return fmt.Errorf("income %d has no kind", i)
		}
	}
	return nil
}

func checkPeriod(p Period) error {
	if !p.To.IsZero() && p.To.Before(p.From) {
		return fmt.Errorf("period ends %s before it starts %s", p.To.Format(time.DateOnly), p.From.Format(time.DateOnly))
	}
	return nil
}

// indexIDs is sdkconnector.IndexIDs, its error the caller's.
func indexIDs(what string, ids []string) (map[string]int, error) {
	index, err := sdkconnector.IndexIDs(what, ids)
	if err != nil {
		return nil, fmt.Errorf("connector: %w", err)
	}
	return index, nil
}

// checkStatuses is sdkconnector.PlaceStatuses, its error the answer's.
func checkStatuses(index map[string]int, sts []PaymentStatus, every bool) ([]PaymentStatus, error) {
	out, err := sdkconnector.PlaceStatuses(index, sts, every)
	if err != nil {
		return nil, badAnswer("%v", err)
	}
	return out, nil
}

// checkDeliveries is sdkconnector.PlaceDeliveries, its error the answer's.
func checkDeliveries(index map[string]int, ds []Delivery) ([]Delivery, error) {
	out, err := sdkconnector.PlaceDeliveries(index, ds)
	if err != nil {
		return nil, badAnswer("%v", err)
	}
	return out, nil
}
