package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/page"
)

type delegationJSON struct {
	ID        string     `json:"id" format:"uuid"`
	Object    string     `json:"object" example:"measure:child-under-3"`
	Grantee   string     `json:"grantee" enum:"federal"`
	ValidFrom string     `json:"valid_from" format:"date"`
	ValidTo   string     `json:"valid_to,omitempty" format:"date"`
	Note      string     `json:"note"`
	GrantedBy string     `json:"granted_by" format:"uuid"`
	GrantedAt time.Time  `json:"granted_at"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func delegationOut(d access.Delegation) delegationJSON {
	out := delegationJSON{ID: d.ID.String(), Object: d.Object, Grantee: d.Grantee,
		ValidFrom: access.DateString(&d.ValidFrom), ValidTo: access.DateString(d.ValidTo), Note: d.Note,
		GrantedBy: d.GrantedBy.String(), GrantedAt: d.GrantedAt, RevokedAt: d.RevokedAt}
	if d.RevokedBy != nil {
		out.RevokedBy = d.RevokedBy.String()
	}
	return out
}

type delegationResponse struct {
	Body delegationJSON
}

type delegationList struct {
	Body struct {
		Items      []delegationJSON `json:"items"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}
}

func (s *Server) registerDelegations() {
	tags := []string{"Delegations"}
	base := "/api/v1/tenants/{tenant}/delegations"
	register(s, Permission{Object: "delegation", Action: "read"}, huma.Operation{
		OperationID: "listDelegations", Method: http.MethodGet, Path: base, Tags: tags,
		Summary: "List what the region delegated to the federal operator, revoked delegations included",
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
	}) (*delegationList, error) {
		p, err := page.Parse(in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		ds, next, err := s.deps.Delegations.List(ctx, p)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &delegationList{}
		out.Body.Items = make([]delegationJSON, len(ds))
		for i, d := range ds {
			out.Body.Items[i] = delegationOut(d)
		}
		out.Body.NextCursor = next
		return out, nil
	})
	register(s, Permission{Object: "delegation", Action: "create"}, huma.Operation{
		OperationID: "createDelegation", Method: http.MethodPost, Path: base, Tags: tags,
		Summary:     "Delegate a measure to the federal operator for a period",
		Description: "The operator's administrators then act on that measure in this region, and on nothing else of it; its auditors read it.",
		Errors:      []int{http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		TenantPath
		Body struct {
			Object    string `json:"object" pattern:"^measure:[A-Za-z0-9_.-]{1,80}$"`
			ValidFrom string `json:"valid_from" format:"date"`
			ValidTo   string `json:"valid_to,omitempty" format:"date"`
			Note      string `json:"note,omitempty" maxLength:"1000"`
		}
	}) (*delegationResponse, error) {
		p, _ := principalFrom(ctx)
		d, err := s.deps.Delegations.Grant(ctx, in.Tenant, access.NewDelegation{
			Object: in.Body.Object, ValidFrom: in.Body.ValidFrom, ValidTo: in.Body.ValidTo, Note: in.Body.Note,
		}, p.UserID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &delegationResponse{Body: delegationOut(d)}, nil
	})
	register(s, Permission{Object: "delegation", Action: "revoke"}, huma.Operation{
		OperationID: "revokeDelegation", Method: http.MethodDelete, Path: base + "/{id}", Tags: tags,
		Summary: "Revoke a delegation; the record stays", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		ID string `path:"id" format:"uuid"`
	}) (*delegationResponse, error) {
		p, _ := principalFrom(ctx)
		d, err := s.deps.Delegations.Revoke(ctx, in.Tenant, uuid.MustParse(in.ID), p.UserID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &delegationResponse{Body: delegationOut(d)}, nil
	})
}
