package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Permission is what a route requires: an action on an object, checked once
// per request. Every API route declares one; Public marks the few that need
// none (login, health).
type Permission struct {
	Object string
	Action string
	// Public operations need no credentials (login, health).
	Public bool
	// Authenticated operations need credentials but no role (/me).
	Authenticated bool
}

const permissionKey = "permission"

// PermissionOf returns the declaration of a registered operation.
func PermissionOf(op *huma.Operation) (Permission, bool) {
	p, ok := op.Metadata[permissionKey].(Permission)
	return p, ok
}

// register adds an operation with its permission; an operation without one
// cannot be registered at all.
func register[I, O any](s *Server, perm Permission, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	if !perm.Public && !perm.Authenticated && (perm.Object == "" || perm.Action == "") {
		panic("api: operation " + op.OperationID + " declares no permission")
	}
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[permissionKey] = perm
	if !perm.Public {
		op.Security = []map[string][]string{{"bearer": {}}}
	}
	// Every operation's error answers are scrubbed of the values Huma's own
	// validation copies from the request (a password, a SNILS, a passport).
	op.Middlewares = append(huma.Middlewares{hidePersonalData}, op.Middlewares...)
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = s.bodyLimit
	}
	if op.DefaultStatus == 0 && op.Method == http.MethodPost {
		op.DefaultStatus = http.StatusCreated
	}
	huma.Register(s.api, op, h)
}

// Pagination is the query of every collection.
type Pagination struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Items per page."`
	Cursor string `query:"cursor" doc:"The next_cursor of the previous page."`
}

// etag renders an object's version as a strong entity tag.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch reads the version an If-Match header names.
func ifMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, huma.Error428PreconditionRequired("send If-Match with the ETag of the version you are changing")
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, huma.Error412PreconditionFailed("If-Match does not name a version of this resource")
	}
	return v, nil
}
