package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // on -pprof's listener only
	"runtime"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/jokster/jokster/bench/loadkit"
	"github.com/jokster/jokster/realtime"
)

// runHub serves Jokster's own realtime.Hub (its /ws handler, protocol,
// queues and writer goroutines) on addr, with the in-process MemoryBroker
// instead of Redis and a fixed snapshot instead of the database: the
// protocol's cost without the API, PostgreSQL and Redis around it. It is
// a diagnostic target between the bare broadcaster and the real server.
//
//	GET  /ws                     Jokster's protocol (subscribe to post:1)
//	POST /broadcast?ch=post:1    publishes the body (JSON) as a "comment" event
//	GET  /stats                  connections and Go runtime figures
func runHub(ctx context.Context, addr string, queue int) error {
	addr, err := loopbackListenAddr("-hub-server", addr)
	if err != nil {
		return err
	}
	cfg := realtime.DefaultConfig()
	cfg.MaxPerIP, cfg.QueueSize = 1_000_000, queue
	hub := realtime.NewHub(realtime.NewMemoryBroker(), cfg, func(string) (int64, time.Time, error) {
		return 0, time.Time{}, errors.New("no accounts on the bench hub")
	})
	snapshot := map[string]any{"id": "1", "caption": "live benchmark", "stats": map[string]any{"count": 0, "average": 0}}
	hub.Handle("post:", func(context.Context, string, int64) (any, error) {
		return map[string]any{"post": snapshot, "viewers": 0}, nil
	})
	go hub.Run(ctx)
	app := fiber.New(fiber.Config{DisableStartupMessage: true, AppName: "wsbench-hub"})
	app.Get("/ws", hub.Handler()...)
	app.Post("/broadcast", func(c *fiber.Ctx) error {
		ch := c.Query("ch", "post:1")
		if err := hub.Publish(c.UserContext(), ch, "comment", json.RawMessage(append([]byte(nil), c.Body()...))); err != nil {
			return err
		}
		return c.SendString("ok")
	})
	app.Get("/stats", func(c *fiber.Ctx) error {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return c.JSON(map[string]int64{"connections": int64(hub.Connections()),
			"go_goroutines": int64(runtime.NumGoroutine()), "go_memstats_heap_inuse_bytes": int64(ms.HeapInuse),
			"go_memstats_stack_inuse_bytes": int64(ms.StackInuse), "go_memstats_sys_bytes": int64(ms.Sys)})
	})
	go func() {
		<-ctx.Done()
		hub.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
	}()
	log.Printf("bench hub (Jokster's realtime.Hub, memory broker) on http://%s, queue %d per connection, pid %d", addr, queue, pidSelf())
	return app.Listen(addr)
}

// loopbackListenAddr turns ":port" into 127.0.0.1:port and refuses
// anything but a loopback address.
func loopbackListenAddr(flagName, addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flagName, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !loadkit.IsLoopback(host) {
		return "", fmt.Errorf("%s: %s is not a loopback address", flagName, host)
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("%s: bad port %q", flagName, port)
	}
	return net.JoinHostPort(host, port), nil
}

// servePprof serves net/http/pprof on a loopback address (for profiles of
// the bare broadcaster and the bench hub).
func servePprof(addr string) error {
	addr, err := loopbackListenAddr("-pprof", addr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("pprof on http://%s/debug/pprof/", addr)
	go func() { _ = (&http.Server{ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	return nil
}
