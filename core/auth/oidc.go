package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/tenancy"
)

// OIDCConfig names the trusted issuer and how its claims map onto the
// platform's user, region and roles.
type OIDCConfig struct {
	Issuer        string
	Audience      string
	UsernameClaim string // default preferred_username
	TenantClaim   string // default treasury_tenant: a region code; absent = federal
	RolesClaim    string // default treasury_roles: a list of role names
	// KnownRole filters the asserted roles to the platform's.
	KnownRole func(role string, federal bool) bool
}

type oidcVerifier struct {
	cfg      OIDCConfig
	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	lastTry  time.Time
}

func newOIDCVerifier(cfg OIDCConfig) *oidcVerifier {
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "preferred_username"
	}
	if cfg.TenantClaim == "" {
		cfg.TenantClaim = "treasury_tenant"
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "treasury_roles"
	}
	return &oidcVerifier{cfg: cfg}
}

// owns tells whether a JWT claims to come from the OIDC issuer (its
// signature is checked later; this only routes it).
func (o *oidcVerifier) owns(tok, ownIssuer string) bool {
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		return false
	}
	return c.Issuer == o.cfg.Issuer && c.Issuer != ownIssuer
}

// get discovers the issuer on first use (and again at most every 10 s while
// it fails), so a platform can start while its identity provider is down.
func (o *oidcVerifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	if time.Since(o.lastTry) < 10*time.Second {
		return nil, errors.New("oidc issuer unavailable")
	}
	o.lastTry = time.Now()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	// The key set outlives the discovery request's context.
	o.verifier = p.VerifierContext(context.Background(), &oidc.Config{ClientID: o.cfg.Audience})
	return o.verifier, nil
}

type oidcClaims map[string]any

func (c oidcClaims) str(name string) string {
	s, _ := c[name].(string)
	return s
}

func (c oidcClaims) list(name string) []string {
	switch v := c[name].(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return strings.Fields(v)
	}
	return nil
}

func (s *Service) oidcPrincipal(ctx context.Context, tok string) (Principal, error) {
	v, err := s.oidc.get(ctx)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	idt, err := v.Verify(ctx, tok)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	var c oidcClaims
	if err := idt.Claims(&c); err != nil {
		return Principal{}, ErrUnauthenticated
	}
	cfg := s.oidc.cfg
	username := strings.ToLower(c.str(cfg.UsernameClaim))
	if username == "" {
		username = idt.Subject
	}
	p := Principal{Username: username, DisplayName: c.str("name"), Kind: KindHuman, Via: "oidc"}
	if code := c.str(cfg.TenantClaim); code != "" {
		t, err := s.tenants.ByCode(ctx, code)
		if err != nil || t.Status == tenancy.StatusArchived {
			return Principal{}, ErrUnauthenticated
		}
		p.TenantID, p.TenantCode = t.ID, t.Code
	}
	for _, r := range c.list(cfg.RolesClaim) {
		if cfg.KnownRole == nil || cfg.KnownRole(r, p.Federal()) {
			p.Roles = append(p.Roles, r)
		}
	}
	p.UserID, err = s.externalUser(ctx, idt.Issuer+"|"+idt.Subject, p)
	if err != nil {
		return Principal{}, err
	}
	return p, nil
}

// externalUser finds or creates the user row an external identity maps to,
// so that its actions have a stable user id.
func (s *Service) externalUser(ctx context.Context, subject string, p Principal) (uuid.UUID, error) {
	var u User
	err := s.db.WithContext(ctx).Where("external_subject = ?", subject).Take(&u).Error
	if err == nil {
		return u.ID, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return uuid.Nil, err
	}
	u = User{ID: uuid.Must(uuid.NewV7()), Username: "oidc:" + shortHash(subject) + ":" + truncate(p.Username, 60),
		DisplayName: p.DisplayName, Kind: KindHuman, Status: StatusActive, ExternalSubject: &subject, Version: 1}
	if p.TenantID != uuid.Nil {
		t := p.TenantID
		u.HomeTenant = &t
	}
	if err := s.db.WithContext(ctx).Create(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) { // created meanwhile
			if err := s.db.WithContext(ctx).Where("external_subject = ?", subject).Take(&u).Error; err == nil {
				return u.ID, nil
			}
		}
		return uuid.Nil, err
	}
	return u.ID, nil
}

func shortHash(s string) string { return fmt.Sprintf("%x", digest(s)[:4]) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
