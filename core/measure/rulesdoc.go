package measure

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// RulesDoc is docs/rules.md: the case schema as rules see it, written from
// the schema's Go types and their doc tags, so that the two cannot drift
// (a test compares them).
func RulesDoc() string {
	var b strings.Builder
	b.WriteString(`# Rules: the case schema

<!-- Generated from core/measure/schema.go by RulesDoc; change the types and run
     go test ./core/measure -run TestRulesDoc -update -->

A measure's conditions, amount, period and reasons are CEL expressions
(cel.dev/cel-go) over one case: a person at a decision date. They are
compiled when a version is saved: an unknown field, a wrong type, a
condition that is not a bool, an amount that is not an int, a period that
is not a timestamp, or an estimated cost above ` + fmt.Sprint(CostLimit) + ` is refused
with the field, the position and the expression.

Money is integer kopecks. Dates are timestamps at midnight UTC.

## Variables

| variable | type | meaning |
| --- | --- | --- |
`)
	t := reflect.TypeFor[Case]()
	var nested []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name := celName(f)
		if name == "-" {
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, celType(f.Type, &nested), f.Tag.Get("doc"))
	}
	seen := map[reflect.Type]bool{}
	for len(nested) > 0 {
		nt := nested[0]
		nested = nested[1:]
		if seen[nt] {
			continue
		}
		seen[nt] = true
		fmt.Fprintf(&b, "\n## %s\n\n| field | type | meaning |\n| --- | --- | --- |\n", nt.Name())
		for i := range nt.NumField() {
			f := nt.Field(i)
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", celName(f), celType(f.Type, &nested), f.Tag.Get("doc"))
		}
	}
	fmt.Fprintf(&b, `
## Functions

Besides CEL's standard functions and macros (`+"`exists`, `all`, `filter`, `map`, `size`, `in`"+`) and the
strings extension:

| function | meaning |
| --- | --- |
| `+"`rub(int) string`"+` | kopecks as roubles: `+"`rub(3120000)`"+` is "31 200 ₽", `+"`rub(123450)`"+` is "1 234,50 ₽" |
| `+"`add_months(timestamp, int) timestamp`"+` | a date moved by months; the 31st becomes the month's last day |
| `+"`add_years(timestamp, int) timestamp`"+` | a date moved by years (29 February becomes 28 February) |
| `+"`day(string) timestamp`"+` | a date literal: `+"`day('2026-01-01')`"+` |

## Reasons

A condition's reason, in Russian and in English, is text with `+"`{expressions}`"+` in
braces, e.g. `+"`доход {rub(household.per_capita_income)} выше ПМ {rub(minimum.per_capita)}`"+`;
`+"`{{`"+` and `+"`}}`"+` are literal braces. A decision carries the reason of every
condition that did not hold.

## Limits

The cost estimate assumes at most %d household members, %d assignments,
%d categories a person, %d application fields and strings of %d bytes; a case
beyond them is not evaluated (its outcome says so).
`, maxMembers, maxAssignments, maxCategories, maxFields, MaxStringSize)
	return b.String()
}

func celName(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("cel"), ",")
	if n == "" {
		return f.Name
	}
	return n
}

func celType(t reflect.Type, nested *[]reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "timestamp"
	case t.Kind() == reflect.Struct:
		*nested = append(*nested, t)
		return "[" + t.Name() + "](#" + strings.ToLower(t.Name()) + ")"
	case t.Kind() == reflect.Slice:
		return "list of " + celType(t.Elem(), nested)
	case t.Kind() == reflect.Map:
		return "map of " + celType(t.Key(), nested) + " to " + celType(t.Elem(), nested)
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "int"
	}
	return t.String()
}
