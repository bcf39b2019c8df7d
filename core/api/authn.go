package api

import (
	"context"
	"errors"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/access"
	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/tenancy"
)

type principalKey struct{}

// principalFrom returns the authenticated caller of a request.
func principalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(auth.Principal)
	return p, ok
}

// subjectOf is the caller as access control sees it.
func subjectOf(p auth.Principal) access.Subject {
	return access.Subject{User: p.UserID, Roles: p.Roles, Domain: p.TenantCode}
}

// readOnly actions are allowed in a suspended region.
func readOnly(action string) bool { return action == "read" || action == "list" }

// guard authenticates and authorizes every operation once, before its
// handler: the operation's declared permission, in the domain its {tenant}
// names. Another region's resources are 404, never 403, so that their
// existence is not disclosed.
func (s *Server) guard(ctx huma.Context, next func(huma.Context)) {
	perm, declared := PermissionOf(ctx.Operation())
	if !declared {
		// Cannot happen through register; fail closed if it ever does.
		s.writeErr(ctx, 403, "this operation declares no permission")
		return
	}
	if perm.Public {
		next(ctx)
		return
	}
	if s.deps.Auth == nil || s.deps.Access == nil {
		s.writeErr(ctx, 500, "authentication is not configured")
		return
	}
	p, err := s.deps.Auth.Authenticate(ctx.Context(), ctx.Header("Authorization"))
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			s.log.ErrorContext(ctx.Context(), "authentication failed", "error", err.Error())
		}
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="treasury"`)
		s.writeErr(ctx, 401, "a valid bearer token or API key is required")
		return
	}
	c := context.WithValue(ctx.Context(), principalKey{}, p)
	// Audit records the request causes name the caller and its purpose.
	c = audit.WithActor(c, p.UserID, p.Username)
	if purpose := ctx.Header(headerPurpose); purpose != "" {
		c = audit.WithPurpose(c, strings.Clone(purpose)) // outlives Fiber's buffer
	}
	if perm.Authenticated {
		next(huma.WithContext(ctx, c))
		return
	}
	obj := expandObject(perm.Object, ctx)
	dom := ctx.Param("tenant")
	subj := subjectOf(p)
	if dom == "" {
		if !s.deps.Access.Allowed(subj, "", obj, perm.Action) {
			s.writeErr(ctx, 403, "your roles do not allow "+perm.Action+" on "+obj)
			return
		}
		next(huma.WithContext(ctx, c))
		return
	}
	t, err := s.deps.Tenants.ByCode(ctx.Context(), dom)
	if err != nil || (!p.Federal() && p.TenantCode != dom) {
		s.writeErr(ctx, 404, "region "+dom+" not found")
		return
	}
	if !s.deps.Access.Allowed(subj, dom, obj, perm.Action) {
		s.writeErr(ctx, 403, "your roles in region "+dom+" do not allow "+perm.Action+" on "+obj)
		return
	}
	// A suspended region is read-only to its own users (the federal operator
	// may still set it right); an archived one is closed to every write.
	if !readOnly(perm.Action) && (t.Status == tenancy.StatusArchived || (!p.Federal() && !t.Writable())) {
		s.writeErr(ctx, 403, "region "+dom+" is "+string(t.Status)+": its data can be read, not changed")
		return
	}
	c = tenancy.WithTenant(c, t.ID)
	next(huma.WithContext(ctx, c))
}

// expandObject fills {param} placeholders of a declared object
// ("measure:{code}") from the request's path.
func expandObject(obj string, ctx huma.Context) string {
	for {
		i := strings.IndexByte(obj, '{')
		j := strings.IndexByte(obj, '}')
		if i < 0 || j < i {
			return obj
		}
		obj = obj[:i] + ctx.Param(obj[i+1:j]) + obj[j+1:]
	}
}

func (s *Server) writeErr(ctx huma.Context, status int, msg string) {
	_ = huma.WriteErr(s.api, ctx, status, msg)
}
