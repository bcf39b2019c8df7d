package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/synth"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// EligibilityOptions configure `treasury bench eligibility`.
type EligibilityOptions struct {
	Common
	// Persons is the size of the synthetic registry.
	Persons int
	// Regions are the regions' files (the tenants directory): the measure
	// comes from 66-sverdlovsk/measures.
	Regions fs.FS
	// EvalSeconds is how long raw CEL evaluation is measured.
	EvalSeconds float64
}

// DefaultEligibility are the defaults of `treasury bench eligibility`.
func DefaultEligibility() EligibilityOptions {
	return EligibilityOptions{Common: Common{Seconds: 1, Rounds: 1, Seed: 1}, Persons: 1_000_000, EvalSeconds: 3}
}

// eligibilityMeasure is the six-condition means-tested measure the
// benchmark runs: residence, age, a child under three, the low-income
// category, household per-capita income below the subsistence minimum, not
// yet assigned.
const eligibilityMeasure = "low_income_child"

// eligibilityDate is the decision date: a date of the years whose
// subsistence minimums the directories ship.
var eligibilityDate = civil.MustParse("2026-06-15")

// Eligibility measures deciding a means-tested measure over a whole
// registry: ours is a policy simulation as the platform runs it — cases
// assembled from the store page by page, evaluated by the compiled CEL
// version, the eligible persons written — against the baseline of one
// hand-written set-based SQL statement selecting the same set (the two are
// checked equal). It also measures raw CEL evaluations per second over
// cases assembled in memory. It returns the BENCH line, which it prints last.
func Eligibility(ctx context.Context, o EligibilityOptions, out io.Writer) (string, error) {
	if err := o.validate(); err != nil {
		return "", err
	}
	if o.Persons < 1000 || o.Persons > maxImportPersons {
		return "", configErrorf("--persons: %d is outside 1000..%d", o.Persons, maxImportPersons)
	}
	if o.Regions == nil {
		return "", configErrorf("no region files to take the measure from")
	}
	r, err := newMeansTest(ctx, "eligibility", o.Common, o.Persons, o.Regions, out)
	if err != nil {
		return "", err
	}
	defer r.s.close()
	s, p, rctx, m := r.s, r.p, r.rctx, r.m

	// Ours: the simulation job, end to end.
	stop, err := o.profile(1)
	if err != nil {
		return "", err
	}
	ours, oursSet, outcome, err := r.simulate(ctx, eligibilityMeasure, o.Log)
	if err != nil {
		return "", err
	}
	if err := stop(); err != nil {
		return "", err
	}

	// The baseline: one statement.
	t2 := time.Now()
	baseSet, err := baselineEligible(rctx, p, s.dialect, r.region, outcome.Date)
	if err != nil {
		return "", fmt.Errorf("baseline: %w", err)
	}
	baseline := time.Since(t2)
	slices.SortFunc(baseSet, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(oursSet, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	same := slices.Equal(oursSet, baseSet)
	printf(out, "ours: %d of %d persons eligible in %s (%.0f persons/s), written; baseline SQL: %d in %s; sets equal: %t\n",
		len(oursSet), outcome.Persons, ours.Round(time.Millisecond), float64(outcome.Persons)/ours.Seconds(),
		len(baseSet), baseline.Round(time.Millisecond), same)
	if !same {
		return "", fmt.Errorf("ours and the baseline disagree: %d and %d eligible, first difference %s", len(oursSet), len(baseSet), firstDifference(oursSet, baseSet))
	}

	// Raw CEL evaluation over cases assembled in memory.
	prog, err := p.Measures.Program(mustStored(p.Measures.Version(rctx, eligibilityMeasure, 1)))
	if err != nil {
		return "", err
	}
	cases, err := measure.Cases(rctx, p.Measures.Population(), uuid.Nil, 2000, eligibilityDate)
	if err != nil {
		return "", err
	}
	for len(cases) < 8192 {
		cases = append(cases, cases...)
	}
	evals, evalTime := 0, time.Duration(0)
	for t3 := time.Now(); time.Since(t3).Seconds() < o.EvalSeconds; evalTime = time.Since(t3) {
		if _, err := prog.Evaluate(ctx, cases); err != nil {
			return "", err
		}
		evals += len(cases) * len(m.Versions[0].Conditions)
	}
	perSecond := float64(evals) / evalTime.Seconds()
	printf(out, "CEL: %d condition evaluations in %s over %d cases: %.0f/s\n", evals, evalTime.Round(time.Millisecond), len(cases), perSecond)

	ratio := ours.Seconds() / baseline.Seconds()
	l := line{{"name", "eligibility"}, {"db", string(s.dialect)}, {"persons", fmt.Sprint(outcome.Persons)},
		{"eligible", fmt.Sprint(len(oursSet))}, {"ours_s", num(ours.Seconds())}, {"baseline_s", num(baseline.Seconds())},
		{"ratio", num(ratio)}, {"sets_equal", fmt.Sprint(same)}, {"cel_evals_per_s", num(perSecond)},
		{"simulation_s", num(ours.Seconds())}}
	printf(out, "%s\n", l)
	return l.String(), nil
}

func mustStored(st measure.Stored, err error) measure.Stored {
	if err != nil {
		panic(err)
	}
	return st
}

func firstDifference(a, b []uuid.UUID) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf("at %d: %s and %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one set is a prefix of the other (%d, %d)", len(a), len(b))
}

// householdKinds are the kinds of relation that make a household (as
// core/facts counts it); the set is closed under inverse.
const householdKinds = "'spouse', 'parent', 'child', 'adoptive_parent', 'adopted_child', 'guardian', 'ward', 'stepparent', 'stepchild'"

// baselineEligible is the measure's eligible set by one SQL statement,
// written by hand from the measure's six conditions and core/facts'
// definitions (household, per-capita income over 12 months ending 6 months
// before the decision month, ages by calendar): the yardstick of a
// set-based engine that knows this one measure.
func baselineEligible(ctx context.Context, p *app.Platform, dialect store.Dialect, region tenancy.Tenant, on civil.Date) ([]uuid.UUID, error) {
	shared, err := p.Measures.Population().Shared(ctx, on)
	if err != nil {
		return nil, err
	}
	minimum := shared.Minimum.PerCapita
	from, to := facts.IncomeWindow(on, 12, 6)
	age := func(birth string) string {
		if dialect == store.Postgres {
			return fmt.Sprintf("(CAST(extract(year from CAST(@d AS date)) AS int) - CAST(extract(year from %[1]s) AS int) - CAST(to_char(CAST(@d AS date), 'MM-DD') < to_char(%[1]s, 'MM-DD') AS int))", birth)
		}
		return fmt.Sprintf("(CAST(strftime('%%Y', @d) AS INTEGER) - CAST(strftime('%%Y', %[1]s) AS INTEGER) - (strftime('%%m-%%d', @d) < strftime('%%m-%%d', %[1]s)))", birth)
	}
	current := "tenant_id = @t AND superseded_at IS NULL AND valid_from <= @d AND (valid_to IS NULL OR valid_to >= @d)"
	alive := func(p string) string {
		return p + ".birth_date <= @d AND (" + p + ".death_date IS NULL OR " + p + ".death_date > @d)"
	}
	q := `WITH kin AS (
    SELECT person_id AS s, relative_id AS m FROM relations WHERE ` + current + ` AND person_id <> relative_id AND kind IN (` + householdKinds + `)
    UNION
    SELECT relative_id, person_id FROM relations WHERE ` + current + ` AND person_id <> relative_id AND kind IN (` + householdKinds + `)
), members AS (
    SELECT k.s, k.m FROM kin k JOIN persons mp ON mp.tenant_id = @t AND mp.id = k.m WHERE ` + alive("mp") + `
), income AS (
    SELECT person_id, sum(amount_kopecks) AS total FROM incomes
     WHERE tenant_id = @t AND superseded_at IS NULL AND month >= @from AND month <= @to GROUP BY person_id
), hh AS (
    SELECT mb.s, count(*) AS n, sum(coalesce(i.total, 0)) AS total FROM members mb LEFT JOIN income i ON i.person_id = mb.m GROUP BY mb.s
), young AS (
    SELECT DISTINCT k.s FROM (
        SELECT relative_id AS s, person_id AS c FROM relations WHERE ` + current + ` AND kind = 'parent' AND person_id <> relative_id
        UNION
        SELECT person_id, relative_id FROM relations WHERE ` + current + ` AND kind = 'child' AND person_id <> relative_id
    ) k JOIN persons c ON c.tenant_id = @t AND c.id = k.c
     WHERE ` + alive("c") + ` AND ` + age("c.birth_date") + ` < 3
)
SELECT p.id FROM persons p
  JOIN young y ON y.s = p.id
  LEFT JOIN hh ON hh.s = p.id
  LEFT JOIN income own ON own.person_id = p.id
 WHERE p.tenant_id = @t AND p.merged_into IS NULL
   AND substr(p.address_oktmo, 1, 2) = @oktmo2
   AND ` + age("p.birth_date") + ` >= 18
   AND EXISTS (SELECT 1 FROM person_categories c WHERE ` + strings.ReplaceAll(current, "tenant_id", "c.tenant_id") + ` AND c.person_id = p.id AND c.code = 'low_income')
   AND (coalesce(own.total, 0) + coalesce(hh.total, 0)) / 12 / (1 + coalesce(hh.n, 0)) < @minimum
   AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = @t AND a.person_id = p.id AND a.measure_code = @measure AND a.status = 'active')`
	var ids []uuid.UUID
	err = tenancy.Tx(ctx, p.DB.Gorm, func(tx *gorm.DB) error {
		return tx.Raw(q, map[string]any{"t": region.ID, "d": on, "from": from.String(), "to": to.String(), "oktmo2": region.OKTMO[:2],
			"minimum": minimum, "measure": eligibilityMeasure}).Scan(&ids).Error
	})
	return ids, err
}

// meansTest is a platform with region 01 holding the benchmark's measure
// and a synthetic registry, imported and analysed.
type meansTest struct {
	s      *scratch
	p      *app.Platform
	region tenancy.Tenant
	rctx   context.Context
	m      *measure.Measure
}

func newMeansTest(ctx context.Context, name string, o Common, persons int, regions fs.FS, out io.Writer) (*meansTest, error) {
	start := time.Now()
	s, p, err := openPlatform(ctx, o.DatabaseURL, o.Log)
	if err != nil {
		return nil, err
	}
	r := &meansTest{s: s, p: p}
	fail := func(err error) (*meansTest, error) {
		s.close()
		return nil, err
	}
	if _, err := seedAPI(ctx, p, randomHex(12)); err != nil {
		return fail(fmt.Errorf("setup: %w", err))
	}
	if r.region, err = p.Tenants.ByCode(ctx, "01"); err != nil {
		return fail(err)
	}
	r.rctx = tenancy.WithTenant(ctx, r.region.ID)
	ms, err := measure.LoadDir(regions, "66-sverdlovsk/measures")
	if err != nil {
		return fail(err)
	}
	i := slices.IndexFunc(ms, func(m *measure.Measure) bool { return m.Code == eligibilityMeasure })
	if i < 0 {
		return fail(fmt.Errorf("setup: no measure %s in 66-sverdlovsk/measures", eligibilityMeasure))
	}
	r.m = ms[i]
	if err := p.Measures.Install(r.rctx, r.m); err != nil {
		return fail(err)
	}
	file := filepath.Join(s.dataDir, "registry.ndjson")
	fh, err := os.Create(file)
	if err != nil {
		return fail(err)
	}
	st, err := synth.Write(fh, synth.Options{Seed: o.Seed, Persons: persons, RegionOKTMO: r.region.OKTMO, Today: eligibilityDate, FirstSNILS: 100_000_000})
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	if err := importFile(r.rctx, p, file, int64(st.Lines)); err != nil {
		return fail(err)
	}
	_ = os.Remove(file)
	imported := time.Since(t0)
	if s.dialect == store.Postgres {
		if err := vacuum(ctx, o.DatabaseURL, s.name, "persons", "relations", "incomes", "person_categories", "disabilities"); err != nil {
			return fail(err)
		}
	}
	printf(out, "%s: %s, %d persons (%d relations, %d incomes, %d categories; imported in %s), measure %s of region 66 on %s; setup %s\n",
		name, s.dialect, st.Persons, st.Relations, st.Incomes, st.Categories, imported.Round(time.Millisecond), eligibilityMeasure, eligibilityDate,
		time.Since(start).Round(time.Millisecond))
	return r, nil
}

// simulate runs a simulation job of a measure's version 1 over region 01
// and returns its time and its eligible persons.
func (r *meansTest) simulate(ctx context.Context, code string, log *slog.Logger) (time.Duration, []uuid.UUID, measure.SimulationResult, error) {
	t := time.Now()
	sim, err := r.p.Measures.SubmitSimulation(r.rctx, code, 1, eligibilityDate, nil)
	if err != nil {
		return 0, nil, measure.SimulationResult{}, err
	}
	if !r.p.Measures.RunQueued(ctx, log) {
		return 0, nil, measure.SimulationResult{}, fmt.Errorf("the simulation did not run")
	}
	took := time.Since(t)
	if sim, err = r.p.Measures.GetSimulation(r.rctx, code, sim.ID); err != nil {
		return 0, nil, measure.SimulationResult{}, err
	}
	if sim.Status != "done" || sim.Outcome == nil {
		return 0, nil, measure.SimulationResult{}, fmt.Errorf("the simulation of %s ended %s: %s", code, sim.Status, sim.Error)
	}
	var set []uuid.UUID
	for after := uuid.Nil; ; {
		ids, err := r.p.Measures.SimulationEligible(r.rctx, sim.ID, after, 10_000)
		if err != nil {
			return 0, nil, measure.SimulationResult{}, err
		}
		if len(ids) == 0 {
			break
		}
		set, after = append(set, ids...), ids[len(ids)-1]
	}
	return took, set, *sim.Outcome, nil
}
