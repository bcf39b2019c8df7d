package measure

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/facts"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Status is a stored version's state: a draft changes, a published version
// never does.
type Status string

const (
	Draft     Status = "draft"
	Published Status = "published"
)

// Stored is a version as the region keeps it.
type Stored struct {
	Version
	Status      Status     `json:"status"`
	SHA256      string     `json:"sha256"` // of the version's canonical JSON, which decisions record
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

type measureRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	Code      string    `gorm:"primaryKey"`
	CreatedAt time.Time
}

func (measureRow) TableName() string { return "measures" }

type versionRow struct {
	TenantID      uuid.UUID `gorm:"primaryKey"`
	Code          string    `gorm:"primaryKey"`
	Number        int       `gorm:"primaryKey"`
	Status        Status
	EffectiveFrom civil.Date
	EffectiveTo   *civil.Date
	Body          string
	BodySHA256    []byte `gorm:"column:body_sha256"`
	CreatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	PublishedBy   string
	PublishedAt   *time.Time
}

func (versionRow) TableName() string { return "measure_versions" }

// Service keeps the regions' measures and compiles each stored version
// once.
type Service struct {
	db      *gorm.DB
	cases   CaseSource
	codes   Codes
	plugins Plugins

	mu    sync.Mutex
	progs map[[32]byte]*Program // by the body's SHA-256: the same rules compile the same
	wake  chan struct{}         // a simulation was submitted
}

// CaseSource gives what a case of a person at a date is made of: the
// registry's record of the person and the inputs from elsewhere.
type CaseSource interface {
	Population
	Case(ctx context.Context, person uuid.UUID, on civil.Date) (*facts.Record, Inputs, error)
}

// NewService returns the measures' service over db (with the tenancy scope
// installed), assembling cases from cases (nil: EvaluatePerson is not
// available).
func NewService(db *gorm.DB, cases CaseSource) *Service {
	return &Service{db: db, cases: cases, progs: map[[32]byte]*Program{}, wake: make(chan struct{}, 1)}
}

// Plugins gives the evaluator of a measure plug-in the context's region
// has enabled (core/pluginhost).
type Plugins interface {
	Measure(ctx context.Context, name, version string) (Evaluator, error)
}

// UsePlugins lets versions name plug-ins; without it such a version
// cannot be saved or evaluated.
func (s *Service) UsePlugins(p Plugins) { s.plugins = p }

// checkPlugin: the plug-in a version names is enabled in the region.
func (s *Service) checkPlugin(ctx context.Context, ref PluginRef, inv *fault.Invalid) error {
	if s.plugins == nil {
		inv.Add("plugin", "this platform runs no plug-ins", ref.Name)
		return nil
	}
	if _, err := s.plugins.Measure(ctx, ref.Name, ref.Version); err != nil {
		if errors.Is(err, fault.ErrNotFound) || errors.Is(err, fault.ErrForbidden) {
			inv.Add("plugin", err.Error(), ref.Name)
			return nil
		}
		return err
	}
	return nil
}

// Evaluator is what decides by a stored version: its compiled rules, or
// the plug-in it names.
func (s *Service) Evaluator(ctx context.Context, st Stored) (Evaluator, error) {
	if ref := st.Version.Plugin; ref != nil {
		if s.plugins == nil {
			return nil, fmt.Errorf("measure version %d is decided by plug-in %s, and this platform runs no plug-ins", st.Number, ref.Name)
		}
		return s.plugins.Measure(ctx, ref.Name, ref.Version)
	}
	return s.Program(st)
}

// ValidateApplication is what the version's plug-in finds wrong with an
// application's data; nothing for a CEL version or a plug-in without the
// check (one built before it, or one that accepts any data).
func (s *Service) ValidateApplication(ctx context.Context, st Stored, data map[string]string) ([]FieldProblem, error) {
	if st.Version.Plugin == nil {
		return nil, nil
	}
	ev, err := s.Evaluator(ctx, st)
	if err != nil {
		return nil, err
	}
	v, ok := ev.(ApplicationValidator)
	if !ok {
		return nil, nil
	}
	return v.ValidateApplication(ctx, data)
}

// Codes gives a directory's codes as the context's region sees them.
type Codes interface {
	Codes(ctx context.Context, dir string) (map[string]map[string]any, error)
}

// CheckCodesWith makes saved versions' codes — form of provision, funding
// sources, periodicity, recipient categories — be checked against the
// directories. (The KMSZ code is not: the classifier is empty until a
// federal operator imports it from EGISSO.)
func (s *Service) CheckCodesWith(c Codes) { s.codes = c }

func (s *Service) checkCodes(ctx context.Context, v *Version, inv *fault.Invalid) error {
	if s.codes == nil {
		return nil
	}
	set := func(dir string) (map[string]map[string]any, error) { return s.codes.Codes(ctx, dir) }
	forms, err := set("provision_forms")
	if err != nil {
		return err
	}
	if _, ok := forms[v.Form]; !ok && v.Form != "" {
		inv.Add("form", "must be a code of the provision_forms directory", v.Form)
	}
	periods, err := set("periodicity")
	if err != nil {
		return err
	}
	if _, ok := periods[v.Periodicity]; !ok && v.Periodicity != "" {
		inv.Add("periodicity", "must be a code of the periodicity directory", v.Periodicity)
	}
	sources, err := set("funding_sources")
	if err != nil {
		return err
	}
	for i, f := range v.Funding {
		if _, ok := sources[f.Source]; !ok && f.Source != "" {
			inv.Add(fmt.Sprintf("funding[%d].source", i), "must be a code of the funding_sources directory", f.Source)
		}
	}
	cats, err := set("recipient_categories")
	if err != nil {
		return err
	}
	for i, c := range v.Categories {
		if _, ok := cats[c]; !ok {
			inv.Add(fmt.Sprintf("categories[%d]", i), "must be a code of the recipient_categories directory", c)
		}
	}
	return nil
}

// Evaluation is a what-if answer: the outcome and the version that gave it.
type Evaluation struct {
	Outcome Outcome
	Version Stored
}

// Prepared is a case ready to be decided: the version it is judged by, the
// case as assembled, and its outcome.
type Prepared struct {
	Version Stored
	Case    Case
	Outcome Outcome
}

// Prepare assembles a person's case on a date with an application's data
// and evaluates it by the published version in force then, or by the given
// version (a draft too) when number is not 0. Nothing is recorded.
func (s *Service) Prepare(ctx context.Context, code string, number int, person uuid.UUID, on civil.Date, application map[string]string) (Prepared, error) {
	if s.cases == nil {
		return Prepared{}, errors.New("measure: no case source")
	}
	var st Stored
	var err error
	if number == 0 {
		st, err = s.InForce(ctx, code, on)
	} else {
		st, err = s.Version(ctx, code, number)
	}
	if err != nil {
		return Prepared{}, err
	}
	p, err := s.Evaluator(ctx, st)
	if err != nil {
		return Prepared{}, err
	}
	rec, in, err := s.cases.Case(ctx, person, on)
	if err != nil {
		return Prepared{}, err
	}
	in.Application = application
	c := Assemble(person.String(), rec, on, in)
	out, err := p.Evaluate(ctx, []Case{c})
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{Version: st, Case: c, Outcome: out[0]}, nil
}

// EvaluatePerson is Prepare for a look — "what if" — that is audited
// (measure.evaluate) and decides nothing.
func (s *Service) EvaluatePerson(ctx context.Context, code string, number int, person uuid.UUID, on civil.Date, application map[string]string) (Evaluation, error) {
	pr, err := s.Prepare(ctx, code, number, person, on, application)
	if err != nil {
		return Evaluation{}, err
	}
	if err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return audit.Append(ctx, tx, audit.Record{Action: "measure.evaluate", ObjectType: "person", ObjectID: person.String(),
			Detail: fmt.Sprintf("measure=%s version=%d on=%s eligible=%t", code, pr.Version.Number, on, pr.Outcome.Eligible)})
	}); err != nil {
		return Evaluation{}, err
	}
	return Evaluation{Outcome: pr.Outcome, Version: pr.Version}, nil
}

// Replay evaluates stored inputs (a case's JSON) again by the stored
// version, which must still be the one with that SHA-256.
func (s *Service) Replay(ctx context.Context, code string, number int, sha256hex string, inputs []byte) (Outcome, error) {
	st, err := s.Version(ctx, code, number)
	if err != nil {
		return Outcome{}, err
	}
	if st.SHA256 != sha256hex {
		return Outcome{}, fmt.Errorf("measure %s version %d is not the version decided on: SHA-256 %s, the decision's %s", code, number, st.SHA256, sha256hex)
	}
	p, err := s.Evaluator(ctx, st)
	if err != nil {
		return Outcome{}, err
	}
	var c Case
	if err := json.Unmarshal(inputs, &c); err != nil {
		return Outcome{}, fmt.Errorf("the decision's inputs: %w", err)
	}
	out, err := p.Evaluate(ctx, []Case{c})
	if err != nil {
		return Outcome{}, err
	}
	return out[0], nil
}

// canonical is a version's stored JSON.
func canonical(v *Version) ([]byte, [32]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, [32]byte{}, err
	}
	return b, sha256.Sum256(b), nil
}

func (r versionRow) stored() (Stored, error) {
	var v Version
	dec := json.NewDecoder(bytes.NewReader([]byte(r.Body)))
	if err := dec.Decode(&v); err != nil {
		return Stored{}, fmt.Errorf("measure %s version %d: %w", r.Code, r.Number, err)
	}
	return Stored{Version: v, Status: r.Status, SHA256: fmt.Sprintf("%x", r.BodySHA256), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PublishedAt: r.PublishedAt}, nil
}

// Summary is a measure in a list: its code and versions' states.
type Summary struct {
	Code     string   `json:"code"`
	Versions []Stored `json:"versions"`
}

// List returns the region's measures with their versions, by code.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	var rows []versionRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Order("code, number").Find(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, r := range rows {
		st, err := r.stored()
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Code != r.Code {
			out = append(out, Summary{Code: r.Code})
		}
		out[len(out)-1].Versions = append(out[len(out)-1].Versions, st)
	}
	return out, nil
}

// Get returns a measure's versions.
func (s *Service) Get(ctx context.Context, code string) (Summary, error) {
	var rows []versionRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("code = ?", code).Order("number").Find(&rows).Error
	})
	if err != nil {
		return Summary{}, err
	}
	if len(rows) == 0 {
		return Summary{}, fault.NotFoundf("measure %q", code)
	}
	out := Summary{Code: code}
	for _, r := range rows {
		st, err := r.stored()
		if err != nil {
			return Summary{}, err
		}
		out.Versions = append(out.Versions, st)
	}
	return out, nil
}

// Version returns one stored version.
func (s *Service) Version(ctx context.Context, code string, number int) (Stored, error) {
	var r versionRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("code = ? AND number = ?", code, number).Take(&r).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Stored{}, fault.NotFoundf("measure %q version %d", code, number)
	}
	if err != nil {
		return Stored{}, err
	}
	return r.stored()
}

// PutDraft saves a draft version: a new measure's version 1, the next
// number of a measure, or a change of a draft. A published version cannot
// change (409). Its rules are checked and compiled first: a rule that
// cannot work is refused with its field path (422).
func (s *Service) PutDraft(ctx context.Context, code string, v Version) (Stored, error) {
	inv := &fault.Invalid{}
	if !codePattern.MatchString(code) {
		inv.Add("code", "must be 2..63 lower-case latin letters, digits and _, starting with a letter", "")
	}
	v.check(inv, "")
	p := compile(&v, inv, "")
	if err := s.checkCodes(ctx, &v, inv); err != nil {
		return Stored{}, err
	}
	if v.Plugin != nil && inv.Err() == nil {
		if err := s.checkPlugin(ctx, *v.Plugin, inv); err != nil {
			return Stored{}, err
		}
	}
	if err := inv.Err(); err != nil {
		return Stored{}, err
	}
	body, sum, err := canonical(&v)
	if err != nil {
		return Stored{}, err
	}
	now := time.Now().UTC()
	actor := actorText(ctx)
	var row versionRow
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		tid, _ := tenancy.FromContext(ctx)
		if err := tx.Where("code = ?", code).FirstOrCreate(&measureRow{TenantID: tid, Code: code, CreatedAt: now}).Error; err != nil {
			return err
		}
		var last versionRow
		err := tx.Where("code = ?", code).Order("number DESC").Limit(1).Find(&last).Error
		if err != nil {
			return err
		}
		switch {
		case v.Number == last.Number+1:
			row = versionRow{TenantID: tid, Code: code, Number: v.Number, Status: Draft, CreatedBy: actor, CreatedAt: now}
		case v.Number >= 1 && v.Number <= last.Number:
			if err := tx.Where("code = ? AND number = ?", code, v.Number).Take(&row).Error; err != nil {
				return err
			}
			if row.Status == Published {
				return fault.Conflictf("measure %s version %d is published and cannot change; save version %d", code, v.Number, last.Number+1)
			}
		default:
			inv := &fault.Invalid{}
			inv.Add("number", fmt.Sprintf("must be %d (a new version) or a draft's number", last.Number+1), "")
			return inv
		}
		row.EffectiveFrom, row.EffectiveTo, row.Body, row.BodySHA256, row.UpdatedAt = v.EffectiveFrom, v.EffectiveTo, string(body), sum[:], now
		if err := tx.Save(&row).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Action: "measure.draft", ObjectType: "measure", ObjectID: code, Detail: fmt.Sprintf("version=%d sha256=%x", v.Number, sum)})
	})
	if err != nil {
		return Stored{}, err
	}
	if p != nil {
		s.keep(sum, p)
	}
	return row.stored()
}

// Publish makes a draft final. Its effective period must not overlap any
// other published version's; publishing twice is a conflict.
func (s *Service) Publish(ctx context.Context, code string, number int) (Stored, error) {
	now := time.Now().UTC()
	actor := actorText(ctx)
	var row versionRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Where("code = ? AND number = ?", code, number).Take(&row).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fault.NotFoundf("measure %q version %d", code, number)
			}
			return err
		}
		if row.Status == Published {
			return fault.Conflictf("measure %s version %d is already published", code, number)
		}
		var others []versionRow
		if err := tx.Where("code = ? AND status = ? AND number <> ?", code, Published, number).Find(&others).Error; err != nil {
			return err
		}
		for _, o := range others {
			if overlaps(row.EffectiveFrom, row.EffectiveTo, o.EffectiveFrom, o.EffectiveTo) {
				return fault.Conflictf("measure %s version %d's period overlaps published version %d's", code, number, o.Number)
			}
		}
		res := tx.Model(&versionRow{}).Where("code = ? AND number = ? AND status = ?", code, number, Draft).
			Updates(map[string]any{"status": Published, "published_by": actor, "published_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fault.Conflictf("measure %s version %d is already published", code, number)
		}
		row.Status, row.PublishedBy, row.PublishedAt, row.UpdatedAt = Published, actor, &now, now
		return audit.Append(ctx, tx, audit.Record{Action: "measure.publish", ObjectType: "measure", ObjectID: code, Detail: fmt.Sprintf("version=%d", number)})
	})
	if err != nil {
		return Stored{}, err
	}
	return row.stored()
}

func overlaps(af civil.Date, at *civil.Date, bf civil.Date, bt *civil.Date) bool {
	return (at == nil || !at.Before(bf)) && (bt == nil || !bt.Before(af))
}

// Program returns the compiled rules of a stored version (compiled once).
func (s *Service) Program(st Stored) (*Program, error) {
	var sum [32]byte
	if b, err := hex.DecodeString(st.SHA256); err != nil || len(b) != len(sum) {
		return nil, fmt.Errorf("measure version %d: a bad sha256", st.Number)
	} else {
		copy(sum[:], b)
	}
	s.mu.Lock()
	p, ok := s.progs[sum]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	v := st.Version
	p, err := Compile(&v)
	if err != nil {
		return nil, err
	}
	s.keep(sum, p)
	return p, nil
}

func (s *Service) keep(sum [32]byte, p *Program) {
	s.mu.Lock()
	s.progs[sum] = p
	s.mu.Unlock()
}

// InForce returns the published version in force on a date.
func (s *Service) InForce(ctx context.Context, code string, on civil.Date) (Stored, error) {
	var r versionRow
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("code = ? AND status = ? AND effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)", code, Published, on, on).
			Take(&r).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Stored{}, fault.NotFoundf("a published version of measure %q in force on %s", code, on)
	}
	if err != nil {
		return Stored{}, err
	}
	return r.stored()
}

// Install saves and publishes a measure's versions that the region does
// not have yet (a region's measure files at start-up); versions it has are
// left as they are.
func (s *Service) Install(ctx context.Context, m *Measure) error {
	have, err := s.Get(ctx, m.Code)
	if err != nil && !errors.Is(err, fault.ErrNotFound) {
		return err
	}
	for _, v := range m.Versions[len(have.Versions):] {
		if _, err := s.PutDraft(ctx, m.Code, v); err != nil {
			return fmt.Errorf("measure %s version %d: %w", m.Code, v.Number, err)
		}
		if _, err := s.Publish(ctx, m.Code, v.Number); err != nil {
			return fmt.Errorf("measure %s version %d: %w", m.Code, v.Number, err)
		}
	}
	return nil
}

// SimulateVersion evaluates a version over the region's whole registry at
// a date and compares it with the published version in force then (if
// any). A measure that needs an application is simulated as if everyone
// applied with the given data.
func (s *Service) SimulateVersion(ctx context.Context, code string, number int, on civil.Date, application map[string]string, progress func(done int)) (SimulationResult, error) {
	return s.simulate(ctx, code, number, on, application, progress, nil)
}

func (s *Service) simulate(ctx context.Context, code string, number int, on civil.Date, application map[string]string,
	progress func(done int), sink func([]Person, []Outcome) error) (SimulationResult, error) {
	if s.cases == nil {
		return SimulationResult{}, errors.New("measure: no case source")
	}
	st, err := s.Version(ctx, code, number)
	if err != nil {
		return SimulationResult{}, err
	}
	p, err := s.Evaluator(ctx, st)
	if err != nil {
		return SimulationResult{}, err
	}
	var active Evaluator
	if in, err := s.InForce(ctx, code, on); err == nil && in.SHA256 == st.SHA256 {
		active = p // the version in force itself: decided once
	} else if err == nil {
		if active, err = s.Evaluator(ctx, in); err != nil {
			return SimulationResult{}, err
		}
	} else if !errors.Is(err, fault.ErrNotFound) {
		return SimulationResult{}, err
	}
	return Simulate(ctx, withApplication{s.cases, application}, p, active, on, progress, sink)
}

// withApplication gives every case of a population the same application.
type withApplication struct {
	Population
	application map[string]string
}

func (w withApplication) Shared(ctx context.Context, on civil.Date) (Inputs, error) {
	in, err := w.Population.Shared(ctx, on)
	in.Application = w.application
	return in, err
}

// Population is the region's registry as runs over it read it.
func (s *Service) Population() Population { return s.cases }

// actorText is the acting user's id for the text columns created_by and
// published_by ("" when none).
func actorText(ctx context.Context) string {
	if a := audit.ActorRef(ctx); a != nil {
		return a.String()
	}
	return ""
}
