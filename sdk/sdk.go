// Package sdk is what a region's plug-in for the Social Treasury platform
// is written against. A plug-in implements one small interface — a
// measure (package measure) or a connector (package connector) — and its
// main is one call to package serve; package sdktest tests it without the
// platform. The platform runs each plug-in in its own process, one a
// region, and talks to it over gRPC (proto/treasury/plugin/v1).
//
// This package carries what every kind shares: the region a call is for,
// and errors that say whether the plug-in or the system behind it failed.
package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

type tenantKey struct{}

// WithTenant is ctx for a call on behalf of a region (its two-digit code).
// The host sets it; a plug-in reads it with Tenant.
func WithTenant(ctx context.Context, region string) context.Context {
	return context.WithValue(ctx, tenantKey{}, region)
}

// Tenant is the code of the region a call is for ("16").
func Tenant(ctx context.Context) (string, bool) {
	r, ok := ctx.Value(tenantKey{}).(string)
	return r, ok && r != ""
}

// Error is a failed call as the host sees it. Upstream is true when the
// plug-in reported that the system behind it (a regional register, a bank)
// failed; false when the plug-in itself failed. The host retries neither:
// an upstream failure is shown to the region as its system's, a plug-in
// failure as its plug-in's.
type Error struct {
	Upstream bool
	Message  string
}

func (e *Error) Error() string {
	if e.Upstream {
		return "upstream: " + e.Message
	}
	return "plug-in: " + e.Message
}

type upstreamError struct{ err error }

func (e upstreamError) Error() string { return e.err.Error() }
func (e upstreamError) Unwrap() error { return e.err }

// Upstream marks err as a failure of the system behind the plug-in — the
// regional register did not answer — rather than of the plug-in.
func Upstream(err error) error {
	if err == nil {
		return nil
	}
	return upstreamError{err}
}

// IsUpstream reports whether err was marked by Upstream (on the plug-in's
// side) or is an *Error with Upstream set (on the host's).
func IsUpstream(err error) bool {
	var u upstreamError
	var e *Error
	return errors.As(err, &u) || errors.As(err, &e) && e.Upstream
}

// ErrUnsupported is returned by a client for an optional call the plug-in
// does not implement (it was built before the call existed, or chose not
// to).
var ErrUnsupported = errors.New("the plug-in does not support this call")

// ConfigEnv is the one environment variable the host gives a plug-in: the
// region's configuration of it, as JSON (the catalog's enablement). The
// plug-in sees nothing else of the host's environment.
const ConfigEnv = "TREASURY_PLUGIN_CONFIG"

// Config decodes the region's configuration of the plug-in into v (a
// pointer to a struct with json tags). No configuration leaves v as it is;
// a field v does not have is an error, so that a misspelt setting is not
// silently ignored.
func Config(v any) error {
	return decodeConfig(os.Getenv(ConfigEnv), v)
}

func decodeConfig(raw string, v any) error {
	if raw == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", ConfigEnv, err)
	}
	// One value: anything after it would be a setting silently ignored.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: more than one JSON value", ConfigEnv)
	}
	return nil
}
