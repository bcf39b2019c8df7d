package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/tenancy"
)

var (
	// ErrUnauthenticated: no credentials, or credentials that prove nothing
	// (expired, malformed, wrongly signed, revoked). Always answered 401.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrBadCredentials: a login that failed, for whatever reason, told
	// apart from no reason so that names cannot be probed.
	ErrBadCredentials = errors.New("wrong username or password, or the account is locked")
	// ErrRegionClosed: the user's region is archived.
	ErrRegionClosed = errors.New("the user's region is archived")
)

// Options tune authentication.
type Options struct {
	Issuer       string
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	Argon2       Argon2
	MaxFailures  int
	LockDuration time.Duration
	OIDC         *OIDCConfig
}

func (o *Options) defaults() {
	if o.Issuer == "" {
		o.Issuer = "treasury"
	}
	if o.AccessTTL <= 0 {
		o.AccessTTL = 15 * time.Minute
	}
	if o.RefreshTTL <= 0 {
		o.RefreshTTL = 30 * 24 * time.Hour
	}
	if o.Argon2.MemoryKiB == 0 {
		o.Argon2 = DefaultArgon2
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 5
	}
	if o.LockDuration <= 0 {
		o.LockDuration = 15 * time.Minute
	}
}

// Gate is what authentication asks of access control: whether a user is
// disabled, and the version of that knowledge (caches key on it).
type Gate interface {
	Disabled(user uuid.UUID) bool
	Version() int64
	Changed(ctx context.Context) error
}

// Service authenticates callers and keeps users, tokens and API keys.
type Service struct {
	db      *gorm.DB
	tenants *tenancy.Cache
	gate    Gate
	key     ed25519.PrivateKey
	pub     ed25519.PublicKey
	opts    Options
	parser  *jwt.Parser
	keys    *keyCache
	// verified holds the platform tokens already verified.
	verified  verifiedTokens
	oidc      *oidcVerifier
	dummy     string
	dummyOnce sync.Once
	changed   func(ctx context.Context) error
	now       func() time.Time
}

// NewService returns the authentication service.
func NewService(db *gorm.DB, tenants *tenancy.Cache, gate Gate, key ed25519.PrivateKey, opts Options) *Service {
	opts.defaults()
	s := &Service{
		db: db, tenants: tenants, gate: gate, key: key, pub: key.Public().(ed25519.PublicKey), opts: opts,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(opts.Issuer), jwt.WithAudience(opts.Issuer),
			jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second),
		),
		keys: newKeyCache(),
		now:  time.Now,
	}
	if gate != nil {
		s.changed = gate.Changed
	}
	if opts.OIDC != nil && opts.OIDC.Issuer != "" {
		s.oidc = newOIDCVerifier(*opts.OIDC)
	}
	return s
}

// Principal is an authenticated caller.
type Principal struct {
	UserID      uuid.UUID
	Username    string
	DisplayName string
	Kind        string
	// TenantID and TenantCode name the user's region; both empty for a
	// federal user.
	TenantID   uuid.UUID
	TenantCode string
	// Via is how the caller proved itself: password (a platform token),
	// api_key or oidc.
	Via string
	// Roles are roles the OIDC issuer asserted; platform users' roles live
	// in access control instead.
	Roles []string
}

// Federal tells whether the caller belongs to the federal operator.
func (p Principal) Federal() bool { return p.TenantCode == "" }

// Tokens is a login's or a refresh's answer.
type Tokens struct {
	AccessToken  string
	ExpiresIn    int
	RefreshToken string
}

type accessClaims struct {
	jwt.RegisteredClaims
	Name       string `json:"name"`
	Display    string `json:"dn,omitempty"`
	Kind       string `json:"knd"`
	TenantCode string `json:"tid,omitempty"`
	TenantID   string `json:"tuid,omitempty"`
}

// Login checks a username and password and issues tokens. Five failures in
// a row lock the account for a while.
func (s *Service) Login(ctx context.Context, username, password string) (Tokens, error) {
	u, err := s.UserByName(ctx, username)
	if errors.Is(err, fault.ErrNotFound) {
		// Spend the same time as a real check, so names cannot be probed.
		_, _ = checkPassword(password, s.dummyHash())
		return Tokens{}, ErrBadCredentials
	}
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	if u.PasswordHash == nil || u.Status != StatusActive || (u.LockedUntil != nil && u.LockedUntil.After(now)) {
		_, _ = checkPassword(password, s.dummyHash())
		return Tokens{}, ErrBadCredentials
	}
	ok, err := checkPassword(password, *u.PasswordHash)
	if err != nil {
		return Tokens{}, err
	}
	if !ok {
		set := map[string]any{"failed_logins": gorm.Expr("failed_logins + 1")}
		if u.FailedLogins+1 >= s.opts.MaxFailures {
			set = map[string]any{"failed_logins": 0, "locked_until": now.Add(s.opts.LockDuration)}
		}
		if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).UpdateColumns(set).Error; err != nil {
			return Tokens{}, err
		}
		return Tokens{}, ErrBadCredentials
	}
	if u.FailedLogins > 0 || u.LockedUntil != nil {
		if err := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).
			UpdateColumns(map[string]any{"failed_logins": 0, "locked_until": nil}).Error; err != nil {
			return Tokens{}, err
		}
	}
	p, err := s.principalOf(ctx, u, "password")
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, p, uuid.Must(uuid.NewV7()))
}

// dummyHash is a hash of the service's cost to check failed logins
// against, so that an unknown name costs what a wrong password does.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = hashPassword("not a password", s.opts.Argon2) })
	return s.dummy
}

// principalOf turns a user row into a principal, refusing users of an
// archived region.
func (s *Service) principalOf(ctx context.Context, u User, via string) (Principal, error) {
	p := Principal{UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Kind: u.Kind, Via: via}
	if u.HomeTenant != nil {
		t, err := s.tenants.ByID(ctx, *u.HomeTenant)
		if err != nil {
			return p, err
		}
		if t.Status == tenancy.StatusArchived {
			return p, ErrRegionClosed
		}
		p.TenantID, p.TenantCode = t.ID, t.Code
	}
	return p, nil
}

func (s *Service) issue(ctx context.Context, p Principal, family uuid.UUID) (Tokens, error) {
	now := s.now()
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Subject: p.UserID.String(), Audience: jwt.ClaimStrings{s.opts.Issuer},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.AccessTTL)),
			ID: uuid.Must(uuid.NewV7()).String(),
		},
		Name: p.Username, Display: p.DisplayName, Kind: p.Kind, TenantCode: p.TenantCode,
	}
	if p.TenantID != uuid.Nil {
		c.TenantID = p.TenantID.String()
	}
	access, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(s.key)
	if err != nil {
		return Tokens{}, err
	}
	refresh, hash := newSecret("rt_")
	err = s.db.WithContext(ctx).Create(&refreshToken{
		ID: uuid.Must(uuid.NewV7()), FamilyID: family, UserID: p.UserID, TokenHash: hash,
		ExpiresAt: now.Add(s.opts.RefreshTTL),
	}).Error
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, ExpiresIn: int(s.opts.AccessTTL.Seconds()), RefreshToken: refresh}, nil
}

type refreshToken struct {
	ID        uuid.UUID `gorm:"primaryKey"`
	FamilyID  uuid.UUID
	UserID    uuid.UUID
	TokenHash []byte
	ExpiresAt time.Time
	RotatedAt *time.Time
	RevokedAt *time.Time
	CreatedAt time.Time
}

func (refreshToken) TableName() string { return "refresh_tokens" }

// newSecret returns a random token with the prefix and its SHA-256.
func newSecret(prefix string) (string, []byte) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := prefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, digest(tok)
}

func digest(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// Refresh exchanges a refresh token for new tokens. Each refresh token works
// once; presenting one again revokes its whole family (it was stolen, or
// the client is confused — either way a new login is due).
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	if !strings.HasPrefix(token, "rt_") {
		return Tokens{}, ErrUnauthenticated
	}
	var rt refreshToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", digest(token)).Take(&rt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Tokens{}, ErrUnauthenticated
	}
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	if rt.RevokedAt != nil || rt.RotatedAt != nil {
		if rt.RotatedAt != nil && rt.RevokedAt == nil {
			_ = s.revokeFamily(ctx, rt.FamilyID)
		}
		return Tokens{}, ErrUnauthenticated
	}
	if now.After(rt.ExpiresAt) {
		return Tokens{}, ErrUnauthenticated
	}
	res := s.db.WithContext(ctx).Model(&refreshToken{}).Where("id = ? AND rotated_at IS NULL AND revoked_at IS NULL", rt.ID).
		Update("rotated_at", now)
	if res.Error != nil {
		return Tokens{}, res.Error
	}
	if res.RowsAffected == 0 { // rotated concurrently
		return Tokens{}, ErrUnauthenticated
	}
	var u User
	if err := s.db.WithContext(ctx).Where("id = ?", rt.UserID).Take(&u).Error; err != nil {
		return Tokens{}, err
	}
	if u.Status != StatusActive {
		return Tokens{}, ErrUnauthenticated
	}
	p, err := s.principalOf(ctx, u, "password")
	if errors.Is(err, ErrRegionClosed) {
		return Tokens{}, ErrUnauthenticated
	}
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, p, rt.FamilyID)
}

// Logout revokes the refresh token's family. Access tokens already issued
// expire on their own (AccessTTL).
func (s *Service) Logout(ctx context.Context, token string) error {
	var rt refreshToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", digest(token)).Take(&rt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // logging out twice is not an error
	}
	if err != nil {
		return err
	}
	return s.revokeFamily(ctx, rt.FamilyID)
}

func (s *Service) revokeFamily(ctx context.Context, family uuid.UUID) error {
	return s.db.WithContext(ctx).Model(&refreshToken{}).Where("family_id = ? AND revoked_at IS NULL", family).
		Update("revoked_at", s.now()).Error
}

// Authenticate verifies an Authorization header's bearer credential.
func (s *Service) Authenticate(ctx context.Context, header string) (Principal, error) {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(header, "bearer ")
	}
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return Principal{}, ErrUnauthenticated
	}
	var (
		p   Principal
		err error
	)
	switch {
	case strings.HasPrefix(tok, apiKeyPrefix):
		p, err = s.apiKey(ctx, tok)
	case s.oidc != nil && s.oidc.owns(tok, s.opts.Issuer):
		p, err = s.oidcPrincipal(ctx, tok)
	default:
		p, err = s.platformToken(ctx, tok)
	}
	if err != nil {
		return Principal{}, err
	}
	if s.gate != nil && s.gate.Disabled(p.UserID) {
		return Principal{}, ErrUnauthenticated
	}
	return p, nil
}

func (s *Service) platformToken(ctx context.Context, tok string) (Principal, error) {
	key := sha256.Sum256([]byte(tok))
	p, ok := s.verified.get(key, s.now())
	if !ok {
		var c accessClaims
		if _, err := s.parser.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return s.pub, nil }); err != nil {
			return Principal{}, ErrUnauthenticated
		}
		id, err := uuid.Parse(c.Subject)
		if err != nil {
			return Principal{}, ErrUnauthenticated
		}
		p = Principal{UserID: id, Username: c.Name, DisplayName: c.Display, Kind: c.Kind, TenantCode: c.TenantCode, Via: "password"}
		if c.TenantID != "" {
			if p.TenantID, err = uuid.Parse(c.TenantID); err != nil {
				return Principal{}, ErrUnauthenticated
			}
		}
		s.verified.put(key, p, c.ExpiresAt.Time) // the parser requires exp
	}
	if p.TenantID != uuid.Nil {
		t, err := s.tenants.ByID(ctx, p.TenantID)
		if err != nil || t.Status == tenancy.StatusArchived {
			return Principal{}, ErrUnauthenticated
		}
	}
	return p, nil
}

// verifiedTokens remembers the platform tokens whose signature and claims
// were verified, keyed by the token's SHA-256, until they expire. Verifying
// an Ed25519 signature is most of an authenticated request's CPU, and a
// client presents the same token for its whole life. Only the signature and
// the claims are remembered: the region's status and the user's (disabled)
// are still checked on every request.
type verifiedTokens struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	principal Principal
	expires   time.Time
}

// maxVerified bounds the cache (about 250 bytes an entry); when full it
// starts over.
const maxVerified = 50_000

func (c *verifiedTokens) get(key [sha256.Size]byte, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return Principal{}, false
	}
	return e.principal, true
}

func (c *verifiedTokens) put(key [sha256.Size]byte, p Principal, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxVerified {
		c.entries = make(map[[sha256.Size]byte]verifiedToken)
	}
	c.entries[key] = verifiedToken{principal: p, expires: expires}
}
