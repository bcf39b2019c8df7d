package api_test

import (
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

func TestZZProbe(t *testing.T) {
	p := apptest.New(t, store.SQLite)
	r := p.Do("", "POST", "/api/v1/auth/login", map[string]any{"username": "x", "password": "s3cret-pass", "extra": 1})
	t.Logf("%d %s", r.Status, r.Body)
}
