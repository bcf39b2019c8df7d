package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/socialtreasury/treasury/core/app/apptest"
	"github.com/socialtreasury/treasury/core/store"
)

type auditItem struct {
	Seq        int64  `json:"seq"`
	Actor      string `json:"actor"`
	ActorName  string `json:"actor_name"`
	Action     string `json:"action"`
	ObjectType string `json:"object_type"`
	ObjectID   string `json:"object_id"`
	Purpose    string `json:"purpose"`
	RequestID  string `json:"request_id"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail"`
	PrevHash   string `json:"prev_hash"`
	Hash       string `json:"hash"`
}

type auditPage struct {
	Items      []auditItem `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

func readAudit(t *testing.T, c *client, query string) auditPage {
	t.Helper()
	r := c.expect(c.do(http.MethodGet, "/api/v1/tenants/66/audit"+query, nil), http.StatusOK)
	var p auditPage
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Delegations granted and revoked and role changes leave records naming who,
// why and in which request; the region's auditors read them, page by page.
func TestAuditOfAccessChanges(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		c := newClient(t, d)
		admin := c.as("tenant_admin", "66")
		auditor := c.as("auditor", "66")
		adminID := c.p.User("tenant_admin", "66")

		r := admin.expect(admin.do(http.MethodPost, "/api/v1/tenants/66/delegations",
			map[string]any{"object": "measure:child-under-3", "valid_from": "2026-01-01"},
			"X-Request-Id", "req-grant-1", "X-Purpose", "соглашение № 12, СНИЛС 112-233-445 95"), http.StatusCreated)
		var dl struct{ ID string }
		_ = json.Unmarshal(r.Body, &dl)
		admin.expect(admin.do(http.MethodDelete, "/api/v1/tenants/66/delegations/"+dl.ID, nil, "X-Request-Id", "req-revoke-1"), http.StatusOK)
		specialist := c.p.User("specialist", "66")
		admin.expect(admin.do(http.MethodPut, "/api/v1/tenants/66/users/"+specialist.String()+"/roles",
			map[string]any{"roles": []string{"specialist", "approver"}}), http.StatusOK)

		p := readAudit(t, auditor, "?limit=1000")
		var grant, revoke, role *auditItem
		for i := range p.Items {
			it := &p.Items[i]
			switch it.Action {
			case "delegation.grant":
				grant = it
			case "delegation.revoke":
				revoke = it
			case "role.set":
				if it.ObjectID == specialist.String() && strings.Contains(it.Detail, "approver") {
					role = it
				}
			}
			if it.Seq != int64(i+1) {
				t.Fatalf("item %d has seq %d", i, it.Seq)
			}
			if i > 0 && it.PrevHash != p.Items[i-1].Hash {
				t.Fatalf("record %d does not chain to %d", it.Seq, it.Seq-1)
			}
		}
		if grant == nil || revoke == nil || role == nil {
			t.Fatalf("records missing (grant %v, revoke %v, role %v) in %+v", grant != nil, revoke != nil, role != nil, p.Items)
		}
		if grant.Actor != adminID.String() || grant.ActorName != "tenant_admin@66" || grant.RequestID != "req-grant-1" ||
			grant.ObjectType != "delegation" || grant.ObjectID != dl.ID || grant.Outcome != "success" ||
			!strings.Contains(grant.Detail, "measure:child-under-3") {
			t.Fatalf("grant record %+v", grant)
		}
		if !strings.HasPrefix(grant.Purpose, "соглашение № 12") || strings.Contains(grant.Purpose, "445") {
			t.Fatalf("purpose %q: want the header, with the SNILS masked", grant.Purpose)
		}
		if revoke.RequestID != "req-revoke-1" || revoke.ObjectID != dl.ID {
			t.Fatalf("revoke record %+v", revoke)
		}
		if role.Detail != "roles=specialist,approver was=specialist" {
			t.Fatalf("role record detail %q", role.Detail)
		}

		// Filters and pages.
		f := readAudit(t, auditor, "?object_id="+dl.ID)
		if len(f.Items) != 2 {
			t.Fatalf("%d records about the delegation, want 2", len(f.Items))
		}
		first := readAudit(t, auditor, "?limit=1")
		if len(first.Items) != 1 || first.NextCursor == "" {
			t.Fatalf("first page %+v", first)
		}
		second := readAudit(t, auditor, "?limit=1&cursor="+first.NextCursor)
		if len(second.Items) != 1 || second.Items[0].Seq != first.Items[0].Seq+1 {
			t.Fatalf("second page %+v", second)
		}
		hasLocation(t, auditor.expect(auditor.do(http.MethodGet, "/api/v1/tenants/66/audit?cursor=AQID", nil), 422), "query.cursor")
		// Reading is recorded too.
		reads := readAudit(t, auditor, "?action=audit.read&limit=1000")
		if len(reads.Items) == 0 || reads.Items[0].ActorName != "auditor@66" {
			t.Fatalf("reads of the trail are not recorded: %+v", reads.Items)
		}
		// The federal auditor reads region 66's trail; region 16's is its own.
		fed := c.as("federal_auditor", "federal")
		if got := readAudit(t, fed, "?object_id="+dl.ID); len(got.Items) != 2 {
			t.Fatalf("the federal auditor sees %d records", len(got.Items))
		}
		r16 := fed.expect(fed.do(http.MethodGet, "/api/v1/tenants/16/audit?object_id="+dl.ID, nil), http.StatusOK)
		if strings.Contains(string(r16.Body), dl.ID) {
			t.Fatal("region 16's trail shows region 66's records")
		}
	})
}

// When the record cannot be written the change does not happen (fail closed).
func TestAuditFailsClosed(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		c := newClient(t, d)
		admin := c.as("tenant_admin", "66")
		specialist := c.p.User("specialist", "66")
		breakAudit(t, c.p)
		r := admin.do(http.MethodPost, "/api/v1/tenants/66/delegations",
			map[string]any{"object": "measure:child-under-3", "valid_from": "2026-01-01"})
		if r.Status != http.StatusInternalServerError {
			t.Fatalf("grant without an audit trail: %d %s", r.Status, r.Body)
		}
		if l := admin.expect(admin.do(http.MethodGet, "/api/v1/tenants/66/delegations", nil), 200); strings.Contains(string(l.Body), "child-under-3") {
			t.Fatalf("the delegation was saved without its audit record: %s", l.Body)
		}
		r = admin.do(http.MethodPut, "/api/v1/tenants/66/users/"+specialist.String()+"/roles",
			map[string]any{"roles": []string{"specialist", "approver"}})
		if r.Status != http.StatusInternalServerError {
			t.Fatalf("role change without an audit trail: %d %s", r.Status, r.Body)
		}
		if roles := c.p.Access.TenantRoles(specialist, "66"); len(roles) != 1 {
			t.Fatalf("roles changed without an audit record: %v", roles)
		}
	})
}

// breakAudit makes the audit trail unwritable, as the schema owner.
func breakAudit(t *testing.T, p *apptest.Platform) {
	t.Helper()
	if err := p.Env.Owner.Gorm.Exec("ALTER TABLE audit_pending RENAME TO audit_pending_gone").Error; err != nil {
		t.Fatal(err)
	}
}
