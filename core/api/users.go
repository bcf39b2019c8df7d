package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

type userJSON struct {
	ID          string    `json:"id" format:"uuid"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Kind        string    `json:"kind" enum:"human,service"`
	Status      string    `json:"status" enum:"active,disabled"`
	Roles       []string  `json:"roles"`
	Locked      bool      `json:"locked" doc:"Locked after repeated failed logins."`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (s *Server) userOut(u auth.User, dom string) userJSON {
	roles := s.deps.Access.FederalRolesOf(u.ID)
	if dom != "" {
		roles = s.deps.Access.TenantRoles(u.ID, dom)
	}
	if roles == nil {
		roles = []string{}
	}
	return userJSON{
		ID: u.ID.String(), Username: u.Username, DisplayName: u.DisplayName, Kind: u.Kind, Status: u.Status,
		Roles: roles, Locked: u.LockedUntil != nil && u.LockedUntil.After(time.Now()),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

type userResponse struct {
	ETag     string `header:"ETag"`
	Location string `header:"Location"`
	Body     userJSON
}

type userList struct {
	Body struct {
		Items      []userJSON `json:"items"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}
}

// UserCreateBody creates a user. It is exported because Huma skips an
// embedded struct of an unexported type, and federalUserCreate embeds it.
type UserCreateBody struct {
	Username    string `json:"username" minLength:"3" maxLength:"100"`
	DisplayName string `json:"display_name,omitempty" maxLength:"200"`
	Kind        string `json:"kind,omitempty" enum:"human,service" default:"human"`
	Password    string `json:"password,omitempty" maxLength:"1000" doc:"Required for a person; a service account uses API keys."`
}

type UserPath struct {
	TenantPath
	ID string `path:"id" format:"uuid"`
}

type userPatch struct {
	UserPath
	IfMatch string `header:"If-Match"`
	Body    struct {
		DisplayName *string `json:"display_name,omitempty" maxLength:"200"`
		Status      *string `json:"status,omitempty" enum:"active,disabled"`
		Password    *string `json:"password,omitempty" maxLength:"1000"`
	}
}

type rolesIn struct {
	UserPath
	Body struct {
		Roles []string `json:"roles" maxItems:"20" doc:"The user's complete set of roles in the region."`
	}
}

type federalUserCreate struct {
	Body struct {
		UserCreateBody
		Roles []string `json:"roles,omitempty" maxItems:"5" doc:"federal_admin, federal_auditor"`
	}
}

func (s *Server) registerUsers() {
	tags := []string{"Users and roles"}
	base := "/api/v1/tenants/{tenant}/users"
	register(s, Permission{Object: "user", Action: "read"}, huma.Operation{
		OperationID: "listUsers", Method: http.MethodGet, Path: base, Summary: "List the region's users", Tags: tags,
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
	}) (*userList, error) {
		tid, _ := tenancy.FromContext(ctx)
		return s.listUsers(ctx, tid, in.Tenant, in.Pagination)
	})
	register(s, Permission{Object: "user", Action: "create"}, huma.Operation{
		OperationID: "createUser", Method: http.MethodPost, Path: base, Summary: "Create a user of the region", Tags: tags,
		Description: "The user has no role until one is given with PUT …/users/{id}/roles.",
		Errors:      []int{http.StatusConflict},
	}, func(ctx context.Context, in *struct {
		TenantPath
		Body UserCreateBody
	}) (*userResponse, error) {
		tid, _ := tenancy.FromContext(ctx)
		u, err := s.deps.Auth.CreateUser(ctx, auth.NewUser{
			Username: in.Body.Username, DisplayName: in.Body.DisplayName, Kind: in.Body.Kind, Password: in.Body.Password, Tenant: tid,
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &userResponse{ETag: etag(u.Version), Location: "/api/v1/tenants/" + in.Tenant + "/users/" + u.ID.String(), Body: s.userOut(u, in.Tenant)}, nil
	})
	register(s, Permission{Object: "user", Action: "read"}, huma.Operation{
		OperationID: "getUser", Method: http.MethodGet, Path: base + "/{id}", Summary: "Read a user of the region", Tags: tags,
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *UserPath) (*userResponse, error) {
		tid, _ := tenancy.FromContext(ctx)
		u, err := s.deps.Auth.GetUser(ctx, tid, uuid.MustParse(in.ID))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &userResponse{ETag: etag(u.Version), Body: s.userOut(u, in.Tenant)}, nil
	})
	register(s, Permission{Object: "user", Action: "update"}, huma.Operation{
		OperationID: "updateUser", Method: http.MethodPatch, Path: base + "/{id}", Tags: tags,
		Summary:     "Change a user: display name, status (disable), password",
		Description: "Needs If-Match. A disabled user is refused on every server within a second.",
		Errors:      []int{http.StatusNotFound, http.StatusPreconditionFailed, http.StatusPreconditionRequired},
	}, func(ctx context.Context, in *userPatch) (*userResponse, error) {
		v, err := ifMatch(in.IfMatch)
		if err != nil {
			return nil, err
		}
		tid, _ := tenancy.FromContext(ctx)
		u, err := s.deps.Auth.UpdateUser(ctx, tid, uuid.MustParse(in.ID), v, auth.UserChange{
			DisplayName: in.Body.DisplayName, Status: in.Body.Status, Password: in.Body.Password,
		})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return &userResponse{ETag: etag(u.Version), Body: s.userOut(u, in.Tenant)}, nil
	})
	register(s, Permission{Object: "role", Action: "grant"}, huma.Operation{
		OperationID: "setUserRoles", Method: http.MethodPut, Path: base + "/{id}/roles", Tags: tags,
		Summary:     "Set a user's roles in the region",
		Description: "Roles: tenant_admin, specialist, approver, treasurer, auditor, integration, plugin_developer. A change is in force on every server within a second.",
		Errors:      []int{http.StatusNotFound},
	}, func(ctx context.Context, in *rolesIn) (*userResponse, error) {
		tid, _ := tenancy.FromContext(ctx)
		u, err := s.deps.Auth.GetUser(ctx, tid, uuid.MustParse(in.ID))
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		v := &fault.Invalid{}
		for i, r := range in.Body.Roles {
			if !access.IsTenantRole(r) {
				v.Add("roles["+itoa(i)+"]", "is not a region role", r)
			}
		}
		if err := v.Err(); err != nil {
			return nil, s.problem(ctx, err)
		}
		roles := dedupe(in.Body.Roles)
		// Casbin writes policies in transactions of its own, so the record
		// cannot share one with the change: it is written first (no record,
		// no change), and a failure to apply is recorded after it.
		rec := audit.Record{Action: "role.set", ObjectType: "user", ObjectID: u.ID.String(),
			Detail: "roles=" + strings.Join(roles, ",") + " was=" + strings.Join(s.deps.Access.TenantRoles(u.ID, in.Tenant), ",")}
		if s.deps.Audit == nil {
			return nil, huma.Error500InternalServerError("the audit trail is not configured")
		}
		if err := s.deps.Audit.Log(ctx, rec); err != nil {
			return nil, s.problem(ctx, err)
		}
		if err := s.deps.Access.SetTenantRoles(ctx, u.ID, in.Tenant, roles); err != nil {
			rec.Outcome = audit.OutcomeFailure
			if lerr := s.deps.Audit.Log(context.WithoutCancel(ctx), rec); lerr != nil {
				s.log.ErrorContext(ctx, "recording a failed role change", "error", lerr.Error())
			}
			return nil, s.problem(ctx, err)
		}
		return &userResponse{ETag: etag(u.Version), Body: s.userOut(u, in.Tenant)}, nil
	})

	ftags := []string{"Federal operator"}
	register(s, Permission{Object: "federal_user", Action: "read"}, huma.Operation{
		OperationID: "listFederalUsers", Method: http.MethodGet, Path: "/api/v1/federal/users",
		Summary: "List the federal operator's users", Tags: ftags,
	}, func(ctx context.Context, in *struct{ Pagination }) (*userList, error) {
		return s.listUsers(ctx, uuid.Nil, "", in.Pagination)
	})
	register(s, Permission{Object: "federal_user", Action: "create"}, huma.Operation{
		OperationID: "createFederalUser", Method: http.MethodPost, Path: "/api/v1/federal/users",
		Summary: "Create a user of the federal operator with federal roles", Tags: ftags, Errors: []int{http.StatusConflict},
	}, func(ctx context.Context, in *federalUserCreate) (*userResponse, error) {
		v := &fault.Invalid{}
		for i, r := range in.Body.Roles {
			if !access.IsFederalRole(r) {
				v.Add("roles["+itoa(i)+"]", "is not a federal role", r)
			}
		}
		if err := v.Err(); err != nil {
			return nil, s.problem(ctx, err)
		}
		b := in.Body.UserCreateBody
		u, err := s.deps.Auth.CreateUser(ctx, auth.NewUser{Username: b.Username, DisplayName: b.DisplayName, Kind: b.Kind, Password: b.Password})
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		if err := s.deps.Access.SetFederalRoles(ctx, u.ID, dedupe(in.Body.Roles)); err != nil {
			return nil, s.problem(ctx, err)
		}
		return &userResponse{ETag: etag(u.Version), Body: s.userOut(u, "")}, nil
	})
}

func (s *Server) listUsers(ctx context.Context, tid uuid.UUID, dom string, pg Pagination) (*userList, error) {
	p, err := page.Parse(pg.Limit, pg.Cursor)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	us, next, err := s.deps.Auth.ListUsers(ctx, tid, p)
	if err != nil {
		return nil, s.problem(ctx, err)
	}
	out := &userList{}
	out.Body.Items = make([]userJSON, len(us))
	for i, u := range us {
		out.Body.Items[i] = s.userOut(u, dom)
	}
	out.Body.NextCursor = next
	return out, nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
