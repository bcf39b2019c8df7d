// Package page is keyset pagination over UUIDv7 ids: ids grow with time, so
// "after this id, ordered by id" pages stably through inserts and costs an
// index seek however deep the page.
package page

import (
	"encoding/base64"
	"errors"

	"github.com/google/uuid"
)

const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrBadCursor is returned for a cursor this package did not issue.
var ErrBadCursor = errors.New("cursor is not one this server issued")

// Request is one page's bounds.
type Request struct {
	Limit int
	After uuid.UUID
}

// Parse builds a Request from the query's limit (0 = default) and cursor.
func Parse(limit int, cursor string) (Request, error) {
	r := Request{Limit: limit}
	if r.Limit <= 0 {
		r.Limit = DefaultLimit
	}
	r.Limit = min(r.Limit, MaxLimit)
	if cursor == "" {
		return r, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) != 17 || raw[0] != 1 {
		return r, ErrBadCursor
	}
	copy(r.After[:], raw[1:])
	return r, nil
}

// Cursor is the opaque token that continues after id. The leading byte
// versions the format so it can change without breaking clients' cursors.
func Cursor(id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{1}, id[:]...))
}

// Trim cuts a result fetched with Limit+1 rows down to Limit and returns the
// cursor for the next page, or "" on the last one.
func Trim[T any](rows []T, limit int, id func(T) uuid.UUID) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, Cursor(id(rows[len(rows)-1]))
}
