package measure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// Simulation is a policy simulation job.
type Simulation struct {
	TenantID      uuid.UUID         `gorm:"primaryKey" json:"-"`
	ID            uuid.UUID         `gorm:"primaryKey" json:"id"`
	MeasureCode   string            `json:"measure_code"`
	VersionNumber int               `json:"version"`
	OnDate        civil.Date        `json:"date"`
	Application   string            `json:"-"`
	Status        string            `json:"status"` // queued | running | done | failed
	Persons       int               `json:"persons"`
	Result        *string           `json:"-"`
	Outcome       *SimulationResult `gorm:"-" json:"result,omitempty"`
	Error         string            `json:"error,omitempty"`
	Attempts      int               `json:"attempts"`
	LeaseUntil    *time.Time        `json:"-"`
	CreatedBy     *uuid.UUID        `json:"created_by,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	StartedAt     *time.Time        `json:"started_at,omitempty"`
	FinishedAt    *time.Time        `json:"finished_at,omitempty"`
}

func (Simulation) TableName() string { return "simulations" }

// maxSimulationAttempts bounds how often a simulation is started.
const maxSimulationAttempts = 3

// SimulationLease is how long a running simulation stays its runner's
// without progress.
const SimulationLease = time.Minute

// SubmitSimulation queues a simulation of a version (a draft too) over the
// region's registry at a date; a runner takes it up.
func (s *Service) SubmitSimulation(ctx context.Context, code string, number int, on civil.Date, application map[string]string) (Simulation, error) {
	if _, err := s.Version(ctx, code, number); err != nil {
		return Simulation{}, err
	}
	if on.IsZero() {
		inv := &fault.Invalid{}
		inv.Add("date", "is required", "")
		return Simulation{}, inv
	}
	app, err := json.Marshal(application)
	if err != nil {
		return Simulation{}, err
	}
	tid, _ := tenancy.FromContext(ctx)
	sim := Simulation{TenantID: tid, ID: uuid.Must(uuid.NewV7()), MeasureCode: code, VersionNumber: number, OnDate: on,
		Application: string(app), Status: "queued", CreatedAt: time.Now().UTC()}
	sim.CreatedBy = audit.ActorRef(ctx)
	err = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		if err := tx.Omit("result", "lease_until", "started_at", "finished_at").Create(&sim).Error; err != nil {
			return err
		}
		return audit.Append(ctx, tx, audit.Record{Action: "measure.simulate", ObjectType: "measure", ObjectID: code,
			Detail: fmt.Sprintf("simulation=%s version=%d on=%s", sim.ID, number, on)})
	})
	if err != nil {
		return Simulation{}, err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return sim, nil
}

// GetSimulation returns a simulation with its progress or result.
func (s *Service) GetSimulation(ctx context.Context, code string, id uuid.UUID) (Simulation, error) {
	var sim Simulation
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		err := tx.Where("id = ? AND measure_code = ?", id, code).Take(&sim).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fault.NotFoundf("simulation %s of measure %q", id, code)
		}
		return err
	})
	if err != nil {
		return Simulation{}, err
	}
	if sim.Result != nil {
		var r SimulationResult
		if err := json.Unmarshal([]byte(*sim.Result), &r); err != nil {
			return Simulation{}, err
		}
		sim.Outcome = &r
	}
	return sim, nil
}

// outcome is an eligible person of a simulation.
type outcome struct {
	TenantID      uuid.UUID `gorm:"primaryKey"`
	SimulationID  uuid.UUID `gorm:"primaryKey"`
	PersonID      uuid.UUID `gorm:"primaryKey"`
	AmountKopecks int64
}

func (outcome) TableName() string { return "simulation_outcomes" }

// outcomeWriter writes each page's eligible persons.
func (s *Service) outcomeWriter(ctx context.Context, sim uuid.UUID) func([]Person, []Outcome) error {
	tid, _ := tenancy.FromContext(ctx)
	return func(ps []Person, os []Outcome) error {
		var rows []outcome
		for i, o := range os {
			if o.Eligible {
				rows = append(rows, outcome{TenantID: tid, SimulationID: sim, PersonID: ps[i].ID, AmountKopecks: o.AmountKopecks})
			}
		}
		if len(rows) == 0 {
			return nil
		}
		return tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error { return tx.CreateInBatches(rows, 500).Error })
	}
}

func (s *Service) clearOutcomes(ctx context.Context, sim uuid.UUID) error {
	return tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Where("simulation_id = ?", sim).Delete(&outcome{}).Error
	})
}

// SimulationEligible pages through the persons a simulation found
// eligible, in id order after the given one.
func (s *Service) SimulationEligible(ctx context.Context, sim, after uuid.UUID, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Model(&outcome{}).Where("simulation_id = ? AND person_id > ?", sim, after).Order("person_id").Limit(limit).Pluck("person_id", &ids).Error
	})
	return ids, err
}

// RunQueued runs one queued simulation of any region now; false when there
// was none.
func (s *Service) RunQueued(ctx context.Context, log *slog.Logger) bool {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return s.runSimulation(ctx, log)
}

// RunSimulations runs queued simulations of every region until ctx ends,
// looking every poll (and when one is submitted here).
func (s *Service) RunSimulations(ctx context.Context, poll time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		for s.runSimulation(ctx, log) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// runSimulation runs one claimable simulation; false when there was none.
func (s *Service) runSimulation(ctx context.Context, log *slog.Logger) bool {
	return tenancy.NewService(s.db).FirstRegion(ctx, func(rctx context.Context, r tenancy.Tenant) bool {
		sim, ok, err := s.claimSimulation(rctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("claiming a simulation failed", "tenant", r.Code, "error", err.Error())
			}
			return false
		}
		if !ok {
			return false
		}
		log.Info("simulation started", "tenant", r.Code, "simulation", sim.ID.String(), "measure", sim.MeasureCode)
		var app map[string]string
		res, rerr := SimulationResult{}, json.Unmarshal([]byte(sim.Application), &app)
		if rerr == nil {
			rerr = s.clearOutcomes(rctx, sim.ID) // of an earlier attempt
		}
		if rerr == nil {
			res, rerr = s.simulate(rctx, sim.MeasureCode, sim.VersionNumber, sim.OnDate, app, func(done int) {
				s.progressSimulation(rctx, sim.ID, done)
			}, s.outcomeWriter(rctx, sim.ID))
		}
		if ctx.Err() != nil {
			return false // shutting down: the lease runs out and a runner starts it again
		}
		s.finishSimulation(rctx, sim.ID, res, rerr)
		if rerr != nil {
			log.Error("simulation failed", "tenant", r.Code, "simulation", sim.ID.String(), "error", rerr.Error())
		} else {
			log.Info("simulation done", "tenant", r.Code, "simulation", sim.ID.String(), "persons", res.Persons)
		}
		return true
	})
}

func (s *Service) claimSimulation(ctx context.Context) (Simulation, bool, error) {
	var sim Simulation
	claimed := false
	now := time.Now().UTC()
	err := tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		err := tx.Where("status = 'queued' OR (status = 'running' AND lease_until < ?)", now).Order("created_at").Limit(1).Take(&sim).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if sim.Attempts >= maxSimulationAttempts {
			// A simulation that took its runner down this often is not run again.
			claimed = false
			return tx.Model(&Simulation{}).Where("id = ?", sim.ID).Updates(map[string]any{"status": "failed", "finished_at": now,
				"lease_until": nil, "error": fmt.Sprintf("its runner stopped %d times", sim.Attempts)}).Error
		}
		lease := now.Add(SimulationLease)
		res := tx.Model(&Simulation{}).Where("id = ? AND (status = 'queued' OR (status = 'running' AND lease_until < ?))", sim.ID, now).
			Updates(map[string]any{"status": "running", "lease_until": lease, "started_at": now, "attempts": sim.Attempts + 1, "persons": 0})
		if res.Error != nil {
			return res.Error
		}
		claimed = res.RowsAffected == 1
		return nil
	})
	return sim, claimed, err
}

func (s *Service) progressSimulation(ctx context.Context, id uuid.UUID, done int) {
	_ = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Model(&Simulation{}).Where("id = ? AND status = 'running'", id).
			Updates(map[string]any{"persons": done, "lease_until": time.Now().UTC().Add(SimulationLease)}).Error
	})
}

func (s *Service) finishSimulation(ctx context.Context, id uuid.UUID, res SimulationResult, rerr error) {
	now := time.Now().UTC()
	changes := map[string]any{"status": "done", "finished_at": now, "lease_until": nil, "persons": res.Persons}
	if rerr != nil {
		changes["status"], changes["error"] = "failed", rerr.Error()
	} else if b, err := json.Marshal(res); err == nil {
		changes["result"] = string(b)
	}
	_ = tenancy.Tx(ctx, s.db, func(tx *gorm.DB) error {
		return tx.Model(&Simulation{}).Where("id = ?", id).Updates(changes).Error
	})
}
