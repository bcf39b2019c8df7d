package api_test

import (
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/api"
	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

// Every registered operation declares what it needs; the guard denies any
// that does not, so one slipping through would be unusable, not open.
func TestEveryOperationDeclaresAPermission(t *testing.T) {
	p := apptest.New(t, store.SQLite)
	n := 0
	for path, item := range p.Server.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op == nil {
				continue
			}
			n++
			perm, ok := api.PermissionOf(op)
			switch {
			case !ok:
				t.Errorf("%s %s (%s) declares no permission", op.Method, path, op.OperationID)
			case perm.Public || perm.Authenticated:
			case perm.Object == "" || perm.Action == "":
				t.Errorf("%s %s (%s) declares an incomplete permission %+v", op.Method, path, op.OperationID, perm)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d operations found", n)
	}
}
