// Command jokster is the one binary of Jokster. It only wires packages
// together; see `jokster help`.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jokster/jokster/backup"
	"github.com/jokster/jokster/config"
)

const usage = `jokster — survival of the funniest

Usage: jokster <command>

  serve     HTTP API, WebSocket and web UI on ADDR; metrics on OPS_ADDR
  worker    asynq task server and scheduler; asynqmon and metrics on OPS_ADDR
  all       serve and worker in one process (what make run starts)
  migrate   apply pending database migrations and exit
  seed      create demo users (idempotent) and exit
  admin grant <username>   make a user an admin
  admin revoke <username>  take admin rights away
  backup <dir>             dump the database and the media folder into a new folder
  restore [-replace] <dir> restore them from such a folder (stop serve/worker first)

Settings come from environment variables; the README lists them.
`

func main() {
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Print(usage)
		return
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	setupLogging(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd := os.Args[1]; cmd {
	case "serve":
		err = run(ctx, cfg, roles{api: true})
	case "worker":
		err = run(ctx, cfg, roles{worker: true})
	case "all":
		err = run(ctx, cfg, roles{api: true, worker: true})
	case "migrate":
		err = migrate(ctx, cfg)
	case "seed":
		err = seedDemo(ctx, cfg)
	case "admin":
		err = admin(ctx, cfg, os.Args[2:])
	case "backup", "restore":
		err = backup.Command(ctx, cfg, cmd, os.Args[2:])
	default:
		fmt.Fprintf(os.Stderr, "jokster: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		slog.Error("jokster: "+os.Args[1]+" failed", "err", err)
		os.Exit(1)
	}
}

func setupLogging(cfg config.Config) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	slog.SetDefault(slog.New(h))
}
