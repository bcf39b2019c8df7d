package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// cheap is an argon2id cost that keeps the tests fast.
var cheap = Argon2{MemoryKiB: 64, Time: 1, Threads: 1}

func TestPasswordRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery", "пароль-на-кириллице", " leading and trailing ", strings.Repeat("x", 1000), ""} {
		h, err := hashPassword(pw, cheap)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
			t.Fatalf("hash %q is not an argon2id PHC string with the requested cost", h)
		}
		ok, err := checkPassword(pw, h)
		if err != nil || !ok {
			t.Fatalf("checkPassword(%q, its own hash) = %v, %v; want true, nil", pw, ok, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw) + "!", "", strings.TrimSpace(pw) + "\x00"} {
			if wrong == pw {
				continue
			}
			if ok, err := checkPassword(wrong, h); err != nil || ok {
				t.Fatalf("checkPassword(%q) against the hash of %q = %v, %v; want false, nil", wrong, pw, ok, err)
			}
		}
	}
	// A fresh salt every time: equal passwords never share a hash.
	a, _ := hashPassword("same password", cheap)
	b, _ := hashPassword("same password", cheap)
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	// The default cost is what production stores.
	h, err := hashPassword("production cost", DefaultArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default-cost hash %q", h)
	}
	if ok, err := checkPassword("production cost", h); !ok || err != nil {
		t.Fatalf("default cost round trip: %v, %v", ok, err)
	}
}

// malformedHashes are PHC strings a damaged row could hold; none may panic,
// and none may verify any password.
func malformedHashes(t testing.TB) []string {
	good, err := hashPassword("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	return []string{
		"", "$", "$$$$$", "$$$$$$$", "plain text", "$argon2id$", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5",
		"$2a$10$abcdefghijklmnopqrstuu5Qn3kX5Wd9K3oYbKiQQ3QF3QdGcQ2iW", // bcrypt
		good + "$", "$" + good, strings.TrimSuffix(good, parts[5]),
		with(1, "ARGON2ID"), with(1, "argon2d"),
		with(2, "v=16"), with(2, "v="), with(2, "v=-19"), with(2, "19"), with(2, "v=99999999999999999999"),
		with(3, ""), with(3, "m=64,t=1"), with(3, "m=x,t=1,p=1"), with(3, "t=1,m=64,p=1"), with(3, "m=-1,t=1,p=1"),
		with(3, "m=64,t=0,p=1"), with(3, "m=64,t=1,p=0"), with(3, "m=0,t=0,p=0"), with(3, "m=64,t=1,p=256"),
		with(3, "m=99999999999999999999,t=1,p=1"), with(3, "m=4294967295,t=4294967295,p=255"),
		with(3, "m=64,t=4294967295,p=1"), with(3, "m=4294967295,t=1,p=1"),
		with(4, "!!!"), with(4, "c2FsdA=="), with(5, ""), with(5, "!!!"), with(5, "a2V5=="),
		with(4, ""), // an empty salt parses, but argon2 still must not panic
	}
}

func TestCheckPasswordMalformedHashes(t *testing.T) {
	for _, h := range malformedHashes(t) {
		t.Run(fmt.Sprintf("%.40q", h), func(t *testing.T) {
			ok, err := checkPassword("pw", h)
			if ok {
				t.Fatalf("malformed hash %q verified a password", h)
			}
			_ = err // an error or a plain "no" are both fine; a panic is not
		})
	}
	// Each field damaged in turn is reported as a malformed hash, not a
	// mismatch: a damaged row must not look like a wrong password.
	for _, h := range []string{"", "x", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", "$argon2id$v=19$m=64,t=0,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=0$c2FsdA$a2V5"} {
		if _, err := checkPassword("pw", h); !errors.Is(err, errBadHash) {
			t.Errorf("checkPassword(%q): error %v, want errBadHash", h, err)
		}
	}
}

// costly tells whether a hash's cost field asks for more work than a fuzz
// iteration should do (a well-formed but expensive hash is a resource
// question, not the robustness this fuzz target is about).
var digitsRE = regexp.MustCompile(`\d+`)

func costly(phc string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) < 4 {
		return false
	}
	product := uint64(1)
	for _, d := range digitsRE.FindAllString(parts[3], -1) {
		d = strings.TrimLeft(d, "0")
		if len(d) > 9 {
			return true
		}
		n, _ := strconv.ParseUint(d, 10, 64)
		if n > 0 {
			product *= n
		}
		if product > 1<<16 {
			return true
		}
	}
	return false
}

func FuzzCheckPassword(f *testing.F) {
	for _, h := range malformedHashes(f) {
		f.Add("pw", h)
	}
	good, _ := hashPassword("pw", cheap)
	f.Add("pw", good)
	f.Add("", good)
	f.Add("pw\x00", good)
	f.Fuzz(func(t *testing.T, pw, phc string) {
		if costly(phc) {
			return
		}
		ok, err := checkPassword(pw, phc)
		if ok && err != nil {
			t.Fatalf("checkPassword(%q, %q) = true with error %v", pw, phc, err)
		}
		// (checkPassword ignores what precedes the first '$': lenient, but
		// harmless, since the rest must still be a matching argon2id hash.)
		if ok && !strings.Contains(phc, "$argon2id$") {
			t.Fatalf("checkPassword(%q, %q) = true for a string that is no argon2id hash", pw, phc)
		}
		if err == nil && !ok && phc == good && pw == "pw" {
			t.Fatal("the right password was refused")
		}
	})
}

// authHarness is a service on a fresh SQLite database holding one user of
// region 66, one service account with an API key, and an OIDC issuer that
// cannot be reached — so that every kind of credential reaches its code path.
type authHarness struct {
	svc       *Service
	user      User
	tenant    tenancy.Tenant
	keyID     string
	otherKey  ed25519.PrivateKey
	oidcIssue string
}

func newAuthHarness(t testing.TB) *authHarness {
	t.Helper()
	env := storetest.New(t, store.SQLite)
	ctx := context.Background()
	tenants := tenancy.NewService(env.App.Gorm)
	tn, err := tenants.Create(ctx, tenancy.NewTenant{Code: "66", Name: "Свердловская область", OKATO: "65", OKTMO: "65000000", Mode: tenancy.ModeFull})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	h := &authHarness{tenant: tn, otherKey: other, oidcIssue: "http://127.0.0.1:1/issuer"}
	h.svc = NewService(env.App.Gorm, tenancy.NewCache(tenants, time.Second), nil, key, Options{
		Argon2: cheap, OIDC: &OIDCConfig{Issuer: h.oidcIssue, Audience: "treasury"},
	})
	if h.user, err = h.svc.CreateUser(ctx, NewUser{Username: "specialist@66", Tenant: tn.ID, Password: "a good password"}); err != nil {
		t.Fatal(err)
	}
	svcUser, err := h.svc.CreateUser(ctx, NewUser{Username: "robot@66", Tenant: tn.ID, Kind: KindService})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := h.svc.CreateKey(ctx, tn.ID, svcUser.ID, "fuzz", nil, uuid.Nil)
	if err != nil {
		t.Fatal(err)
	}
	h.keyID = k.KeyID
	return h
}

// forged signs claims that would be valid, but with a key the service does
// not know.
func (h *authHarness) forged(claims jwt.MapClaims) string {
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(h.otherKey)
	return tok
}

func (h *authHarness) seeds() []string {
	now := time.Now()
	valid := jwt.MapClaims{
		"iss": "treasury", "aud": "treasury", "sub": h.user.ID.String(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"name": h.user.Username, "knd": "human", "tid": "66", "tuid": h.tenant.ID.String(),
	}
	forged := h.forged(valid)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, valid).SignedString([]byte(h.svc.pub))
	oidcClaims := jwt.MapClaims{"iss": h.oidcIssue, "aud": "treasury", "sub": "x", "exp": now.Add(time.Hour).Unix()}
	oidcTok := h.forged(oidcClaims)
	b64 := base64.RawURLEncoding
	return []string{
		"", "Bearer", "Bearer ", "Bearer  ", "bearer", "Basic dXNlcjpwYXNz", "Bearer garbage", "Bearer a.b.c", "Bearer ..",
		"Bearer " + forged, "bearer " + forged, "Bearer " + forged + " ", "Bearer " + forged + ".x", "Token " + forged,
		"Bearer " + none, "Bearer " + hs, "Bearer " + oidcTok,
		"Bearer " + b64.EncodeToString([]byte(`{"alg":"EdDSA","typ":"JWT"}`)) + "." + b64.EncodeToString([]byte(`{"sub":"`+h.user.ID.String()+`"}`)) + ".",
		"Bearer st_", "Bearer st__", "Bearer st_" + h.keyID, "Bearer st_" + h.keyID + "_", "Bearer st_" + h.keyID + "_wrong-secret",
		"Bearer st_" + h.keyID + "_" + b64.EncodeToString(make([]byte, 32)), "Bearer st_0123456789abcdef_secret",
		"Bearer st_zzzzzzzzzzzzzzzz_secret", "Bearer st_" + h.keyID + "__", "Bearer st_' OR 1=1 --_x",
		"Bearer rt_" + b64.EncodeToString(make([]byte, 32)), "Bearer \x00", "Bearer " + strings.Repeat("a.", 5000),
	}
}

func TestAuthenticateRefusesMalformedHeaders(t *testing.T) {
	h := newAuthHarness(t)
	ctx := context.Background()
	for _, hd := range h.seeds() {
		if p, err := h.svc.Authenticate(ctx, hd); err == nil {
			t.Errorf("Authenticate(%.60q) accepted: %+v", hd, p)
		}
	}
	// The harness itself is sound: a real login's token is accepted.
	tok, err := h.svc.Login(ctx, "specialist@66", "a good password")
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.svc.Authenticate(ctx, "Bearer "+tok.AccessToken)
	if err != nil || p.UserID != h.user.ID || p.TenantCode != "66" {
		t.Fatalf("a real token: %+v, %v", p, err)
	}
}

func FuzzAuthenticate(f *testing.F) {
	h := newAuthHarness(f)
	for _, s := range h.seeds() {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, header string) {
		p, err := h.svc.Authenticate(ctx, header)
		if err == nil {
			t.Fatalf("Authenticate(%q) accepted a header holding no credential of this service: %+v", header, p)
		}
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Authenticate(%q): error %v, want ErrUnauthenticated", header, err)
		}
	})
}

// A password is 8 to 1,000 characters, on creation and on change; at the
// bounds it is taken.
func TestPasswordLengthBounds(t *testing.T) {
	h := newAuthHarness(t)
	ctx := context.Background()
	for _, tc := range []struct {
		password string
		ok       bool
	}{
		{strings.Repeat("я", MinPasswordLen-1), false}, {strings.Repeat("я", MinPasswordLen), true},
		{strings.Repeat("я", MaxPasswordLen), true}, {strings.Repeat("я", MaxPasswordLen+1), false},
	} {
		name := fmt.Sprint("clerk", utf8.RuneCountInString(tc.password), "@66")
		_, err := h.svc.CreateUser(ctx, NewUser{Username: name, Tenant: h.tenant.ID, Password: tc.password})
		if (err == nil) != tc.ok {
			t.Errorf("create with %d characters: %v, want accepted %t", utf8.RuneCountInString(tc.password), err, tc.ok)
		}
		cur, err := h.svc.GetUser(ctx, h.tenant.ID, h.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.svc.UpdateUser(ctx, h.tenant.ID, h.user.ID, cur.Version, UserChange{Password: &tc.password})
		if (err == nil) != tc.ok {
			t.Errorf("change to %d characters: %v, want accepted %t", utf8.RuneCountInString(tc.password), err, tc.ok)
		}
	}
}
