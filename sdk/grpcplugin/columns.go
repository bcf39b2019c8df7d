package grpcplugin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// A batch crosses the process boundary column by column (pluginv1.Cases,
// pluginv1.Outcomes). The functions here turn the SDK's rows into columns
// and back, and refuse columns that do not line up — a list's end past
// its column, ends going backwards, a column of the wrong length, text
// cut inside a character — with an error rather than a panic or a case
// given another's values.

// ymd is a date as the number YYYYMMDD; the zero time is 0.
func ymd(t time.Time) int32 {
	if t.IsZero() {
		return 0
	}
	y, m, d := t.Date()
	return int32(y*10000 + int(m)*100 + d)
}

// fromYMD reads ymd's number; 0 is the zero time. A batch holds several
// dates a case, so the date is computed rather than asked of time.Date
// (which costs ten times as much): days since 1970 by the civil-calendar
// formula, checked against the month's length first.
func fromYMD(v int32) (time.Time, error) {
	if v == 0 {
		return time.Time{}, nil
	}
	y, m, d := int64(v/10000), int64(v/100%100), int64(v%100)
	if v < 0 || y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return time.Time{}, fmt.Errorf("%d is not a date YYYYMMDD", v)
	}
	// Howard Hinnant's days_from_civil, for years from 1 on.
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := era*146097 + doe - 719468
	return time.Unix(days*86400, 0).UTC(), nil
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// sized is s at length n, on its own array when that is large enough;
// the caller writes every element.
func sized[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// growing is s emptied, with room for n elements.
func growing[T any](s []T, n int) []T { return slices.Grow(s[:0], n) }

// textsFor is s emptied, with room for values of bytes in all.
func textsFor(s *pluginv1.Strings, values, bytes int) *pluginv1.Strings {
	if s == nil {
		s = &pluginv1.Strings{}
	}
	s.Data, s.Ends = growing(s.Data, bytes), growing(s.Ends, values)
	return s
}

// addText appends a value to a Strings column.
func addText(s *pluginv1.Strings, v string) {
	s.Data = append(s.Data, v...)
	s.Ends = append(s.Ends, uint32(len(s.Data)))
}

// textsFrom unpacks a Strings column: each value a part of the column's
// data, which the strings share rather than copy. The column comes from
// a message just read off the wire, its data an array that nothing
// writes again (protobuf's copy out of gRPC's buffer, or the received
// message's own, wire.go); a column built in this process must not be
// changed after.
func textsFrom(s *pluginv1.Strings, what string) ([]string, error) {
	c, err := textColumnFrom(s, what)
	if err != nil {
		return nil, err
	}
	out := make([]string, c.len())
	for i := range out {
		out[i] = c.at(i)
	}
	return out, nil
}

// textColumn is a checked Strings column read value by value, where its
// values are copied into cases rather than kept as a list.
type textColumn struct {
	all  string
	ends []uint32
}

func (c textColumn) len() int { return len(c.ends) }

// get is at, or "" where the column is left out (empty).
func (c textColumn) get(i int) string {
	if i < len(c.ends) {
		return c.at(i)
	}
	return ""
}

func (c textColumn) at(i int) string {
	lo := uint32(0)
	if i > 0 {
		lo = c.ends[i-1]
	}
	return c.all[lo:c.ends[i]]
}

// textColumnFrom checks a Strings column as textsFrom does.
func textColumnFrom(s *pluginv1.Strings, what string) (textColumn, error) {
	data, ends := s.GetData(), s.GetEnds()
	if !utf8.Valid(data) {
		return textColumn{}, fmt.Errorf("column %s is not UTF-8", what)
	}
	all := unsafe.String(unsafe.SliceData(data), len(data))
	prev := uint32(0)
	for i, e := range ends {
		if e < prev || int(e) > len(all) || (int(e) < len(all) && !utf8.RuneStart(all[e])) {
			return textColumn{}, fmt.Errorf("column %s: value %d ends at byte %d, after %d, of %d", what, i, e, prev, len(all))
		}
		prev = e
	}
	if int(prev) != len(all) {
		return textColumn{}, fmt.Errorf("column %s: its values hold %d of %d bytes", what, prev, len(all))
	}
	return textColumn{all: all, ends: ends}, nil
}

// unpacker unpacks a message's Strings columns, keeping every column's
// error, so that an answer is refused naming all that is wrong with it.
type unpacker struct{ errs []error }

func (u *unpacker) texts(s *pluginv1.Strings, name string) []string {
	v, err := textsFrom(s, name)
	u.errs = append(u.errs, err)
	return v
}

func (u *unpacker) column(s *pluginv1.Strings, name string) textColumn {
	v, err := textColumnFrom(s, name)
	u.errs = append(u.errs, err)
	return v
}

func (u *unpacker) err() error { return errors.Join(u.errs...) }

// column is a column's name and length, for the checks that columns line
// up.
type column struct {
	name string
	len  int
}

func sameLength(of string, n int, cols ...column) error {
	for _, c := range cols {
		if c.len != n && c.len != -1 { // -1: a column left out
			return fmt.Errorf("column %s has %d values for %d %s", c.name, c.len, n, of)
		}
	}
	return nil
}

// lists reads a column of list ends for n rows over a column of total
// elements: the i-th row's elements are [ends[i-1], ends[i]).
func lists(ends []uint32, n, total int, what string) error {
	if len(ends) != n {
		return fmt.Errorf("%s: %d ends for %d rows", what, len(ends), n)
	}
	prev := uint32(0)
	for i, e := range ends {
		if e < prev || int(e) > total {
			return fmt.Errorf("%s: row %d ends at %d, after %d, of %d", what, i, e, prev, total)
		}
		prev = e
	}
	if int(prev) != total {
		return fmt.Errorf("%s: the rows hold %d of %d elements", what, prev, total)
	}
	return nil
}

func span(ends []uint32, i int) (int, int) {
	if len(ends) == 0 { // a list left out: none
		return 0, 0
	}
	if i == 0 {
		return 0, int(ends[0])
	}
	return int(ends[i-1]), int(ends[i])
}

// casesInto writes the cases' columns in sent into c, the others empty,
// reusing its columns' arrays: the host sends batch after batch of the
// same size, and a batch's columns are garbage once it is sent.
func casesInto(c *pluginv1.Cases, cs []measure.Case, sent columnSet) *pluginv1.Cases {
	n := len(cs)
	has := sent.has
	withCategories, withMembers, withMemberCategories := has(colCategoriesEnd), has(colMembersEnd), has(colMemberCatsEnd)
	withAssignments, withApplication := has(colAssignEnd), has(colAppEnd)
	// Counted first, so that no column grows while it is written.
	var members, categories, memberCategories, assignments, fields int
	var ids, sex, oktmo, categoryBytes, relationBytes, memberSexBytes, memberCategoryBytes, assignmentBytes, fieldBytes int
	for i := range cs {
		k, p := &cs[i], &cs[i].Person
		ids, sex, oktmo = ids+len(k.ID), sex+len(p.Sex), oktmo+len(p.OKTMO)
		if withCategories {
			categories += len(p.Categories)
			for _, s := range p.Categories {
				categoryBytes += len(s)
			}
		}
		if withMembers {
			members += len(k.Household.Members)
			for _, m := range k.Household.Members {
				relationBytes, memberSexBytes = relationBytes+len(m.Relation), memberSexBytes+len(m.Sex)
				if withMemberCategories {
					memberCategories += len(m.Categories)
					for _, s := range m.Categories {
						memberCategoryBytes += len(s)
					}
				}
			}
		}
		if withAssignments {
			assignments += len(k.Assignments)
			for _, a := range k.Assignments {
				assignmentBytes += len(a.Measure) + len(a.Status)
			}
		}
		if withApplication {
			fields += len(k.Application)
			for key, v := range k.Application {
				fieldBytes += len(key) + len(v)
			}
		}
	}
	c.Id = textsFor(c.Id, n, ids)
	c.Sex, c.Oktmo = textColumnFor(c.Sex, sent, 5, n, sex), textColumnFor(c.Oktmo, sent, 9, n, oktmo)
	c.Date, c.BirthDate = columnFor(c.Date, sent, 2, n), columnFor(c.BirthDate, sent, 6, n)
	c.Age, c.AgeMonths = columnFor(c.Age, sent, 3, n), columnFor(c.AgeMonths, sent, 4, n)
	c.DisabilityGroup, c.IncomeKopecks = columnFor(c.DisabilityGroup, sent, 12, n), columnFor(c.IncomeKopecks, sent, 13, n)
	c.Alive, c.Resident, c.Working = columnFor(c.Alive, sent, 7, n), columnFor(c.Resident, sent, 8, n), columnFor(c.Working, sent, 14, n)
	c.HouseholdSize, c.PerCapitaIncome = columnFor(c.HouseholdSize, sent, 15, n), columnFor(c.PerCapitaIncome, sent, 16, n)
	c.PerCapitaIncome_3M = columnFor(c.PerCapitaIncome_3M, sent, 17, n)
	c.MinimumPerCapita, c.MinimumWorkingAge = columnFor(c.MinimumPerCapita, sent, 27, n), columnFor(c.MinimumWorkingAge, sent, 28, n)
	c.MinimumPensioners, c.MinimumChildren = columnFor(c.MinimumPensioners, sent, 29, n), columnFor(c.MinimumChildren, sent, 30, n)
	c.CategoriesEnd, c.MembersEnd = columnFor(c.CategoriesEnd, sent, colCategoriesEnd, n), columnFor(c.MembersEnd, sent, colMembersEnd, n)
	c.AssignmentsEnd, c.ApplicationEnd = columnFor(c.AssignmentsEnd, sent, colAssignEnd, n), columnFor(c.ApplicationEnd, sent, colAppEnd, n)
	c.Categories = textColumnFor(c.Categories, sent, 11, categories, categoryBytes)
	c.MemberRelation, c.MemberSex = textColumnFor(c.MemberRelation, sent, 19, members, relationBytes), textColumnFor(c.MemberSex, sent, 22, members, memberSexBytes)
	c.MemberAge, c.MemberAgeMonths = growing(c.MemberAge, members), growing(c.MemberAgeMonths, members)
	c.MemberDisabilityGroup = growing(c.MemberDisabilityGroup, members)
	c.MemberBirthDate, c.MemberCategoriesEnd = growing(c.MemberBirthDate, members), growing(c.MemberCategoriesEnd, members)
	c.MemberCategories = textColumnFor(c.MemberCategories, sent, 25, memberCategories, memberCategoryBytes)
	// Measures and statuses share a count: the bytes of both are an upper
	// bound for each.
	c.AssignmentMeasure = textColumnFor(c.AssignmentMeasure, sent, 32, assignments, assignmentBytes)
	c.AssignmentStatus = textColumnFor(c.AssignmentStatus, sent, 33, assignments, assignmentBytes)
	c.AssignmentAmount = growing(c.AssignmentAmount, assignments)
	c.ApplicationKey, c.ApplicationValue = textColumnFor(c.ApplicationKey, sent, 36, fields, fieldBytes), textColumnFor(c.ApplicationValue, sent, 37, fields, fieldBytes)
	members, assignments = 0, 0 // now what is written so far
	for i := range cs {
		k, p, h := &cs[i], &cs[i].Person, &cs[i].Household
		addText(c.Id, k.ID)
		put(c.Date, i, ymd(k.Date))
		put(c.Age, i, p.Age)
		put(c.AgeMonths, i, p.AgeMonths)
		put(c.BirthDate, i, ymd(p.BirthDate))
		addTextTo(c.Sex, p.Sex)
		put(c.Alive, i, p.Alive)
		put(c.Resident, i, p.Resident)
		addTextTo(c.Oktmo, p.OKTMO)
		if withCategories {
			for _, s := range p.Categories {
				addText(c.Categories, s)
			}
			c.CategoriesEnd[i] = uint32(len(c.Categories.Ends))
		}
		put(c.DisabilityGroup, i, p.DisabilityGroup)
		put(c.IncomeKopecks, i, p.IncomeKopecks)
		put(c.Working, i, p.Working)
		put(c.HouseholdSize, i, h.Size)
		put(c.PerCapitaIncome, i, h.PerCapitaKopecks)
		put(c.PerCapitaIncome_3M, i, h.PerCapita3Kopecks)
		if withMembers {
			for _, m := range h.Members {
				addTextTo(c.MemberRelation, m.Relation)
				c.MemberAge = appendIf(c.MemberAge, has(20), m.Age)
				c.MemberAgeMonths = appendIf(c.MemberAgeMonths, has(21), m.AgeMonths)
				addTextTo(c.MemberSex, m.Sex)
				c.MemberBirthDate = appendIf(c.MemberBirthDate, has(23), ymd(m.BirthDate))
				if withMemberCategories {
					for _, s := range m.Categories {
						addText(c.MemberCategories, s)
					}
					c.MemberCategoriesEnd = append(c.MemberCategoriesEnd, uint32(len(c.MemberCategories.Ends)))
				}
				c.MemberDisabilityGroup = appendIf(c.MemberDisabilityGroup, has(26), m.DisabilityGroup)
			}
			members += len(h.Members)
			c.MembersEnd[i] = uint32(members)
		}
		mn := &k.Minimum
		put(c.MinimumPerCapita, i, mn.PerCapita)
		put(c.MinimumWorkingAge, i, mn.WorkingAge)
		put(c.MinimumPensioners, i, mn.Pensioners)
		put(c.MinimumChildren, i, mn.Children)
		if withAssignments {
			for _, a := range k.Assignments {
				addTextTo(c.AssignmentMeasure, a.Measure)
				addTextTo(c.AssignmentStatus, a.Status)
				c.AssignmentAmount = appendIf(c.AssignmentAmount, has(34), a.AmountKopecks)
			}
			assignments += len(k.Assignments)
			c.AssignmentsEnd[i] = uint32(assignments)
		}
		if withApplication {
			for key, v := range k.Application {
				addText(c.ApplicationKey, key)
				addText(c.ApplicationValue, v)
			}
			c.ApplicationEnd[i] = uint32(len(c.ApplicationKey.Ends))
		}
	}
	return c
}

// columnFor is a column of n values when it is sent, or none.
func columnFor[T any](s []T, sent columnSet, col, n int) []T {
	if !sent.has(col) {
		return s[:0]
	}
	return sized(s, n)
}

// textColumnFor is textsFor when the column is sent, or none.
func textColumnFor(s *pluginv1.Strings, sent columnSet, col, values, bytes int) *pluginv1.Strings {
	if !sent.has(col) {
		return nil
	}
	return textsFor(s, values, bytes)
}

// put sets a column's i-th value, when the column is sent.
func put[T any](s []T, i int, v T) {
	if i < len(s) {
		s[i] = v
	}
}

func appendIf[T any](s []T, sent bool, v T) []T {
	if sent {
		return append(s, v)
	}
	return s
}

// addTextTo is addText to a column that may not be sent (nil).
func addTextTo(s *pluginv1.Strings, v string) {
	if s != nil {
		addText(s, v)
	}
}

// casesFrom reads a batch's columns into new cases.
func casesFrom(c *pluginv1.Cases) ([]measure.Case, error) {
	return new(caseArrays).read(c, 0)
}

// caseArrays are the arrays a stream reads batch after batch of cases
// into: a case, a household member and an assignment are some hundred
// bytes each, and arrays made afresh for each batch were a fifth of a
// plug-in's work — the runtime clearing them, and collecting them. A
// batch's cases are the measure's until Evaluate returns
// (measure.Measure says so); the strings in them are not in these
// arrays, and stay.
type caseArrays struct {
	cases       []measure.Case
	members     []measure.Member
	assignments []measure.Assignment
}

// read reads a batch's columns into cases on the arrays. The columns in
// leftOut (fields the measure does not read) may be empty; their fields
// are then zero.
func (r *caseArrays) read(c *pluginv1.Cases, leftOut columnSet) ([]measure.Case, error) {
	// Lists of texts are parts of a column's list; single values are
	// read from the column as they are copied into the cases.
	var u unpacker
	text, col := u.texts, u.column
	categories, memberCategories := text(c.GetCategories(), "categories"), text(c.GetMemberCategories(), "member_categories")
	ids, sex, oktmo := col(c.GetId(), "id"), col(c.GetSex(), "sex"), col(c.GetOktmo(), "oktmo")
	relation, memberSex := col(c.GetMemberRelation(), "member_relation"), col(c.GetMemberSex(), "member_sex")
	assignmentMeasure, assignmentStatus := col(c.GetAssignmentMeasure(), "assignment_measure"), col(c.GetAssignmentStatus(), "assignment_status")
	applicationKey, applicationValue := col(c.GetApplicationKey(), "application_key"), col(c.GetApplicationValue(), "application_value")
	if err := u.err(); err != nil {
		return nil, err
	}
	// A column left out and empty is no column to check; one left out
	// but sent is checked as any other.
	v := func(num int, name string, l int) column {
		if l == 0 && leftOut.has(num) {
			return column{name, -1}
		}
		return column{name, l}
	}
	// The lists' lengths are their ends' last, where the column that
	// would count them is left out.
	n, m, a := ids.len(), listLength(relation.len(), leftOut.has(19), c.GetMembersEnd()), listLength(assignmentMeasure.len(), leftOut.has(32), c.GetAssignmentsEnd())
	lengthsOf := func(ends []uint32, num, rows, total int, what string) error {
		if len(ends) == 0 && leftOut.has(num) {
			return nil
		}
		return lists(ends, rows, total, what)
	}
	if err := errors.Join(
		sameLength("cases", n, v(2, "date", len(c.GetDate())), v(3, "age", len(c.GetAge())), v(4, "age_months", len(c.GetAgeMonths())),
			v(5, "sex", sex.len()), v(6, "birth_date", len(c.GetBirthDate())), v(7, "alive", len(c.GetAlive())),
			v(8, "resident", len(c.GetResident())), v(9, "oktmo", oktmo.len()), v(12, "disability_group", len(c.GetDisabilityGroup())),
			v(13, "income_kopecks", len(c.GetIncomeKopecks())), v(14, "working", len(c.GetWorking())),
			v(15, "household_size", len(c.GetHouseholdSize())), v(16, "per_capita_income", len(c.GetPerCapitaIncome())),
			v(17, "per_capita_income_3m", len(c.GetPerCapitaIncome_3M())), v(27, "minimum_per_capita", len(c.GetMinimumPerCapita())),
			v(28, "minimum_working_age", len(c.GetMinimumWorkingAge())), v(29, "minimum_pensioners", len(c.GetMinimumPensioners())),
			v(30, "minimum_children", len(c.GetMinimumChildren()))),
		sameLength("members", m, v(19, "member_relation", relation.len()), v(20, "member_age", len(c.GetMemberAge())),
			v(21, "member_age_months", len(c.GetMemberAgeMonths())), v(22, "member_sex", memberSex.len()),
			v(23, "member_birth_date", len(c.GetMemberBirthDate())), v(26, "member_disability_group", len(c.GetMemberDisabilityGroup()))),
		sameLength("assignments", a, v(32, "assignment_measure", assignmentMeasure.len()), v(33, "assignment_status", assignmentStatus.len()),
			v(34, "assignment_amount", len(c.GetAssignmentAmount()))),
		sameLength("application fields", applicationKey.len(), column{"application_value", applicationValue.len()}),
		lengthsOf(c.GetCategoriesEnd(), colCategoriesEnd, n, len(categories), "categories"),
		lengthsOf(c.GetMembersEnd(), colMembersEnd, n, m, "members"),
		lengthsOf(c.GetMemberCategoriesEnd(), colMemberCatsEnd, m, len(memberCategories), "member categories"),
		lengthsOf(c.GetAssignmentsEnd(), colAssignEnd, n, a, "assignments"),
		lengthsOf(c.GetApplicationEnd(), colAppEnd, n, applicationKey.len(), "application"),
	); err != nil {
		return nil, err
	}
	r.members = sized(r.members, m)
	members := r.members
	for j := range members {
		b, err := fromYMD(get(c.MemberBirthDate, j))
		if err != nil {
			return nil, fmt.Errorf("member %d birth_date: %w", j, err)
		}
		lo, hi := span(c.MemberCategoriesEnd, j)
		members[j] = measure.Member{Relation: relation.get(j), Age: get(c.MemberAge, j), AgeMonths: get(c.MemberAgeMonths, j),
			Sex: memberSex.get(j), BirthDate: b, Categories: memberCategories[lo:hi:hi], DisabilityGroup: get(c.MemberDisabilityGroup, j)}
	}
	var assignments []measure.Assignment
	if a > 0 {
		r.assignments = sized(r.assignments, a)
		assignments = r.assignments
		for j := range assignments {
			assignments[j] = measure.Assignment{Measure: assignmentMeasure.get(j), Status: assignmentStatus.get(j),
				AmountKopecks: get(c.AssignmentAmount, j)}
		}
	}
	r.cases = sized(r.cases, n)
	out := r.cases
	// A batch's cases are usually decided on one date.
	lastDate, d := int32(0), time.Time{}
	for i := range out {
		if v := get(c.Date, i); v != lastDate {
			var err error
			if d, err = fromYMD(v); err != nil {
				return nil, fmt.Errorf("case %d date: %w", i, err)
			}
			lastDate = v
		}
		b, err := fromYMD(get(c.BirthDate, i))
		if err != nil {
			return nil, fmt.Errorf("case %d birth_date: %w", i, err)
		}
		clo, chi := span(c.CategoriesEnd, i)
		mlo, mhi := span(c.MembersEnd, i)
		k := &out[i]
		*k = measure.Case{ID: ids.at(i), Date: d,
			Person: measure.Subject{Age: get(c.Age, i), AgeMonths: get(c.AgeMonths, i), Sex: sex.get(i), BirthDate: b,
				Alive: get(c.Alive, i), Resident: get(c.Resident, i), OKTMO: oktmo.get(i), Categories: categories[clo:chi:chi],
				DisabilityGroup: get(c.DisabilityGroup, i), IncomeKopecks: get(c.IncomeKopecks, i), Working: get(c.Working, i)},
			Household: measure.Household{Members: members[mlo:mhi:mhi], Size: get(c.HouseholdSize, i),
				PerCapitaKopecks: get(c.PerCapitaIncome, i), PerCapita3Kopecks: get(c.PerCapitaIncome_3M, i)},
			Minimum: measure.Minimums{PerCapita: get(c.MinimumPerCapita, i), WorkingAge: get(c.MinimumWorkingAge, i),
				Pensioners: get(c.MinimumPensioners, i), Children: get(c.MinimumChildren, i)},
		}
		if lo, hi := span(c.AssignmentsEnd, i); hi > lo {
			k.Assignments = assignments[lo:hi:hi]
		}
		if lo, hi := span(c.ApplicationEnd, i); hi > lo {
			k.Application = make(map[string]string, hi-lo)
			for j := lo; j < hi; j++ {
				k.Application[applicationKey.at(j)] = applicationValue.at(j)
			}
		}
	}
	return out, nil
}

// listLength is how many elements a list column has: the column counting
// them, or, where it is left out, the last of the lists' ends.
func listLength(counted int, leftOut bool, ends []uint32) int {
	if counted == 0 && leftOut && len(ends) > 0 {
		return int(ends[len(ends)-1])
	}
	return counted
}

// get is a column's i-th value, or zero where the column is left out
// (empty): a column that is sent has been checked to hold every value.
func get[T any](s []T, i int) T {
	if i < len(s) {
		return s[i]
	}
	var zero T
	return zero
}

// outcomesInto writes outcomes as columns into o, reusing its arrays;
// without explain, the explanations stay behind, and without ids the
// case ids (the host matches outcomes to cases by their order). With
// figures (the host writes them in) an explanation with figures goes as
// its template and figures; without, as its text written out.
func outcomesInto(o *pluginv1.Outcomes, os []measure.Outcome, explain, ids, figures bool) *pluginv1.Outcomes {
	n, k, idBytes, failures := len(os), 0, 0, 0
	for i := range os {
		k += len(os[i].Conditions)
		idBytes, failures = idBytes+len(os[i].CaseID), failures+len(os[i].Error)
	}
	o.CaseId = nil
	if ids {
		o.CaseId = textsFor(o.CaseId, n, idBytes)
	}
	o.Error, o.ConditionNames = textsFor(o.Error, n, failures), textsFor(o.ConditionNames, 0, 0)
	o.Eligible, o.AmountKopecks, o.Start, o.End = sized(o.Eligible, n), sized(o.AmountKopecks, n), sized(o.Start, n), sized(o.End, n)
	o.ConditionsEnd, o.Condition, o.Held = sized(o.ConditionsEnd, n), growing(o.Condition, k), growing(o.Held, k)
	if explain {
		// The texts, repeated ones sent once, are far fewer than the
		// conditions: they grow as they come.
		o.ExplanationRu, o.ExplanationEn = textsFor(o.ExplanationRu, 0, 0), textsFor(o.ExplanationEn, 0, 0)
		o.Explanation = growing(o.Explanation, k)
	} else {
		o.ExplanationRu, o.ExplanationEn, o.Explanation = nil, nil, nil
	}
	figures = figures && explain
	o.FiguresEnd, o.FigureKind, o.FigureValue, o.FigureText = o.FiguresEnd[:0], o.FigureKind[:0], o.FigureValue[:0], nil
	if figures {
		o.FiguresEnd, o.FigureText = growing(o.FiguresEnd, n), textsFor(o.FigureText, 0, 0)
	}
	var names []string
	index := map[string]uint32{}
	// The last few texts each condition (by its index in names) was
	// explained by, and their indices: a text repeated from case to case
	// is sent once, also when the condition holds for some cases (its
	// title) and fails for others (a reason of the measure's own).
	var last []recentTexts
	for i := range os {
		x := &os[i]
		if ids {
			addText(o.CaseId, x.CaseID)
		}
		o.Eligible[i], o.AmountKopecks[i] = x.Eligible, x.AmountKopecks
		o.Start[i], o.End[i] = ymd(x.Start), ymd(x.End)
		addText(o.Error, x.Error)
		if figures {
			o.FiguresEnd = appendFigures(o, x.Figures)
		}
		for j, c := range x.Conditions {
			// A measure's conditions come in the same order case after
			// case: the j-th is usually the j-th name already seen.
			var at uint32
			if j < len(names) && names[j] == c.Name {
				at = uint32(j)
			} else if seen, ok := index[c.Name]; ok {
				at = seen
			} else {
				at = uint32(len(names))
				index[c.Name] = at
				names = append(names, c.Name)
				last = append(last, recentTexts{})
				addText(o.ConditionNames, c.Name)
			}
			o.Condition = append(o.Condition, at)
			o.Held = append(o.Held, c.Held)
			if explain {
				text := c.Explanation
				if !figures {
					text = text.With(x.Figures)
				}
				t, ok := last[at].find(text)
				if !ok {
					t = uint32(len(o.ExplanationRu.Ends))
					last[at].add(text, t)
					addText(o.ExplanationRu, text.RU)
					addText(o.ExplanationEn, text.EN)
				}
				o.Explanation = append(o.Explanation, t)
			}
		}
		o.ConditionsEnd[i] = uint32(len(o.Condition))
	}
	if len(o.FigureKind) == 0 {
		o.FiguresEnd, o.FigureText = o.FiguresEnd[:0], nil // no figures: no columns
	}
	return o
}

// appendFigures writes an outcome's figures into o's figure columns and
// returns its figures_end with the outcome's end.
func appendFigures(o *pluginv1.Outcomes, figures []measure.Figure) []uint32 {
	for _, f := range figures {
		kind, value, text := f.Wire()
		if kind == figureText {
			value = int64(len(o.FigureText.Ends))
			addText(o.FigureText, text)
		}
		o.FigureKind, o.FigureValue = append(o.FigureKind, kind), append(o.FigureValue, value)
	}
	return append(o.FiguresEnd, uint32(len(o.FigureKind)))
}

// The protocol's kinds of figures that are not a plain number.
const (
	figureText = 3
	figureDate = 4
)

// recentTexts are the texts a condition was last explained by, and where
// each was sent: a few, as a measure explains a condition by its title or
// by one of a few reasons. A text not kept replaces the one used longest
// ago, so that a title used case after case stays while reasons with a
// case's figures in them come and go.
type recentTexts struct {
	texts [4]measure.Text
	at    [4]uint32
	used  [4]int // when each was last found or added, by the count of uses
	n     int    // how many are kept
	uses  int
}

func (r *recentTexts) find(t measure.Text) (uint32, bool) {
	for i := range r.n {
		if r.texts[i] == t {
			r.uses++
			r.used[i] = r.uses
			return r.at[i], true
		}
	}
	return 0, false
}

func (r *recentTexts) add(t measure.Text, at uint32) {
	i := r.n
	if i == len(r.texts) {
		i = 0
		for k := range r.used {
			if r.used[k] < r.used[i] {
				i = k
			}
		}
	} else {
		r.n++
	}
	r.uses++
	r.texts[i], r.at[i], r.used[i] = t, at, r.uses
}

// outcomesFrom reads the answer to cases and appends it to dst, refusing
// what no measure can mean: columns that do not line up, an outcome of
// another case, a negative amount, a date not in the calendar, a period
// ending before it starts. An answer without case ids (the request asked
// for outcomes by position) gives each outcome its case's id; one with
// them must name each outcome's case. Either way an outcome's CaseID is
// its case's own string, not a part of the answer.
func outcomesFrom(dst []measure.Outcome, o *pluginv1.Outcomes, cases []measure.Case, explain bool) ([]measure.Outcome, error) {
	// Columns rather than lists of strings: each value is cut from its
	// column where it is stored, with no list of a batch's texts between.
	var u unpacker
	ids, failures, names := u.column(o.GetCaseId(), "case_id"), u.column(o.GetError(), "error"), u.texts(o.GetConditionNames(), "condition_names")
	var ru, en, figureTexts textColumn
	if explain {
		ru, en = u.column(o.GetExplanationRu(), "explanation_ru"), u.column(o.GetExplanationEn(), "explanation_en")
		figureTexts = u.column(o.GetFigureText(), "figure_text")
	}
	if err := u.err(); err != nil {
		return nil, err
	}
	n := len(cases)
	if len(o.GetEligible()) != n {
		return nil, fmt.Errorf("%d outcomes for %d cases", len(o.GetEligible()), n)
	}
	if ids.len() > 0 {
		if ids.len() != n {
			return nil, fmt.Errorf("%d case ids for %d cases", ids.len(), n)
		}
		for i := range n {
			if id := ids.at(i); id != cases[i].ID {
				return nil, fmt.Errorf("outcome %d is of case %q, not %q", i, id, cases[i].ID)
			}
		}
	}
	k := len(o.GetCondition())
	if err := errors.Join(
		sameLength("outcomes", n, column{"eligible", len(o.GetEligible())}, column{"amount_kopecks", len(o.GetAmountKopecks())},
			column{"start", len(o.GetStart())}, column{"end", len(o.GetEnd())}, column{"error", failures.len()}),
		sameLength("conditions", k, column{"held", len(o.GetHeld())}),
		lists(o.GetConditionsEnd(), n, k, "conditions"),
	); err != nil {
		return nil, err
	}
	var figures []measure.Figure
	if explain {
		if err := errors.Join(sameLength("conditions", k, column{"explanation", len(o.GetExplanation())}),
			sameLength("Russian texts", ru.len(), column{"explanation_en", en.len()})); err != nil {
			return nil, err
		}
		var err error
		if figures, err = figuresFrom(o, n, figureTexts); err != nil {
			return nil, err
		}
	}
	out := slices.Grow(dst, n)[:len(dst)+n]
	at := out[len(dst):]
	for j := range k {
		if int(o.Condition[j]) >= len(names) {
			return nil, fmt.Errorf("condition %d names index %d of %d names", j, o.Condition[j], len(names))
		}
		if explain && int(o.Explanation[j]) >= ru.len() {
			return nil, fmt.Errorf("condition %d is explained by text %d of %d", j, o.Explanation[j], ru.len())
		}
	}
	lists := conditionLists{names: names, ru: ru, en: en, o: o, explain: explain, left: k}
	for i := range at {
		start, err := fromYMD(o.Start[i])
		if err != nil {
			return nil, fmt.Errorf("outcome %d start: %w", i, err)
		}
		end, err := fromYMD(o.End[i])
		if err != nil {
			return nil, fmt.Errorf("outcome %d end: %w", i, err)
		}
		if o.AmountKopecks[i] < 0 {
			return nil, fmt.Errorf("outcome %d: amount %d kopecks", i, o.AmountKopecks[i])
		}
		if !end.IsZero() && end.Before(start) {
			return nil, fmt.Errorf("outcome %d: period ends %s before it starts %s", i, end.Format(time.DateOnly), start.Format(time.DateOnly))
		}
		lo, hi := span(o.ConditionsEnd, i)
		at[i] = measure.Outcome{CaseID: cases[i].ID, Eligible: o.Eligible[i], AmountKopecks: o.AmountKopecks[i], Start: start, End: end,
			Error: failures.at(i), Conditions: lists.of(lo, hi)}
		if figures != nil { // read and checked only with explanations
			if flo, fhi := span(o.FiguresEnd, i); fhi > flo {
				at[i].Figures = figures[flo:fhi:fhi]
			}
		}
	}
	return out, nil
}

// figuresFrom reads the figures of an answer's n outcomes: none when the
// answer has none (figures_end empty).
func figuresFrom(o *pluginv1.Outcomes, n int, texts textColumn) ([]measure.Figure, error) {
	ends := o.GetFiguresEnd()
	if len(ends) == 0 {
		if len(o.GetFigureKind()) > 0 {
			return nil, fmt.Errorf("%d figures and no figures_end", len(o.GetFigureKind()))
		}
		return nil, nil
	}
	total := len(o.GetFigureKind())
	if err := errors.Join(sameLength("figures", total, column{"figure_value", len(o.GetFigureValue())}),
		lists(ends, n, total, "figures")); err != nil {
		return nil, err
	}
	out := make([]measure.Figure, total)
	for j := range out {
		kind, value, text := o.FigureKind[j], o.FigureValue[j], ""
		switch kind {
		case figureText:
			if value < 0 || value >= int64(texts.len()) {
				return nil, fmt.Errorf("figure %d is text %d of %d", j, value, texts.len())
			}
			text = texts.at(int(value))
		case figureDate:
			if _, err := fromYMD(int32(value)); err != nil || value != int64(int32(value)) || value == 0 {
				return nil, fmt.Errorf("figure %d: %d is not a date YYYYMMDD", j, value)
			}
		}
		f, ok := measure.FigureOf(kind, value, text)
		if !ok {
			return nil, fmt.Errorf("figure %d is of kind %d, not one of the protocol's", j, kind)
		}
		out[j] = f
	}
	return out, nil
}

// conditionLists makes an answer's outcomes' lists of conditions, one
// list for all outcomes whose conditions came out alike — the same
// conditions, held or not, explained by the same texts. A batch decided
// without explanations has a few dozen such lists for its thousand
// outcomes (six conditions held or not make at most 64), and the host
// then keeps those rather than a list an outcome. Outcomes' conditions
// are therefore read, never written.
type conditionLists struct {
	names   []string
	ru, en  textColumn
	o       *pluginv1.Outcomes
	explain bool
	left    int // conditions not yet in a list

	made map[string][]measure.ConditionResult // by their key
	key  []byte
	// seen: texts an earlier outcome was explained by. A list with a
	// text no outcome had before is not looked up or kept: a text with
	// the case's figures in it is usually its case's alone.
	seen []bool
	free []measure.ConditionResult // room for the next lists
}

// of is the list of the conditions lo..hi.
func (l *conditionLists) of(lo, hi int) []measure.ConditionResult {
	o := l.o
	fresh := false
	if l.explain {
		if l.seen == nil {
			l.seen = make([]bool, l.ru.len())
		}
		for _, t := range o.Explanation[lo:hi] {
			fresh = fresh || !l.seen[t]
			l.seen[t] = true
		}
	}
	if !fresh {
		l.key = l.key[:0]
		for j := lo; j < hi; j++ {
			held := uint64(0)
			if o.Held[j] {
				held = 1
			}
			l.key = binary.AppendUvarint(l.key, uint64(o.Condition[j])<<1|held)
			if l.explain {
				l.key = binary.AppendUvarint(l.key, uint64(o.Explanation[j]))
			}
		}
		if c, ok := l.made[string(l.key)]; ok {
			l.left -= hi - lo
			return c
		}
	}
	c := l.room(hi - lo)
	for j := lo; j < hi; j++ {
		r := &c[j-lo]
		*r = measure.ConditionResult{Name: l.names[o.Condition[j]], Held: o.Held[j]}
		if l.explain {
			t := int(o.Explanation[j])
			r.Explanation = measure.Text{RU: l.ru.at(t), EN: l.en.at(t)}
		}
	}
	if !fresh {
		if l.made == nil {
			l.made = make(map[string][]measure.ConditionResult)
		}
		l.made[string(l.key)] = c
	}
	return c
}

// room is n new conditions, cut from an array made for several lists (at
// most as many as the answer's conditions not yet in one).
func (l *conditionLists) room(n int) []measure.ConditionResult {
	if n == 0 {
		return []measure.ConditionResult{} // an outcome without conditions has an empty list, not none
	}
	l.left -= n
	if n > len(l.free) {
		l.free = make([]measure.ConditionResult, max(n, min(n+l.left, 256)))
	}
	c := l.free[:n:n]
	l.free = l.free[n:]
	return c
}
