package api

import (
	"io/fs"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"net/http"
)

const notBuilt = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Jokster</title></head>
<body style="font-family:system-ui;max-width:40em;margin:4em auto">
<h1>Jokster</h1>
<p>The web UI is not built into this binary: run <code>make web</code> (or <code>make run</code>) and start it again.</p>
<p>The API is up: see <a href="/redoc">the API documentation</a>.</p>
</body></html>
`

// webRoutes serves the browser app. Unknown paths outside /api get
// index.html so that client-side routes survive a reload.
func (s *server) webRoutes(app *fiber.App) {
	built := false
	if s.Web != nil {
		if _, err := fs.Stat(s.Web, "index.html"); err == nil {
			built = true
		}
	}
	if !built {
		app.Get("/*", func(c *fiber.Ctx) error {
			if strings.HasPrefix(c.Path(), "/api/") {
				return fiber.ErrNotFound
			}
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.SendString(notBuilt)
		})
		return
	}
	app.Use("/assets", func(c *fiber.Ctx) error {
		// A missing asset is a 404, never index.html: during a rolling
		// upgrade a browser must not cache HTML as a script for a year.
		if _, err := fs.Stat(s.Web, strings.TrimPrefix(c.Path(), "/")); err != nil {
			return fiber.ErrNotFound
		}
		// Vite puts a content hash in every asset name.
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		return c.Next()
	})
	app.Use("/", filesystem.New(filesystem.Config{
		Root:         http.FS(s.Web),
		Index:        "index.html",
		NotFoundFile: "index.html",
		Next:         func(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), "/api/") },
	}))
}
