package access

import (
	"strings"
)

// snapshot is a compiled, immutable copy of the policies that answers a
// decision with a few map lookups. It has the model's semantics exactly (a
// test compares it with Casbin's Enforce on random requests); Casbin remains
// the source of truth and the write path.
type snapshot struct {
	version int64
	// tenantRoles[user][domain] are the roles g gives (transitively).
	tenantRoles map[string]map[string][]string
	// federalRoles[user] are the roles g2 gives (transitively).
	federalRoles map[string][]string
	// rules[role] are the policies whose subject is that role (or user).
	rules map[string][]rule
	// disabled users are refused whatever their roles.
	disabled map[string]bool
}

// unbounded is the from or to of a policy valid without limit.
const unbounded = "*"

type rule struct {
	dom, obj, act, from, to string
}

func (r rule) matches(dom, obj, act, today string) bool {
	return (r.dom == "*" || r.dom == dom) &&
		keyMatch(obj, r.obj) &&
		(r.act == "*" || r.act == act) &&
		(r.from == unbounded || today >= r.from) && (r.to == unbounded || today <= r.to)
}

// keyMatch is Casbin's keyMatch: key2 may end in '*', matching any suffix.
func keyMatch(key1, key2 string) bool {
	i := strings.Index(key2, "*")
	if i == -1 {
		return key1 == key2
	}
	if len(key1) > i {
		return key1[:i] == key2[:i]
	}
	return key1 == key2[:i]
}

func buildSnapshot(version int64, p, g, g2 [][]string, disabled map[string]bool) *snapshot {
	s := &snapshot{
		version:      version,
		tenantRoles:  map[string]map[string][]string{},
		federalRoles: map[string][]string{},
		rules:        map[string][]rule{},
		disabled:     disabled,
	}
	for _, l := range p {
		if len(l) < 4 {
			continue
		}
		r := rule{dom: l[1], obj: l[2], act: l[3], from: unbounded, to: unbounded}
		if len(l) > 4 && l[4] != "" {
			r.from = l[4]
		}
		if len(l) > 5 && l[5] != "" {
			r.to = l[5]
		}
		s.rules[l[0]] = append(s.rules[l[0]], r)
	}
	// g: user → role within a domain; g2: user → federal role. Both may chain.
	direct := map[string]map[string][]string{}
	for _, l := range g {
		if len(l) < 3 {
			continue
		}
		if direct[l[2]] == nil {
			direct[l[2]] = map[string][]string{}
		}
		direct[l[2]][l[0]] = append(direct[l[2]][l[0]], l[1])
	}
	for dom, edges := range direct {
		for sub := range edges {
			if s.tenantRoles[sub] == nil {
				s.tenantRoles[sub] = map[string][]string{}
			}
			s.tenantRoles[sub][dom] = closure(sub, edges)
		}
	}
	edges2 := map[string][]string{}
	for _, l := range g2 {
		if len(l) >= 2 {
			edges2[l[0]] = append(edges2[l[0]], l[1])
		}
	}
	for sub := range edges2 {
		s.federalRoles[sub] = closure(sub, edges2)
	}
	return s
}

// closure lists what sub reaches through edges, sub excluded.
func closure(sub string, edges map[string][]string) []string {
	seen := map[string]bool{sub: true}
	var out []string
	stack := append([]string(nil), edges[sub]...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
		stack = append(stack, edges[n]...)
	}
	return out
}

// allowed decides for a subject (a user key) with optional extra roles that
// an external identity provider asserted for domain extraDom ("" = federal).
func (s *snapshot) allowed(sub string, extra []string, extraDom, dom, obj, act, today string) bool {
	if s.disabled[sub] {
		return false
	}
	check := func(subject string) bool {
		for _, r := range s.rules[subject] {
			if r.matches(dom, obj, act, today) {
				return true
			}
		}
		return false
	}
	if check(sub) {
		return true
	}
	for _, role := range s.tenantRoles[sub][dom] {
		if check(role) {
			return true
		}
	}
	for _, role := range s.federalRoles[sub] {
		if check(role) {
			return true
		}
	}
	for _, role := range extra {
		if (extraDom == "" || extraDom == dom) && check(role) {
			return true
		}
	}
	return false
}
