package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/civil"
	"github.com/socialtreasury/treasury/core/measure"
)

// MeasurePath names a region's measure.
type MeasurePath struct {
	TenantPath
	Code string `path:"code" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"The measure's code."`
}

// MeasureVersionPath names one version of a measure.
type MeasureVersionPath struct {
	MeasurePath
	Number int `path:"number" minimum:"1" doc:"The version's number."`
}

type measureList struct {
	Body struct {
		Items []measure.Summary `json:"items"`
	}
}

type measureResponse struct {
	Body measure.Summary
}

type versionResponse struct {
	Body measure.Stored
}

type evaluationBody struct {
	PersonID    uuid.UUID         `json:"person_id" doc:"The person whose eligibility is asked."`
	Date        civil.Date        `json:"date" format:"date" doc:"The decision date the case is judged on."`
	Version     int               `json:"version,omitempty" minimum:"0" doc:"A version to evaluate by (a draft too); 0 or absent: the published version in force on the date."`
	Application map[string]string `json:"application,omitempty" maxProperties:"100" doc:"An application's data, as the measure's rules read it."`
}

type evaluationResponse struct {
	Body struct {
		Version int             `json:"version"`
		Status  measure.Status  `json:"status"`
		SHA256  string          `json:"sha256"`
		Outcome measure.Outcome `json:"outcome"`
	}
}

func (s *Server) registerMeasures() {
	tags := []string{"Measures"}
	base := "/api/v1/tenants/{tenant}/measures"
	read := Permission{Object: "measure", Action: "read"}

	register(s, read, huma.Operation{
		OperationID: "listMeasures", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List the region's measures and their versions",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct{ TenantPath }) (*measureList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		l, err := s.deps.Measures.List(ctx)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &measureList{}
		out.Body.Items = l
		if out.Body.Items == nil {
			out.Body.Items = []measure.Summary{}
		}
		return out, nil
	})

	register(s, read, huma.Operation{
		OperationID: "getMeasure", Method: http.MethodGet, Path: base + "/{code}", Tags: tags,
		Summary: "Read a measure with all its versions",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *MeasurePath) (*measureResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		m, err := s.deps.Measures.Get(ctx, in.Code)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &measureResponse{Body: m}, nil
	})

	register(s, Permission{Object: "measure", Action: "write"}, huma.Operation{
		OperationID: "putMeasureDraft", Method: http.MethodPut, Path: base + "/{code}/versions/{number}", Tags: tags,
		Summary: "Save a draft version",
		Description: "Creates the measure with its version 1, adds the next version, or changes a draft. The rules are " +
			"compiled first: an unknown field, a wrong type, a condition that is not a bool or a cost above the limit " +
			"is refused with 422 naming the field (body.conditions[0].expr), the position in the expression and the " +
			"expression. A published version never changes (409).",
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		MeasureVersionPath
		Body measure.Version
	}) (*versionResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		v := in.Body
		v.Number = in.Number
		st, err := s.deps.Measures.PutDraft(ctx, in.Code, v)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &versionResponse{Body: st}, nil
	})

	register(s, Permission{Object: "measure", Action: "publish"}, huma.Operation{
		OperationID: "publishMeasureVersion", Method: http.MethodPost, Path: base + "/{code}/versions/{number}/publish", Tags: tags,
		Summary:       "Publish a draft version: from now on it never changes",
		Description:   "409 when it is published already or its effective period overlaps another published version's.",
		DefaultStatus: http.StatusOK,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *MeasureVersionPath) (*versionResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		st, err := s.deps.Measures.Publish(ctx, in.Code, in.Number)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &versionResponse{Body: st}, nil
	})

	register(s, Permission{Object: "measure", Action: "evaluate"}, huma.Operation{
		OperationID: "evaluateMeasure", Method: http.MethodPost, Path: base + "/{code}/evaluate", Tags: tags,
		Summary: "What if: is a person eligible on a date, and why",
		Description: "Evaluates the measure for one person on a date — by the published version in force then, or by " +
			"the version given (a draft too) — and answers the outcome: eligible, amount in kopecks, period, and every " +
			"condition with its explanation in Russian and English. Nothing is decided; the look is audited " +
			"(measure.evaluate).",
		DefaultStatus: http.StatusOK,
		Errors:        []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		MeasurePath
		PurposeHeader
		Body evaluationBody
	}) (*evaluationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		ev, err := s.deps.Measures.EvaluatePerson(ctx, in.Code, in.Body.Version, in.Body.PersonID, in.Body.Date, in.Body.Application)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &evaluationResponse{}
		out.Body.Version, out.Body.Status, out.Body.SHA256, out.Body.Outcome = ev.Version.Number, ev.Version.Status, ev.Version.SHA256, ev.Outcome
		return out, nil
	})
}

func (s *Server) registerSimulations() {
	tags := []string{"Measures"}
	base := "/api/v1/tenants/{tenant}/measures/{code}/simulations"
	register(s, Permission{Object: "measure", Action: "simulate"}, huma.Operation{
		OperationID: "createSimulation", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Simulate a version over the whole registry at a date",
		Description: "Queues a job that evaluates the version (a draft too) for every person of the region's registry and " +
			"compares it with the published version in force on the date: eligible counts, the sum of the amounts, and " +
			"who would gain, lose or get another amount, each with a count, the cost and a sample of persons. A measure " +
			"that needs an application is simulated as if everyone applied with the given data. Answers 202 with the job; " +
			"GET its Location for progress and the result.",
		DefaultStatus: http.StatusAccepted,
		Errors:        []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		MeasurePath
		Body struct {
			Version     int               `json:"version" minimum:"1"`
			Date        civil.Date        `json:"date" format:"date"`
			Application map[string]string `json:"application,omitempty" maxProperties:"100"`
		}
	}) (*simulationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		sim, err := s.deps.Measures.SubmitSimulation(ctx, in.Code, in.Body.Version, in.Body.Date, in.Body.Application)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &simulationResponse{Location: "/api/v1/tenants/" + in.Tenant + "/measures/" + in.Code + "/simulations/" + sim.ID.String(), Body: sim}, nil
	})
	register(s, Permission{Object: "measure", Action: "read"}, huma.Operation{
		OperationID: "getSimulation", Method: http.MethodGet, Path: base + "/{id}", Tags: tags,
		Summary: "Read a simulation: status, persons done, and when done its result",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		MeasurePath
		ID uuid.UUID `path:"id"`
	}) (*simulationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		sim, err := s.deps.Measures.GetSimulation(ctx, in.Code, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &simulationResponse{Body: sim}, nil
	})
}

type simulationResponse struct {
	Location string `header:"Location"`
	Body     measure.Simulation
}
