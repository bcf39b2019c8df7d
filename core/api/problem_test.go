package api

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/socialtreasury/treasury/core/pluginhost"
)

// A region's plug-in failing is a 502 that says which plug-in and why, not
// a 500 that hides it.
func TestPluginFailureIsBadGateway(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	err := s.problem(context.Background(), &pluginhost.CallError{Plugin: "social-contract", Region: "16", Method: "Evaluate",
		Err: errors.New("the regional register is down")})
	var se huma.StatusError
	if !errors.As(err, &se) || se.GetStatus() != 502 || se.Error() != "plug-in social-contract (region 16) Evaluate: the regional register is down" {
		t.Fatalf("%v", err)
	}
}
