// Package tenancy owns the regions (tenants) and keeps every other package's
// data inside one of them: the tenant travels in the context, tenant-scoped
// work runs in a transaction that binds it (and, on PostgreSQL, sets the
// row-level security variable), and a GORM plug-in scopes every statement on
// a tenant-owned table — refusing any that has no tenant.
package tenancy
