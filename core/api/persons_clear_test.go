package api_test

import (
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

// PATCH removes optional fields named in clear, keeps the old version in
// the history, and refuses what cannot be cleared.
func TestPatchClearsOptionalFields(t *testing.T) {
	p := apptest.New(t, store.SQLite)
	tok := p.Token("specialist", "66")
	base := "/api/v1/tenants/66/persons"
	r := apptest.Expect(t, p.Do(tok, "POST", base, map[string]any{
		"snils": "11223344595", "family_name": "Егорова", "first_name": "Нина", "birth_date": "1950-02-02", "sex": "female",
		"death_date": "2026-01-01", "bank": map[string]any{"bik": "044525225", "account": "40817810099910004312"},
	}), 201)
	id := r.JSON(t)["id"].(string)
	r = apptest.Expect(t, p.Do(tok, "PATCH", base+"/"+id, map[string]any{"clear": []string{"death_date", "bank"}}, "If-Match", r.Header.Get("ETag")), 200)
	m := r.JSON(t)
	if _, ok := m["death_date"]; ok {
		t.Fatalf("death_date still there: %v", m)
	}
	if _, ok := m["bank"]; ok {
		t.Fatalf("bank still there: %v", m)
	}
	h := apptest.Expect(t, p.Do(tok, "GET", base+"/"+id+"/history", nil), 200).JSON(t)
	if items := h["items"].([]any); len(items) != 1 || items[0].(map[string]any)["person"].(map[string]any)["death_date"] != "2026-01-01" {
		t.Fatalf("history %v", h)
	}
	apptest.Expect(t, p.Do(tok, "PATCH", base+"/"+id, map[string]any{"clear": []string{"snils"}}, "If-Match", r.Header.Get("ETag")), 422)
	apptest.Expect(t, p.Do(tok, "PATCH", base+"/"+id, map[string]any{"clear": []string{"patronymic"}, "patronymic": "Ивановна"}, "If-Match", r.Header.Get("ETag")), 422)
}
