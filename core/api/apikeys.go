package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/page"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// APIKeyJSON is an API key as the API shows it. It is exported because
// Huma documents the fields of an embedded struct only when its type is.
type APIKeyJSON struct {
	ID        string     `json:"id" format:"uuid"`
	KeyID     string     `json:"key_id" doc:"The public part of the key, as it appears after st_."`
	UserID    string     `json:"user_id" format:"uuid"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

func apiKeyOut(k auth.APIKey) APIKeyJSON {
	return APIKeyJSON{ID: k.ID.String(), KeyID: k.KeyID, UserID: k.UserID.String(), Name: k.Name,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt}
}

type apiKeyCreated struct {
	Body struct {
		APIKeyJSON
		Key string `json:"key" doc:"The whole key (st_…). Shown only now; store it."`
	}
}

type apiKeyList struct {
	Body struct {
		Items      []APIKeyJSON `json:"items"`
		NextCursor string       `json:"next_cursor,omitempty"`
	}
}

func (s *Server) registerAPIKeys() {
	tags := []string{"API keys"}
	base := "/api/v1/tenants/{tenant}/api-keys"
	register(s, Permission{Object: "apikey", Action: "read"}, huma.Operation{
		OperationID: "listAPIKeys", Method: http.MethodGet, Path: base, Summary: "List the region's API keys", Tags: tags,
	}, func(ctx context.Context, in *struct {
		TenantPath
		Pagination
	}) (*apiKeyList, error) {
		tid, _ := tenancy.FromContext(ctx)
		p, err := page.Parse(in.Limit, in.Cursor)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		ks, next, err := s.deps.Auth.ListKeys(ctx, tid, p)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &apiKeyList{}
		out.Body.Items = make([]APIKeyJSON, len(ks))
		for i, k := range ks {
			out.Body.Items[i] = apiKeyOut(k)
		}
		out.Body.NextCursor = next
		return out, nil
	})
	register(s, Permission{Object: "apikey", Action: "create"}, huma.Operation{
		OperationID: "createAPIKey", Method: http.MethodPost, Path: base, Tags: tags,
		Summary: "Issue an API key to a service account of the region", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		Body struct {
			UserID    string     `json:"user_id" format:"uuid"`
			Name      string     `json:"name" minLength:"1" maxLength:"100"`
			ExpiresAt *time.Time `json:"expires_at,omitempty"`
		}
	}) (*apiKeyCreated, error) {
		tid, _ := tenancy.FromContext(ctx)
		p, _ := principalFrom(ctx)
		k, secret, err := s.deps.Auth.CreateKey(ctx, tid, uuid.MustParse(in.Body.UserID), in.Body.Name, in.Body.ExpiresAt, p.UserID)
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		out := &apiKeyCreated{}
		out.Body.APIKeyJSON, out.Body.Key = apiKeyOut(k), secret
		return out, nil
	})
	register(s, Permission{Object: "apikey", Action: "revoke"}, huma.Operation{
		OperationID: "revokeAPIKey", Method: http.MethodDelete, Path: base + "/{id}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Revoke an API key; every server refuses it within a second", Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *struct {
		TenantPath
		ID string `path:"id" format:"uuid"`
	}) (*struct{}, error) {
		tid, _ := tenancy.FromContext(ctx)
		p, _ := principalFrom(ctx)
		if err := s.deps.Auth.RevokeKey(ctx, tid, uuid.MustParse(in.ID), p.UserID); err != nil {
			return nil, s.problem(ctx, err)
		}
		return &struct{}{}, nil
	})
}
