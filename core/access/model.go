package access

// modelText is the RBAC-with-domains model. A domain is a region's code; ""
// is the federal level. g gives a user a role in one domain; g2 gives a user a
// federal role, which holds in every domain. A policy's domain "*" holds in
// every domain. from/to bound a policy's validity in civil dates ("*":
// unbounded) — delegations use them.
const modelText = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, from, to

[role_definition]
g = _, _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (g(r.sub, p.sub, r.dom) || g2(r.sub, p.sub)) && (p.dom == "*" || p.dom == r.dom) && keyMatch(r.obj, p.obj) && (p.act == "*" || p.act == r.act) && within(p.from, p.to)
`

// Roles a tenant user may hold in a region.
var TenantRoles = []string{"tenant_admin", "specialist", "approver", "treasurer", "auditor", "integration", "plugin_developer"}

// FederalRoles hold in every region.
var FederalRoles = []string{"federal_admin", "federal_auditor"}

// IsTenantRole tells whether r is a region role.
func IsTenantRole(r string) bool { return contains(TenantRoles, r) }

// IsFederalRole tells whether r is a federal role.
func IsFederalRole(r string) bool { return contains(FederalRoles, r) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
