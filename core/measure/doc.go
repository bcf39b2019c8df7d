// Package measure holds measures of social support as data: versions in
// force over periods, each with its legal basis, EGISSO classification and
// rules — named eligibility conditions, an amount and a period — written in
// CEL over the case schema (schema.go, docs/rules.md). Rules are compiled
// and checked when a version is saved: an unknown field, a wrong type or a
// cost above the limit is refused with the expression and position. A
// compiled version evaluates batches of cases through Evaluator, the
// interface plug-in measures implement as well; outcomes carry no CEL
// types, and explain every condition in Russian and English.
package measure
