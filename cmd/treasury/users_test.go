package main

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
)

// A platform that trusts no OIDC issuer has no one to sign in as until the
// operator adds a federal user from the command line; running it again
// sets a lost password (and the roles) anew.
func TestAddFederalUser(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		flags := []string{"--data-dir", t.TempDir()}
		mustSucceed(t, nil, append([]string{"migrate", "up"}, flags...)...)
		addFederalUser(t, flags)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		env := storetest.Empty(t, store.Postgres)
		migrateWithAppRole(t, env.OwnerURL, "")
		addFederalUser(t, []string{"--database-url", env.AppURL})
	})
}

func addFederalUser(t *testing.T, flags []string) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first"), filepath.Join(dir, "second")
	writeFile(t, first, "first-password-1\n", 0o600)
	writeFile(t, second, "second-password-2\n", 0o600)
	add := func(args ...string) result {
		return treasury(t, time.Minute, nil, append(append([]string{"users", "add-federal"}, args...), flags...)...)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ops", "--role", "tenant_admin", "--password-file", first}, `"tenant_admin" is not a federal role`},
		{[]string{"ops", "--password-file", first}, "--role is required"},
		{[]string{"ops", "--role", "federal_admin"}, "--password-file is required"},
		{[]string{"ops", "--role", "federal_admin", "--password-file", filepath.Join(dir, "missing")}, "--password-file"},
	} {
		requireOneLineError(t, add(c.args...), 2, c.want)
	}
	short := filepath.Join(dir, "short")
	writeFile(t, short, "short\n", 0o600)
	requireOneLineError(t, add("ops", "--role", "federal_admin", "--password-file", short), 2, "8 to 1000 characters")

	r := add("ops", "--role", "federal_admin", "--password-file", first, "--display-name", "Федеральный оператор")
	if r.code != 0 || !strings.Contains(r.stdout, "federal user ops added: federal_admin; status active") {
		t.Fatalf("add-federal: %s", r)
	}
	s := startServer(t, nil, append([]string{"serve", "--listen", "127.0.0.1:0", "--no-migrate"}, flags...)...)
	var me struct {
		Tenant any      `json:"tenant"`
		Roles  []string `json:"roles"`
	}
	if code := getJSONAs(t, login(t, s.url, "ops", "first-password-1"), s.url+"/api/v1/me", &me); code != http.StatusOK ||
		!slices.Equal(me.Roles, []string{"federal_admin"}) || me.Tenant != nil {
		t.Fatalf("GET /api/v1/me as ops: %d %+v", code, me)
	}

	// Again: the password and the roles are set anew.
	r = add("ops", "--role", "federal_auditor", "--password-file", second)
	if r.code != 0 || !strings.Contains(r.stdout, "federal user ops updated (password set anew, its logins ended): federal_auditor") {
		t.Fatalf("add-federal again: %s", r)
	}
	if code, body := revCall(t, http.MethodPost, s.url+"/api/v1/auth/login", "", map[string]string{"username": "ops", "password": "first-password-1"}); code != http.StatusUnauthorized {
		t.Fatalf("the old password: %d %s", code, body)
	}
	deadline := time.Now().Add(5 * time.Second) // roles reach the server within --policy-poll
	for {
		me.Roles = nil
		getJSONAs(t, login(t, s.url, "ops", "second-password-2"), s.url+"/api/v1/me", &me)
		if slices.Equal(me.Roles, []string{"federal_auditor"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles after add-federal again: %v", me.Roles)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop(t)
}
