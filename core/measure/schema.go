package measure

import "time"

// The case schema: what a rule sees. Field names in CEL are the cel tags;
// docs/rules.md is written from these types and their doc tags (RulesDoc;
// go test ./core/measure -run TestRulesDoc -update), so the two cannot
// drift. Money is integer kopecks, dates are timestamps at midnight UTC.

// Subject is the person a case is about.
type Subject struct {
	Age             int64     `json:"age" cel:"age" doc:"full years at the decision date"`
	AgeMonths       int64     `json:"age_months" cel:"age_months" doc:"full months at the decision date"`
	Sex             string    `json:"sex" cel:"sex" doc:"'male' or 'female'"`
	BirthDate       time.Time `json:"birth_date" cel:"birth_date" doc:"date of birth"`
	Alive           bool      `json:"alive" cel:"alive" doc:"alive at the decision date"`
	Resident        bool      `json:"resident" cel:"resident" doc:"registered at an address in the region (OKTMO of the region)"`
	OKTMO           string    `json:"oktmo" cel:"oktmo" doc:"OKTMO of the registered address"`
	Categories      []string  `json:"categories" cel:"categories" doc:"recipient categories in force at the decision date"`
	DisabilityGroup int64     `json:"disability_group" cel:"disability_group" doc:"disability group in force at the decision date: 1, 2, 3, 4 (disabled child), 7 (disabled since childhood); 0 when none"`
	IncomeKopecks   int64     `json:"income_kopecks" cel:"income_kopecks" doc:"the subject's own counted income over the 12 whole months before the decision month"`
	Working         bool      `json:"working" cel:"working" doc:"had earned income (salary, business) in any of the 3 whole months before the decision month"`
}

// Member is a member of the subject's household, the subject included.
type Member struct {
	Relation        string    `json:"relation" cel:"relation" doc:"how the member is related to the subject: 'self', 'spouse', 'child', 'parent' (kinship kinds' codes)"`
	Age             int64     `json:"age" cel:"age" doc:"full years at the decision date"`
	AgeMonths       int64     `json:"age_months" cel:"age_months" doc:"full months at the decision date"`
	Sex             string    `json:"sex" cel:"sex" doc:"'male' or 'female'"`
	BirthDate       time.Time `json:"birth_date" cel:"birth_date" doc:"date of birth"`
	Categories      []string  `json:"categories" cel:"categories" doc:"recipient categories in force at the decision date"`
	DisabilityGroup int64     `json:"disability_group" cel:"disability_group" doc:"disability group in force at the decision date; 0 when none"`
}

// Household is the subject's household at the decision date: spouses,
// parents and children (adoptive, step and under guardianship included)
// alive then.
type Household struct {
	Members []Member `json:"members" cel:"members" doc:"everyone in the household, the subject first (relation 'self')"`
	Size    int64    `json:"size" cel:"size" doc:"number of members"`
	// PerCapitaKopecks is over the window of the federal unified allowance:
	// 12 months ending 6 months before the decision month.
	PerCapitaKopecks int64 `json:"per_capita_income" cel:"per_capita_income" doc:"monthly per-capita income over the 12 whole months ending 6 months before the decision month"`
	// PerCapita3Kopecks is the short window some regional measures use.
	PerCapita3Kopecks int64 `json:"per_capita_income_3m" cel:"per_capita_income_3m" doc:"monthly per-capita income over the 3 whole months before the decision month"`
}

// Minimums are the region's subsistence minimums for the decision date's
// year.
type Minimums struct {
	PerCapita  int64 `json:"per_capita" cel:"per_capita" doc:"per capita, kopecks a month"`
	WorkingAge int64 `json:"working_age" cel:"working_age" doc:"for the working-age population"`
	Pensioners int64 `json:"pensioners" cel:"pensioners" doc:"for pensioners"`
	Children   int64 `json:"children" cel:"children" doc:"for children"`
}

// Assignment is a measure the subject receives at the decision date.
type Assignment struct {
	Measure       string `json:"measure" cel:"measure" doc:"the measure's code"`
	Status        string `json:"status" cel:"status" doc:"'active' or 'suspended'"`
	AmountKopecks int64  `json:"amount" cel:"amount" doc:"the current amount, kopecks"`
}

// Case is everything one evaluation sees.
type Case struct {
	// ID names the case in its outcome (a person's id, an application's).
	ID          string            `json:"id" cel:"-"`
	Date        time.Time         `json:"date" cel:"date" doc:"the decision date"`
	Person      Subject           `json:"person" cel:"person" doc:"the subject"`
	Household   Household         `json:"household" cel:"household" doc:"the subject's household"`
	Minimum     Minimums          `json:"minimum" cel:"minimum" doc:"the region's subsistence minimums for the year of the decision date"`
	Assignments []Assignment      `json:"assignments" cel:"assignments" doc:"measures the subject receives (active or suspended)"`
	Application map[string]string `json:"application" cel:"application" doc:"the application's data, by field name; empty when there is none"`
}
