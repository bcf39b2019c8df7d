package grpcplugin

import (
	"context"
	"fmt"
	"math/bits"
	"strings"
)

// A measure may list the case's fields it reads (measure.Description's
// Reads); the host then sends a batch only those columns, and the cases'
// ids. Most measures read a few of the schema's thirty fields, and the
// columns they do not read — a household member's sex, birth date and
// categories, the other subsistence minimums — were half of a batch's
// bytes, written by the host and read by the plug-in for nothing.

// columnSet is a set of the Cases message's fields, by number.
type columnSet uint64

const (
	colID            = 1
	colCategoriesEnd = 10
	colMembersEnd    = 18
	colMemberCatsEnd = 24
	colAssignEnd     = 31
	colAppEnd        = 35
	lastCaseColumn   = 37
)

// everyColumn is every column of a case.
const everyColumn = columnSet(1<<(lastCaseColumn+1) - 2)

func (s columnSet) has(col int) bool { return s&(1<<col) != 0 }

// caseFields are the case schema's fields by their names in the rules
// (the cel tags of measure.Case), each with the columns that carry it: a
// list's field with its list's ends.
var caseFields = []struct {
	name    string
	columns []int
}{
	{"date", []int{2}},
	{"person.age", []int{3}}, {"person.age_months", []int{4}}, {"person.sex", []int{5}},
	{"person.birth_date", []int{6}}, {"person.alive", []int{7}}, {"person.resident", []int{8}},
	{"person.oktmo", []int{9}}, {"person.categories", []int{colCategoriesEnd, 11}},
	{"person.disability_group", []int{12}}, {"person.income_kopecks", []int{13}}, {"person.working", []int{14}},
	{"household.size", []int{15}}, {"household.per_capita_income", []int{16}}, {"household.per_capita_income_3m", []int{17}},
	{"household.members.relation", []int{colMembersEnd, 19}}, {"household.members.age", []int{colMembersEnd, 20}},
	{"household.members.age_months", []int{colMembersEnd, 21}}, {"household.members.sex", []int{colMembersEnd, 22}},
	{"household.members.birth_date", []int{colMembersEnd, 23}},
	{"household.members.categories", []int{colMembersEnd, colMemberCatsEnd, 25}},
	{"household.members.disability_group", []int{colMembersEnd, 26}},
	{"minimum.per_capita", []int{27}}, {"minimum.working_age", []int{28}}, {"minimum.pensioners", []int{29}},
	{"minimum.children", []int{30}},
	{"assignments.measure", []int{colAssignEnd, 32}}, {"assignments.status", []int{colAssignEnd, 33}},
	{"assignments.amount", []int{colAssignEnd, 34}},
	{"application", []int{colAppEnd, 36, 37}},
}

// columnsRead are the columns a measure's Reads need: each name a field
// of the schema or a group of them ("person", "household.members"). None
// listed: every column. The case ids are always sent.
func columnsRead(reads []string) (columnSet, error) {
	if len(reads) == 0 {
		return everyColumn, nil
	}
	s := columnSet(1 << colID)
	for _, name := range reads {
		found := false
		for _, f := range caseFields {
			if f.name == name || strings.HasPrefix(f.name, name+".") {
				found = true
				for _, c := range f.columns {
					s |= 1 << c
				}
			}
		}
		if !found {
			return 0, fmt.Errorf("reads %q, which is not a field of the case schema (docs/rules.md)", name)
		}
	}
	return s, nil
}

// appendLeftOut appends the numbers of every column not in s.
func (s columnSet) appendLeftOut(out []uint32) []uint32 {
	for rest := everyColumn &^ s; rest != 0; rest &= rest - 1 {
		out = append(out, uint32(bits.TrailingZeros64(uint64(rest))))
	}
	return out
}

// columnsOf is the set of the numbered columns; ok false when one is not
// a column of a case, or is the ids'.
func columnsOf(nums []uint32) (s columnSet, ok bool) {
	for _, n := range nums {
		if n <= colID || n > lastCaseColumn {
			return 0, false
		}
		s |= 1 << n
	}
	return s, true
}

// columnNames names a set's fields, for errors.
func columnNames(s columnSet) string {
	var names []string
	for _, f := range caseFields {
		for _, c := range f.columns {
			if s.has(c) {
				names = append(names, f.name)
				break
			}
		}
	}
	return strings.Join(names, ", ")
}

type everyFieldKey struct{}

// WithEveryField makes a MeasureClient's calls with the context send
// every field of the cases, whatever the measure's Reads: sdktest
// evaluates a measure both ways, and a difference is a field it reads
// without listing it.
func WithEveryField(ctx context.Context) context.Context {
	return context.WithValue(ctx, everyFieldKey{}, true)
}

func everyField(ctx context.Context) bool {
	v, _ := ctx.Value(everyFieldKey{}).(bool)
	return v
}
