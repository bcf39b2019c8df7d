package measure

import (
	"fmt"
	"regexp"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"
)

// Text is a phrase in the two languages the platform answers in. It is
// the SDK's, so that plug-in measures' explanations reach the platform
// without being copied.
type Text = sdkmeasure.Text

// LegalAct is a measure's legal basis.
type LegalAct struct {
	Number    string     `json:"number,omitempty"`
	Date      civil.Date `json:"date"`
	Title     string     `json:"title"`
	Authority string     `json:"authority"`
	URL       string     `json:"url,omitempty"`
}

// Funding is a funding source's share of a measure's cost.
type Funding struct {
	Source       string `json:"source"` // a funding_sources code
	SharePercent int    `json:"share_percent"`
}

// Condition is a named eligibility condition: a CEL expression of type
// bool over the case, and the reason given when it does not hold — a
// template whose {expressions} are CEL over the case too, e.g. "доход
// {rub(household.per_capita_income)} выше ПМ {rub(minimum.per_capita)}".
type Condition struct {
	Name   string `json:"name"`
	Title  Text   `json:"title"`  // what holds when it holds
	Expr   string `json:"expr"`   // CEL, bool
	Reason Text   `json:"reason"` // why not, when it does not
}

// Period is where an assignment's period starts and ends: CEL expressions
// of type timestamp; an empty end is open-ended.
type Period struct {
	Start string `json:"start" required:"false"`
	End   string `json:"end,omitempty"`
}

// Version is a measure's rules and parameters over an effective period.
type Version struct {
	Number        int         `json:"number,omitempty"`
	EffectiveFrom civil.Date  `json:"effective_from"`
	EffectiveTo   *civil.Date `json:"effective_to,omitempty"`
	Name          Text        `json:"name"`
	LegalBasis    []LegalAct  `json:"legal_basis"`
	KMSZ          string      `json:"kmsz"`                 // the EGISSO classifier's code
	Categories    []string    `json:"categories,omitempty"` // recipient categories' codes
	Form          string      `json:"form"`                 // provision_forms code
	Funding       []Funding   `json:"funding"`
	Periodicity   string      `json:"periodicity"` // periodicity code
	// ApplicationRequired: no proactive provision, a citizen applies.
	ApplicationRequired bool `json:"application_required,omitempty"`
	// AutoDecision: a decision may be taken without an approver when every
	// condition holds.
	AutoDecision bool `json:"auto_decision,omitempty"`
	// FourEyes: the approver must not be the case's preparer.
	FourEyes bool `json:"four_eyes,omitempty"`
	// Conditions, Amount and Period are required of rules and absent from
	// a plug-in's version (check says which); the JSON keeps its names.
	Conditions []Condition `json:"conditions" required:"false"`
	Amount     string      `json:"amount" required:"false"` // CEL, int kopecks
	Period     Period      `json:"period" required:"false"`
	// Plugin names a measure plug-in that decides instead of the rules
	// (conditions, amount and period are then empty): its catalog name and
	// version, which the region must have enabled.
	Plugin *PluginRef `json:"plugin,omitempty"`
	Needs  []string   `json:"needs,omitempty"` // the data it needs: registry facts, connectors
}

// PluginRef names a catalog plug-in's version.
type PluginRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Measure is a region's measure: a code and its versions.
type Measure struct {
	Code     string    `json:"code"`
	Versions []Version `json:"versions"`
}

var (
	codePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,62}$`)
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

// check validates what is not CEL in a version (the rules are checked by
// Compile), adding errors under the field path prefix.
func (v *Version) check(inv *fault.Invalid, prefix string) {
	if v.Number < 1 {
		inv.Add(prefix+"number", "must be 1 or more", "")
	}
	if v.EffectiveFrom.IsZero() {
		inv.Add(prefix+"effective_from", "is required", "")
	}
	if v.EffectiveTo != nil && v.EffectiveTo.Before(v.EffectiveFrom) {
		inv.Add(prefix+"effective_to", "is before effective_from", "")
	}
	if v.Name.RU == "" {
		inv.Add(prefix+"name.ru", "is required", "")
	}
	if len(v.LegalBasis) == 0 {
		inv.Add(prefix+"legal_basis", "needs at least one legal act", "")
	}
	for i, a := range v.LegalBasis {
		p := fmt.Sprintf("%slegal_basis[%d].", prefix, i)
		if a.Number == "" {
			inv.Add(p+"number", "is required", "")
		}
		if a.Date.IsZero() {
			inv.Add(p+"date", "is required", "")
		}
		if a.Title == "" {
			inv.Add(p+"title", "is required", "")
		}
		if a.Authority == "" {
			inv.Add(p+"authority", "is required", "")
		}
	}
	if v.KMSZ == "" {
		inv.Add(prefix+"kmsz", "is required", "")
	}
	if v.Form == "" {
		inv.Add(prefix+"form", "is required", "")
	}
	if v.Periodicity == "" {
		inv.Add(prefix+"periodicity", "is required", "")
	}
	total := 0
	for i, f := range v.Funding {
		if f.Source == "" {
			inv.Add(fmt.Sprintf("%sfunding[%d].source", prefix, i), "is required", "")
		}
		if f.SharePercent < 1 || f.SharePercent > 100 {
			inv.Add(fmt.Sprintf("%sfunding[%d].share_percent", prefix, i), "must be 1..100", "")
		}
		total += f.SharePercent
	}
	if total != 100 {
		inv.Add(prefix+"funding", fmt.Sprintf("shares sum to %d %%, not 100 %%", total), "")
	}
	if v.Plugin != nil {
		v.checkPlugin(inv, prefix)
		return
	}
	if len(v.Conditions) == 0 {
		inv.Add(prefix+"conditions", "needs at least one condition", "")
	}
	seen := map[string]bool{}
	for i, c := range v.Conditions {
		p := fmt.Sprintf("%sconditions[%d].", prefix, i)
		if !namePattern.MatchString(c.Name) {
			inv.Add(p+"name", "must be lower-case latin letters, digits and _", "")
		} else if seen[c.Name] {
			inv.Add(p+"name", "repeats an earlier condition's name", "")
		}
		seen[c.Name] = true
		if c.Reason.RU == "" || c.Reason.EN == "" {
			inv.Add(p+"reason", "needs both ru and en", "")
		}
		if c.Title.RU == "" || c.Title.EN == "" {
			inv.Add(p+"title", "needs both ru and en", "")
		}
	}
	if v.Amount == "" {
		inv.Add(prefix+"amount", "is required", "")
	}
	if v.Period.Start == "" {
		inv.Add(prefix+"period.start", "is required", "")
	}
}

// checkPlugin: a plug-in's version names the plug-in and has no rules.
func (v *Version) checkPlugin(inv *fault.Invalid, prefix string) {
	if v.Plugin.Name == "" {
		inv.Add(prefix+"plugin.name", "is required", "")
	}
	if v.Plugin.Version == "" {
		inv.Add(prefix+"plugin.version", "is required", "")
	}
	if len(v.Conditions) > 0 || v.Amount != "" || v.Period != (Period{}) {
		inv.Add(prefix+"plugin", "a plug-in's version has no conditions, amount or period: the plug-in decides", "")
	}
}

// Check validates a measure: its code and every version, versions numbered
// 1, 2, … with effective periods that do not overlap.
func (m *Measure) Check() error {
	inv := &fault.Invalid{}
	if !codePattern.MatchString(m.Code) {
		inv.Add("code", "must be 2..63 lower-case latin letters, digits and _, starting with a letter", "")
	}
	for i := range m.Versions {
		v := &m.Versions[i]
		p := fmt.Sprintf("versions[%d].", i)
		v.check(inv, p)
		if v.Number != i+1 {
			inv.Add(p+"number", fmt.Sprintf("must be %d", i+1), "")
		}
		if i > 0 {
			prev := m.Versions[i-1]
			if prev.EffectiveTo == nil || !prev.EffectiveTo.Before(v.EffectiveFrom) {
				inv.Add(p+"effective_from", "overlaps the previous version's period", "")
			}
		}
		compile(v, inv, p)
	}
	return inv.Err()
}

// At returns the version in force on a date.
func (m *Measure) At(d civil.Date) (*Version, bool) {
	for i := range m.Versions {
		v := &m.Versions[i]
		if !d.Before(v.EffectiveFrom) && (v.EffectiveTo == nil || !d.After(*v.EffectiveTo)) {
			return v, true
		}
	}
	return nil, false
}
