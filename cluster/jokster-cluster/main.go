// Command jokster-cluster starts Jokster's docker compose topology on this
// machine without Docker (`make cluster`): Debian's nginx in front of
// several `jokster serve` nodes and one `jokster worker` on loopback, with a
// redis-server of their own and one PostgreSQL database. Ctrl-C stops it all.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/jokster/jokster/cluster"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("jokster-cluster: ")
	dbDefault := os.Getenv("DATABASE_URL")
	if dbDefault == "" {
		dbDefault = "postgres://postgres@127.0.0.1:5432/jokster?sslmode=disable"
	}
	var (
		bin     = flag.String("bin", "bin/jokster", "the jokster binary (make build)")
		nodes   = flag.Int("nodes", 3, "API nodes (jokster serve)")
		listen  = flag.String("listen", "127.0.0.1:8090", "nginx's address")
		dbURL   = flag.String("database-url", withDatabase(dbDefault, "jokster_cluster"), "the cluster's database (created and migrated when missing)")
		dir     = flag.String("dir", "data/cluster", "working folder (media, logs, nginx config); kept, like the database")
		opsPass = flag.String("ops-password", "cluster", "password of /monitor/ through nginx (user admin)")
		seed    = flag.Bool("seed", true, "create the demo users and posts first (jokster seed)")
	)
	flag.Parse()
	nginx := cluster.FindNginx()
	if nginx == "" {
		log.Fatal("nginx is not installed: run scripts/services.sh tools (make cluster does)")
	}
	repo, err := os.Getwd()
	if err != nil {
		log.Fatal(err)
	}
	binary, err := filepath.Abs(*bin)
	if err != nil {
		log.Fatal(err)
	}
	if *dir, err = filepath.Abs(*dir); err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	c, err := cluster.Start(ctx, cluster.Options{
		Dir: *dir, Binary: binary, Nginx: nginx, Repo: repo, DatabaseURL: *dbURL, APINodes: *nodes,
		Listen: *listen, OpsPassword: *opsPass, Log: log.Printf,
	})
	if err != nil {
		c.Stop()
		log.Fatal(err)
	}
	if *seed {
		// With the cluster's settings: its Redis gets the boards, its worker
		// processes the pictures.
		cmd := c.Command(ctx, "seed")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		log.Printf("seeding %s", redact(*dbURL))
		if err := cmd.Run(); err != nil {
			c.Stop()
			log.Fatalf("jokster seed: %v", err)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  web UI and API   %s  (through nginx)\n", c.URL)
	fmt.Fprintf(&b, "  task queues      %s/monitor/  (admin / %s)\n", c.URL, *opsPass)
	for _, n := range c.API {
		fmt.Fprintf(&b, "  %-16s http://%s  metrics http://%s/metrics  (pid %d)\n", n.Name, n.Addr, n.OpsAddr, n.Pid())
	}
	fmt.Fprintf(&b, "  worker           metrics http://%s/metrics  (pid %d)\n", c.Worker.OpsAddr, c.Worker.Pid())
	fmt.Fprintf(&b, "  redis            %s\n  database         %s\n  logs             %s\n", c.RedisURL, redact(*dbURL), filepath.Join(*dir, "logs"))
	fmt.Fprintf(&b, "\nTry killing an API node (kill -9 <pid>): nginx sends its clients to the others. Ctrl-C stops everything.\n")
	fmt.Print(b.String())
	<-ctx.Done()
	log.Printf("stopping")
	c.Stop()
}

// withDatabase replaces the database name of a PostgreSQL URL.
func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Redacted()
}
