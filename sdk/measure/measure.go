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
	// record nothing outside.
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

// Case is everything one evaluation sees. Money is kopecks; dates are
// midnight UTC.
type Case struct {
	ID          string
	Date        time.Time // the decision date
	Person      Subject
	Household   Household
	Minimum     Minimums
	Assignments []Assignment
	Application map[string]string
}

// Subject is the person a case is about.
type Subject struct {
	Age, AgeMonths  int64
	Sex             string // "male" or "female"
	BirthDate       time.Time
	Alive           bool
	Resident        bool   // registered in the region
	OKTMO           string // of the registered address
	Categories      []string
	DisabilityGroup int64 // 0 when none
	IncomeKopecks   int64 // own counted income over the 12 months before the decision month
	Working         bool  // earned income in the 3 months before the decision month
}

// Member is a member of the household, the subject included.
type Member struct {
	Relation        string // "self", "spouse", "child", "parent", ...
	Age, AgeMonths  int64
	Sex             string
	BirthDate       time.Time
	Categories      []string
	DisabilityGroup int64
}

// Household is the subject's household at the decision date.
type Household struct {
	Members []Member
	Size    int64
	// PerCapitaKopecks: monthly per-capita income over the 12 months
	// ending 6 months before the decision month; PerCapita3Kopecks over
	// the 3 months before it.
	PerCapitaKopecks, PerCapita3Kopecks int64
}

// Minimums are the region's subsistence minimums, kopecks a month.
type Minimums struct {
	PerCapita, WorkingAge, Pensioners, Children int64
}

// Assignment is a measure the subject receives.
type Assignment struct {
	Measure       string
	Status        string // "active" or "suspended"
	AmountKopecks int64
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
	Error         string
}

// ConditionResult says whether a condition held and why.
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
