package api

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// parseID reads a positive decimal id.
func parseID(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// healthz says the process is alive; it checks nothing else, so an
// orchestrator never restarts a node because Redis blinked.
func (s *server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz says whether this node can serve: PostgreSQL and Redis answer, and
// whatever else registered a check.
func (s *server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	checks := map[string]func(context.Context) error{
		"postgres": func(ctx context.Context) error { return s.DB.Ping(ctx) },
		"redis":    func(ctx context.Context) error { return s.Redis.Ping(ctx).Err() },
	}
	for k, v := range s.ReadyChecks {
		checks[k] = v
	}
	results := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := "ok"
			if err := check(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			results[name] = res
			if res != "ok" {
				ok = false
			}
		}()
	}
	wg.Wait()
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !ok {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "checks": results})
	}
	return c.JSON(fiber.Map{"status": "ok", "checks": results})
}
