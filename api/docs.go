package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// OpenAPI is the API's contract; tests check every response against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Redoc 2.5.4's standalone bundle, served locally: the docs page works
// without reaching any CDN.
//
//go:embed docs/redoc.standalone.js
var redocJS []byte

const redocHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jokster API</title>
<style>body{margin:0}</style>
</head>
<body>
<redoc spec-url="/api/openapi.yaml" hide-download-button="false"></redoc>
<script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
`

func openAPIDoc(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(OpenAPI)
}

func redocPage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(redocHTML)
}

func redocScript(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(redocJS)
}
