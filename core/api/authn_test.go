package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/auth"
	"github.com/socialtreasury/treasury/core/store"
)

// authnDialects runs fn once per dialect; without TREASURY_TEST_DATABASE_URL
// the PostgreSQL subtest is skipped with storetest's message.
func authnDialects(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// authnPlatform starts a test platform and returns its data directory too,
// where the development signing key (token-ed25519.pem) lives.
func authnPlatform(t *testing.T, d store.Dialect, configure func(*app.Config)) (*apptest.Platform, string) {
	t.Helper()
	var dir string
	p := apptest.NewWith(t, d, func(c *app.Config) {
		if configure != nil {
			configure(c)
		}
		dir = c.DataDir
	})
	return p, dir
}

func authz(header string) []string { return []string{"Authorization", header} }

// want401 asserts that GET path with the headers is refused as
// unauthenticated, with a Bearer challenge.
func want401(t *testing.T, p *apptest.Platform, path string, headers ...string) {
	t.Helper()
	r := apptest.Expect(t, p.Do("", http.MethodGet, path, nil, headers...), http.StatusUnauthorized)
	if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
		t.Fatalf("401 without a Bearer challenge: WWW-Authenticate %q", ch)
	}
}

// field digs a string out of decoded JSON: field(m, "user", "username").
func field(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}

func strs(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

type tokenPair struct{ access, refresh string }

func loginAPI(t *testing.T, p *apptest.Platform, user, password string) (apptest.Response, tokenPair) {
	t.Helper()
	r := p.Do("", http.MethodPost, "/api/v1/auth/login", map[string]string{"username": user, "password": password})
	var tp tokenPair
	if r.Status == http.StatusOK {
		m := r.JSON(t)
		tp = tokenPair{field(m, "access_token"), field(m, "refresh_token")}
		if tp.access == "" || !strings.HasPrefix(tp.refresh, "rt_") {
			t.Fatalf("login answered 200 without tokens: %s", r.Body)
		}
	}
	return r, tp
}

func mustLogin(t *testing.T, p *apptest.Platform, user, password string) tokenPair {
	t.Helper()
	r, tp := loginAPI(t, p, user, password)
	apptest.Expect(t, r, http.StatusOK)
	return tp
}

func refreshAPI(t *testing.T, p *apptest.Platform, refresh string) (apptest.Response, tokenPair) {
	t.Helper()
	r := p.Do("", http.MethodPost, "/api/v1/auth/refresh", map[string]string{"refresh_token": refresh})
	var tp tokenPair
	if r.Status == http.StatusOK {
		m := r.JSON(t)
		tp = tokenPair{field(m, "access_token"), field(m, "refresh_token")}
	}
	return r, tp
}

func want401Refresh(t *testing.T, p *apptest.Platform, refresh, why string) {
	t.Helper()
	r, _ := refreshAPI(t, p, refresh)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("refresh %s: status %d, want 401: %s", why, r.Status, r.Body)
	}
	apptest.Expect(t, r, http.StatusUnauthorized)
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("refresh %s: 401 without WWW-Authenticate", why)
	}
}

// etagOf reads a resource's ETag.
func etagOf(t *testing.T, p *apptest.Platform, token, path string) string {
	t.Helper()
	r := apptest.Expect(t, p.Do(token, http.MethodGet, path, nil), http.StatusOK)
	e := r.Header.Get("ETag")
	if e == "" {
		t.Fatalf("GET %s: no ETag", path)
	}
	return e
}

// newServiceKey creates a service account of region 66 with the integration
// role and an API key for it, as the region's administrator.
func newServiceKey(t *testing.T, p *apptest.Platform, username string, expires *time.Time) (userID, keyID, key string) {
	t.Helper()
	admin := p.Token("tenant_admin", "66")
	r := apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/users",
		map[string]any{"username": username, "kind": "service"}), http.StatusCreated)
	userID = field(r.JSON(t), "id")
	apptest.Expect(t, p.Do(admin, http.MethodPut, "/api/v1/tenants/66/users/"+userID+"/roles",
		map[string]any{"roles": []string{"integration"}}), http.StatusOK)
	body := map[string]any{"user_id": userID, "name": "key of " + username}
	if expires != nil {
		body["expires_at"] = expires.UTC().Format(time.RFC3339Nano)
	}
	r = apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/api-keys", body), http.StatusCreated)
	m := r.JSON(t)
	keyID, key = field(m, "id"), field(m, "key")
	if !strings.HasPrefix(key, "st_"+field(m, "key_id")+"_") {
		t.Fatalf("API key %q does not read st_<key_id>_<secret> (key_id %q)", key, field(m, "key_id"))
	}
	return userID, keyID, key
}

func TestAuthnRefusesBadBearerTokens(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, dir := authnPlatform(t, d, nil)
		key, err := auth.LoadSigningKey(filepath.Join(dir, "token-ed25519.pem"))
		if err != nil {
			t.Fatalf("the platform's signing key: %v", err)
		}
		uid := p.User("specialist", "66")
		t66, err := p.Tenants.ByCode(context.Background(), "66")
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
			c := jwt.MapClaims{
				"iss": "treasury", "aud": []string{"treasury"}, "sub": uid.String(), "jti": uuid.NewString(),
				"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
				"name": "specialist@66", "knd": "human", "tid": "66", "tuid": t66.ID.String(),
			}
			if change != nil {
				change(c)
			}
			return c
		}
		sign := func(m jwt.SigningMethod, k any, c jwt.MapClaims) string {
			t.Helper()
			s, err := jwt.NewWithClaims(m, c).SignedString(k)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		platform := func(change func(jwt.MapClaims)) string { return sign(jwt.SigningMethodEdDSA, key, claims(change)) }

		// The minted token is accepted as the platform's own: each refusal
		// below is due to the one thing changed.
		valid := platform(nil)
		me := apptest.Expect(t, p.Do(valid, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
		if field(me, "user", "username") != "specialist@66" || field(me, "tenant", "code") != "66" {
			t.Fatalf("the minted token is not taken as specialist@66: %v", me)
		}
		apptest.Expect(t, p.Do(valid, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)
		apptest.Expect(t, p.Do("", http.MethodGet, "/api/v1/me", nil, authz("bearer "+valid)...), http.StatusOK)

		_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
		pub := key.Public().(ed25519.PublicKey)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		parts := strings.Split(valid, ".")
		adminID := p.User("tenant_admin", "66")
		swapped := strings.Split(platform(func(c jwt.MapClaims) { c["sub"] = adminID.String(); c["name"] = "tenant_admin@66" }), ".")
		b64 := base64.RawURLEncoding
		basic := base64.StdEncoding.EncodeToString([]byte("specialist@66:" + apptest.Password))

		cases := []struct {
			name    string
			headers []string
		}{
			{"no header", nil},
			{"empty header", authz("")},
			{"Bearer alone", authz("Bearer")},
			{"Bearer and space", authz("Bearer   ")},
			{"Bearer garbage", authz("Bearer garbage")},
			{"Bearer dots", authz("Bearer a.b.c")},
			{"Basic with the right password", authz("Basic " + basic)},
			{"another scheme", authz("Token " + valid)},
			{"no scheme", authz(valid)},
			{"signature altered", authz("Bearer " + parts[0] + "." + parts[1] + "." + b64.EncodeToString(make([]byte, 64)))},
			{"signature cut", authz("Bearer " + parts[0] + "." + parts[1] + ".")},
			{"payload swapped", authz("Bearer " + parts[0] + "." + swapped[1] + "." + parts[2])},
			{"another Ed25519 key", authz("Bearer " + sign(jwt.SigningMethodEdDSA, otherKey, claims(nil)))},
			{"expired an hour ago", authz("Bearer " + platform(func(c jwt.MapClaims) {
				c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
			}))},
			{"expired beyond the leeway", authz("Bearer " + platform(func(c jwt.MapClaims) {
				c["iat"], c["exp"] = now.Add(-16*time.Minute).Unix(), now.Add(-time.Minute).Unix()
			}))},
			{"no expiry", authz("Bearer " + platform(func(c jwt.MapClaims) { delete(c, "exp") }))},
			{"issued in the future", authz("Bearer " + platform(func(c jwt.MapClaims) {
				c["iat"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
			}))},
			{"wrong issuer", authz("Bearer " + platform(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
			{"no issuer", authz("Bearer " + platform(func(c jwt.MapClaims) { delete(c, "iss") }))},
			{"wrong audience", authz("Bearer " + platform(func(c jwt.MapClaims) { c["aud"] = []string{"another-service"} }))},
			{"no audience", authz("Bearer " + platform(func(c jwt.MapClaims) { delete(c, "aud") }))},
			{"alg none", authz("Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)))},
			{"HS256 keyed with the public key", authz("Bearer " + sign(jwt.SigningMethodHS256, []byte(pub), claims(nil)))},
			{"HS256 keyed with the public key PEM", authz("Bearer " + sign(jwt.SigningMethodHS256, pubPEM, claims(nil)))},
			{"subject not a uuid", authz("Bearer " + platform(func(c jwt.MapClaims) { c["sub"] = "specialist@66" }))},
			{"unknown region id", authz("Bearer " + platform(func(c jwt.MapClaims) { c["tuid"] = uuid.NewString() }))},
			{"malformed region id", authz("Bearer " + platform(func(c jwt.MapClaims) { c["tuid"] = "66" }))},
			{"a refresh token as bearer", authz("Bearer rt_" + b64.EncodeToString(make([]byte, 32)))},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				want401(t, p, "/api/v1/me", c.headers...)
				want401(t, p, "/api/v1/tenants/66/agencies", c.headers...)
			})
		}
	})
}

func TestAuthnAPIKeys(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, _ := authnPlatform(t, d, nil)
		admin := p.Token("tenant_admin", "66")

		t.Run("revoked", func(t *testing.T) {
			_, id, key := newServiceKey(t, p, "robot-revoked", nil)
			me := apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
			if field(me, "user", "username") != "robot-revoked" || field(me, "authenticated_via") != "api_key" || field(me, "user", "kind") != "service" {
				t.Fatalf("/me with the key: %v", me)
			}
			apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)
			apptest.Expect(t, p.Do(admin, http.MethodDelete, "/api/v1/tenants/66/api-keys/"+id, nil), http.StatusNoContent)
			want401(t, p, "/api/v1/me", authz("Bearer "+key)...)
			want401(t, p, "/api/v1/tenants/66/agencies", authz("Bearer "+key)...)
			// Revoking again changes nothing; the key stays refused.
			apptest.Expect(t, p.Do(admin, http.MethodDelete, "/api/v1/tenants/66/api-keys/"+id, nil), http.StatusNoContent)
			want401(t, p, "/api/v1/me", authz("Bearer "+key)...)
			// Another region's administrator cannot see it.
			apptest.Expect(t, p.Do(p.Token("tenant_admin", "16"), http.MethodDelete, "/api/v1/tenants/16/api-keys/"+id, nil), http.StatusNotFound)
		})

		t.Run("expired", func(t *testing.T) {
			expires := time.Now().Add(1500 * time.Millisecond)
			_, _, key := newServiceKey(t, p, "robot-expiring", &expires)
			apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/me", nil), http.StatusOK)
			time.Sleep(time.Until(expires) + 100*time.Millisecond)
			want401(t, p, "/api/v1/me", authz("Bearer "+key)...)
			want401(t, p, "/api/v1/tenants/66/agencies", authz("Bearer "+key)...)
			// A key cannot be issued already expired.
			uid, _, _ := newServiceKey(t, p, "robot-past", nil)
			apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/api-keys", map[string]any{
				"user_id": uid, "name": "past", "expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			}), http.StatusUnprocessableEntity)
		})

		t.Run("malformed", func(t *testing.T) {
			_, _, key := newServiceKey(t, p, "robot-malformed", nil)
			rest := strings.TrimPrefix(key, "st_")
			keyID, secret, _ := strings.Cut(rest, "_")
			flipped := []byte(secret)
			flipped[0] ^= 1
			for _, bad := range []string{
				"st_", "st__", "st_" + keyID, "st_" + keyID + "_", "st_" + keyID + "_" + string(flipped),
				"st_" + keyID + "_" + secret + "x", "st_" + keyID + "_" + secret[:len(secret)-1],
				"st_" + keyID[:15] + "_" + secret, "st_" + keyID + "0_" + secret, "st_" + strings.ToUpper(keyID) + "_" + secret,
				"st_0123456789abcdef_" + secret, "st_" + keyID + secret, "ST_" + keyID + "_" + secret, keyID + "_" + secret,
				"st_" + keyID + "_" + secret + "_",
			} {
				want401(t, p, "/api/v1/me", authz("Bearer "+bad)...)
			}
			// The real key still works after all those attempts.
			apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/me", nil), http.StatusOK)
		})

		t.Run("service account disabled", func(t *testing.T) {
			uid, _, key := newServiceKey(t, p, "robot-disabled", nil)
			apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/me", nil), http.StatusOK)
			path := "/api/v1/tenants/66/users/" + uid
			apptest.Expect(t, p.Do(admin, http.MethodPatch, path, map[string]any{"status": "disabled"},
				"If-Match", etagOf(t, p, admin, path)), http.StatusOK)
			want401(t, p, "/api/v1/me", authz("Bearer "+key)...)
			// A person cannot be given a key.
			apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/api-keys", map[string]any{
				"user_id": p.User("specialist", "66").String(), "name": "person",
			}), http.StatusUnprocessableEntity)
		})
	})
}

func TestAuthnRefreshTokens(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, _ := authnPlatform(t, d, nil)
		p.User("specialist", "66")
		user, pw := "specialist@66", apptest.Password

		t.Run("reuse revokes the family", func(t *testing.T) {
			first := mustLogin(t, p, user, pw)
			other := mustLogin(t, p, user, pw) // another login, another family
			r, second := refreshAPI(t, p, first.refresh)
			apptest.Expect(t, r, http.StatusOK)
			if second.refresh == first.refresh || second.access == "" {
				t.Fatalf("refresh did not rotate: %+v", second)
			}
			apptest.Expect(t, p.Do(second.access, http.MethodGet, "/api/v1/me", nil), http.StatusOK)
			// The used token again: refused, and every token of its login with it.
			want401Refresh(t, p, first.refresh, "with a used token")
			want401Refresh(t, p, second.refresh, "with the successor of a reused token")
			want401Refresh(t, p, first.refresh, "with a used token, a third time")
			// Another login's family is untouched.
			r, _ = refreshAPI(t, p, other.refresh)
			apptest.Expect(t, r, http.StatusOK)
		})

		t.Run("after logout", func(t *testing.T) {
			tp := mustLogin(t, p, user, pw)
			apptest.Expect(t, p.Do("", http.MethodPost, "/api/v1/auth/logout", map[string]string{"refresh_token": tp.refresh}), http.StatusNoContent)
			want401Refresh(t, p, tp.refresh, "after logout")
			// Logging out twice is fine.
			apptest.Expect(t, p.Do("", http.MethodPost, "/api/v1/auth/logout", map[string]string{"refresh_token": tp.refresh}), http.StatusNoContent)

			// Logging out with a successor revokes its predecessors' family too.
			tp = mustLogin(t, p, user, pw)
			r, next := refreshAPI(t, p, tp.refresh)
			apptest.Expect(t, r, http.StatusOK)
			apptest.Expect(t, p.Do("", http.MethodPost, "/api/v1/auth/logout", map[string]string{"refresh_token": next.refresh}), http.StatusNoContent)
			want401Refresh(t, p, next.refresh, "after logout with it")
			want401Refresh(t, p, tp.refresh, "of a logged-out family")
		})

		t.Run("unknown", func(t *testing.T) {
			want401Refresh(t, p, "rt_"+base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "with an unknown token")
			want401Refresh(t, p, "not-a-refresh-token", "without the rt_ prefix")
			tp := mustLogin(t, p, user, pw)
			want401Refresh(t, p, tp.refresh+"x", "with a token one character longer")
			want401Refresh(t, p, strings.TrimPrefix(tp.refresh, "rt_"), "without its prefix")
		})
	})
}

// newClerk has region 66's admin create the user clerk-66 (password
// clerk-password-1) and returns the admin's token and the user's path.
func newClerk(t *testing.T, p *apptest.Platform) (admin, path string) {
	t.Helper()
	admin = p.Token("tenant_admin", "66")
	r := apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/users",
		map[string]any{"username": "clerk-66", "password": "clerk-password-1"}), http.StatusCreated)
	return admin, "/api/v1/tenants/66/users/" + field(r.JSON(t), "id")
}

func TestAuthnDisabledUser(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, _ := authnPlatform(t, d, nil)
		admin, path := newClerk(t, p)
		apptest.Expect(t, p.Do(admin, http.MethodPut, path+"/roles", map[string]any{"roles": []string{"specialist"}}), http.StatusOK)
		tp := mustLogin(t, p, "clerk-66", "clerk-password-1")
		apptest.Expect(t, p.Do(tp.access, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)

		r := apptest.Expect(t, p.Do(admin, http.MethodPatch, path, map[string]any{"status": "disabled"},
			"If-Match", etagOf(t, p, admin, path)), http.StatusOK)
		if field(r.JSON(t), "status") != "disabled" {
			t.Fatalf("PATCH status=disabled: %s", r.Body)
		}
		want401(t, p, "/api/v1/me", authz("Bearer "+tp.access)...)
		want401(t, p, "/api/v1/tenants/66/agencies", authz("Bearer "+tp.access)...)
		want401Refresh(t, p, tp.refresh, "of a disabled user")
		r, _ = loginAPI(t, p, "clerk-66", "clerk-password-1")
		apptest.Expect(t, r, http.StatusUnauthorized)
	})
}

// A new password ends every login the old one opened: their refresh tokens
// are refused, while a login with the new password works.
func TestAuthnPasswordChangeEndsLogins(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, _ := authnPlatform(t, d, nil)
		admin, path := newClerk(t, p)
		first, second := mustLogin(t, p, "clerk-66", "clerk-password-1"), mustLogin(t, p, "clerk-66", "clerk-password-1")
		p.User("specialist", "66")
		other := mustLogin(t, p, "specialist@66", apptest.Password)

		apptest.Expect(t, p.Do(admin, http.MethodPatch, path, map[string]any{"password": "clerk-password-2"},
			"If-Match", etagOf(t, p, admin, path)), http.StatusOK)
		want401Refresh(t, p, first.refresh, "of a login with the old password")
		want401Refresh(t, p, second.refresh, "of another login with the old password")
		r, _ := loginAPI(t, p, "clerk-66", "clerk-password-1")
		apptest.Expect(t, r, http.StatusUnauthorized)
		tp := mustLogin(t, p, "clerk-66", "clerk-password-2")
		r, next := refreshAPI(t, p, tp.refresh)
		apptest.Expect(t, r, http.StatusOK)
		// Another user's logins are untouched.
		r, _ = refreshAPI(t, p, other.refresh)
		apptest.Expect(t, r, http.StatusOK)

		// A change without a new password keeps the logins.
		apptest.Expect(t, p.Do(admin, http.MethodPatch, path, map[string]any{"display_name": "Клерк"},
			"If-Match", etagOf(t, p, admin, path)), http.StatusOK)
		r, _ = refreshAPI(t, p, next.refresh)
		apptest.Expect(t, r, http.StatusOK)
	})
}

// testIssuer is an OpenID Connect issuer served by the test: discovery and
// a JWKS with one RSA key.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &testIssuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		u := iss.srv.URL
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
			"jwks_uri": u + "/keys", "response_types_supported": []string{"code", "id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: iss.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// claims are an ID token's claims for the audience, valid for ten minutes.
func (i *testIssuer) claims(aud, sub string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": i.srv.URL, "aud": aud, "sub": sub, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

// sign signs claims with key under the key id (the issuer's own: i.key, i.kid).
func (i *testIssuer) sign(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAuthnOIDC(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		iss := newTestIssuer(t)
		const aud = "treasury-test"
		p, _ := authnPlatform(t, d, func(c *app.Config) {
			c.OIDCIssuer, c.OIDCAudience = iss.srv.URL, aud
		})
		good := func(sub string, extra map[string]any) string {
			c := iss.claims(aud, sub)
			for k, v := range extra {
				c[k] = v
			}
			return iss.sign(t, iss.key, iss.kid, c)
		}

		t.Run("accepted", func(t *testing.T) {
			tok := good("subject-1", map[string]any{
				"preferred_username": "Ivan.Petrov", "name": "Иван Петров", "treasury_tenant": "66",
				"treasury_roles": []string{"specialist", "superuser", "federal_admin", "SPECIALIST"},
			})
			me := apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
			if field(me, "user", "username") != "ivan.petrov" || field(me, "user", "display_name") != "Иван Петров" ||
				field(me, "tenant", "code") != "66" || field(me, "authenticated_via") != "oidc" || me["federal"] != false {
				t.Fatalf("/me: %v", me)
			}
			// Roles the platform does not know, and federal roles claimed
			// for a region's user, are dropped.
			if got := strs(me["roles"]); !slices.Equal(got, []string{"specialist"}) {
				t.Fatalf("/me roles %v, want [specialist]", got)
			}
			// The roles work: a specialist of 66 reads its assigning bodies,
			// cannot create one, and does not see region 16.
			apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)
			apptest.Expect(t, p.Do(tok, http.MethodPost, "/api/v1/tenants/66/agencies",
				map[string]any{"osz_code": "6601.000009", "name": "x", "inn": "7707083893", "oktmo": "65701000"}), http.StatusForbidden)
			apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/tenants/16/agencies", nil), http.StatusNotFound)
			apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/tenants/66/users", nil), http.StatusForbidden)
			// The same subject maps to the same user every time.
			again := apptest.Expect(t, p.Do(good("subject-1", map[string]any{"preferred_username": "ivan.petrov", "treasury_tenant": "66"}),
				http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
			if field(again, "user", "id") != field(me, "user", "id") {
				t.Fatalf("one subject, two users: %s and %s", field(me, "user", "id"), field(again, "user", "id"))
			}
		})

		t.Run("unknown roles are ignored", func(t *testing.T) {
			tok := good("subject-2", map[string]any{"preferred_username": "nobody", "treasury_tenant": "66",
				"treasury_roles": []string{"root", "admin", "tenant-admin", ""}})
			me := apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
			if got := strs(me["roles"]); len(got) != 0 {
				t.Fatalf("/me roles %v, want none", got)
			}
			apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusForbidden)
			// A federal identity keeps only federal roles.
			fed := good("subject-3", map[string]any{"preferred_username": "auditor",
				"treasury_roles": []string{"federal_auditor", "specialist", "god"}})
			me = apptest.Expect(t, p.Do(fed, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
			if got := strs(me["roles"]); me["federal"] != true || !slices.Equal(got, []string{"federal_auditor"}) {
				t.Fatalf("federal /me: federal %v, roles %v", me["federal"], got)
			}
		})

		t.Run("refused", func(t *testing.T) {
			otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			base := map[string]any{"preferred_username": "mallory", "treasury_tenant": "66", "treasury_roles": []string{"tenant_admin"}}
			with := func(change func(map[string]any)) map[string]any {
				c := iss.claims(aud, "mallory")
				for k, v := range base {
					c[k] = v
				}
				change(c)
				return c
			}
			cases := []struct{ name, token string }{
				{"another issuer", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { c["iss"] = "https://idp.example.org" }))},
				{"the issuer with a trailing slash", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { c["iss"] = iss.srv.URL + "/" }))},
				{"the platform as issuer", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { c["iss"], c["aud"] = "treasury", "treasury" }))},
				{"no issuer", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { delete(c, "iss") }))},
				{"wrong audience", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { c["aud"] = "another-client" }))},
				{"no audience", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { delete(c, "aud") }))},
				{"another key, same key id", iss.sign(t, otherKey, iss.kid, with(func(map[string]any) {}))},
				{"another key, unknown key id", iss.sign(t, otherKey, "rogue", with(func(map[string]any) {}))},
				{"expired", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) {
					c["iat"], c["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
				}))},
				{"expired a minute ago", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) {
					c["exp"] = time.Now().Add(-time.Minute).Unix()
				}))},
				{"unknown region", iss.sign(t, iss.key, iss.kid, with(func(c map[string]any) { c["treasury_tenant"] = "99" }))},
				{"alg none", func() string {
					s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(with(func(map[string]any) {}))).SignedString(jwt.UnsafeAllowNoneSignatureType)
					return s
				}()},
				{"HS256 keyed with the issuer's public key", func() string {
					der := x509.MarshalPKCS1PublicKey(&iss.key.PublicKey)
					s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(with(func(map[string]any) {}))).SignedString(der)
					return s
				}()},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					want401(t, p, "/api/v1/me", authz("Bearer "+c.token)...)
					want401(t, p, "/api/v1/tenants/66/agencies", authz("Bearer "+c.token)...)
				})
			}
			// The issuer's own token still works after all those.
			apptest.Expect(t, p.Do(good("mallory", base), http.MethodGet, "/api/v1/tenants/66/users", nil), http.StatusOK)
		})
	})
}

// The claim names are configurable.
func TestAuthnOIDCClaimMapping(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		iss := newTestIssuer(t)
		p, _ := authnPlatform(t, d, func(c *app.Config) {
			c.OIDCIssuer, c.OIDCAudience = iss.srv.URL, "treasury-test"
			c.OIDCUsernameClaim, c.OIDCTenantClaim, c.OIDCRolesClaim = "email", "region", "groups"
		})
		cl := iss.claims("treasury-test", "subject-9")
		cl["email"], cl["region"], cl["groups"] = "Auditor@Region16.example", "16", "auditor approver unknown"
		cl["preferred_username"], cl["treasury_tenant"], cl["treasury_roles"] = "ignored", "66", []string{"tenant_admin"}
		tok := iss.sign(t, iss.key, iss.kid, cl)
		me := apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/me", nil), http.StatusOK).JSON(t)
		if field(me, "user", "username") != "auditor@region16.example" || field(me, "tenant", "code") != "16" {
			t.Fatalf("/me: %v", me)
		}
		if got := strs(me["roles"]); !slices.Equal(got, []string{"approver", "auditor"}) {
			t.Fatalf("roles %v, want [approver auditor]", got)
		}
		apptest.Expect(t, p.Do(tok, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusNotFound)
	})
}

func TestAuthnLockout(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, dir := authnPlatform(t, d, nil)
		admin := p.Token("tenant_admin", "66")
		wrong := func(user string, n int) {
			t.Helper()
			for i := 0; i < n; i++ {
				r, _ := loginAPI(t, p, user, "wrong password "+string(rune('a'+i)))
				apptest.Expect(t, r, http.StatusUnauthorized)
			}
		}
		locked := func(id uuid.UUID) bool {
			t.Helper()
			r := apptest.Expect(t, p.Do(admin, http.MethodGet, "/api/v1/tenants/66/users/"+id.String(), nil), http.StatusOK)
			return r.JSON(t)["locked"] == true
		}

		// As wired in production (15 minutes): five failures, then the
		// right password is refused, with the same answer as a wrong one.
		approver := p.User("approver", "66")
		wrong("approver@66", 5)
		r, _ := loginAPI(t, p, "approver@66", apptest.Password)
		apptest.Expect(t, r, http.StatusUnauthorized)
		r2, _ := loginAPI(t, p, "approver@66", "still wrong")
		if field(r.JSON(t), "detail") != field(r2.JSON(t), "detail") {
			t.Fatalf("a locked account answers differently from a wrong password: %s vs %s", r.Body, r2.Body)
		}
		if !locked(approver) {
			t.Fatal("the user is not shown as locked")
		}
		// Another user is not affected.
		mustLogin(t, p, "tenant_admin@66", apptest.Password)

		// The same through a service whose lock lasts a second (the seam:
		// auth.Options.LockDuration, which app.Config does not expose).
		const lock = time.Second
		key, err := auth.LoadSigningKey(filepath.Join(dir, "token-ed25519.pem"))
		if err != nil {
			t.Fatal(err)
		}
		svc := auth.NewService(p.DB.Gorm, p.TenantCache, p.Access, key, auth.Options{
			Argon2: auth.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}, LockDuration: lock,
		})
		srv, err := api.New(api.Deps{
			Tenants: p.TenantCache, TenantAdmin: p.Tenants, Agencies: p.Agencies, Auth: svc, Access: p.Access,
			Delegations: p.Delegations, Ready: p.Ready,
		}, api.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p.Platform.Server, p.Platform.Auth = srv, svc

		specialist := p.User("specialist", "66")
		// Failures must be in a row: a success in between starts over.
		wrong("specialist@66", 4)
		mustLogin(t, p, "specialist@66", apptest.Password)
		wrong("specialist@66", 4)
		mustLogin(t, p, "specialist@66", apptest.Password)

		wrong("specialist@66", 5)
		lockedAt := time.Now()
		r, _ = loginAPI(t, p, "specialist@66", apptest.Password)
		apptest.Expect(t, r, http.StatusUnauthorized)
		if !locked(specialist) {
			t.Fatal("the user is not shown as locked")
		}
		// While locked, further attempts do not extend the lock.
		wrong("specialist@66", 3)
		time.Sleep(time.Until(lockedAt.Add(lock + 200*time.Millisecond)))
		mustLogin(t, p, "specialist@66", apptest.Password)
		if locked(specialist) {
			t.Fatal("the user is still shown as locked after logging in")
		}
		// The account locked for 15 minutes is still locked.
		r, _ = loginAPI(t, p, "approver@66", apptest.Password)
		apptest.Expect(t, r, http.StatusUnauthorized)
	})
}

func TestAuthnRegionStatus(t *testing.T) {
	authnDialects(t, func(t *testing.T, d store.Dialect) {
		p, _ := authnPlatform(t, d, nil)
		fed := p.Token("federal_admin", "federal")
		admin := p.Token("tenant_admin", "66")
		spec := p.Token("specialist", "66")
		agencyBody := func(n string) map[string]any {
			return map[string]any{"osz_code": "6601.00000" + n, "name": "Управление " + n, "inn": "7707083893", "oktmo": "65701000"}
		}
		setStatus := func(status string) {
			t.Helper()
			r := apptest.Expect(t, p.Do(fed, http.MethodPatch, "/api/v1/tenants/66", map[string]any{"status": status},
				"If-Match", etagOf(t, p, fed, "/api/v1/tenants/66")), http.StatusOK)
			if field(r.JSON(t), "status") != status {
				t.Fatalf("region 66 is %s, want %s", field(r.JSON(t), "status"), status)
			}
		}

		// Before: the region's users write.
		r := apptest.Expect(t, p.Do(admin, http.MethodPost, "/api/v1/tenants/66/agencies", agencyBody("1")), http.StatusCreated)
		agency := "/api/v1/tenants/66/agencies/" + field(r.JSON(t), "id")
		userID := p.User("auditor", "66").String()
		_, keyID, key := newServiceKey(t, p, "robot-66", nil)
		refresh := mustLogin(t, p, "specialist@66", apptest.Password).refresh

		setStatus("suspended")
		for _, path := range []string{"/api/v1/tenants/66", "/api/v1/tenants/66/agencies", agency, "/api/v1/tenants/66/users", "/api/v1/tenants/66/api-keys"} {
			apptest.Expect(t, p.Do(admin, http.MethodGet, path, nil), http.StatusOK)
		}
		apptest.Expect(t, p.Do(spec, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)
		apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/tenants/66/agencies", nil), http.StatusOK)
		writes := []struct {
			method, path string
			body         any
			headers      []string
		}{
			{http.MethodPost, "/api/v1/tenants/66/agencies", agencyBody("2"), nil},
			{http.MethodPatch, agency, map[string]any{"name": "Новое имя"}, []string{"If-Match", etagOf(t, p, admin, agency)}},
			{http.MethodPost, "/api/v1/tenants/66/users", map[string]any{"username": "newcomer-66", "password": "newcomer-pass-1"}, nil},
			{http.MethodPatch, "/api/v1/tenants/66/users/" + userID, map[string]any{"display_name": "x"},
				[]string{"If-Match", etagOf(t, p, admin, "/api/v1/tenants/66/users/"+userID)}},
			{http.MethodPut, "/api/v1/tenants/66/users/" + userID + "/roles", map[string]any{"roles": []string{"specialist"}}, nil},
			{http.MethodDelete, "/api/v1/tenants/66/api-keys/" + keyID, nil, nil},
		}
		for _, w := range writes {
			r := apptest.Expect(t, p.Do(admin, w.method, w.path, w.body, w.headers...), http.StatusForbidden)
			if !strings.Contains(string(r.Body), "suspended") {
				t.Errorf("%s %s: the 403 does not say the region is suspended: %s", w.method, w.path, r.Body)
			}
		}
		// Users of a suspended region still log in (to read).
		mustLogin(t, p, "auditor@66", apptest.Password)
		// Another region is not affected.
		apptest.Expect(t, p.Do(p.Token("tenant_admin", "16"), http.MethodPost, "/api/v1/tenants/16/agencies",
			map[string]any{"osz_code": "1601.000001", "name": "Министерство", "inn": "7707083893", "oktmo": "92701000"}), http.StatusCreated)
		// Nothing was changed by the refused writes.
		if got := field(apptest.Expect(t, p.Do(admin, http.MethodGet, agency, nil), http.StatusOK).JSON(t), "name"); got != "Управление 1" {
			t.Fatalf("the agency's name changed in a suspended region: %q", got)
		}
		apptest.Expect(t, p.Do(key, http.MethodGet, "/api/v1/me", nil), http.StatusOK)

		setStatus("archived")
		r, _ = loginAPI(t, p, "specialist@66", apptest.Password)
		apptest.Expect(t, r, http.StatusForbidden)
		r, _ = loginAPI(t, p, "tenant_admin@66", apptest.Password)
		apptest.Expect(t, r, http.StatusForbidden)
		for _, tok := range []string{admin, spec, key} {
			want401(t, p, "/api/v1/me", authz("Bearer "+tok)...)
			want401(t, p, "/api/v1/tenants/66/agencies", authz("Bearer "+tok)...)
		}
		want401Refresh(t, p, refresh, "in an archived region")
		// A wrong password is still only a wrong password.
		r, _ = loginAPI(t, p, "specialist@66", "wrong password")
		apptest.Expect(t, r, http.StatusUnauthorized)
		// The federal operator still reads the archive.
		apptest.Expect(t, p.Do(fed, http.MethodGet, "/api/v1/tenants/66", nil), http.StatusOK)
	})
}
