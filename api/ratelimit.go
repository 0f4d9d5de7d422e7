package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/jokster/jokster"
	"github.com/jokster/jokster/config"
	"github.com/jokster/jokster/ratelimit"
)

// rateAction is one rate-limited action: its rule in the settings, whether
// it counts per signed-in user (else per client IP) and how a 429 names it.
type rateAction struct {
	rule    func(config.Config) ratelimit.Rule
	perUser bool
	what    string
}

// rateActions are the names s.rate accepts.
var rateActions = map[string]rateAction{
	"ip":       {func(c config.Config) ratelimit.Rule { return c.RateIP }, false, "requests from this address"},
	"register": {func(c config.Config) ratelimit.Rule { return c.RateRegister }, false, "registration requests"},
	"login":    {func(c config.Config) ratelimit.Rule { return c.RateLogin }, false, "log-in requests"},
	"upload":   {func(c config.Config) ratelimit.Rule { return c.RateUpload }, true, "upload requests"},
	"comment":  {func(c config.Config) ratelimit.Rule { return c.RateComment }, true, "comment requests"},
	"report":   {func(c config.Config) ratelimit.Rule { return c.RateReport }, true, "report requests"},
	"react":    {func(c config.Config) ratelimit.Rule { return c.RateReact }, true, "reaction requests"},
	"rate":     {func(c config.Config) ratelimit.Rule { return c.RateRate }, true, "rating requests"},
	"write":    {func(c config.Config) ratelimit.Rule { return c.RateWrite }, true, "write requests"},
}

// rate is the middleware limiting a named action (see rateActions) with the
// rule from the settings. Per-user actions must come after s.auth (or
// s.optionalAuth); without a signed-in user they count per IP.
func (s *server) rate(action string) fiber.Handler {
	a, ok := rateActions[action]
	if !ok {
		panic("api: no rate limit named " + strconv.Quote(action))
	}
	return s.limiter(action, a.what, a.rule(s.cfg), a.perUser)
}

// limit is the middleware limiting action by rule, per signed-in user when
// perUser (falling back to the client IP), else per client IP.
func (s *server) limit(action string, rule ratelimit.Rule, perUser bool) fiber.Handler {
	return s.limiter(action, action+" requests", rule, perUser)
}

const (
	// limitTimeout bounds the Redis round trip of one decision.
	limitTimeout = 500 * time.Millisecond
	// limitPause is how long a middleware stops asking Redis after it
	// failed, so an outage costs requests no latency.
	limitPause = time.Second
	// limitWarnEvery spaces out the warnings about an unreachable Redis.
	limitWarnEvery = time.Minute
)

var (
	limitDecisions = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "jokster_rate_limit_decisions_total",
		Help: "Rate-limit decisions by action and result (allowed, limited, or error: let through because Redis failed).",
	}, []string{"action", "result"})
	limitLastWarn atomic.Int64 // unix nanoseconds
)

func (s *server) limiter(action, what string, rule ratelimit.Rule, perUser bool) fiber.Handler {
	if rule.Unlimited() || s.Redis == nil {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	l := ratelimit.NewLimiter(s.Redis, s.cfg.RedisPrefix)
	var pausedUntil atomic.Int64 // unix nanoseconds; Redis failed recently
	return func(c *fiber.Ctx) error {
		if time.Now().UnixNano() < pausedUntil.Load() {
			limitDecisions.WithLabelValues(action, "error").Inc()
			return c.Next()
		}
		key := action + ":ip:" + clientKey(c.IP())
		if id := viewer(c); perUser && id != 0 {
			key = action + ":u:" + strconv.FormatInt(id, 10)
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), limitTimeout)
		res, err := l.Allow(ctx, key, rule)
		cancel()
		if err != nil {
			// Redis may restart at any time; a limit is not worth a 5xx.
			pausedUntil.Store(time.Now().Add(limitPause).UnixNano())
			limitDecisions.WithLabelValues(action, "error").Inc()
			now, last := time.Now().UnixNano(), limitLastWarn.Load()
			if now-last >= int64(limitWarnEvery) && limitLastWarn.CompareAndSwap(last, now) {
				slog.Warn("rate limits are off while Redis fails; requests are let through", "action", action, "err", err)
			}
			return c.Next()
		}
		setRemaining(c, res.Remaining)
		if !res.Allowed {
			limitDecisions.WithLabelValues(action, "limited").Inc()
			secs := ratelimit.Seconds(res.RetryAfter)
			return &jokster.Error{Code: jokster.ETOOMANY, RetryAfter: secs,
				Message: fmt.Sprintf("too many %s; try again in %d s", what, secs)}
		}
		limitDecisions.WithLabelValues(action, "allowed").Inc()
		return c.Next()
	}
}

// setRemaining sets X-RateLimit-Remaining, keeping the smallest when
// several limits apply to one request (the IP-wide one and the action's).
func setRemaining(c *fiber.Ctx, n int) {
	if n < 0 {
		return
	}
	if v, err := strconv.Atoi(string(c.Response().Header.Peek("X-RateLimit-Remaining"))); err == nil && v < n {
		return
	}
	c.Set("X-RateLimit-Remaining", strconv.Itoa(n))
}

// clientKey is the address a per-IP limit counts: the IPv4 address, or the
// /64 network of an IPv6 one (one host usually holds a whole /64).
func clientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}
