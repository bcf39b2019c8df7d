package api

import (
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/socialtreasury/treasury/core/reqid"
)

const headerRequestID = "X-Request-Id"

// A client's request id is kept only when it is short and plain, so that it
// cannot inject into logs.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

func (s *Server) requestID(c *fiber.Ctx) error {
	id := strings.Clone(c.Get(headerRequestID)) // outlives Fiber's buffer in contexts
	if !clientRequestID.MatchString(id) {
		id = uuid.Must(uuid.NewV7()).String()
	}
	c.Set(headerRequestID, id)
	c.SetUserContext(reqid.With(c.UserContext(), id))
	return c.Next()
}

func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := s.settle(c, c.Next())
	status := c.Response().StatusCode()
	level := levelFor(status, c.Path())
	// The path, never the query: queries may one day carry personal data.
	s.log.Log(c.UserContext(), level, "request",
		"method", c.Method(), "route", routeOf(c), "path", c.Path(), "status", status,
		"ms", float64(time.Since(start).Microseconds())/1000, "bytes", len(c.Response().Body()))
	return err
}

// settle writes an error's response now, so that middleware further out sees
// the final status.
func (s *Server) settle(c *fiber.Ctx, err error) error {
	if err == nil {
		return nil
	}
	if herr := s.fiberError(c, err); herr != nil {
		return herr
	}
	return nil
}

func levelFor(status int, path string) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case path == "/metrics" || path == "/healthz" || path == "/readyz":
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func (s *Server) recoverer(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.ErrorContext(c.UserContext(), "panic serving request",
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fiber.NewError(fiber.StatusInternalServerError, "internal error")
		}
	}()
	return c.Next()
}

const routeLocal = "treasury.route"

// markRoute records the route template a request matched, for logs and
// metrics; Fiber's own Ctx.Route is unreliable once middleware returns.
func markRoute(c *fiber.Ctx, template string) { c.Locals(routeLocal, template) }

// routeOf names the matched route template, or "unmatched" for a request
// that matched none (so metrics do not grow a label per probed URL).
func routeOf(c *fiber.Ctx) string {
	if r, ok := c.Locals(routeLocal).(string); ok {
		return r
	}
	// Huma serves its description routes without operation middleware.
	if p := c.Path(); c.Response().StatusCode() != fiber.StatusNotFound {
		for _, prefix := range []string{"/openapi", "/schemas/"} {
			if strings.HasPrefix(p, prefix) {
				return strings.TrimSuffix(prefix, "/")
			}
		}
	}
	return "unmatched"
}
