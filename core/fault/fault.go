// Package fault holds the few kinds of failure every domain package reports
// the same way, so the HTTP edge can map them to statuses without knowing
// each package's errors.
package fault

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotFound: no such object in the caller's scope (another tenant's
	// object is "not found" too, so its existence is not disclosed).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object clashes with an existing one (a unique key).
	ErrConflict = errors.New("conflict")
	// ErrStale: the caller's version of the object is out of date.
	ErrStale = errors.New("stale version")
	// ErrInvalid: the input breaks a rule; a *Invalid carries which fields.
	ErrInvalid = errors.New("invalid input")
	// ErrForbidden: the caller may do this kind of thing, but not to this
	// object (an approver deciding a four-eyes case they prepared).
	ErrForbidden = errors.New("forbidden")
	// ErrUpstream: a system the request depends on failed or did not
	// answer in time — a region's plug-in, another agency's service. It is
	// not the platform's fault nor the caller's; the error says which.
	ErrUpstream = errors.New("upstream failed")
)

// FieldError says what is wrong with one field, named by its JSON path
// relative to the request body (e.g. "inn", "persons[3].snils").
type FieldError struct {
	Field   string
	Message string
	Value   any
}

// Invalid lists every broken field of one input.
type Invalid struct {
	Fields []FieldError
}

// Add records a broken field.
func (v *Invalid) Add(field, message string, value any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: message, Value: value})
}

// Has reports whether a field was already reported.
func (v *Invalid) Has(field string) bool {
	for _, f := range v.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Err returns nil when nothing was added, so a validator ends with `return v.Err()`.
func (v *Invalid) Err() error {
	if v == nil || len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *Invalid) Error() string {
	parts := make([]string, len(v.Fields))
	for i, f := range v.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) hold for an *Invalid.
func (v *Invalid) Is(target error) bool { return target == ErrInvalid }

// Error is a failure of one of the kinds above with a message meant for the
// caller (it is what an API client reads as the problem's detail).
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

// Conflictf reports an ErrConflict.
func Conflictf(format string, args ...any) error {
	return &Error{Kind: ErrConflict, Msg: fmt.Sprintf(format, args...)}
}

// Forbiddenf reports an ErrForbidden.
func Forbiddenf(format string, args ...any) error {
	return &Error{Kind: ErrForbidden, Msg: fmt.Sprintf(format, args...)}
}

// NotFoundf reports an ErrNotFound.
func NotFoundf(format string, args ...any) error {
	return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf(format, args...) + " not found"}
}
