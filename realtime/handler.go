package realtime

import (
	"net/url"
	"strings"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster"
)

// Handler returns the Fiber handlers for GET /ws: checks (origin,
// connection limits) before the upgrade, then the connection itself.
func (h *Hub) Handler() []fiber.Handler {
	check := func(c *fiber.Ctx) error {
		if !websocket.IsWebSocketUpgrade(c) {
			return jokster.Errorf(jokster.EINVALID, "this is the WebSocket endpoint: connect with a WebSocket client")
		}
		if !h.originAllowed(c) {
			return jokster.Errorf(jokster.EFORBIDDEN, "origin %q may not open live connections", c.Get(fiber.HeaderOrigin))
		}
		ip := c.IP()
		h.mu.Lock()
		if h.ips[ip] >= h.cfg.MaxPerIP {
			h.mu.Unlock()
			return &jokster.Error{Code: jokster.ETOOMANY, Message: "too many live connections from this address", RetryAfter: 10}
		}
		h.ips[ip]++
		h.mu.Unlock()
		c.Locals("ws_ip", ip)
		return c.Next()
	}
	conn := websocket.New(func(conn *websocket.Conn) {
		ip, _ := conn.Locals("ws_ip").(string)
		c := &client{h: h, conn: conn, ip: ip, wake: make(chan struct{}, 1),
			subs: map[string]*sub{}, done: make(chan struct{})}
		connections.Inc()
		h.mu.Lock()
		h.all[c] = struct{}{}
		h.mu.Unlock()
		defer func() {
			connections.Dec()
			h.mu.Lock()
			delete(h.all, c)
			h.mu.Unlock()
			c.leave()
			h.userGone(c)
			h.mu.Lock()
			if h.ips[ip]--; h.ips[ip] <= 0 {
				delete(h.ips, ip)
			}
			h.mu.Unlock()
		}()
		// The handler must not return while the connection is in use: the
		// writer runs beside the read loop, and both end together.
		wrote := make(chan struct{})
		go func() { defer close(wrote); c.writer() }()
		c.read()
		<-wrote
	}, websocket.Config{ReadBufferSize: 1024, WriteBufferSize: 1024})
	return []fiber.Handler{check, conn}
}

// originAllowed: no Origin (not a browser) is fine; a browser's Origin must
// be listed, or be this server's own address.
func (h *Hub) originAllowed(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" {
		return true
	}
	for _, o := range h.cfg.Origins {
		if strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, c.Hostname())
}

// userCame counts a signed-in connection; false when the user has too many.
func (h *Hub) userCame(c *client, uid int64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[uid] >= h.cfg.MaxPerUser {
		c.mu.Lock()
		c.user = 0
		c.mu.Unlock()
		return false
	}
	h.users[uid]++
	c.mu.Lock()
	c.counted = uid
	c.mu.Unlock()
	return true
}

// userGone uncounts a connection's user (when it closes or its token
// expires).
func (h *Hub) userGone(c *client) {
	c.mu.Lock()
	uid := c.counted
	c.counted = 0
	c.mu.Unlock()
	if uid == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.users[uid]--; h.users[uid] <= 0 {
		delete(h.users, uid)
	}
}
