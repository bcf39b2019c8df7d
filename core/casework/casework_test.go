package casework_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/ident"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/measure/measuretest"
	"github.com/socialtreasury/treasury/core/registry"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/synth"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var today = civil.MustParse("2026-03-10") // a Tuesday

type env struct {
	p                     *apptest.Platform
	region                context.Context
	specialist, approver1 context.Context
	approver2             context.Context
}

func newEnv(t *testing.T, d store.Dialect) *env {
	t.Helper()
	p := apptest.New(t, d)
	p.Casework.SetToday(func() civil.Date { return today })
	tn, err := p.Tenants.ByCode(context.Background(), "66")
	if err != nil {
		t.Fatal(err)
	}
	r := tenancy.WithTenant(context.Background(), tn.ID)
	as := func(role, name string) context.Context {
		return audit.WithActor(r, p.User(role, "66"), name)
	}
	e := &env{p: p, region: r, specialist: as("specialist", "specialist@66"), approver1: as("approver", "approver@66")}
	u, err := p.Auth.CreateUser(context.Background(), authUser("second-approver@66", tn.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Access.SetTenantRoles(context.Background(), u.ID, "66", []string{"approver"}); err != nil {
		t.Fatal(err)
	}
	e.approver2 = audit.WithActor(r, u.ID, "second-approver@66")
	return e
}

// measureOf publishes the contract measure under a code, changed by fn.
func (e *env) measureOf(t *testing.T, code string, fn func(*measure.Version)) {
	t.Helper()
	v := measuretest.Spec()
	fn(&v)
	if _, err := e.p.Measures.PutDraft(e.region, code, v); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Measures.Publish(e.region, code, 1); err != nil {
		t.Fatal(err)
	}
}

// family registers a mother (in the region, low income) and a child born
// on birth; it returns the mother.
func (e *env) family(t *testing.T, n int, birth string, monthly int64) uuid.UUID {
	t.Helper()
	s := func(v string) *string { return &v }
	mk := func(k int, first, b, sex string) registry.Person {
		p, err := e.p.Persons.Create(e.specialist, registry.PersonFields{SNILS: s(snilsOf(n*10 + k)), FamilyName: s("Орлова"), FirstName: s(first),
			BirthDate: dateP(b), Sex: s(sex), Address: &registry.Address{OKTMO: "65701000"}}, registry.Manual)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	mother, child := mk(1, "Анна", "1992-02-02", "female"), mk(2, "Ян", birth, "male")
	if _, _, err := e.p.Persons.PutRelation(e.specialist, registry.Relation{PersonID: child.ID, RelativeID: mother.ID, Kind: "parent",
		ValidFrom: civil.MustParse(birth), Origin: registry.Manual}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06", "2025-07", "2025-08"} {
		if _, _, err := e.p.Persons.PutIncome(e.specialist, registry.Income{PersonID: mother.ID, Month: m, Kind: "salary", AmountKopecks: monthly, Source: "fns", Origin: registry.Manual}); err != nil {
			t.Fatal(err)
		}
	}
	return mother.ID
}

func TestDecisionsAndDeadlines(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { decisionsAndDeadlines(t, d) })
	}
}

func decisionsAndDeadlines(t *testing.T, d store.Dialect) {
	e := newEnv(t, d)
	e.measureOf(t, "auto", func(v *measure.Version) { v.AutoDecision = true })
	e.measureOf(t, "four_eyes", func(v *measure.Version) { v.FourEyes = true })
	eligible := e.family(t, 40001, "2025-01-01", 1_000_000)
	tooRich := e.family(t, 40002, "2025-01-01", 99_000_000)

	// Automatic where the measure allows and every condition holds.
	a, err := e.p.Casework.Submit(e.specialist, casework.NewApplication{Measure: "auto", PersonID: eligible, Channel: casework.BySpecialist,
		ReceivedOn: civil.MustParse("2026-03-06")}) // a Friday: registration due the next working day
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != casework.Decided || a.RegisterBy.String() != "2026-03-10" || a.DataBy.String() != "2026-03-12" || a.NotifyBy == nil || a.NotifyBy.String() != "2026-03-11" {
		t.Fatalf("automatic: %+v", a)
	}
	// (8 March 2026 is a Sunday: the holiday moves to Monday the 9th.)
	as, err := e.p.Assignments.OfPerson(e.region, eligible)
	if err != nil || len(as) != 1 || as[0].Status != assignment.Active || as[0].AmountKopecks <= 0 {
		t.Fatalf("assignments %+v, %v", as, err)
	}

	// Four eyes: the preparer may not decide; another approver may, once.
	a, err = e.p.Casework.Submit(e.approver1, casework.NewApplication{Measure: "four_eyes", PersonID: eligible, Channel: casework.BySpecialist})
	if err != nil || a.Status != casework.Evaluated || a.Evaluation == nil || !a.Evaluation.Eligible {
		t.Fatalf("four eyes: %+v, %v", a, err)
	}
	if _, err := e.p.Casework.Decide(e.approver1, a.ID, true, ""); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("the preparer deciding: %v", err)
	}
	dec, err := e.p.Casework.Decide(e.approver2, a.ID, true, "")
	if err != nil || dec.Kind != "grant" || dec.AssignmentID == nil || dec.Automatic {
		t.Fatalf("the other approver: %+v, %v", dec, err)
	}
	if _, err := e.p.Casework.Decide(e.approver2, a.ID, true, ""); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("deciding twice: %v", err)
	}

	// A refusal carries the failed conditions' explanations; a grant of an
	// ineligible case is refused.
	r, err := e.p.Casework.Submit(e.specialist, casework.NewApplication{Measure: "four_eyes", PersonID: tooRich, Channel: casework.ByPortal})
	if err != nil || r.Evaluation.Eligible {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := e.p.Casework.Decide(e.approver1, r.ID, true, ""); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("granting an ineligible case: %v", err)
	}
	ref, err := e.p.Casework.Decide(e.approver1, r.ID, false, "")
	if err != nil || ref.Kind != "refuse" || !strings.Contains(ref.Reason, "не ниже ПМ") {
		t.Fatalf("refusal %+v, %v", ref, err)
	}

	// Appeal: not by the one who decided; once; a grant overturned ends its assignment.
	if _, err := e.p.Casework.Appeal(e.approver1, dec.ID, false, ""); !errors.Is(err, fault.ErrInvalid) {
		t.Fatalf("an appeal without a reason: %v", err)
	}
	if _, err := e.p.Casework.Appeal(e.approver2, dec.ID, false, "the income was misreported"); !errors.Is(err, fault.ErrForbidden) {
		t.Fatalf("an appeal reviewed by the decider: %v", err)
	}
	rev, err := e.p.Casework.Appeal(e.approver1, dec.ID, false, "the income was misreported")
	if err != nil || rev.Supersedes == nil || *rev.Supersedes != dec.ID || rev.Kind != "refuse" {
		t.Fatalf("review %+v, %v", rev, err)
	}
	if _, err := e.p.Casework.Appeal(e.approver1, dec.ID, true, "again"); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("a second review: %v", err)
	}
	got, err := e.p.Assignments.Get(e.region, *dec.AssignmentID)
	if err != nil || got.Status != assignment.Terminated || got.TerminationKind != "ineligibility" || len(got.History) != 2 {
		t.Fatalf("the overturned grant's assignment: %+v, %v", got, err)
	}

	// Overdue: the refused application's notice is late after its day.
	late, err := e.p.Casework.Overdue(e.region, civil.MustParse("2026-03-20"))
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	for _, o := range late {
		steps[o.Step]++
	}
	if steps["notify"] != 3 || len(steps) != 1 {
		t.Fatalf("overdue %v", steps)
	}
	if _, err := e.p.Casework.Notified(e.specialist, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Casework.Notified(e.specialist, r.ID); !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("notified twice: %v", err)
	}
	// Another region sees none of it.
	other, err := e.p.Tenants.ByCode(context.Background(), "16")
	if err != nil {
		t.Fatal(err)
	}
	o := tenancy.WithTenant(context.Background(), other.ID)
	if _, err := e.p.Casework.Get(o, a.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("region 16 reads 66's application: %v", err)
	}
	if _, err := e.p.Casework.Decision(o, dec.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("region 16 reads 66's decision: %v", err)
	}
}

// A thousand decisions over a synthetic registry, on ten days, by the
// demo region's six-condition measure: every one replays exactly.
func TestReplayReproducesEveryDecision(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) { replayEveryDecision(t, d) })
	}
}

func replayEveryDecision(t *testing.T, d store.Dialect) {
	e := newEnv(t, d)
	ms, err := measure.LoadDir(os.DirFS("../../tenants"), "66-sverdlovsk/measures")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := e.p.Measures.Install(e.region, m); err != nil {
			t.Fatal(err)
		}
	}
	var file bytes.Buffer
	if _, err := synth.Write(&file, synth.Options{Seed: 7, Persons: 400, RegionOKTMO: "65000000", Today: today, FirstSNILS: 300_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Persons.ImportFile(e.specialist, registry.ImportRequest{Format: registry.FormatNDJSON}, &file, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := e.p.Persons.IDs(e.region, uuid.Nil, 400)
	if err != nil || len(ids) != 400 {
		t.Fatalf("%d persons, %v", len(ids), err)
	}
	codes := []string{"low_income_child", "large_family_monthly", "labour_veteran_monthly", "jubilee_payment", "birth_lump_sum"}
	var decisions []uuid.UUID
	granted := 0
	for i := 0; len(decisions) < 1000; i++ {
		day := today.AddDays(i / 100)
		e.p.Casework.SetToday(func() civil.Date { return day })
		a, err := e.p.Casework.Submit(e.specialist, casework.NewApplication{Measure: codes[i%len(codes)], PersonID: ids[i%len(ids)], Channel: casework.Proactive})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != casework.Decided {
			if _, err := e.p.Casework.Decide(e.approver1, a.ID, false, ""); err != nil {
				t.Fatal(err)
			}
		} else {
			granted++
		}
		ds, err := e.p.Casework.Decisions(e.region, a.ID)
		if err != nil || len(ds) != 1 {
			t.Fatalf("decisions %+v, %v", ds, err)
		}
		decisions = append(decisions, ds[0].ID)
	}
	if granted == 0 || granted == len(decisions) {
		t.Fatalf("%d of %d granted: the test needs both", granted, len(decisions))
	}
	for _, id := range decisions {
		r, err := e.p.Casework.Replay(e.region, id)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Reproduced {
			t.Fatalf("decision %s: stored %+v, replayed %+v", id, r.Stored, r.Replayed)
		}
	}
	t.Logf("%d decisions (%d grants) replayed exactly", len(decisions), granted)
}

func snilsOf(n int) string { return ident.SNILSOf(200_000_000 + n) }

func dateP(s string) *civil.Date {
	d := civil.MustParse(s)
	return &d
}

func authUser(name string, tenant uuid.UUID) auth.NewUser {
	return auth.NewUser{Username: name, Tenant: tenant, Password: apptest.Password}
}

// checkingPlugins stands for the plug-in host: every plug-in is one that
// refuses an application without a plan, and decides nobody eligible.
type checkingPlugins struct{}

func (checkingPlugins) Measure(context.Context, string, string) (measure.Evaluator, error) {
	return checking{}, nil
}

type checking struct{}

func (checking) Evaluate(_ context.Context, cs []measure.Case) ([]measure.Outcome, error) {
	out := make([]measure.Outcome, len(cs))
	for i, c := range cs {
		out[i] = measure.Outcome{CaseID: c.ID}
	}
	return out, nil
}

func (checking) ValidateApplication(_ context.Context, data map[string]string) ([]measure.FieldProblem, error) {
	if data["plan"] == "" {
		return []measure.FieldProblem{{Field: "plan", Message: measure.Text{RU: "нужен план", EN: "a plan is required"}}}, nil
	}
	return nil, nil
}

// A plug-in measure's check of the application's data comes before
// anything is registered: what it finds is the caller's, by field.
func TestPluginChecksTheApplication(t *testing.T) {
	for _, d := range storetest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			e := newEnv(t, d)
			e.p.Measures.UsePlugins(checkingPlugins{})
			e.measureOf(t, "planned", func(v *measure.Version) {
				v.Plugin = &measure.PluginRef{Name: "social-contract", Version: "1.0.0"}
				v.Conditions, v.Amount, v.Period = nil, "", measure.Period{}
			})
			person := e.family(t, 40101, "2025-01-01", 1_000_000)
			applications := func() int64 {
				var n int64
				if err := tenancy.Tx(e.region, e.p.DB.Gorm, func(tx *gorm.DB) error {
					return tx.Table("applications").Count(&n).Error
				}); err != nil {
					t.Fatal(err)
				}
				return n
			}
			_, err := e.p.Casework.Submit(e.specialist, casework.NewApplication{Measure: "planned", PersonID: person, Channel: casework.BySpecialist,
				Data: map[string]string{"activity": "job_search"}})
			var inv *fault.Invalid
			if !errors.As(err, &inv) || len(inv.Fields) != 1 || inv.Fields[0].Field != "data.plan" || inv.Fields[0].Message != "a plan is required" {
				t.Fatalf("an application without the plan the plug-in requires: %v", err)
			}
			if n := applications(); n != 0 {
				t.Fatalf("%d applications registered after a refusal", n)
			}
			a, err := e.p.Casework.Submit(e.specialist, casework.NewApplication{Measure: "planned", PersonID: person, Channel: casework.BySpecialist,
				Data: map[string]string{"plan": "2026-04:training"}})
			if err != nil || a.Status != casework.Evaluated {
				t.Fatalf("an application the plug-in accepts: %+v, %v", a, err)
			}
			if n := applications(); n != 1 {
				t.Fatalf("%d applications registered, want 1", n)
			}
		})
	}
}
