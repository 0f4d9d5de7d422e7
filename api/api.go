// Package api is the Fiber application: routes, handlers, authentication,
// the error table, the OpenAPI document and the Redoc page.
package api

import (
	"context"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/jokster/jokster/accounts"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/cull"
	"github.com/jokster/jokster/notifications"
	"github.com/jokster/jokster/posts"
	"github.com/jokster/jokster/profiles"
	"github.com/jokster/jokster/ranking"
	"github.com/jokster/jokster/realtime"
)

// Deps are what the handlers need; cmd/jokster wires them.
type Deps struct {
	Config        config.Config
	DB            *pgxpool.Pool
	Redis         redis.UniversalClient
	Accounts      *accounts.Service
	Profiles      *profiles.Service
	Notifications *notifications.Service
	Posts         *posts.Service
	Ranking       *ranking.Service
	// Cull answers GET /cull and the culled posts' pages; nil: 503 there.
	Cull *cull.Service
	// Hub serves /ws; nil: no live updates on this node.
	Hub *realtime.Hub
	// Web is the built browser app (index.html at its root), or nil.
	Web fs.FS
	// ReadyChecks are extra /readyz checks (name → check) added by other
	// parts of the process.
	ReadyChecks map[string]func(context.Context) error
}

type server struct {
	Deps
	cfg       config.Config
	pages     pageCache          // anonymous board and cull pages (sendShared)
	rendering singleflight.Group // one rendering at a time per shared page
	exports   exportSlots        // data exports streaming now
}

// responseBuffer is the size of each connection's response buffer: a
// response that fits (a default page of posts does: 20 posts are 10–25 KB)
// is handed to the kernel in one write. With fasthttp's default of 4 KB a
// page took several, and a node killed between two of them left nginx
// half a response it had begun to send and could not retry on another
// node (the cluster test saw a truncated 200). One write narrows that to
// the rare write the kernel takes in parts (a full socket buffer) and to
// pages over 64 KB (limit near 100). Each keep-alive connection holds its
// buffer (nginx keeps 32 a worker); hijacked WebSockets do not.
const responseBuffer = 64 << 10

// New builds the Fiber application.
func New(d Deps) *fiber.App {
	cfg := d.Config
	s := &server{Deps: d, cfg: cfg, exports: newExportSlots(maxExports)}
	// Bodies stream: Fiber reads at most JSONBodyLimit bytes before the
	// handler runs, and upload handlers read the rest from the socket as
	// they store it, so no upload is ever held in memory whole. bodyLimit
	// refuses larger bodies on every other route from their Content-Length.
	app := fiber.New(fiber.Config{
		AppName:                      "jokster",
		BodyLimit:                    cfg.JSONBodyLimit,
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ErrorHandler:                 errorHandler,
		DisableStartupMessage:        true,
		WriteBufferSize:              responseBuffer,
		ReadTimeout:                  60 * time.Second,
		WriteTimeout:                 60 * time.Second,
		IdleTimeout:                  120 * time.Second,
		ProxyHeader:                  proxyHeader(cfg),
		EnableTrustedProxyCheck:      len(cfg.TrustedProxies) > 0,
		TrustedProxies:               cfg.TrustedProxies,
		StrictRouting:                false,
	})
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		slog.Error("panic in handler", "method", c.Method(), "path", c.Path(), "panic", e)
	}}))
	app.Use(accessLog)
	// /ws comes before the security headers and the request id: a
	// hijacked connection keeps its upgrade response's header buffers for
	// as long as it lives (about 3 KB each, measured), and none of those
	// headers means anything to a WebSocket client.
	if d.Hub != nil {
		s.liveSnapshots(d.Hub)
		app.Get("/ws", append([]fiber.Handler{s.rate("ip")}, d.Hub.Handler()...)...)
	}
	app.Use(requestid.New())
	app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; " +
			"script-src 'self'; worker-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
		CrossOriginEmbedderPolicy: "unsafe-none",
		ReferrerPolicy:            "strict-origin-when-cross-origin",
	}))
	if len(cfg.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{AllowOrigins: strings.Join(cfg.CORSOrigins, ","), AllowCredentials: true,
			AllowHeaders: "Authorization, Content-Type", MaxAge: 600}))
	}

	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/api/openapi.yaml", openAPIDoc)
	app.Get("/redoc", redocPage)
	app.Get("/redoc/redoc.standalone.js", redocScript)
	s.mediaRoutes(app)

	v1 := app.Group("/api/v1", bodyLimit(cfg.JSONBodyLimit, "/api/v1/me/profile/photo", "/api/v1/posts"),
		deadline(cfg.RequestTimeout, "PUT /api/v1/me/profile/photo", "POST /api/v1/posts"), s.rate("ip"))
	// Every signed-in write is rate-limited per user; the actions with
	// their own budget say so.
	write := s.rate("write")
	a := v1.Group("/auth")
	login := s.rate("login")
	a.Post("/register", s.rate("register"), s.register)
	a.Post("/login", login, s.login)
	a.Post("/refresh", login, s.refresh)
	a.Post("/logout", s.logout)
	a.Post("/verify", login, s.verifyEmail)
	a.Get("/verify", login, s.verifyEmailLink)
	a.Post("/verify/resend", s.auth, write, s.resendVerification)
	a.Post("/password/forgot", login, s.forgotPassword)
	a.Post("/password/reset", login, s.resetPassword)
	a.Post("/email/confirm", login, s.confirmEmail)
	a.Get("/email/confirm", login, s.confirmEmailLink)

	v1.Get("/me", s.auth, s.me)
	v1.Delete("/me", s.auth, write, s.deleteMe)
	v1.Get("/me/export", s.auth, write, s.exportMe)
	v1.Post("/me/password", s.auth, write, s.changePassword)
	v1.Post("/me/email", s.auth, write, s.changeEmail)
	v1.Patch("/me/profile", s.auth, write, s.updateProfile)
	v1.Put("/me/profile/photo", s.auth, s.rate("upload"), s.setPhoto)
	v1.Delete("/me/profile/photo", s.auth, write, s.deletePhoto)

	v1.Get("/profiles", s.optionalAuth, s.listProfiles)
	v1.Get("/profiles/:username", s.optionalAuth, s.getProfile)
	v1.Patch("/profiles/:username", s.auth, write, s.updateProfileOf)
	v1.Post("/profiles/:username/follow", s.auth, write, s.follow)
	v1.Delete("/profiles/:username/follow", s.auth, write, s.unfollow)
	v1.Get("/profiles/:username/followers", s.optionalAuth, s.followers)
	v1.Get("/profiles/:username/following", s.optionalAuth, s.following)

	v1.Post("/posts", s.auth, s.rate("upload"), s.createPost)
	v1.Get("/posts", s.optionalAuth, s.listPosts)
	v1.Get("/feed", s.auth, s.feed)
	v1.Get("/posts/rules", s.postRules) // before /posts/:id
	v1.Get("/posts/:id", s.optionalAuth, s.getPost)
	v1.Patch("/posts/:id", s.auth, write, s.updatePost)
	v1.Delete("/posts/:id", s.auth, write, s.deletePost)
	v1.Get("/posts/:id/comments", s.optionalAuth, s.listComments)
	v1.Post("/posts/:id/comments", s.auth, s.rate("comment"), s.addComment)
	v1.Delete("/posts/:id/comments/:commentId", s.auth, write, s.deleteComment)
	v1.Put("/posts/:id/reactions/:kind", s.auth, s.rate("react"), s.react)
	v1.Delete("/posts/:id/reactions/:kind", s.auth, s.rate("react"), s.unreact)
	v1.Post("/posts/:id/report", s.auth, s.rate("report"), s.reportPost)
	v1.Put("/posts/:id/rating", s.auth, s.rate("rate"), s.ratePost)
	v1.Delete("/posts/:id/rating", s.auth, s.rate("rate"), s.unrate)
	v1.Get("/leaderboards/:board", s.optionalAuth, s.leaderboard)
	v1.Get("/cull", s.optionalAuth, s.cull)
	v1.Get("/cull/runs/:id", s.optionalAuth, s.cullRun)

	v1.Get("/admin/reports", s.auth, s.listReports)
	v1.Post("/admin/reports/:reportId/resolve", s.auth, write, s.resolveReport)
	v1.Post("/admin/posts/:id/remove", s.auth, write, s.removePost)
	v1.Put("/admin/users/:username/ban", s.auth, write, s.banUser)
	v1.Delete("/admin/users/:username/ban", s.auth, write, s.unbanUser)

	v1.Get("/notifications", s.auth, s.listNotifications)
	v1.Get("/notifications/unread-count", s.auth, s.unreadCount)
	v1.Post("/notifications/read", s.auth, write, s.markRead)

	s.webRoutes(app)
	return app
}

func proxyHeader(cfg config.Config) string {
	if len(cfg.TrustedProxies) > 0 {
		return fiber.HeaderXForwardedFor
	}
	return ""
}

// accessLog writes one structured line per request.
func accessLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler runs after this middleware returns; log the
		// status it will choose.
		status = statusOf(err)
	}
	observe(c, status, time.Since(start))
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	} else if c.Path() == "/healthz" || c.Path() == "/readyz" || strings.HasPrefix(c.Path(), "/assets/") {
		level = slog.LevelDebug
	}
	slog.Log(c.UserContext(), level, "http", "method", c.Method(), "path", c.Path(), "status", status,
		"took", time.Since(start).Round(time.Microsecond), "ip", c.IP(), "request_id", requestID(c))
	return err
}
