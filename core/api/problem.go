package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/gofiber/fiber/v2"

	"github.com/socialtreasury/treasury/core/fault"
	"github.com/socialtreasury/treasury/core/page"
)

const problemType = "application/problem+json"

// problem turns a service error into the API's typed error. Anything not
// recognised is logged and answered as a bare 500 that reveals nothing.
func (s *Server) problem(ctx context.Context, err error) error {
	var (
		inv *fault.Invalid
		fe  *fault.Error
	)
	detail := err.Error()
	if errors.As(err, &fe) {
		detail = fe.Msg
	}
	switch {
	case errors.As(err, &inv):
		details := make([]error, len(inv.Fields))
		for i, f := range inv.Fields {
			details[i] = &huma.ErrorDetail{Location: "body." + f.Field, Message: f.Message, Value: f.Value}
		}
		return huma.Error422UnprocessableEntity("validation failed", details...)
	case errors.Is(err, fault.ErrNotFound):
		return huma.Error404NotFound(detail)
	case errors.Is(err, fault.ErrConflict):
		return huma.Error409Conflict(detail)
	case errors.Is(err, fault.ErrForbidden):
		return huma.Error403Forbidden(detail)
	case errors.Is(err, fault.ErrStale):
		return huma.Error412PreconditionFailed("the resource has changed since that ETag; fetch it again and retry")
	case errors.Is(err, page.ErrBadCursor):
		return huma.Error422UnprocessableEntity("validation failed",
			&huma.ErrorDetail{Location: "query.cursor", Message: err.Error()})
	case errors.Is(err, context.Canceled):
		return huma.NewError(499, "client closed the request")
	case errors.Is(err, context.DeadlineExceeded):
		return huma.Error503ServiceUnavailable("the request took too long; try again")
	case errors.Is(err, fault.ErrUpstream):
		return huma.Error502BadGateway(detail)
	}
	s.log.ErrorContext(ctx, "request failed", "error", err.Error())
	return huma.Error500InternalServerError("internal error")
}

// fiberError answers errors raised outside Huma (unknown routes, methods,
// oversized bodies, panics) in the same problem+json shape.
func (s *Server) fiberError(c *fiber.Ctx, err error) error {
	status := fiber.StatusInternalServerError
	detail := "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status = fe.Code
		detail = fe.Message
	} else {
		s.log.ErrorContext(c.UserContext(), "request failed", "error", err.Error())
	}
	if status == fiber.StatusNotFound && detail == "Cannot "+c.Method()+" "+c.Path() {
		detail = "no such resource"
	}
	body, _ := json.Marshal(huma.ErrorModel{
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
	})
	c.Status(status)
	c.Set(fiber.HeaderContentType, problemType)
	return c.Send(body)
}
