package api

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// mediaRoutes serves uploaded files from MEDIA_ROOT in development (nginx
// does it in production). Names are content hashes, so a file never changes
// and may be cached for a year; nosniff stops a browser from running an
// upload as something else; directories are never listed; os.Root keeps
// every lookup, symlinks included, inside MEDIA_ROOT. net/http's file
// server is used (not Fiber's static handler) because it handles ranges
// and caches no open files: a removed file stops being served at once.
func (s *server) mediaRoutes(app *fiber.App) {
	files := http.StripPrefix("/media", http.FileServer(http.FS(filesOnly{s.cfg.MediaRoot})))
	h := adaptor.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		files.ServeHTTP(w, r)
	}))
	app.Get("/media/*", func(c *fiber.Ctx) error {
		if err := h(c); err != nil {
			return err
		}
		// Once: the security headers' middleware sent it too, and the
		// adaptor adds the handler's copy rather than replacing it.
		c.Response().Header.Del("X-Content-Type-Options")
		c.Set("X-Content-Type-Options", "nosniff")
		if c.Response().StatusCode() >= 400 {
			c.Response().Header.Del(fiber.HeaderCacheControl)
			return fiber.ErrNotFound
		}
		return nil
	})
}

// filesOnly is MEDIA_ROOT as an fs.FS in which directories do not exist.
type filesOnly struct{ root string }

func (f filesOnly) Open(name string) (fs.File, error) {
	// Originals keep their metadata (EXIF, GPS) and are never served; nor
	// are temporary or hidden files.
	if strings.HasPrefix(name, "originals/") || strings.HasPrefix(name, ".") || strings.Contains(name, "/.") {
		return nil, fs.ErrNotExist
	}
	r, err := os.OpenRoot(f.root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	file, err := r.FS().Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || !st.Mode().IsRegular() {
		file.Close()
		return nil, errors.Join(fs.ErrNotExist, err)
	}
	return file, nil
}
