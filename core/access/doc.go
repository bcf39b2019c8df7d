// Package access decides what a caller may do: Casbin's RBAC with domains (a
// domain per region, federal roles across domains through g2), policies kept
// in the database through the gorm-adapter and changed only incrementally,
// every replica reloading within a second of a change, and each request's
// decision answered from a compiled snapshot of the policies.
package access
