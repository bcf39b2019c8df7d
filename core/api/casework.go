package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/assignment"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/casework"
	"github.com/socialtreasury/treasury/core/civil"
)

// IDPath names an object of a region by its id.
type IDPath struct {
	TenantPath
	ID uuid.UUID `path:"id" doc:"The object's id."`
}

type applicationResponse struct {
	Body casework.Application
}

type decisionResponse struct {
	Body casework.Decision
}

type assignmentResponse struct {
	Body assignment.Assignment
}

type decideBody struct {
	Grant  bool   `json:"grant" doc:"true grants (every condition must hold), false refuses."`
	Reason string `json:"reason,omitempty" maxLength:"2000" doc:"Why; a refusal without one carries the failed conditions' explanations."`
}

func (s *Server) registerCasework() {
	tags := []string{"Applications and decisions"}
	base := "/api/v1/tenants/{tenant}"

	register(s, Permission{Object: "application", Action: "create"}, huma.Operation{
		OperationID: "createApplication", Method: http.MethodPost, Path: base + "/applications", Tags: tags,
		Summary: "Register an application for a measure",
		Description: "Registers the application (due within 1 working day of its receipt), collects the person's case " +
			"from the registry (due within 2 working days) and evaluates it by the measure version in force. A measure " +
			"that allows automatic decisions, without four eyes, is granted at once when every condition holds; otherwise " +
			"the application waits for an approver. The channel is integration for a service account's submissions. " +
			"When the version in force names a plug-in that checks applications, it checks the data first: its problems " +
			"are field errors (body.data.<field>) and nothing is registered. A plug-in that fails is a 502 saying which.",
		Errors: []int{http.StatusNotFound, http.StatusBadGateway},
	}, func(ctx context.Context, in *struct {
		TenantPath
		PurposeHeader
		Body struct {
			Measure    string            `json:"measure" pattern:"^[a-z][a-z0-9_]{1,62}$" doc:"The measure's code."`
			PersonID   uuid.UUID         `json:"person_id"`
			Channel    string            `json:"channel,omitempty" enum:"specialist,portal,proactive" doc:"How it came; specialist by default (integration for service accounts)."`
			ReceivedOn civil.Date        `json:"received_on,omitzero" format:"date" doc:"The day it was received; today by default."`
			Data       map[string]string `json:"data,omitempty" maxProperties:"100" doc:"The application's data the measure's rules read."`
		}
	}) (*applicationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		ch := casework.Channel(in.Body.Channel)
		if ch == "" {
			ch = casework.BySpecialist
		}
		if p, ok := principalFrom(ctx); ok && p.Kind == auth.KindService {
			ch = casework.ByIntegration
		}
		a, err := s.deps.Casework.Submit(ctx, casework.NewApplication{Measure: in.Body.Measure, PersonID: in.Body.PersonID,
			Channel: ch, ReceivedOn: in.Body.ReceivedOn, Data: in.Body.Data})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &applicationResponse{Body: a}, nil
	})

	register(s, Permission{Object: "application", Action: "read"}, huma.Operation{
		OperationID: "getApplication", Method: http.MethodGet, Path: base + "/applications/{id}", Tags: tags,
		Summary: "Read an application with its deadlines and evaluation",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *IDPath) (*applicationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Casework.Get(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &applicationResponse{Body: a}, nil
	})

	register(s, Permission{Object: "application", Action: "read"}, huma.Operation{
		OperationID: "listOverdueApplications", Method: http.MethodGet, Path: base + "/applications-overdue", Tags: tags,
		Summary: "Applications late for a step (registration, data, decision, notice) on a date",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		On civil.Date `query:"on" format:"date" doc:"The date; today by default."`
	}) (*struct {
		Body struct {
			Items []casework.Overdue `json:"items"`
		}
	}, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		on := in.On
		if on.IsZero() {
			on = civil.Today()
		}
		l, err := s.deps.Casework.Overdue(ctx, on)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &struct {
			Body struct {
				Items []casework.Overdue `json:"items"`
			}
		}{}
		out.Body.Items = append([]casework.Overdue{}, l...)
		return out, nil
	})

	register(s, Permission{Object: "application", Action: "update"}, huma.Operation{
		OperationID: "evaluateApplication", Method: http.MethodPost, Path: base + "/applications/{id}/evaluate", Tags: tags,
		Summary:       "Collect an undecided application's case again and evaluate it; the caller becomes its preparer",
		DefaultStatus: http.StatusOK,
		Errors:        []int{http.StatusNotFound, http.StatusConflict, http.StatusBadGateway},
	}, func(ctx context.Context, in *IDPath) (*applicationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Casework.Evaluate(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &applicationResponse{Body: a}, nil
	})

	register(s, Permission{Object: "application", Action: "decide"}, huma.Operation{
		OperationID: "decideApplication", Method: http.MethodPost, Path: base + "/applications/{id}/decision", Tags: tags,
		Summary: "Grant or refuse an evaluated application",
		Description: "A grant needs every condition to hold (422 names the ones that do not) and makes an assignment. " +
			"For a four-eyes measure the application's preparer may not decide it (403). An application is decided once (409).",
		Errors: []int{http.StatusNotFound, http.StatusForbidden, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		IDPath
		Body decideBody
	}) (*decisionResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		d, err := s.deps.Casework.Decide(ctx, in.ID, in.Body.Grant, in.Body.Reason)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &decisionResponse{Body: d}, nil
	})

	register(s, Permission{Object: "application", Action: "update"}, huma.Operation{
		OperationID: "recordApplicationNotice", Method: http.MethodPost, Path: base + "/applications/{id}/notified", Tags: tags,
		Summary:       "Record that the citizen was told of the decision (due within 1 working day of it)",
		DefaultStatus: http.StatusOK,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *IDPath) (*applicationResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Casework.Notified(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &applicationResponse{Body: a}, nil
	})

	register(s, Permission{Object: "decision", Action: "read"}, huma.Operation{
		OperationID: "getDecision", Method: http.MethodGet, Path: base + "/decisions/{id}", Tags: tags,
		Summary: "Read a decision: the version and outcome it was taken on",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *IDPath) (*decisionResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		d, err := s.deps.Casework.Decision(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &decisionResponse{Body: d}, nil
	})

	register(s, Permission{Object: "decision", Action: "read"}, huma.Operation{
		OperationID: "replayDecision", Method: http.MethodGet, Path: base + "/decisions/{id}/replay", Tags: tags,
		Summary: "Evaluate a decision's stored inputs again by its stored version",
		Description: "reproduced is true when the outcome is the same to the last explanation. The version must still be " +
			"the one decided on (its SHA-256), which a published version always is.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *IDPath) (*struct{ Body casework.Replay }, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		r, err := s.deps.Casework.Replay(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &struct{ Body casework.Replay }{Body: r}, nil
	})

	register(s, Permission{Object: "decision", Action: "appeal"}, huma.Operation{
		OperationID: "appealDecision", Method: http.MethodPost, Path: base + "/decisions/{id}/appeal", Tags: tags,
		Summary: "Review a decision on appeal",
		Description: "The review is by another approver than the one who decided (403), on the decision's inputs, and " +
			"supersedes it: a grant overturned ends its assignment, a refusal overturned makes one. A decision is reviewed once (409).",
		Errors: []int{http.StatusNotFound, http.StatusForbidden, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		IDPath
		Body decideBody
	}) (*decisionResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		d, err := s.deps.Casework.Appeal(ctx, in.ID, in.Body.Grant, in.Body.Reason)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &decisionResponse{Body: d}, nil
	})

	atags := []string{"Assignments"}
	register(s, Permission{Object: "assignment", Action: "read"}, huma.Operation{
		OperationID: "getAssignment", Method: http.MethodGet, Path: base + "/assignments/{id}", Tags: atags,
		Summary: "Read an assignment with its history",
		Errors:  []int{http.StatusNotFound},
	}, func(ctx context.Context, in *IDPath) (*assignmentResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Assignments.Get(ctx, in.ID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &assignmentResponse{Body: a}, nil
	})

	register(s, Permission{Object: "assignment", Action: "update"}, huma.Operation{
		OperationID: "changeAssignment", Method: http.MethodPost, Path: base + "/assignments/{id}/changes", Tags: atags,
		Summary: "Recalculate, suspend, resume or terminate an assignment from a date",
		Description: "Makes a new version effective from the date; the old versions stay as history. A terminated " +
			"assignment does not change (409).",
		DefaultStatus: http.StatusOK,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		IDPath
		Body struct {
			From          civil.Date `json:"from" format:"date"`
			Reason        string     `json:"reason" minLength:"1" maxLength:"2000"`
			AmountKopecks *int64     `json:"amount_kopecks,omitempty" minimum:"0" doc:"A recalculated amount."`
			Status        string     `json:"status,omitempty" enum:"active,suspended,terminated"`
			Termination   string     `json:"termination,omitempty" enum:"recalculation,ineligibility,end_of_right,end_of_validity_period,recipient_refusal" doc:"EGISSO's termination kind, with status terminated."`
		}
	}) (*assignmentResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Assignments.Apply(ctx, in.ID, assignment.Change{From: in.Body.From, Reason: in.Body.Reason, Amount: in.Body.AmountKopecks,
			Status: assignment.Status(in.Body.Status), Termination: assignment.Termination(in.Body.Termination)})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &assignmentResponse{Body: a}, nil
	})
}
