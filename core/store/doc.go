// Package store opens the platform's database — PostgreSQL in production,
// embedded SQLite when no URL is configured — and owns the versioned,
// per-dialect migrations that shape it.
package store
