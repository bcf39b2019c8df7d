package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type healthOut struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

func (s *Server) registerHealth() {
	register(s, Permission{Public: true}, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness: the process answers", Tags: []string{"Health"},
	}, func(context.Context, *struct{}) (*healthOut, error) {
		out := &healthOut{}
		out.Body.Status = "ok"
		return out, nil
	})
	register(s, Permission{Public: true}, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness: the database answers, its schema is not behind, and the server is not shutting down", Tags: []string{"Health"},
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*healthOut, error) {
		if s.stopping.Load() {
			return nil, huma.Error503ServiceUnavailable("not ready: shutting down")
		}
		if s.deps.Ready != nil {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := s.deps.Ready(ctx); err != nil {
				return nil, huma.Error503ServiceUnavailable("not ready: " + err.Error())
			}
		}
		out := &healthOut{}
		out.Body.Status = "ready"
		return out, nil
	})
}
