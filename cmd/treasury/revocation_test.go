//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// Revocations made on one server are in force on every other server of the
// same database within two seconds (--policy-poll 200ms): a role taken away
// answers 403, a revoked API key 401.
func TestRevocationReachesOtherServer(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		revocationAcrossServers(t, []string{"--data-dir", t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := storetest.Empty(t, store.Postgres)
		migrateWithAppRole(t, env.OwnerURL, "")
		revocationAcrossServers(t, []string{"--database-url", env.AppURL})
	})
}

const (
	revocationBudget = 2 * time.Second
	revocationPoll   = 50 * time.Millisecond
)

var revClient = &http.Client{Timeout: 2 * time.Second}

// revCall sends a JSON request with a bearer token ("" for none) and returns the
// status and body.
func revCall(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := revClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// revMustCall is revCall that fails the test unless the status is want, and
// decodes the body into a map.
func revMustCall(t *testing.T, want int, method, url, token string, body any) map[string]any {
	t.Helper()
	code, raw := revCall(t, method, url, token, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, code, want, raw)
	}
	m := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	return m
}

// revAwait polls GET url every 50 ms until it answers want, and returns
// how long that took from since. Any status but want and from fails.
func revAwait(t *testing.T, url, token string, from, want int, since time.Time) time.Duration {
	t.Helper()
	deadline := since.Add(revocationBudget)
	for {
		code, raw := revCall(t, http.MethodGet, url, token, nil)
		if code == want {
			return time.Since(since)
		}
		if code != from {
			t.Fatalf("GET %s: %d, want %d or %d: %s", url, code, from, want, raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s still answers %d %s after the change; want %d within %s", url, code, time.Since(since).Round(time.Millisecond), want, revocationBudget)
		}
		time.Sleep(revocationPoll)
	}
}

func revocationAcrossServers(t *testing.T, dbArgs []string) {
	const demoPassword = "revocation-demo-pw"
	keyFile := filepath.Join(t.TempDir(), "token-ed25519.seed")
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, string(seed), 0o600)
	// Replicas share the personal data master key (the demo seals its
	// persons' SNILS under region keys it wraps).
	pdKey := make([]byte, 32)
	if _, err := rand.Read(pdKey); err != nil {
		t.Fatal(err)
	}
	pdKeyFile := filepath.Join(t.TempDir(), "personal-data.key")
	writeFile(t, pdKeyFile, hex.EncodeToString(pdKey), 0o600)
	common := slices.Concat([]string{"serve", "--listen", "127.0.0.1:0", "--policy-poll", "200ms",
		"--token-key-file", keyFile, "--encryption-key-file", pdKeyFile, "--log-level", "warn"}, dbArgs)
	a := startServer(t, nil, slices.Concat(common, []string{"--demo", "--demo-persons", "0", "--demo-password", demoPassword})...)
	b := startServer(t, nil, common...)

	admin := login(t, a.url, "tenant_admin@66", demoPassword)
	users := "/api/v1/tenants/66/users"
	agencies := "/api/v1/tenants/66/agencies"

	// A role given on A, used on B, taken away on A.
	u := revMustCall(t, http.StatusCreated, http.MethodPost, a.url+users, admin,
		map[string]any{"username": "revocable-66", "password": "revocable-pass-1"})
	roles := a.url + users + "/" + u["id"].(string) + "/roles"
	revMustCall(t, http.StatusOK, http.MethodPut, roles, admin, map[string]any{"roles": []string{"specialist"}})
	granted := time.Now()
	user := login(t, a.url, "revocable-66", "revocable-pass-1")
	grant := revAwait(t, b.url+agencies, user, http.StatusForbidden, http.StatusOK, granted)
	t.Logf("role granted on A: B answers 200 after %s", grant.Round(time.Millisecond))

	sent := time.Now()
	revMustCall(t, http.StatusOK, http.MethodPut, roles, admin, map[string]any{"roles": []string{}})
	done := time.Now()
	if code, raw := revCall(t, http.MethodGet, a.url+agencies, user, nil); code != http.StatusForbidden {
		t.Fatalf("A itself answers %d right after revoking the role: %s", code, raw)
	}
	delay := revAwait(t, b.url+agencies, user, http.StatusOK, http.StatusForbidden, sent)
	t.Logf("role revoked on A: B answers 403 after %s (%s after the PUT returned)",
		delay.Round(time.Millisecond), (delay - done.Sub(sent)).Round(time.Millisecond))

	// An API key issued on A, used on B, revoked on A.
	svc := revMustCall(t, http.StatusCreated, http.MethodPost, a.url+users, admin,
		map[string]any{"username": "robot-revocable", "kind": "service"})
	revMustCall(t, http.StatusOK, http.MethodPut, a.url+users+"/"+svc["id"].(string)+"/roles", admin,
		map[string]any{"roles": []string{"integration"}})
	k := revMustCall(t, http.StatusCreated, http.MethodPost, a.url+"/api/v1/tenants/66/api-keys", admin,
		map[string]any{"user_id": svc["id"], "name": "replicated"})
	key := k["key"].(string)
	issued := time.Now()
	grant = revAwait(t, b.url+agencies, key, http.StatusForbidden, http.StatusOK, issued)
	t.Logf("API key issued on A: B answers 200 after %s", grant.Round(time.Millisecond))

	sent = time.Now()
	revMustCall(t, http.StatusNoContent, http.MethodDelete, a.url+"/api/v1/tenants/66/api-keys/"+k["id"].(string), admin, nil)
	done = time.Now()
	if code, raw := revCall(t, http.MethodGet, a.url+agencies, key, nil); code != http.StatusUnauthorized {
		t.Fatalf("A itself answers %d right after revoking the key: %s", code, raw)
	}
	delay = revAwait(t, b.url+agencies, key, http.StatusOK, http.StatusUnauthorized, sent)
	t.Logf("API key revoked on A: B answers 401 after %s (%s after the DELETE returned)",
		delay.Round(time.Millisecond), (delay - done.Sub(sent)).Round(time.Millisecond))

	b.stop(t)
	a.stop(t)
}
