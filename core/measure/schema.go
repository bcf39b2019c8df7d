package measure

import sdkmeasure "github.com/socialtreasury/treasury/sdk/measure"

// The case schema: what a rule sees. It is the SDK's (sdk/measure), so
// that a plug-in measure is sent the platform's cases as they are. Field
// names in CEL are the cel tags; docs/rules.md is written from these
// types and their doc tags (RulesDoc; go test ./core/measure -run
// TestRulesDoc -update), so the two cannot drift. Money is integer
// kopecks, dates are timestamps at midnight UTC.
type (
	Case       = sdkmeasure.Case
	Subject    = sdkmeasure.Subject
	Member     = sdkmeasure.Member
	Household  = sdkmeasure.Household
	Minimums   = sdkmeasure.Minimums
	Assignment = sdkmeasure.Assignment
)
