// Package api is the platform's HTTP interface: Fiber underneath, Huma for
// the OpenAPI 3.1 description, input validation and RFC 9457 problem
// responses. Handlers translate between JSON and the domain services; they
// never touch tables.
package api
