package api_test

import (
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

// Huma's validation errors copy what they complain about into the answer;
// no route may echo a password or a SNILS that way.
func TestErrorsDoNotEchoSecrets(t *testing.T) {
	p := apptest.New(t, store.SQLite)
	for _, c := range []struct {
		path string
		body string
	}{
		{"/api/v1/auth/login", `{"username":"x","password":"s3cret-Passw0rd","extra":1}`},
		{"/api/v1/auth/login", `{"username":"x","password":"s3cret-Passw0rd"`},
		{"/api/v1/tenants/66/persons", `{"snils":"11223344595","surprise":true}`},
	} {
		r := p.Do(p.Token("specialist", "66"), "POST", c.path, c.body, "Content-Type", "application/json")
		if r.Status < 400 || r.Status >= 500 {
			t.Fatalf("POST %s: %d", c.path, r.Status)
		}
		if s := string(r.Body); strings.Contains(s, "s3cret") || strings.Contains(s, "11223344595") {
			t.Errorf("POST %s answered %d with the secret: %s", c.path, r.Status, s)
		}
	}
}
