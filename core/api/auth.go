package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/auth"
)

type tokensOut struct {
	Body struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type" example:"Bearer"`
		ExpiresIn    int    `json:"expires_in" doc:"Seconds the access token is valid."`
		RefreshToken string `json:"refresh_token" doc:"Exchanged once for new tokens at /api/v1/auth/refresh."`
	}
}

func tokensResp(t auth.Tokens) *tokensOut {
	out := &tokensOut{}
	out.Body.AccessToken, out.Body.TokenType, out.Body.ExpiresIn, out.Body.RefreshToken = t.AccessToken, "Bearer", t.ExpiresIn, t.RefreshToken
	return out
}

type loginIn struct {
	Body struct {
		Username string `json:"username" minLength:"1" maxLength:"100"`
		Password string `json:"password" minLength:"1" maxLength:"1000"`
	}
}

type refreshIn struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"200"`
	}
}

type meOut struct {
	Body struct {
		User struct {
			ID          string `json:"id" format:"uuid"`
			Username    string `json:"username"`
			DisplayName string `json:"display_name"`
			Kind        string `json:"kind" enum:"human,service"`
		} `json:"user"`
		Tenant       *meTenant      `json:"tenant" doc:"The caller's region; null for the federal operator."`
		Federal      bool           `json:"federal"`
		Roles        []string       `json:"roles" doc:"Roles in the caller's region, or federal roles."`
		Delegations  []meDelegation `json:"delegations" doc:"For federal callers: objects regions have delegated to the operator, in force today."`
		AuthenticVia string         `json:"authenticated_via" enum:"password,api_key,oidc"`
	}
}

type meTenant struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

type meDelegation struct {
	Tenant string `json:"tenant"`
	Object string `json:"object"`
}

// unauthorized is a 401 with the challenge every 401 must carry (RFC 9110
// 15.5.2), as guard sends it.
func unauthorized(msg string) error {
	return huma.ErrorWithHeaders(huma.Error401Unauthorized(msg), http.Header{"WWW-Authenticate": {`Bearer realm="treasury"`}})
}

func (s *Server) registerAuth() {
	tags := []string{"Authentication"}
	register(s, Permission{Public: true}, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", DefaultStatus: http.StatusOK,
		Summary: "Log in with a username and password", Tags: tags,
		Description: "Five failed attempts in a row lock the account for 15 minutes.",
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *loginIn) (*tokensOut, error) {
		t, err := s.deps.Auth.Login(ctx, in.Body.Username, in.Body.Password)
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			return nil, unauthorized(err.Error())
		case errors.Is(err, auth.ErrRegionClosed):
			return nil, huma.Error403Forbidden("your region is archived; its users cannot log in")
		case err != nil:
			return nil, s.problem(ctx, err)
		}
		return tokensResp(t), nil
	})
	register(s, Permission{Public: true}, huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/api/v1/auth/refresh", DefaultStatus: http.StatusOK,
		Summary: "Exchange a refresh token for new tokens", Tags: tags,
		Description: "A refresh token works once. Presenting a used one again revokes all tokens issued from the same login.",
		Errors:      []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *refreshIn) (*tokensOut, error) {
		t, err := s.deps.Auth.Refresh(ctx, in.Body.RefreshToken)
		if errors.Is(err, auth.ErrUnauthenticated) {
			return nil, unauthorized("the refresh token is unknown, used, revoked or expired")
		}
		if err != nil {
			return nil, s.problem(ctx, err)
		}
		return tokensResp(t), nil
	})
	register(s, Permission{Public: true}, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/api/v1/auth/logout", DefaultStatus: http.StatusNoContent,
		Summary: "Log out: revoke the refresh token and its successors", Tags: tags,
	}, func(ctx context.Context, in *refreshIn) (*struct{}, error) {
		if err := s.deps.Auth.Logout(ctx, in.Body.RefreshToken); err != nil {
			return nil, s.problem(ctx, err)
		}
		return &struct{}{}, nil
	})
	register(s, Permission{Authenticated: true}, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/me",
		Summary: "Who the caller is: user, region, roles, delegations", Tags: tags,
	}, func(ctx context.Context, _ *struct{}) (*meOut, error) {
		p, _ := principalFrom(ctx)
		out := &meOut{}
		u := &out.Body.User
		u.ID, u.Username, u.DisplayName, u.Kind = p.UserID.String(), p.Username, p.DisplayName, p.Kind
		out.Body.Federal = p.Federal()
		out.Body.AuthenticVia = p.Via
		out.Body.Roles = append(out.Body.Roles, p.Roles...)
		out.Body.Delegations = []meDelegation{}
		if p.Federal() {
			out.Body.Roles = append(out.Body.Roles, s.deps.Access.FederalRolesOf(p.UserID)...)
			for _, d := range s.deps.Access.AllDelegated() {
				out.Body.Delegations = append(out.Body.Delegations, meDelegation{Tenant: d[0], Object: d[1]})
			}
		} else {
			t, err := s.deps.Tenants.ByID(ctx, p.TenantID)
			if err != nil {
				return nil, s.problem(ctx, err)
			}
			out.Body.Tenant = &meTenant{Code: t.Code, Name: t.Name}
			out.Body.Roles = append(out.Body.Roles, s.deps.Access.TenantRoles(p.UserID, t.Code)...)
		}
		if out.Body.Roles == nil {
			out.Body.Roles = []string{}
		}
		return out, nil
	})
}
