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
		if c.len != n {
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
	if i == 0 {
		return 0, int(ends[0])
	}
	return int(ends[i-1]), int(ends[i])
}

// casesInto writes the cases into c, reusing its columns' arrays: the
// host sends batch after batch of the same size, and a batch's columns are
// garbage once it is sent.
func casesInto(c *pluginv1.Cases, cs []measure.Case) *pluginv1.Cases {
	n := len(cs)
	// Counted first, so that no column grows while it is written.
	var members, categories, memberCategories, assignments, fields int
	var ids, sex, oktmo, categoryBytes, relationBytes, memberSexBytes, memberCategoryBytes, assignmentBytes, fieldBytes int
	for i := range cs {
		k, p := &cs[i], &cs[i].Person
		ids, sex, oktmo = ids+len(k.ID), sex+len(p.Sex), oktmo+len(p.OKTMO)
		categories += len(p.Categories)
		for _, s := range p.Categories {
			categoryBytes += len(s)
		}
		members += len(k.Household.Members)
		for _, m := range k.Household.Members {
			relationBytes, memberSexBytes = relationBytes+len(m.Relation), memberSexBytes+len(m.Sex)
			memberCategories += len(m.Categories)
			for _, s := range m.Categories {
				memberCategoryBytes += len(s)
			}
		}
		assignments += len(k.Assignments)
		for _, a := range k.Assignments {
			assignmentBytes += len(a.Measure) + len(a.Status)
		}
		fields += len(k.Application)
		for key, v := range k.Application {
			fieldBytes += len(key) + len(v)
		}
	}
	c.Id, c.Sex, c.Oktmo = textsFor(c.Id, n, ids), textsFor(c.Sex, n, sex), textsFor(c.Oktmo, n, oktmo)
	c.Date, c.BirthDate = sized(c.Date, n), sized(c.BirthDate, n)
	c.Age, c.AgeMonths, c.DisabilityGroup, c.IncomeKopecks = sized(c.Age, n), sized(c.AgeMonths, n), sized(c.DisabilityGroup, n), sized(c.IncomeKopecks, n)
	c.Alive, c.Resident, c.Working = sized(c.Alive, n), sized(c.Resident, n), sized(c.Working, n)
	c.HouseholdSize, c.PerCapitaIncome, c.PerCapitaIncome_3M = sized(c.HouseholdSize, n), sized(c.PerCapitaIncome, n), sized(c.PerCapitaIncome_3M, n)
	c.MinimumPerCapita, c.MinimumWorkingAge = sized(c.MinimumPerCapita, n), sized(c.MinimumWorkingAge, n)
	c.MinimumPensioners, c.MinimumChildren = sized(c.MinimumPensioners, n), sized(c.MinimumChildren, n)
	c.CategoriesEnd, c.MembersEnd = sized(c.CategoriesEnd, n), sized(c.MembersEnd, n)
	c.AssignmentsEnd, c.ApplicationEnd = sized(c.AssignmentsEnd, n), sized(c.ApplicationEnd, n)
	c.Categories = textsFor(c.Categories, categories, categoryBytes)
	c.MemberRelation, c.MemberSex = textsFor(c.MemberRelation, members, relationBytes), textsFor(c.MemberSex, members, memberSexBytes)
	c.MemberAge, c.MemberAgeMonths, c.MemberDisabilityGroup = growing(c.MemberAge, members), growing(c.MemberAgeMonths, members), growing(c.MemberDisabilityGroup, members)
	c.MemberBirthDate, c.MemberCategoriesEnd = growing(c.MemberBirthDate, members), growing(c.MemberCategoriesEnd, members)
	c.MemberCategories = textsFor(c.MemberCategories, memberCategories, memberCategoryBytes)
	// Measures and statuses share a count: the bytes of both are an upper
	// bound for each.
	c.AssignmentMeasure, c.AssignmentStatus = textsFor(c.AssignmentMeasure, assignments, assignmentBytes), textsFor(c.AssignmentStatus, assignments, assignmentBytes)
	c.AssignmentAmount = growing(c.AssignmentAmount, assignments)
	c.ApplicationKey, c.ApplicationValue = textsFor(c.ApplicationKey, fields, fieldBytes), textsFor(c.ApplicationValue, fields, fieldBytes)
	for i := range cs {
		k, p, h := &cs[i], &cs[i].Person, &cs[i].Household
		addText(c.Id, k.ID)
		c.Date[i] = ymd(k.Date)
		c.Age[i], c.AgeMonths[i], c.BirthDate[i] = p.Age, p.AgeMonths, ymd(p.BirthDate)
		addText(c.Sex, p.Sex)
		c.Alive[i], c.Resident[i] = p.Alive, p.Resident
		addText(c.Oktmo, p.OKTMO)
		for _, s := range p.Categories {
			addText(c.Categories, s)
		}
		c.CategoriesEnd[i] = uint32(len(c.Categories.Ends))
		c.DisabilityGroup[i], c.IncomeKopecks[i], c.Working[i] = p.DisabilityGroup, p.IncomeKopecks, p.Working
		c.HouseholdSize[i], c.PerCapitaIncome[i], c.PerCapitaIncome_3M[i] = h.Size, h.PerCapitaKopecks, h.PerCapita3Kopecks
		for _, m := range h.Members {
			addText(c.MemberRelation, m.Relation)
			c.MemberAge = append(c.MemberAge, m.Age)
			c.MemberAgeMonths = append(c.MemberAgeMonths, m.AgeMonths)
			addText(c.MemberSex, m.Sex)
			c.MemberBirthDate = append(c.MemberBirthDate, ymd(m.BirthDate))
			for _, s := range m.Categories {
				addText(c.MemberCategories, s)
			}
			c.MemberCategoriesEnd = append(c.MemberCategoriesEnd, uint32(len(c.MemberCategories.Ends)))
			c.MemberDisabilityGroup = append(c.MemberDisabilityGroup, m.DisabilityGroup)
		}
		c.MembersEnd[i] = uint32(len(c.MemberAge))
		mn := &k.Minimum
		c.MinimumPerCapita[i], c.MinimumWorkingAge[i], c.MinimumPensioners[i], c.MinimumChildren[i] = mn.PerCapita, mn.WorkingAge, mn.Pensioners, mn.Children
		for _, a := range k.Assignments {
			addText(c.AssignmentMeasure, a.Measure)
			addText(c.AssignmentStatus, a.Status)
			c.AssignmentAmount = append(c.AssignmentAmount, a.AmountKopecks)
		}
		c.AssignmentsEnd[i] = uint32(len(c.AssignmentAmount))
		for key, v := range k.Application {
			addText(c.ApplicationKey, key)
			addText(c.ApplicationValue, v)
		}
		c.ApplicationEnd[i] = uint32(len(c.ApplicationKey.Ends))
	}
	return c
}

// casesFrom reads a batch's columns into new cases.
func casesFrom(c *pluginv1.Cases) ([]measure.Case, error) {
	return new(caseArrays).read(c)
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

// read reads a batch's columns into cases on the arrays.
func (r *caseArrays) read(c *pluginv1.Cases) ([]measure.Case, error) {
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
	n, m, a := ids.len(), relation.len(), assignmentMeasure.len()
	if err := errors.Join(
		sameLength("cases", n, column{"date", len(c.GetDate())}, column{"age", len(c.GetAge())}, column{"age_months", len(c.GetAgeMonths())},
			column{"sex", sex.len()}, column{"birth_date", len(c.GetBirthDate())}, column{"alive", len(c.GetAlive())},
			column{"resident", len(c.GetResident())}, column{"oktmo", oktmo.len()}, column{"disability_group", len(c.GetDisabilityGroup())},
			column{"income_kopecks", len(c.GetIncomeKopecks())}, column{"working", len(c.GetWorking())},
			column{"household_size", len(c.GetHouseholdSize())}, column{"per_capita_income", len(c.GetPerCapitaIncome())},
			column{"per_capita_income_3m", len(c.GetPerCapitaIncome_3M())}, column{"minimum_per_capita", len(c.GetMinimumPerCapita())},
			column{"minimum_working_age", len(c.GetMinimumWorkingAge())}, column{"minimum_pensioners", len(c.GetMinimumPensioners())},
			column{"minimum_children", len(c.GetMinimumChildren())}),
		sameLength("members", m, column{"member_age", len(c.GetMemberAge())}, column{"member_age_months", len(c.GetMemberAgeMonths())},
			column{"member_sex", memberSex.len()}, column{"member_birth_date", len(c.GetMemberBirthDate())},
			column{"member_disability_group", len(c.GetMemberDisabilityGroup())}),
		sameLength("assignments", a, column{"assignment_status", assignmentStatus.len()}, column{"assignment_amount", len(c.GetAssignmentAmount())}),
		sameLength("application fields", applicationKey.len(), column{"application_value", applicationValue.len()}),
		lists(c.GetCategoriesEnd(), n, len(categories), "categories"),
		lists(c.GetMembersEnd(), n, m, "members"),
		lists(c.GetMemberCategoriesEnd(), m, len(memberCategories), "member categories"),
		lists(c.GetAssignmentsEnd(), n, a, "assignments"),
		lists(c.GetApplicationEnd(), n, applicationKey.len(), "application"),
	); err != nil {
		return nil, err
	}
	r.members = sized(r.members, m)
	members := r.members
	for j := range members {
		b, err := fromYMD(c.MemberBirthDate[j])
		if err != nil {
			return nil, fmt.Errorf("member %d birth_date: %w", j, err)
		}
		lo, hi := span(c.MemberCategoriesEnd, j)
		members[j] = measure.Member{Relation: relation.at(j), Age: c.MemberAge[j], AgeMonths: c.MemberAgeMonths[j], Sex: memberSex.at(j),
			BirthDate: b, Categories: memberCategories[lo:hi:hi], DisabilityGroup: c.MemberDisabilityGroup[j]}
	}
	var assignments []measure.Assignment
	if a > 0 {
		r.assignments = sized(r.assignments, a)
		assignments = r.assignments
		for j := range assignments {
			assignments[j] = measure.Assignment{Measure: assignmentMeasure.at(j), Status: assignmentStatus.at(j), AmountKopecks: c.AssignmentAmount[j]}
		}
	}
	r.cases = sized(r.cases, n)
	out := r.cases
	// A batch's cases are usually decided on one date.
	lastDate, d := int32(0), time.Time{}
	for i := range out {
		if v := c.Date[i]; v != lastDate {
			var err error
			if d, err = fromYMD(v); err != nil {
				return nil, fmt.Errorf("case %d date: %w", i, err)
			}
			lastDate = v
		}
		b, err := fromYMD(c.BirthDate[i])
		if err != nil {
			return nil, fmt.Errorf("case %d birth_date: %w", i, err)
		}
		clo, chi := span(c.CategoriesEnd, i)
		mlo, mhi := span(c.MembersEnd, i)
		k := &out[i]
		*k = measure.Case{ID: ids.at(i), Date: d,
			Person: measure.Subject{Age: c.Age[i], AgeMonths: c.AgeMonths[i], Sex: sex.at(i), BirthDate: b, Alive: c.Alive[i],
				Resident: c.Resident[i], OKTMO: oktmo.at(i), Categories: categories[clo:chi:chi], DisabilityGroup: c.DisabilityGroup[i],
				IncomeKopecks: c.IncomeKopecks[i], Working: c.Working[i]},
			Household: measure.Household{Members: members[mlo:mhi:mhi], Size: c.HouseholdSize[i],
				PerCapitaKopecks: c.PerCapitaIncome[i], PerCapita3Kopecks: c.PerCapitaIncome_3M[i]},
			Minimum: measure.Minimums{PerCapita: c.MinimumPerCapita[i], WorkingAge: c.MinimumWorkingAge[i],
				Pensioners: c.MinimumPensioners[i], Children: c.MinimumChildren[i]},
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

// outcomesInto writes outcomes as columns into o, reusing its arrays;
// without explain, the explanations stay behind, and without ids the
// case ids (the host matches outcomes to cases by their order).
func outcomesInto(o *pluginv1.Outcomes, os []measure.Outcome, explain, ids bool) *pluginv1.Outcomes {
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
				t, ok := last[at].find(c.Explanation)
				if !ok {
					t = uint32(len(o.ExplanationRu.Ends))
					last[at].add(c.Explanation, t)
					addText(o.ExplanationRu, c.Explanation.RU)
					addText(o.ExplanationEn, c.Explanation.EN)
				}
				o.Explanation = append(o.Explanation, t)
			}
		}
		o.ConditionsEnd[i] = uint32(len(o.Condition))
	}
	return o
}

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
	var ru, en textColumn
	if explain {
		ru, en = u.column(o.GetExplanationRu(), "explanation_ru"), u.column(o.GetExplanationEn(), "explanation_en")
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
	if explain {
		if err := errors.Join(sameLength("conditions", k, column{"explanation", len(o.GetExplanation())}),
			sameLength("Russian texts", ru.len(), column{"explanation_en", en.len()})); err != nil {
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
	l.key = l.key[:0]
	fresh := false
	for j := lo; j < hi; j++ {
		held := uint64(0)
		if o.Held[j] {
			held = 1
		}
		l.key = binary.AppendUvarint(l.key, uint64(o.Condition[j])<<1|held)
		if l.explain {
			t := o.Explanation[j]
			if l.seen == nil {
				l.seen = make([]bool, l.ru.len())
			}
			fresh = fresh || !l.seen[t]
			l.seen[t] = true
			l.key = binary.AppendUvarint(l.key, uint64(t))
		}
	}
	if !fresh {
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
