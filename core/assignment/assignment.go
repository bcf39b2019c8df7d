// Package assignment keeps what persons receive: an assignment is made from
// a granted decision (core/casework) with its amount and period, and
// changes only by new versions effective from a date — recalculated,
// suspended, resumed, terminated (for one of EGISSO's termination kinds) —
// so its history is never lost.
package assignment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Status is an assignment's state.
type Status string

const (
	Active     Status = "active"
	Suspended  Status = "suspended"
	Terminated Status = "terminated"
)

// Termination is why an assignment ended, as EGISSO's termination kinds
// say it.
type Termination string

const (
	OnRecalculation       Termination = "recalculation"
	OnIneligibility       Termination = "ineligibility"
	OnEndOfRight          Termination = "end_of_right"
	OnEndOfValidityPeriod Termination = "end_of_validity_period"
	OnRecipientRefusal    Termination = "recipient_refusal"
)

var terminations = map[Termination]bool{OnRecalculation: true, OnIneligibility: true, OnEndOfRight: true, OnEndOfValidityPeriod: true, OnRecipientRefusal: true}

// Assignment is a measure a person receives.
type Assignment struct {
	TenantID        uuid.UUID   `gorm:"primaryKey" json:"-"`
	ID              uuid.UUID   `gorm:"primaryKey" json:"id"`
	PersonID        uuid.UUID   `json:"person_id"`
	MeasureCode     string      `json:"measure_code"`
	DecisionID      uuid.UUID   `json:"decision_id"`
	Status          Status      `json:"status"`
	TerminationKind string      `json:"termination_kind,omitempty"`
	AmountKopecks   int64       `json:"amount_kopecks"`
	StartOn         civil.Date  `json:"start_on"`
	EndOn           *civil.Date `json:"end_on,omitempty"`
	Version         int         `json:"version"`
	CreatedAt       time.Time   `json:"created_at"`
	UpdatedAt       time.Time   `json:"updated_at"`
	History         []Revision  `gorm:"-" json:"history,omitempty"`
}

func (Assignment) TableName() string { return "assignments" }

// Revision is what an assignment was from a date, and why.
type Revision struct {
	TenantID      uuid.UUID   `gorm:"primaryKey" json:"-"`
	AssignmentID  uuid.UUID   `gorm:"primaryKey" json:"-"`
	Version       int         `gorm:"primaryKey" json:"version"`
	EffectiveFrom civil.Date  `json:"effective_from"`
	Status        Status      `json:"status"`
	AmountKopecks int64       `json:"amount_kopecks"`
	EndOn         *civil.Date `json:"end_on,omitempty"`
	Reason        string      `json:"reason"`
	DecisionID    *uuid.UUID  `json:"decision_id,omitempty"`
	CreatedBy     *uuid.UUID  `json:"created_by,omitempty"`
	CreatedAt     time.Time   `json:"created_at"`
}

func (Revision) TableName() string { return "assignment_versions" }

// Service keeps the assignments.
type Service struct{ db *gorm.DB }

// NewService returns the assignments' service over db.
func NewService(db *gorm.DB) *Service { return &Service{db: db} }

// Grant makes an assignment from a granted decision, in the decision's
// transaction tx.
func Grant(ctx context.Context, tx *gorm.DB, person uuid.UUID, measure string, decision uuid.UUID, amount int64, start civil.Date, end *civil.Date) (Assignment, error) {
	tid, ok := tenancy.FromContext(ctx)
	if !ok {
		return Assignment{}, tenancy.ErrNoTenant
	}
	now := time.Now().UTC()
	a := Assignment{TenantID: tid, ID: uuid.Must(uuid.NewV7()), PersonID: person, MeasureCode: measure, DecisionID: decision,
		Status: Active, AmountKopecks: amount, StartOn: start, EndOn: end, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := tx.Create(&a).Error; err != nil {
		return Assignment{}, err
	}
	v := Revision{TenantID: tid, AssignmentID: a.ID, Version: 1, EffectiveFrom: start, Status: Active, AmountKopecks: amount,
		EndOn: end, Reason: "granted", DecisionID: &decision, CreatedBy: audit.ActorRef(ctx), CreatedAt: now}
	if err := tx.Create(&v).Error; err != nil {
		return Assignment{}, err
	}
	return a, audit.Append(ctx, tx, audit.Record{Action: "assignment.granted", ObjectType: "assignment", ObjectID: a.ID.String(),
		Detail: fmt.Sprintf("measure=%s amount=%d start=%s", measure, amount, start)})
}

// TerminateFor ends the assignments made from a decision, in tx (a review
// that overturned the grant).
func TerminateFor(ctx context.Context, tx *gorm.DB, decision uuid.UUID, from civil.Date, kind Termination, reason string) error {
	var as []Assignment
	if err := tx.Where("decision_id = ? AND status <> ?", decision, Terminated).Find(&as).Error; err != nil {
		return err
	}
	for _, a := range as {
		if _, err := change(ctx, tx, a, from, Terminated, a.AmountKopecks, string(kind), reason); err != nil {
			return err
		}
	}
	return nil
}

// Get returns an assignment with its history.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Assignment, error) {
	var a Assignment
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fault.NotFoundf("assignment %s", id)
			}
			return err
		}
		return tx.Where("assignment_id = ?", id).Order("version").Find(&a.History).Error
	})
	return a, err
}

// OfPerson lists a person's assignments that are not terminated.
func (s *Service) OfPerson(ctx context.Context, person uuid.UUID) ([]Assignment, error) {
	var as []Assignment
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("person_id = ? AND status <> ?", person, Terminated).Order("created_at").Find(&as).Error
	})
	return as, err
}

// OfPersons lists the assignments that are not terminated of many persons
// (a page of a run over the registry), by person.
func (s *Service) OfPersons(ctx context.Context, persons []uuid.UUID) (map[uuid.UUID][]Assignment, error) {
	out := map[uuid.UUID][]Assignment{}
	if len(persons) == 0 {
		return out, nil
	}
	var as []Assignment
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("person_id IN ? AND status <> ?", persons, Terminated).Order("created_at").Find(&as).Error
	})
	for _, a := range as {
		out[a.PersonID] = append(out[a.PersonID], a)
	}
	return out, err
}

// Change is a new version of an assignment.
type Change struct {
	From   civil.Date
	Reason string
	// Amount recalculates (kopecks); nil keeps the amount.
	Amount *int64
	// Status suspends (Suspended), resumes (Active) or ends (Terminated,
	// with Termination); empty keeps the status.
	Status      Status
	Termination Termination
}

// Apply makes a change effective from its date: a new version, the old
// ones kept. A terminated assignment does not change (409).
func (s *Service) Apply(ctx context.Context, id uuid.UUID, c Change) (Assignment, error) {
	inv := &fault.Invalid{}
	if c.From.IsZero() {
		inv.Add("from", "is required", "")
	}
	if c.Reason == "" {
		inv.Add("reason", "is required", "")
	}
	if c.Amount != nil && *c.Amount < 0 {
		inv.Add("amount_kopecks", "must not be negative", "")
	}
	switch c.Status {
	case "", Active, Suspended:
		if c.Termination != "" {
			inv.Add("termination", "is only for status terminated", "")
		}
	case Terminated:
		if !terminations[c.Termination] {
			inv.Add("termination", "must be recalculation, ineligibility, end_of_right, end_of_validity_period or recipient_refusal", "")
		}
	default:
		inv.Add("status", "must be active, suspended or terminated", "")
	}
	if err := inv.Err(); err != nil {
		return Assignment{}, err
	}
	var out Assignment
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		var a Assignment
		if err := tx.Where("id = ?", id).Take(&a).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return fault.NotFoundf("assignment %s", id)
			}
			return err
		}
		status, amount := a.Status, a.AmountKopecks
		if c.Status != "" {
			status = c.Status
		}
		if c.Amount != nil {
			amount = *c.Amount
		}
		var err error
		out, err = change(ctx, tx, a, c.From, status, amount, string(c.Termination), c.Reason)
		return err
	})
	if err != nil {
		return Assignment{}, err
	}
	return s.Get(ctx, out.ID)
}

func change(ctx context.Context, tx *gorm.DB, a Assignment, from civil.Date, status Status, amount int64, termination, reason string) (Assignment, error) {
	if a.Status == Terminated {
		return a, fault.Conflictf("assignment %s is terminated", a.ID)
	}
	if from.Before(a.StartOn) {
		inv := &fault.Invalid{}
		inv.Add("from", "is before the assignment starts ("+a.StartOn.String()+")", "")
		return a, inv
	}
	now := time.Now().UTC()
	end := a.EndOn
	if status == Terminated {
		last := from.AddDays(-1)
		if last.Before(a.StartOn) {
			last = a.StartOn
		}
		end = &last
	}
	res := tx.Model(&Assignment{}).Where("id = ? AND version = ?", a.ID, a.Version).Updates(map[string]any{
		"status": status, "amount_kopecks": amount, "termination_kind": termination, "end_on": end, "version": a.Version + 1, "updated_at": now})
	if res.Error != nil {
		return a, res.Error
	}
	if res.RowsAffected != 1 {
		return a, fault.Conflictf("assignment %s changed meanwhile; retry", a.ID)
	}
	v := Revision{TenantID: a.TenantID, AssignmentID: a.ID, Version: a.Version + 1, EffectiveFrom: from, Status: status,
		AmountKopecks: amount, EndOn: end, Reason: reason, CreatedBy: audit.ActorRef(ctx), CreatedAt: now}
	if err := tx.Create(&v).Error; err != nil {
		return a, err
	}
	a.Status, a.AmountKopecks, a.TerminationKind, a.EndOn, a.Version, a.UpdatedAt = status, amount, termination, end, a.Version+1, now
	return a, audit.Append(ctx, tx, audit.Record{Action: "assignment.changed", ObjectType: "assignment", ObjectID: a.ID.String(),
		Detail: fmt.Sprintf("version=%d status=%s amount=%d from=%s", a.Version, status, amount, from)})
}
