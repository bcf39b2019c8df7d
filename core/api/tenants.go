package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// TenantPath is the {tenant} path parameter of every region-owned resource.
type TenantPath struct {
	Tenant string `path:"tenant" pattern:"^[0-9]{2}$" example:"66" doc:"The region's two-digit code."`
}

type tenantJSON struct {
	ID        string    `json:"id" format:"uuid"`
	Code      string    `json:"code" example:"66"`
	Name      string    `json:"name" example:"Свердловская область"`
	OKATO     string    `json:"okato" example:"65"`
	OKTMO     string    `json:"oktmo" example:"65000000"`
	Status    string    `json:"status" enum:"onboarding,active,suspended,archived"`
	Mode      string    `json:"mode" enum:"full,hybrid" doc:"full: only the core's rules and connectors; hybrid: also the region's plug-ins."`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func tenantOut(t tenancy.Tenant) tenantJSON {
	return tenantJSON{
		ID: t.ID.String(), Code: t.Code, Name: t.Name, OKATO: t.OKATO, OKTMO: t.OKTMO,
		Status: string(t.Status), Mode: string(t.Mode), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

type tenantResponse struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     tenantJSON
}

func tenantResp(t tenancy.Tenant) *tenantResponse {
	return &tenantResponse{ETag: etag(t.Version), Body: tenantOut(t)}
}

type tenantList struct {
	Body struct {
		Items      []tenantJSON `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty" doc:"Present when there are more items."`
	}
}

type tenantCreate struct {
	Body struct {
		Code  string `json:"code" pattern:"^[0-9]{2}$" example:"66"`
		Name  string `json:"name" minLength:"1" maxLength:"200"`
		OKATO string `json:"okato" pattern:"^[0-9]{2}([0-9]{3}([0-9]{3}([0-9]{3})?)?)?$"`
		OKTMO string `json:"oktmo" pattern:"^[0-9]{8}([0-9]{3})?$"`
		Mode  string `json:"mode,omitempty" enum:"full,hybrid" default:"full"`
	}
}

type tenantPatch struct {
	TenantPath
	IfMatch string `header:"If-Match" doc:"The ETag of the version being changed."`
	Body    struct {
		Name   *string `json:"name,omitempty" minLength:"1" maxLength:"200"`
		OKATO  *string `json:"okato,omitempty" pattern:"^[0-9]{2}([0-9]{3}([0-9]{3}([0-9]{3})?)?)?$"`
		OKTMO  *string `json:"oktmo,omitempty" pattern:"^[0-9]{8}([0-9]{3})?$"`
		Status *string `json:"status,omitempty" enum:"onboarding,active,suspended,archived" doc:"onboarding → active ⇄ suspended; any → archived, which is final."`
		Mode   *string `json:"mode,omitempty" enum:"full,hybrid"`
	}
}

func (s *Server) registerTenants() {
	tags := []string{"Regions"}
	register(s, Permission{Object: "tenants", Action: "list"}, huma.Operation{
		OperationID: "listTenants", Method: http.MethodGet, Path: "/api/v1/tenants",
		Summary: "List regions", Tags: tags,
	}, func(ctx context.Context, in *struct{ Pagination }) (*tenantList, error) {
		p, err := page.Parse(in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		ts, next, err := s.deps.TenantAdmin.List(ctx, p)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &tenantList{}
		out.Body.Items = make([]tenantJSON, len(ts))
		for i, t := range ts {
			out.Body.Items[i] = tenantOut(t)
		}
		out.Body.NextCursor = next
		return out, nil
	})
	register(s, Permission{Object: "tenants", Action: "create"}, huma.Operation{
		OperationID: "createTenant", Method: http.MethodPost, Path: "/api/v1/tenants",
		Summary: "Register a region", Description: "The region starts in the onboarding status.", Tags: tags,
		Errors: []int{http.StatusConflict},
	}, func(ctx context.Context, in *tenantCreate) (*tenantResponse, error) {
		t, err := s.deps.TenantAdmin.Create(ctx, tenancy.NewTenant{
			Code: in.Body.Code, Name: in.Body.Name, OKATO: in.Body.OKATO, OKTMO: in.Body.OKTMO, Mode: tenancy.Mode(in.Body.Mode),
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := tenantResp(t)
		out.Location = "/api/v1/tenants/" + t.Code
		return out, nil
	})
	register(s, Permission{Object: "tenant", Action: "read"}, huma.Operation{
		OperationID: "getTenant", Method: http.MethodGet, Path: "/api/v1/tenants/{tenant}",
		Summary: "Read a region", Tags: tags, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *TenantPath) (*tenantResponse, error) {
		t, err := s.deps.TenantAdmin.ByCode(ctx, in.Tenant)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return tenantResp(t), nil
	})
	register(s, Permission{Object: "tenant", Action: "update"}, huma.Operation{
		OperationID: "updateTenant", Method: http.MethodPatch, Path: "/api/v1/tenants/{tenant}",
		Summary: "Change a region", Description: "Needs If-Match with the region's current ETag.", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *tenantPatch) (*tenantResponse, error) {
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		b := in.Body
		t, err := s.deps.TenantAdmin.Update(ctx, in.Tenant, v, tenancy.Change{
			Name: b.Name, OKATO: b.OKATO, OKTMO: b.OKTMO,
			Status: (*tenancy.Status)(b.Status), Mode: (*tenancy.Mode)(b.Mode),
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return tenantResp(t), nil
	})
}

// inTenant resolves the path's region and returns a context acting for it.
// An unknown region is 404, like any object the caller cannot see.
func (s *Server) inTenant(ctx context.Context, code string) (context.Context, error) {
	if _, ok := tenancy.FromContext(ctx); ok { // set by guard
		return ctx, nil
	}
	t, err := s.deps.Tenants.ByCode(ctx, code)
	if err != nil {
		return ctx, s.problem(ctx, err)
	}
	return tenancy.WithTenant(ctx, t.ID), nil
}
