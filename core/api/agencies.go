package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/agency"
	"github.com/socialtreasury/treasury/core/page"
)

type agencyJSON struct {
	ID        string    `json:"id" format:"uuid"`
	OSZCode   string    `json:"osz_code" example:"6601.000001" doc:"The assigning body's code in EGISSO."`
	Name      string    `json:"name"`
	ShortName string    `json:"short_name"`
	INN       string    `json:"inn" example:"6658021579"`
	OKTMO     string    `json:"oktmo" example:"65701000"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func agencyOut(a agency.Agency) agencyJSON {
	return agencyJSON{
		ID: a.ID.String(), OSZCode: a.OSZCode, Name: a.Name, ShortName: a.ShortName,
		INN: a.INN, OKTMO: a.OKTMO, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
}

type agencyResponse struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     agencyJSON
}

type AgencyPath struct {
	TenantPath
	ID string `path:"id" format:"uuid" doc:"The assigning body's id."`
}

// agencyFields is the body of both create (all but short_name required) and
// patch (all optional).
type agencyCreate struct {
	TenantPath
	Body struct {
		OSZCode   string `json:"osz_code" pattern:"^[A-HJ-NP-Z0-9]{4}\\.[0-9]{6}$"`
		Name      string `json:"name" minLength:"1" maxLength:"500"`
		ShortName string `json:"short_name,omitempty" maxLength:"200"`
		INN       string `json:"inn" pattern:"^[0-9]{10}$"`
		OKTMO     string `json:"oktmo" pattern:"^[0-9]{8}([0-9]{3})?$"`
	}
}

type agencyPatch struct {
	AgencyPath
	IfMatch string `header:"If-Match" doc:"The ETag of the version being changed."`
	Body    struct {
		OSZCode   *string `json:"osz_code,omitempty" pattern:"^[A-HJ-NP-Z0-9]{4}\\.[0-9]{6}$"`
		Name      *string `json:"name,omitempty" minLength:"1" maxLength:"500"`
		ShortName *string `json:"short_name,omitempty" maxLength:"200"`
		INN       *string `json:"inn,omitempty" pattern:"^[0-9]{10}$"`
		OKTMO     *string `json:"oktmo,omitempty" pattern:"^[0-9]{8}([0-9]{3})?$"`
	}
}

type agencyList struct {
	Body struct {
		Items      []agencyJSON `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty" doc:"Present when there are more items."`
	}
}

func (s *Server) registerAgencies() {
	tags := []string{"Assigning bodies"}
	base := "/api/v1/tenants/{tenant}/agencies"
	register(s, Permission{Object: "agency", Action: "read"}, huma.Operation{
		OperationID: "listAgencies", Method: http.MethodGet, Path: base,
		Summary: "List the region's assigning bodies", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
	}) (*agencyList, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		p, err := page.Parse(in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		as, next, err := s.deps.Agencies.List(ctx, p)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &agencyList{}
		out.Body.Items = make([]agencyJSON, len(as))
		for i, a := range as {
			out.Body.Items[i] = agencyOut(a)
		}
		out.Body.NextCursor = next
		return out, nil
	})
	register(s, Permission{Object: "agency", Action: "create"}, huma.Operation{
		OperationID: "createAgency", Method: http.MethodPost, Path: base,
		Summary: "Register an assigning body", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict},
	}, func(ctx context.Context, in *agencyCreate) (*agencyResponse, error) {
		ctx, err := s.inTenant(ctx, in.Tenant)
		if err != nil {
			return nil, err
		}
		b := in.Body
		a, err := s.deps.Agencies.Create(ctx, agency.Fields{
			OSZCode: &b.OSZCode, Name: &b.Name, ShortName: &b.ShortName, INN: &b.INN, OKTMO: &b.OKTMO,
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &agencyResponse{ETag: etag(a.Version), Location: "/api/v1/tenants/" + in.Tenant + "/agencies/" + a.ID.String(), Body: agencyOut(a)}, nil
	})
	register(s, Permission{Object: "agency", Action: "read"}, huma.Operation{
		OperationID: "getAgency", Method: http.MethodGet, Path: base + "/{id}",
		Summary: "Read an assigning body", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *AgencyPath) (*agencyResponse, error) {
		ctx, id, err := s.agencyTarget(ctx, in)
		if err != nil {
			return nil, err
		}
		a, err := s.deps.Agencies.Get(ctx, id)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &agencyResponse{ETag: etag(a.Version), Body: agencyOut(a)}, nil
	})
	register(s, Permission{Object: "agency", Action: "update"}, huma.Operation{
		OperationID: "updateAgency", Method: http.MethodPatch, Path: base + "/{id}",
		Summary: "Change an assigning body", Description: "Needs If-Match with the current ETag.", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *agencyPatch) (*agencyResponse, error) {
		ctx, id, err := s.agencyTarget(ctx, &in.AgencyPath)
		if err != nil {
			return nil, err
		}
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		b := in.Body
		a, err := s.deps.Agencies.Update(ctx, id, v, agency.Fields{
			OSZCode: b.OSZCode, Name: b.Name, ShortName: b.ShortName, INN: b.INN, OKTMO: b.OKTMO,
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &agencyResponse{ETag: etag(a.Version), Body: agencyOut(a)}, nil
	})
}

func (s *Server) agencyTarget(ctx context.Context, in *AgencyPath) (context.Context, uuid.UUID, error) {
	ctx, err := s.inTenant(ctx, in.Tenant)
	if err != nil {
		return ctx, uuid.Nil, err
	}
	id, err := uuid.Parse(in.ID)
	if err != nil {
		return ctx, uuid.Nil, huma.Error404NotFound("assigning body " + in.ID + " not found")
	}
	return ctx, id, nil
}
