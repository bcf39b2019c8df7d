package grpcplugin

import (
	"errors"
	"fmt"
	"time"

	"github.com/socialtreasury/treasury/sdk/internal/pluginv1"
	"github.com/socialtreasury/treasury/sdk/measure"
)

// A batch crosses the process boundary column by column (pluginv1.Cases,
// pluginv1.Outcomes). The functions here turn the SDK's rows into columns
// and back, and refuse columns that do not line up — a list's end past
// its column, ends going backwards, a column of the wrong length — with
// an error rather than a panic or a case given another's values.

// ymd is a date as the number YYYYMMDD; the zero time is 0.
func ymd(t time.Time) int32 {
	if t.IsZero() {
		return 0
	}
	y, m, d := t.Date()
	return int32(y*10000 + int(m)*100 + d)
}

// fromYMD reads ymd's number; 0 is the zero time.
func fromYMD(v int32) (time.Time, error) {
	if v == 0 {
		return time.Time{}, nil
	}
	y, m, d := int(v/10000), int(v/100%100), int(v%100)
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if v < 0 || y < 1 || y > 9999 || t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, fmt.Errorf("%d is not a date YYYYMMDD", v)
	}
	return t, nil
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

func casesTo(cs []measure.Case) *pluginv1.Cases {
	n := len(cs)
	var members, categories, memberCategories int
	for i := range cs {
		members += len(cs[i].Household.Members)
		categories += len(cs[i].Person.Categories)
		for _, m := range cs[i].Household.Members {
			memberCategories += len(m.Categories)
		}
	}
	c := &pluginv1.Cases{
		Id: make([]string, n), Date: make([]int32, n),
		Age: make([]int64, n), AgeMonths: make([]int64, n), Sex: make([]string, n), BirthDate: make([]int32, n),
		Alive: make([]bool, n), Resident: make([]bool, n), Oktmo: make([]string, n), CategoriesEnd: make([]uint32, n),
		DisabilityGroup: make([]int64, n), IncomeKopecks: make([]int64, n), Working: make([]bool, n),
		HouseholdSize: make([]int64, n), PerCapitaIncome: make([]int64, n), PerCapitaIncome_3M: make([]int64, n),
		MembersEnd: make([]uint32, n), MinimumPerCapita: make([]int64, n), MinimumWorkingAge: make([]int64, n),
		MinimumPensioners: make([]int64, n), MinimumChildren: make([]int64, n),
		AssignmentsEnd: make([]uint32, n), ApplicationEnd: make([]uint32, n),
		Categories: make([]string, 0, categories), MemberRelation: make([]string, 0, members), MemberAge: make([]int64, 0, members),
		MemberAgeMonths: make([]int64, 0, members), MemberSex: make([]string, 0, members), MemberBirthDate: make([]int32, 0, members),
		MemberCategoriesEnd: make([]uint32, 0, members), MemberCategories: make([]string, 0, memberCategories),
		MemberDisabilityGroup: make([]int64, 0, members),
	}
	for i := range cs {
		k, p, h := &cs[i], &cs[i].Person, &cs[i].Household
		c.Id[i], c.Date[i] = k.ID, ymd(k.Date)
		c.Age[i], c.AgeMonths[i], c.Sex[i], c.BirthDate[i] = p.Age, p.AgeMonths, p.Sex, ymd(p.BirthDate)
		c.Alive[i], c.Resident[i], c.Oktmo[i] = p.Alive, p.Resident, p.OKTMO
		c.Categories = append(c.Categories, p.Categories...)
		c.CategoriesEnd[i] = uint32(len(c.Categories))
		c.DisabilityGroup[i], c.IncomeKopecks[i], c.Working[i] = p.DisabilityGroup, p.IncomeKopecks, p.Working
		c.HouseholdSize[i], c.PerCapitaIncome[i], c.PerCapitaIncome_3M[i] = h.Size, h.PerCapitaKopecks, h.PerCapita3Kopecks
		for _, m := range h.Members {
			c.MemberRelation = append(c.MemberRelation, m.Relation)
			c.MemberAge = append(c.MemberAge, m.Age)
			c.MemberAgeMonths = append(c.MemberAgeMonths, m.AgeMonths)
			c.MemberSex = append(c.MemberSex, m.Sex)
			c.MemberBirthDate = append(c.MemberBirthDate, ymd(m.BirthDate))
			c.MemberCategories = append(c.MemberCategories, m.Categories...)
			c.MemberCategoriesEnd = append(c.MemberCategoriesEnd, uint32(len(c.MemberCategories)))
			c.MemberDisabilityGroup = append(c.MemberDisabilityGroup, m.DisabilityGroup)
		}
		c.MembersEnd[i] = uint32(len(c.MemberRelation))
		mn := &k.Minimum
		c.MinimumPerCapita[i], c.MinimumWorkingAge[i], c.MinimumPensioners[i], c.MinimumChildren[i] = mn.PerCapita, mn.WorkingAge, mn.Pensioners, mn.Children
		for _, a := range k.Assignments {
			c.AssignmentMeasure = append(c.AssignmentMeasure, a.Measure)
			c.AssignmentStatus = append(c.AssignmentStatus, a.Status)
			c.AssignmentAmount = append(c.AssignmentAmount, a.AmountKopecks)
		}
		c.AssignmentsEnd[i] = uint32(len(c.AssignmentMeasure))
		for key, v := range k.Application {
			c.ApplicationKey = append(c.ApplicationKey, key)
			c.ApplicationValue = append(c.ApplicationValue, v)
		}
		c.ApplicationEnd[i] = uint32(len(c.ApplicationKey))
	}
	return c
}

// casesFrom reads a batch's columns into cases.
func casesFrom(c *pluginv1.Cases) ([]measure.Case, error) {
	n := len(c.GetId())
	for name, l := range map[string]int{
		"date": len(c.GetDate()), "age": len(c.GetAge()), "age_months": len(c.GetAgeMonths()), "sex": len(c.GetSex()),
		"birth_date": len(c.GetBirthDate()), "alive": len(c.GetAlive()), "resident": len(c.GetResident()), "oktmo": len(c.GetOktmo()),
		"disability_group": len(c.GetDisabilityGroup()), "income_kopecks": len(c.GetIncomeKopecks()), "working": len(c.GetWorking()),
		"household_size": len(c.GetHouseholdSize()), "per_capita_income": len(c.GetPerCapitaIncome()),
		"per_capita_income_3m": len(c.GetPerCapitaIncome_3M()), "minimum_per_capita": len(c.GetMinimumPerCapita()),
		"minimum_working_age": len(c.GetMinimumWorkingAge()), "minimum_pensioners": len(c.GetMinimumPensioners()),
		"minimum_children": len(c.GetMinimumChildren()),
	} {
		if l != n {
			return nil, fmt.Errorf("column %s has %d values for %d cases", name, l, n)
		}
	}
	m := len(c.GetMemberRelation())
	for name, l := range map[string]int{"member_age": len(c.GetMemberAge()), "member_age_months": len(c.GetMemberAgeMonths()),
		"member_sex": len(c.GetMemberSex()), "member_birth_date": len(c.GetMemberBirthDate()),
		"member_disability_group": len(c.GetMemberDisabilityGroup())} {
		if l != m {
			return nil, fmt.Errorf("column %s has %d values for %d members", name, l, m)
		}
	}
	a := len(c.GetAssignmentMeasure())
	if len(c.GetAssignmentStatus()) != a || len(c.GetAssignmentAmount()) != a {
		return nil, errors.New("the assignment columns differ in length")
	}
	if len(c.GetApplicationValue()) != len(c.GetApplicationKey()) {
		return nil, errors.New("the application columns differ in length")
	}
	if err := errors.Join(
		lists(c.GetCategoriesEnd(), n, len(c.GetCategories()), "categories"),
		lists(c.GetMembersEnd(), n, m, "members"),
		lists(c.GetMemberCategoriesEnd(), m, len(c.GetMemberCategories()), "member categories"),
		lists(c.GetAssignmentsEnd(), n, a, "assignments"),
		lists(c.GetApplicationEnd(), n, len(c.GetApplicationKey()), "application"),
	); err != nil {
		return nil, err
	}
	members := make([]measure.Member, m)
	for j := range members {
		b, err := fromYMD(c.MemberBirthDate[j])
		if err != nil {
			return nil, fmt.Errorf("member %d birth_date: %w", j, err)
		}
		lo, hi := span(c.MemberCategoriesEnd, j)
		members[j] = measure.Member{Relation: c.MemberRelation[j], Age: c.MemberAge[j], AgeMonths: c.MemberAgeMonths[j], Sex: c.MemberSex[j],
			BirthDate: b, Categories: c.MemberCategories[lo:hi:hi], DisabilityGroup: c.MemberDisabilityGroup[j]}
	}
	out := make([]measure.Case, n)
	for i := range out {
		d, err := fromYMD(c.Date[i])
		if err != nil {
			return nil, fmt.Errorf("case %d date: %w", i, err)
		}
		b, err := fromYMD(c.BirthDate[i])
		if err != nil {
			return nil, fmt.Errorf("case %d birth_date: %w", i, err)
		}
		clo, chi := span(c.CategoriesEnd, i)
		mlo, mhi := span(c.MembersEnd, i)
		k := measure.Case{ID: c.Id[i], Date: d,
			Person: measure.Subject{Age: c.Age[i], AgeMonths: c.AgeMonths[i], Sex: c.Sex[i], BirthDate: b, Alive: c.Alive[i],
				Resident: c.Resident[i], OKTMO: c.Oktmo[i], Categories: c.Categories[clo:chi:chi], DisabilityGroup: c.DisabilityGroup[i],
				IncomeKopecks: c.IncomeKopecks[i], Working: c.Working[i]},
			Household: measure.Household{Members: members[mlo:mhi:mhi], Size: c.HouseholdSize[i],
				PerCapitaKopecks: c.PerCapitaIncome[i], PerCapita3Kopecks: c.PerCapitaIncome_3M[i]},
			Minimum: measure.Minimums{PerCapita: c.MinimumPerCapita[i], WorkingAge: c.MinimumWorkingAge[i],
				Pensioners: c.MinimumPensioners[i], Children: c.MinimumChildren[i]},
		}
		if lo, hi := span(c.AssignmentsEnd, i); hi > lo {
			k.Assignments = make([]measure.Assignment, hi-lo)
			for j := lo; j < hi; j++ {
				k.Assignments[j-lo] = measure.Assignment{Measure: c.AssignmentMeasure[j], Status: c.AssignmentStatus[j], AmountKopecks: c.AssignmentAmount[j]}
			}
		}
		if lo, hi := span(c.ApplicationEnd, i); hi > lo {
			k.Application = make(map[string]string, hi-lo)
			for j := lo; j < hi; j++ {
				k.Application[c.ApplicationKey[j]] = c.ApplicationValue[j]
			}
		}
		out[i] = k
	}
	return out, nil
}

// outcomesTo writes outcomes as columns; without explain, the
// explanations stay behind.
func outcomesTo(os []measure.Outcome, explain bool) *pluginv1.Outcomes {
	n := len(os)
	o := &pluginv1.Outcomes{CaseId: make([]string, n), Eligible: make([]bool, n), AmountKopecks: make([]int64, n),
		Start: make([]int32, n), End: make([]int32, n), Error: make([]string, n), ConditionsEnd: make([]uint32, n)}
	index := map[string]uint32{}
	for i := range os {
		x := &os[i]
		o.CaseId[i], o.Eligible[i], o.AmountKopecks[i] = x.CaseID, x.Eligible, x.AmountKopecks
		o.Start[i], o.End[i], o.Error[i] = ymd(x.Start), ymd(x.End), x.Error
		for _, c := range x.Conditions {
			k, ok := index[c.Name]
			if !ok {
				k = uint32(len(o.ConditionNames))
				index[c.Name] = k
				o.ConditionNames = append(o.ConditionNames, c.Name)
			}
			o.Condition = append(o.Condition, k)
			o.Held = append(o.Held, c.Held)
			if explain {
				o.ExplanationRu = append(o.ExplanationRu, c.Explanation.RU)
				o.ExplanationEn = append(o.ExplanationEn, c.Explanation.EN)
			}
		}
		o.ConditionsEnd[i] = uint32(len(o.Condition))
	}
	return o
}

// outcomesFrom reads the answer to n cases, refusing what no measure can
// mean: columns that do not line up, a negative amount, a date not in the
// calendar, a period ending before it starts.
func outcomesFrom(o *pluginv1.Outcomes, n int, explain bool) ([]measure.Outcome, error) {
	if len(o.GetCaseId()) != n {
		return nil, fmt.Errorf("%d outcomes for %d cases", len(o.GetCaseId()), n)
	}
	for name, l := range map[string]int{"eligible": len(o.GetEligible()), "amount_kopecks": len(o.GetAmountKopecks()),
		"start": len(o.GetStart()), "end": len(o.GetEnd()), "error": len(o.GetError())} {
		if l != n {
			return nil, fmt.Errorf("column %s has %d values for %d outcomes", name, l, n)
		}
	}
	k := len(o.GetCondition())
	if len(o.GetHeld()) != k {
		return nil, fmt.Errorf("%d held values for %d conditions", len(o.GetHeld()), k)
	}
	if explain && (len(o.GetExplanationRu()) != k || len(o.GetExplanationEn()) != k) {
		return nil, fmt.Errorf("%d and %d explanations for %d conditions", len(o.GetExplanationRu()), len(o.GetExplanationEn()), k)
	}
	if err := lists(o.GetConditionsEnd(), n, k, "conditions"); err != nil {
		return nil, err
	}
	names := o.GetConditionNames()
	out := make([]measure.Outcome, n)
	all := make([]measure.ConditionResult, k)
	for j := range all {
		if int(o.Condition[j]) >= len(names) {
			return nil, fmt.Errorf("condition %d names index %d of %d names", j, o.Condition[j], len(names))
		}
		all[j] = measure.ConditionResult{Name: names[o.Condition[j]], Held: o.Held[j]}
		if explain {
			all[j].Explanation = measure.Text{RU: o.ExplanationRu[j], EN: o.ExplanationEn[j]}
		}
	}
	for i := range out {
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
		out[i] = measure.Outcome{CaseID: o.CaseId[i], Eligible: o.Eligible[i], AmountKopecks: o.AmountKopecks[i], Start: start, End: end,
			Error: o.Error[i], Conditions: all[lo:hi:hi]}
	}
	return out, nil
}
