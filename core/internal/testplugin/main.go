// Command testplugin is the contract measure (core/measure/measuretest)
// written as a plug-in, with faults a test can switch on through its
// configuration: the host's tests build it and run it as a region's
// plug-in. It imports only the SDK, as a region's plug-in must.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/socialtreasury/treasury/sdk"
	"github.com/socialtreasury/treasury/sdk/measure"
	"github.com/socialtreasury/treasury/sdk/serve"
)

// config switches faults on.
type config struct {
	// CrashOnce: the first Evaluate of a batch with more than one case
	// kills the process, leaving a marker in this directory so that the
	// restarted process does not crash again.
	CrashOnce string `json:"crash_once"`
	// Hang: Evaluate never answers.
	Hang bool `json:"hang"`
	// Garbage: Evaluate answers against the protocol: "count" (one outcome
	// too few), "ids" (outcomes of other cases), "amount" (a negative
	// amount).
	Garbage string `json:"garbage"`
	// EnvFile: at start, the process's environment is written here.
	EnvFile string `json:"env_file"`
	// StatFile: at start, before the handshake, the process's
	// /proc/self/stat is copied here (Linux): its priority from birth.
	StatFile string `json:"stat_file"`
	// Upstream: Evaluate fails as if the system behind it did.
	Upstream bool `json:"upstream"`
	// DumpableFile: Evaluate writes here whether the process is dumpable
	// (Linux's PR_GET_DUMPABLE: "0" or "1"), as the SDK left it.
	DumpableFile string `json:"dumpable_file"`
}

type contract struct{ cfg config }

func (contract) Describe(context.Context) (measure.Description, error) {
	return measure.Description{Code: "contract", Name: measure.Text{RU: "Контрактная мера", EN: "The contract measure"},
		Conditions: []measure.ConditionInfo{{Name: "resident"}, {Name: "adult"}, {Name: "child_under_three"}, {Name: "low_income"}},
		// What decide and explanation read: the host's contract tests
		// then hold a batch of only these fields to the rules' outcomes.
		Reads: []string{"date", "person.resident", "person.age", "person.oktmo", "household.members.relation", "household.members.age",
			"household.per_capita_income", "minimum.per_capita", "minimum.children"}}, nil
}

func (m contract) Evaluate(ctx context.Context, cases []measure.Case) ([]measure.Outcome, error) {
	if m.cfg.Hang {
		<-ctx.Done()
		time.Sleep(time.Hour) // past the deadline: the host must kill it
	}
	if m.cfg.DumpableFile != "" {
		_ = os.WriteFile(m.cfg.DumpableFile, []byte(dumpable()), 0o600)
	}
	if m.cfg.Upstream {
		return nil, sdk.Upstream(errors.New("the regional register is down"))
	}
	if m.cfg.CrashOnce != "" && len(cases) > 1 {
		marker := filepath.Join(m.cfg.CrashOnce, "crashed")
		if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
			_ = os.WriteFile(marker, []byte("1"), 0o600)
			os.Exit(3)
		}
	}
	out := make([]measure.Outcome, len(cases))
	explain := measure.Explaining(ctx)
	for i := range cases {
		out[i] = decide(&cases[i], explain)
	}
	switch m.cfg.Garbage {
	case "count":
		out = out[:len(out)-1]
	case "ids":
		for i := range out {
			out[i].CaseID = "someone else"
		}
	case "amount":
		out[0].Eligible, out[0].AmountKopecks = true, -1
	}
	return out, nil
}

// decide is the contract measure: resident, adult, a child under three in
// the household, per-capita income below the minimum; the children's
// minimum for each child under three, for 12 months from the date.
func decide(c *measure.Case, explain bool) measure.Outcome {
	under3 := int64(0)
	for _, m := range c.Household.Members {
		if m.Relation == "child" && m.Age < 3 {
			under3++
		}
	}
	held := []bool{c.Person.Resident, c.Person.Age >= 18, under3 > 0, c.Household.PerCapitaKopecks < c.Minimum.PerCapita}
	conds := make([]measure.ConditionResult, len(held))
	for i, ok := range held {
		conds[i] = measure.ConditionResult{Name: names[i], Held: ok}
		if explain {
			conds[i].Explanation = explanation(c, i, ok)
		}
	}
	o := measure.Outcome{CaseID: c.ID, Eligible: true, Conditions: conds}
	if explain && !(held[0] && held[3]) {
		// The figures the reasons name: {1} the OKTMO, {2} and {3} the
		// income and the minimum.
		o.Figures = []measure.Figure{measure.Plain(c.Person.OKTMO), measure.Money(c.Household.PerCapitaKopecks), measure.Money(c.Minimum.PerCapita)}
	}
	for _, k := range conds {
		o.Eligible = o.Eligible && k.Held
	}
	if o.Eligible {
		o.AmountKopecks = c.Minimum.Children * under3
		o.Start, o.End = c.Date, c.Date.AddDate(0, 12, 0)
	}
	return o
}

var names = []string{"resident", "adult", "child_under_three", "low_income"}

// explanation is condition i's title when it held, its reason when not
// (naming the outcome's figures); written only when the host asks
// (measure.Explaining).
func explanation(c *measure.Case, i int, held bool) measure.Text {
	titles := []measure.Text{{RU: "Проживает в регионе", EN: "Lives in the region"}, {RU: "Совершеннолетний", EN: "An adult"},
		{RU: "Есть ребёнок до трёх лет", EN: "A child under three"}, {RU: "Доход ниже ПМ", EN: "Income below the minimum"}}
	if held {
		return titles[i]
	}
	switch i {
	case 0:
		return measure.Text{RU: "ОКТМО {1} не в регионе", EN: "OKTMO {1} is not in the region"}
	case 1:
		return measure.Text{RU: fmt.Sprintf("возраст %d", c.Person.Age), EN: fmt.Sprintf("age %d", c.Person.Age)}
	case 2:
		return measure.Text{RU: "нет ребёнка до трёх лет", EN: "no child under three"}
	default:
		return measure.Text{RU: "доход {2} не ниже ПМ {3}", EN: "income {2} is not below the minimum {3}"}
	}
}

func main() {
	var cfg config
	if err := sdk.Config(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if cfg.EnvFile != "" {
		_ = os.WriteFile(cfg.EnvFile, []byte(strings.Join(os.Environ(), "\n")), 0o600)
	}
	if cfg.StatFile != "" {
		if b, err := os.ReadFile("/proc/self/stat"); err == nil {
			_ = os.WriteFile(cfg.StatFile, b, 0o600)
		}
	}
	serve.Measure(contract{cfg})
}
