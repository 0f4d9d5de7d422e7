package api

import (
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// mediaRoutes serves uploaded files from MEDIA_ROOT in development (nginx
// does it in production). Names are content hashes, so a file never changes
// and may be cached for a year; nosniff stops a browser from running an
// upload as something else; no directory is ever listed.
func (s *server) mediaRoutes(app *fiber.App) {
	app.Static("/media", s.cfg.MediaRoot, fiber.Static{
		Browse:    false,
		Index:     "-", // no index file: a directory is a 404, never a listing
		ByteRange: true,
		MaxAge:    365 * 24 * 3600,
		ModifyResponse: func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
			if ct := mime.TypeByExtension(path.Ext(c.Path())); ct != "" {
				c.Set(fiber.HeaderContentType, ct)
			}
			c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
			return nil
		},
	})
	app.Use("/media", func(c *fiber.Ctx) error {
		if strings.HasPrefix(c.Path(), "/media") {
			return fiber.ErrNotFound
		}
		return c.Next()
	})
}
