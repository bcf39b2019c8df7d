// Package measure is a measure written as a plug-in: code that decides
// who is eligible for a social support measure, how much and for how
// long, when the region's rules cannot say it (an individual plan, a
// scoring model, a calculation the law gives as an algorithm).
//
// A plug-in implements Measure; its main is serve.Measure(impl). The
// platform assembles each case from its registry — the same case schema
// the platform's own rules read (docs/rules.md) — and sends cases in
// batches.
package measure

import (
	"context"
	"time"
)

// Measure is the interface a measure plug-in implements.
type Measure interface {
	// Describe names the measure and its conditions, for the people who
	// run it and for tests.
	Describe(ctx context.Context) (Description, error)
	// Evaluate decides a batch of cases: one outcome a case, in their
	// order, each with its CaseID. A case the measure cannot decide (its
	// data is incomplete) gets an outcome with Error set, not a failed
	// batch. An error fails the whole batch and is shown as the plug-in's
	// (or, wrapped with sdk.Upstream, its system's); the host does not
	// retry it. Only a process that dies under a batch has the batch sent
	// again, whole, to its restarted process — so Evaluate must decide and
	// record nothing outside. The cases are the measure's only until
	// Evaluate returns: the SDK reads the next batch into the same cases,
	// household members and assignments. A measure that keeps something
	// past the call (a cache keyed by case ID) keeps values — a number, a
	// strings.Clone of a string — never a case, a pointer into one, or its
	// Members or Assignments. (The strings share the buffer the batch
	// arrived in, which is not reused: a string kept without a clone keeps
	// the whole buffer.)
	Evaluate(ctx context.Context, cases []Case) ([]Outcome, error)
}

// ApplicationValidator is an optional extra: a measure that implements it
// checks an application's data before the platform registers the
// application. One that does not accepts any data.
type ApplicationValidator interface {
	ValidateApplication(ctx context.Context, application map[string]string) ([]FieldProblem, error)
}

// Description is what Describe tells.
type Description struct {
	Code       string
	Name       Text
	Conditions []ConditionInfo
	// Needs are the data the measure reads: registry facts, connectors.
	Needs []string
	// Reads are the case's fields the measure reads, by their names in
	// the case schema ("person.age", "household.members.relation"; a
	// group, "person" or "household.members", stands for all its
	// fields). The platform then sends a batch only these, and every
	// other field of a case is zero: a batch is smaller by the fields a
	// measure does not read, often half. None: every field. sdktest's
	// Golden evaluates the cases both ways and fails a measure whose
	// outcomes differ, as it reads a field it does not list.
	Reads []string
}

// ConditionInfo names a condition the outcomes report.
type ConditionInfo struct {
	Name  string
	Title Text
}

// Text is a text in Russian and English.
type Text struct {
	RU string `json:"ru"`
	EN string `json:"en"`
}

// FieldProblem is what is wrong with one field of an application.
type FieldProblem struct {
	Field   string
	Message Text
}

// The case schema: what a case holds, the same for the platform's rules
// and for plug-ins. The platform's rules read these fields under their
// cel tags, and docs/rules.md describes them from the doc tags. Money is
// integer kopecks; dates are midnight UTC.

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

// Outcome is the decision on one case and its explanation.
type Outcome struct {
	CaseID   string
	Eligible bool
	// AmountKopecks, Start and End are set when Eligible; a zero End is an
	// open-ended period.
	AmountKopecks int64
	Start, End    time.Time
	Conditions    []ConditionResult
	// Figures are the case's figures its conditions' explanations name:
	// a placeholder {n} in an explanation stands for the n-th (see
	// Figure).
	Figures []Figure
	Error   string
}

// ConditionResult says whether a condition held and why: its
// Explanation, or with the outcome's figures written into it
// (Outcome.Explained).
type ConditionResult struct {
	Name        string `json:"name"`
	Held        bool   `json:"held"`
	Explanation Text   `json:"explanation"`
}

type explainKey struct{}

// WithExplanations says whether the caller of Evaluate reads the
// conditions' explanations; the SDK sets it from the host's request.
func WithExplanations(ctx context.Context, explain bool) context.Context {
	return context.WithValue(ctx, explainKey{}, explain)
}

// Explaining reports whether Evaluate's caller reads explanations. A
// measure may skip writing them when it does not (a simulation over the
// whole registry reads only whether each condition held); they are
// dropped on the way anyway. True unless the caller said otherwise.
func Explaining(ctx context.Context) bool {
	e, ok := ctx.Value(explainKey{}).(bool)
	return !ok || e
}
