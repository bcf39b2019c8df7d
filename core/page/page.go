// Package page is keyset pagination over UUIDv7 ids: ids grow with time, so
// "after this id, ordered by id" pages stably through inserts and costs an
// index seek however deep the page.
package page

import (
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"
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

// KeyRequest is one page's bounds over rows ordered by a composite text key
// (e.g. a directory's entries by code and start date), for tables whose
// natural order is not their id's.
type KeyRequest struct {
	Limit int
	// After is the key of the last row of the previous page; nil on the first.
	After []string
}

// ParseKey builds a KeyRequest from the query's limit (0 = default) and a
// cursor issued by KeyCursor with the given number of key parts.
func ParseKey(limit int, cursor string, parts int) (KeyRequest, error) {
	r := KeyRequest{Limit: limit}
	if r.Limit <= 0 {
		r.Limit = DefaultLimit
	}
	r.Limit = min(r.Limit, MaxLimit)
	if cursor == "" {
		return r, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 1 || raw[0] != 2 {
		return r, ErrBadCursor
	}
	raw = raw[1:]
	for len(raw) > 0 {
		n, w := binary.Uvarint(raw)
		if w <= 0 || uint64(len(raw)-w) < n {
			return r, ErrBadCursor
		}
		r.After = append(r.After, string(raw[w:w+int(n)]))
		raw = raw[w+int(n):]
	}
	if len(r.After) != parts {
		return KeyRequest{Limit: r.Limit}, ErrBadCursor
	}
	return r, nil
}

// KeyCursor is the opaque token that continues after the row with this key.
func KeyCursor(parts ...string) string {
	buf := []byte{2}
	for _, p := range parts {
		buf = binary.AppendUvarint(buf, uint64(len(p)))
		buf = append(buf, p...)
	}
	return base64.RawURLEncoding.EncodeToString(buf)
}

// TrimKey cuts a result fetched with Limit+1 rows down to Limit and returns
// the cursor for the next page, or "" on the last one.
func TrimKey[T any](rows []T, limit int, key func(T) []string) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, KeyCursor(key(rows[len(rows)-1])...)
}

// Scope orders a query by id and bounds it to the page, fetching one row
// more than the limit so that Trim can tell whether another page follows.
func (r Request) Scope(q *gorm.DB) *gorm.DB {
	q = q.Order("id").Limit(r.Limit + 1)
	if r.After != uuid.Nil {
		q = q.Where("id > ?", r.After)
	}
	return q
}
