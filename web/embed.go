// Package web embeds the built browser app (web/dist, made by `make web`).
// On a fresh clone dist holds only a placeholder, and the server shows a
// "web UI not built" page instead.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built app, rooted at its index.html.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err)
	}
	return sub
}
