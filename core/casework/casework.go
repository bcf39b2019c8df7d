// Package casework takes applications for measures from registration to
// decision within the deadlines of Government Resolution No. 564 — the
// application registered within 1 working day of its receipt, the data
// from other agencies within 2 working days of registration, the citizen
// notified within 1 working day of the decision — on the working-day
// calendar of the directories. An application's case is assembled from the
// registry and evaluated by the measure version in force; it is decided
// automatically where the measure allows and every condition holds, or by
// an approver — another than its preparer for four-eyes measures. A
// decision keeps its version and inputs, so that it can be replayed; an
// appeal is a review by another approver that supersedes it.
package casework

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/measure"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Deadlines in working days.
const (
	RegisterWithin = 1  // of receipt
	DataWithin     = 2  // of registration: interdepartmental data
	NotifyWithin   = 1  // of the decision
	DecideWithin   = 10 // of registration, unless a measure's act says otherwise
)

// Channel is how an application came.
type Channel string

const (
	BySpecialist  Channel = "specialist"
	ByIntegration Channel = "integration"
	ByPortal      Channel = "portal"
	Proactive     Channel = "proactive"
)

// Status is where an application is.
type Status string

const (
	Registered Status = "registered"
	Evaluated  Status = "evaluated"
	Decided    Status = "decided"
)

// Calendar counts working days.
type Calendar interface {
	WorkingDays(ctx context.Context, from civil.Date, n int) (civil.Date, error)
}

// Application is a request for a measure and how far it has come.
type Application struct {
	TenantID      uuid.UUID         `gorm:"primaryKey" json:"-"`
	ID            uuid.UUID         `gorm:"primaryKey" json:"id"`
	MeasureCode   string            `json:"measure_code"`
	PersonID      uuid.UUID         `json:"person_id"`
	Channel       Channel           `json:"channel"`
	Data          string            `json:"-"`
	Fields        map[string]string `gorm:"-" json:"data"`
	Status        Status            `json:"status"`
	ReceivedOn    civil.Date        `json:"received_on"`
	RegisterBy    civil.Date        `json:"register_by"`
	RegisteredAt  time.Time         `json:"registered_at"`
	RegisteredBy  *uuid.UUID        `json:"registered_by,omitempty"`
	DataBy        civil.Date        `json:"data_by"`
	EvaluatedAt   *time.Time        `json:"evaluated_at,omitempty"`
	PreparedBy    *uuid.UUID        `json:"prepared_by,omitempty"`
	VersionNumber *int              `json:"version_number,omitempty"`
	VersionSHA256 []byte            `gorm:"column:version_sha256" json:"-"`
	Inputs        *string           `json:"-"`
	InputsSHA256  []byte            `gorm:"column:inputs_sha256" json:"-"`
	Outcome       *string           `json:"-"`
	Evaluation    *measure.Outcome  `gorm:"-" json:"outcome,omitempty"`
	DecideOn      civil.Date        `json:"decide_on"`
	DecidedAt     *time.Time        `json:"decided_at,omitempty"`
	NotifyBy      *civil.Date       `json:"notify_by,omitempty"`
	NotifiedAt    *time.Time        `json:"notified_at,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

func (Application) TableName() string { return "applications" }

func (a *Application) fill() error {
	a.Fields = map[string]string{}
	if a.Data != "" {
		if err := json.Unmarshal([]byte(a.Data), &a.Fields); err != nil {
			return err
		}
	}
	if a.Outcome != nil {
		var o measure.Outcome
		if err := json.Unmarshal([]byte(*a.Outcome), &o); err != nil {
			return err
		}
		a.Evaluation = &o
	}
	return nil
}

// Decision is a grant or a refusal, with what it was taken on.
type Decision struct {
	TenantID      uuid.UUID       `gorm:"primaryKey" json:"-"`
	ID            uuid.UUID       `gorm:"primaryKey" json:"id"`
	ApplicationID uuid.UUID       `json:"application_id"`
	Kind          string          `json:"kind"` // grant | refuse
	Automatic     bool            `json:"automatic"`
	DecidedBy     *uuid.UUID      `json:"decided_by,omitempty"`
	Reason        string          `json:"reason"`
	MeasureCode   string          `json:"measure_code"`
	VersionNumber int             `json:"version_number"`
	VersionSHA256 []byte          `gorm:"column:version_sha256" json:"-"`
	Inputs        string          `json:"-"`
	InputsSHA256  []byte          `gorm:"column:inputs_sha256" json:"-"`
	Outcome       string          `json:"-"`
	Result        measure.Outcome `gorm:"-" json:"outcome"`
	AmountKopecks int64           `json:"amount_kopecks"`
	PeriodStart   *civil.Date     `json:"period_start,omitempty"`
	PeriodEnd     *civil.Date     `json:"period_end,omitempty"`
	Supersedes    *uuid.UUID      `json:"supersedes,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	// AssignmentID is the assignment a grant made (not stored here).
	AssignmentID *uuid.UUID `gorm:"-" json:"assignment_id,omitempty"`
}

func (Decision) TableName() string { return "decisions" }

// VersionSHA is the decided version's SHA-256 in hex.
func (d Decision) VersionSHA() string { return hex.EncodeToString(d.VersionSHA256) }

// InputsSHA is the inputs' SHA-256 in hex.
func (d Decision) InputsSHA() string { return hex.EncodeToString(d.InputsSHA256) }

// Service runs casework.
type Service struct {
	db       *gorm.DB
	measures *measure.Service
	calendar Calendar
	today    func() civil.Date
	now      func() time.Time
}

// NewService returns casework over db.
func NewService(db *gorm.DB, measures *measure.Service, calendar Calendar) *Service {
	return &Service{db: db, measures: measures, calendar: calendar, today: civil.Today, now: func() time.Time { return time.Now().UTC() }}
}

// SetToday fixes "today" (tests, replays of a day); the clock then stands
// at noon of that day in Moscow.
func (s *Service) SetToday(f func() civil.Date) {
	s.today = f
	s.now = func() time.Time { return f().Time().Add(9 * time.Hour) }
}

// NewApplication is what a specialist or an integration submits.
type NewApplication struct {
	Measure    string
	PersonID   uuid.UUID
	Channel    Channel
	ReceivedOn civil.Date // zero: today
	Data       map[string]string
}

// Submit registers an application, collects its case from the registry
// and evaluates it; a measure that allows automatic decisions (and does
// not need four eyes) is granted at once when every condition holds.
func (s *Service) Submit(ctx context.Context, n NewApplication) (Application, error) {
	today := s.today()
	inv := &fault.Invalid{}
	switch n.Channel {
	case BySpecialist, ByIntegration, ByPortal, Proactive:
	default:
		inv.Add("channel", "must be specialist, integration, portal or proactive", "")
	}
	if n.ReceivedOn.IsZero() {
		n.ReceivedOn = today
	}
	if n.ReceivedOn.After(today) {
		inv.Add("received_on", "is in the future", "")
	}
	if len(n.Data) > 100 {
		inv.Add("data", "has more than 100 fields", "")
	}
	for k, v := range n.Data {
		if len(k) > measure.MaxStringSize || len(v) > measure.MaxStringSize {
			inv.Add("data", fmt.Sprintf("a field or value is longer than %d bytes", measure.MaxStringSize), "")
			break
		}
	}
	if err := inv.Err(); err != nil {
		return Application{}, err
	}
	st, err := s.measures.InForce(ctx, n.Measure, today)
	if err != nil {
		return Application{}, err
	}
	// A plug-in measure may check the data itself; what it finds is the
	// caller's to mend, field by field, before anything is registered.
	problems, err := s.measures.ValidateApplication(ctx, st, n.Data)
	if err != nil {
		return Application{}, err
	}
	for _, p := range problems {
		msg := p.Message.EN
		if msg == "" {
			msg = p.Message.RU
		}
		inv.Add("data."+p.Field, msg, n.Data[p.Field])
	}
	if err := inv.Err(); err != nil {
		return Application{}, err
	}
	data, err := json.Marshal(n.Data)
	if err != nil {
		return Application{}, err
	}
	registerBy, err := s.calendar.WorkingDays(ctx, n.ReceivedOn, RegisterWithin)
	if err != nil {
		return Application{}, err
	}
	dataBy, err := s.calendar.WorkingDays(ctx, today, DataWithin)
	if err != nil {
		return Application{}, err
	}
	decideOn, err := s.calendar.WorkingDays(ctx, today, DecideWithin)
	if err != nil {
		return Application{}, err
	}
	tid, _ := tenancy.FromContext(ctx)
	now := s.now()
	a := Application{TenantID: tid, ID: uuid.Must(uuid.NewV7()), MeasureCode: n.Measure, PersonID: n.PersonID, Channel: n.Channel,
		Data: string(data), Status: Registered, ReceivedOn: n.ReceivedOn, RegisterBy: registerBy, RegisteredAt: now,
		RegisteredBy: audit.ActorRef(ctx), DataBy: dataBy, DecideOn: decideOn, CreatedAt: now, UpdatedAt: now}
	if err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		// The evaluation's columns stay NULL until Evaluate.
		if err := tx.Omit("version_number", "version_sha256", "inputs", "inputs_sha256", "outcome").Create(&a).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Action: "application.registered", ObjectType: "application", ObjectID: a.ID.String(),
			Detail: fmt.Sprintf("measure=%s person=%s channel=%s", n.Measure, n.PersonID, n.Channel)})
	}); err != nil {
		return Application{}, err
	}
	return s.Evaluate(ctx, a.ID)
}

// Evaluate (re)collects an undecided application's case and evaluates it
// by the version in force today; the caller becomes its preparer.
func (s *Service) Evaluate(ctx context.Context, id uuid.UUID) (Application, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Application{}, err
	}
	if a.Status == Decided {
		return Application{}, fault.Conflictf("application %s is decided", id)
	}
	pr, err := s.measures.Prepare(ctx, a.MeasureCode, 0, a.PersonID, s.today(), a.Fields)
	if err != nil {
		return Application{}, err
	}
	inputs, err := json.Marshal(pr.Case)
	if err != nil {
		return Application{}, err
	}
	outcome, err := json.Marshal(pr.Outcome)
	if err != nil {
		return Application{}, err
	}
	vsum, err := hex.DecodeString(pr.Version.SHA256)
	if err != nil {
		return Application{}, err
	}
	isum := sha256.Sum256(inputs)
	now := s.now()
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&Application{}).Where("id = ? AND status <> ?", id, Decided).Updates(map[string]any{
			"status": Evaluated, "evaluated_at": now, "prepared_by": audit.ActorRef(ctx), "version_number": pr.Version.Number,
			"version_sha256": vsum, "inputs": string(inputs), "inputs_sha256": isum[:], "outcome": string(outcome), "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fault.Conflictf("application %s is decided", id)
		}
		return audit.Append(ctx, tx, audit.Record{Action: "application.evaluated", ObjectType: "application", ObjectID: id.String(),
			Detail: fmt.Sprintf("measure=%s version=%d eligible=%t", a.MeasureCode, pr.Version.Number, pr.Outcome.Eligible)})
	})
	if err != nil {
		return Application{}, err
	}
	if pr.Version.AutoDecision && !pr.Version.FourEyes && pr.Outcome.Eligible {
		if _, err := s.decide(ctx, id, true, "", true); err != nil && !errors.Is(err, fault.ErrConflict) {
			return Application{}, err
		}
	}
	return s.Get(ctx, id)
}

// Get returns an application.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Application, error) {
	var a Application
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		err := tx.Where("id = ?", id).Take(&a).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fault.NotFoundf("application %s", id)
		}
		return err
	})
	if err != nil {
		return Application{}, err
	}
	return a, a.fill()
}

// Decide grants or refuses an evaluated application as the context's
// approver: a grant needs every condition to hold; a four-eyes measure's
// preparer may not decide it (403); an application is decided once (409).
func (s *Service) Decide(ctx context.Context, id uuid.UUID, grant bool, reason string) (Decision, error) {
	return s.decide(ctx, id, grant, reason, false)
}

func (s *Service) decide(ctx context.Context, id uuid.UUID, grant bool, reason string, automatic bool) (Decision, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Decision{}, err
	}
	switch {
	case a.Status == Decided:
		return Decision{}, fault.Conflictf("application %s is decided already", id)
	case a.Status != Evaluated || a.Evaluation == nil:
		return Decision{}, fault.Conflictf("application %s is not evaluated yet", id)
	}
	st, err := s.measures.Version(ctx, a.MeasureCode, *a.VersionNumber)
	if err != nil {
		return Decision{}, err
	}
	approver := audit.ActorRef(ctx)
	if !automatic {
		if approver == nil {
			return Decision{}, fault.Forbiddenf("a decision needs an approver")
		}
		if st.FourEyes && a.PreparedBy != nil && *a.PreparedBy == *approver {
			return Decision{}, fault.Forbiddenf("measure %s needs four eyes: the preparer of application %s may not decide it", a.MeasureCode, id)
		}
	}
	if grant && !a.Evaluation.Eligible {
		inv := &fault.Invalid{}
		for _, c := range a.Evaluation.Failed() {
			inv.Add("grant", "condition "+c.Name+" does not hold: "+c.Explanation.EN, "")
		}
		if a.Evaluation.Error != "" {
			inv.Add("grant", "the case could not be evaluated: "+a.Evaluation.Error, "")
		}
		return Decision{}, inv
	}
	if !grant && reason == "" {
		for _, c := range a.Evaluation.Failed() {
			reason += c.Explanation.RU + "; "
		}
		if reason == "" {
			inv := &fault.Invalid{}
			inv.Add("reason", "is required to refuse when every condition holds", "")
			return Decision{}, inv
		}
	}
	if automatic {
		approver = nil
	}
	notifyBy, err := s.calendar.WorkingDays(ctx, s.today(), NotifyWithin)
	if err != nil {
		return Decision{}, err
	}
	d := s.decision(a, grant, reason, approver, nil)
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&Application{}).Where("id = ? AND status = ?", id, Evaluated).
			Updates(map[string]any{"status": Decided, "decided_at": now, "notify_by": notifyBy, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fault.Conflictf("application %s is decided already", id)
		}
		return s.record(ctx, tx, &d, a, false)
	})
	return d, err
}

// decision is a decision on an application's evaluation.
func (s *Service) decision(a Application, grant bool, reason string, by *uuid.UUID, supersedes *uuid.UUID) Decision {
	kind := "refuse"
	if grant {
		kind = "grant"
	}
	d := Decision{TenantID: a.TenantID, ID: uuid.Must(uuid.NewV7()), ApplicationID: a.ID, Kind: kind, Automatic: by == nil,
		DecidedBy: by, Reason: reason, MeasureCode: a.MeasureCode, VersionNumber: *a.VersionNumber, VersionSHA256: a.VersionSHA256,
		Inputs: *a.Inputs, InputsSHA256: a.InputsSHA256, Outcome: *a.Outcome, Result: *a.Evaluation, Supersedes: supersedes,
		CreatedAt: s.now()}
	if grant {
		d.AmountKopecks = a.Evaluation.AmountKopecks
		start := a.Evaluation.Start
		d.PeriodStart = &start
		if !a.Evaluation.End.IsZero() {
			end := a.Evaluation.End
			d.PeriodEnd = &end
		}
	}
	return d
}

// record writes a decision and, for a grant that is not the review of a
// grant (whose assignment stands), its assignment.
func (s *Service) record(ctx context.Context, tx *gorm.DB, d *Decision, a Application, upholds bool) error {
	if err := tx.Create(d).Error; err != nil {
		if isUnique(err) {
			return fault.Conflictf("application %s is decided already", a.ID)
		}
		return err
	}
	if d.Kind == "grant" && !upholds {
		as, err := assignment.Grant(ctx, tx, a.PersonID, a.MeasureCode, d.ID, d.AmountKopecks, *d.PeriodStart, d.PeriodEnd)
		if err != nil {
			return err
		}
		d.AssignmentID = &as.ID
	}
	return audit.Append(ctx, tx, audit.Record{Action: "decision." + d.Kind, ObjectType: "application", ObjectID: a.ID.String(),
		Detail: fmt.Sprintf("decision=%s measure=%s version=%d automatic=%t", d.ID, d.MeasureCode, d.VersionNumber, d.Automatic)})
}

// isUnique tells a unique violation (GORM translates both dialects').
func isUnique(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }

// Appeal reviews a decision as the context's approver — another than the
// one who decided it (403) — and supersedes it: a grant overturned ends its
// assignment, a refusal overturned makes one. A decision is reviewed once
// (409).
func (s *Service) Appeal(ctx context.Context, decisionID uuid.UUID, grant bool, reason string) (Decision, error) {
	orig, err := s.Decision(ctx, decisionID)
	if err != nil {
		return Decision{}, err
	}
	reviewer := audit.ActorRef(ctx)
	if reviewer == nil || (orig.DecidedBy != nil && *orig.DecidedBy == *reviewer) {
		return Decision{}, fault.Forbiddenf("decision %s is reviewed by another approver than the one who took it", decisionID)
	}
	if reason == "" {
		inv := &fault.Invalid{}
		inv.Add("reason", "is required", "")
		return Decision{}, inv
	}
	a, err := s.Get(ctx, orig.ApplicationID)
	if err != nil {
		return Decision{}, err
	}
	// The review is on the inputs the decision was taken on.
	a.Inputs, a.InputsSHA256, a.Outcome, a.Evaluation = &orig.Inputs, orig.InputsSHA256, &orig.Outcome, &orig.Result
	a.VersionNumber, a.VersionSHA256 = &orig.VersionNumber, orig.VersionSHA256
	if grant && !orig.Result.Eligible {
		inv := &fault.Invalid{}
		inv.Add("grant", "the conditions did not hold on the decision's inputs; register a new application with the corrected data", "")
		return Decision{}, inv
	}
	d := s.decision(a, grant, reason, reviewer, &orig.ID)
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var reviewed int64
		if err := tx.Model(&Decision{}).Where("supersedes = ?", orig.ID).Count(&reviewed).Error; err != nil {
			return err
		}
		if reviewed > 0 {
			return fault.Conflictf("decision %s is reviewed already", orig.ID)
		}
		if orig.Kind == "grant" && !grant {
			if err := assignment.TerminateFor(ctx, tx, orig.ID, s.today(), assignment.OnIneligibility, "the grant was overturned on appeal"); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, &d, a, orig.Kind == "grant" && grant)
	})
	if err != nil {
		return Decision{}, err
	}
	return d, nil
}

// Decision returns a decision.
func (s *Service) Decision(ctx context.Context, id uuid.UUID) (Decision, error) {
	var d Decision
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		err := tx.Where("id = ?", id).Take(&d).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fault.NotFoundf("decision %s", id)
		}
		return err
	})
	if err != nil {
		return Decision{}, err
	}
	return d, json.Unmarshal([]byte(d.Outcome), &d.Result)
}

// Replay is a decision evaluated again.
type Replay struct {
	Reproduced bool            `json:"reproduced"`
	Stored     measure.Outcome `json:"stored"`
	Replayed   measure.Outcome `json:"replayed"`
}

// Replay re-evaluates a decision's stored inputs by its stored version and
// says whether the outcome is the same, to the explanation.
func (s *Service) Replay(ctx context.Context, id uuid.UUID) (Replay, error) {
	d, err := s.Decision(ctx, id)
	if err != nil {
		return Replay{}, err
	}
	if sum := sha256.Sum256([]byte(d.Inputs)); hex.EncodeToString(sum[:]) != d.InputsSHA() {
		return Replay{}, fmt.Errorf("decision %s: its inputs do not match their SHA-256", id)
	}
	out, err := s.measures.Replay(ctx, d.MeasureCode, d.VersionNumber, d.VersionSHA(), []byte(d.Inputs))
	if err != nil {
		return Replay{}, err
	}
	again, err := json.Marshal(out)
	if err != nil {
		return Replay{}, err
	}
	return Replay{Reproduced: string(again) == d.Outcome, Stored: d.Result, Replayed: out}, nil
}

// Overdue is an application late for a step.
type Overdue struct {
	Application Application `json:"application"`
	Step        string      `json:"step"` // register | data | decide | notify
	Due         civil.Date  `json:"due"`
}

// Overdue lists the region's applications late on a date for a step.
func (s *Service) Overdue(ctx context.Context, on civil.Date) ([]Overdue, error) {
	var as []Application
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("status <> ? OR notified_at IS NULL", Decided).Order("created_at").Limit(10_000).Find(&as).Error
	})
	if err != nil {
		return nil, err
	}
	var out []Overdue
	for _, a := range as {
		if err := a.fill(); err != nil {
			return nil, err
		}
		regOn := civil.Of(a.RegisteredAt.In(civil.Moscow))
		switch {
		case regOn.After(a.RegisterBy):
			// Registered late: the step is done, but late.
			out = append(out, Overdue{a, "register", a.RegisterBy})
		}
		switch {
		case a.Status == Registered && on.After(a.DataBy):
			out = append(out, Overdue{a, "data", a.DataBy})
		case a.Status != Decided && on.After(a.DecideOn):
			out = append(out, Overdue{a, "decide", a.DecideOn})
		case a.Status == Decided && a.NotifiedAt == nil && a.NotifyBy != nil && on.After(*a.NotifyBy):
			out = append(out, Overdue{a, "notify", *a.NotifyBy})
		}
	}
	return out, nil
}

// Notified records that the citizen was told of the decision.
func (s *Service) Notified(ctx context.Context, id uuid.UUID) (Application, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return Application{}, err
	}
	now := s.now()
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&Application{}).Where("id = ? AND status = ? AND notified_at IS NULL", id, Decided).
			Updates(map[string]any{"notified_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return fault.Conflictf("application %s is not decided, or its notice is recorded already", id)
		}
		return audit.Append(ctx, tx, audit.Record{Action: "application.notified", ObjectType: "application", ObjectID: id.String()})
	})
	if err != nil {
		return Application{}, err
	}
	return s.Get(ctx, id)
}

// Decisions lists an application's decisions, the first first (a review
// supersedes the one before it).
func (s *Service) Decisions(ctx context.Context, application uuid.UUID) ([]Decision, error) {
	var ds []Decision
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("application_id = ?", application).Order("created_at, id").Find(&ds).Error
	})
	if err != nil {
		return nil, err
	}
	for i := range ds {
		if err := json.Unmarshal([]byte(ds[i].Outcome), &ds[i].Result); err != nil {
			return nil, err
		}
	}
	return ds, nil
}
