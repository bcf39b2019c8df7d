package api

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
)

// registerDocs serves Swagger UI at /docs from assets compiled into the
// binary, so the page works on a machine with no internet.
func (s *Server) registerDocs() {
	h := adaptor.HTTPHandler(v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "Social Treasury API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		ShowTopBar:  false,
		SettingsUI:  map[string]string{"validatorUrl": "null"},
	}))
	// Asset URLs in the page are absolute (/docs/…), so /docs and /docs/ both work.
	docs := func(c *fiber.Ctx) error {
		markRoute(c, "/docs")
		return h(c)
	}
	s.app.Get("/docs", docs)
	s.app.Get("/docs/*", docs)
}
