package api

import (
	"context"
	"errors"
	"fmt"
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

// A call the client gave up on, or a binary the host refused, is not the
// plug-in's failure: not a 502.
func TestPluginCallNotUpstream(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for err, want := range map[error]int{
		&pluginhost.CallError{Plugin: "p", Region: "16", Method: "Evaluate", Err: context.Canceled}:                                          499,
		&pluginhost.CallError{Plugin: "p", Region: "16", Method: "Evaluate", Err: fmt.Errorf("%w: /srv/p is a link", pluginhost.ErrRefused)}: 500,
	} {
		var se huma.StatusError
		if got := s.problem(context.Background(), err); !errors.As(got, &se) || se.GetStatus() != want {
			t.Errorf("%v: %v, want %d", err, got, want)
		}
	}
}
