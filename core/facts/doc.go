// Package facts derives the facts eligibility rules are judged on — ages,
// the household counted by the means test, per-capita income, categories
// and disability in force — from what the registry loaded about one
// subject (a Record).
//
// It is pure: no database, no clock. Every question is asked "as of" an
// explicit civil date, so a decision can be recomputed later on its own
// date and give the same answer. Validity periods include both ends
// (ValidFrom <= at <= ValidTo; a nil ValidTo is open). Money is integer
// kopecks throughout and never passes through a float.
package facts
