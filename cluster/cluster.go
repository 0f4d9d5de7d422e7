// Package cluster runs Jokster's production topology on one machine without
// Docker: Debian's nginx (rendered from nginx/*.template by nginx/render.sh,
// the same files docker compose uses) in front of several `jokster serve`
// nodes and one `jokster worker`, all on loopback, sharing one PostgreSQL
// database, one media folder and a redis-server of their own (started with
// the flags docker-compose.yaml gives Redis). `make cluster` starts one to
// play with; the test in this package (`make cluster-test`) proves the
// compose topology with real clients, including an API node killed mid-load.
package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jokster/jokster/config"
)

// Options describe a cluster to start.
type Options struct {
	Dir         string                           // working folder: media, nginx config, logs
	Binary      string                           // the jokster binary
	Nginx       string                           // the nginx binary (FindNginx)
	Repo        string                           // the repository root: nginx/render.sh, web/dist
	DatabaseURL string                           // the cluster's database (the nodes create it if missing)
	APINodes    int                              // number of `jokster serve` nodes; 3 when 0
	Listen      string                           // nginx's HTTP address; a free loopback port when empty
	TLS         bool                             // also serve HTTPS (self-signed certificate) on a free loopback port
	OpsPassword string                           // OPS_PASSWORD of the worker and of nginx's /monitor/ (empty: /monitor/ is closed)
	RedisPrefix string                           // REDIS_PREFIX of every node; "jokcluster:" when empty
	Env         map[string]string                // settings of every node on top of the cluster's own (e.g. RATE_IP=0)
	Log         func(format string, args ...any) // progress messages; none when nil
}

// Cluster is a running cluster. Stop it when done (also after a failed Start).
type Cluster struct {
	URL      string // http://… through nginx
	TLSURL   string // https://… through nginx, when Options.TLS
	CertPEM  []byte // the self-signed certificate of TLSURL
	RedisURL string
	NginxDir string // rendered configuration (nginx.conf, locations.conf, tls.conf, htpasswd)
	Media    string // MEDIA_ROOT of every node, served by nginx at /media/
	WebRoot  string // web/dist, served by nginx at /assets/ (empty when the web UI is not built)
	API      []*Process
	Worker   *Process
	Redis    *Process
	Nginx    *Process

	opts Options
	env  []string // common environment of the jokster processes
	mu   sync.Mutex
	all  []*Process
}

// Process is one program of the cluster.
type Process struct {
	Name    string
	Addr    string // public listener (API nodes), or the listening address (redis, nginx)
	OpsAddr string // operations listener (/metrics, /monitor/, /healthz) of jokster processes
	Log     string // file with the process's stdout and stderr

	path string
	args []string
	env  []string
	stop syscall.Signal // graceful stop signal

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	logFrom int64 // size of Log when the process last started: where its lines begin
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// FindNginx returns the nginx binary: on PATH, or in the sbin folders that a
// normal user's PATH often lacks. Empty when there is none.
func FindNginx() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// FreePort asks the kernel for a loopback port nobody listens on at the
// moment. Another process may take it before it is used: Start lets the
// jokster processes bind port 0 and report their addresses, and starts
// again on other ports when redis-server or nginx finds its port taken.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	p, err := FreePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// Settings returns the names of every environment variable the jokster
// binary reads (the env tags of config.Config).
func Settings() map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeFor[config.Config]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ","); name != "" {
			out[name] = true
		}
	}
	return out
}

// errPortTaken: a port the cluster picked was taken by another process
// before the cluster's own process could bind it.
var errPortTaken = errors.New("port taken by another process")

// Start starts redis-server, the worker, the API nodes and nginx, and waits
// until each answers. On error the cluster is returned too: Stop it.
//
// nginx's address must be known before the nodes start (it is their
// PUBLIC_URL), so it is picked early and bound last; should another process
// take it meanwhile, the whole cluster starts again on other ports.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, o)
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			return c, err
		}
		o.logf("%v; starting the cluster again on other ports", err)
		c.Stop()
	}
}

func start(ctx context.Context, o Options) (*Cluster, error) {
	listenChosen := o.Listen == ""
	if o.APINodes == 0 {
		o.APINodes = 3
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = "jokcluster:"
	}
	c := &Cluster{opts: o, Media: filepath.Join(o.Dir, "media"), NginxDir: filepath.Join(o.Dir, "nginx")}
	for _, d := range []string{c.Media, c.NginxDir, filepath.Join(o.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return c, err
		}
	}

	// Redis, as docker-compose.yaml runs it: asynq needs noeviction, and
	// nothing is kept on disk (PostgreSQL is the truth). redis-server cannot
	// report a port of its choosing, so a picked port that another process
	// took first is replaced by another.
	c.Redis = c.process("redis", "", "", redisServer(), nil, nil, syscall.SIGTERM)
	for attempt := 1; ; attempt++ {
		raddr, err := freeAddr()
		if err != nil {
			return c, err
		}
		_, rport, _ := net.SplitHostPort(raddr)
		c.Redis.Addr = raddr
		c.Redis.args = []string{"--bind", "127.0.0.1", "--port", rport,
			"--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no"}
		if err := c.Redis.Start(); err != nil {
			return c, fmt.Errorf("cluster: redis-server: %w", err)
		}
		err = waitRedis(ctx, c.Redis, 20*time.Second)
		if err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == 5 {
			return c, err
		}
		o.logf("%v; trying another port", err)
	}
	c.RedisURL = "redis://" + c.Redis.Addr + "/0"

	// nginx's address first: it is the nodes' PUBLIC_URL.
	var err error
	if o.Listen == "" {
		if o.Listen, err = freeAddr(); err != nil {
			return c, err
		}
	}
	c.URL = "http://" + o.Listen

	// The environment of every jokster process: the developer's own
	// settings are left out, so only the cluster's apply.
	settings := Settings()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !settings[k] {
			c.env = append(c.env, kv)
		}
	}
	common := map[string]string{
		"DATABASE_URL":    o.DatabaseURL,
		"REDIS_URL":       c.RedisURL,
		"REDIS_PREFIX":    o.RedisPrefix,
		"MEDIA_ROOT":      c.Media,
		"PUBLIC_URL":      c.URL,
		"TRUSTED_PROXIES": "127.0.0.1",
		"LOG_FORMAT":      "json",
		"OPS_PASSWORD":    o.OpsPassword,
	}
	for k, v := range o.Env {
		common[k] = v
	}
	for k, v := range common {
		c.env = append(c.env, k+"="+v)
	}

	// The worker and the API nodes start together, as compose starts them:
	// they race to migrate a fresh database (an advisory lock serializes it).
	// Each binds port 0 and logs the address it got (no port picked here can
	// be taken before they bind it); a restarted process gets the same one.
	c.Worker = c.process("worker", "", "", o.Binary, []string{"worker"}, []string{"OPS_ADDR=127.0.0.1:0"}, syscall.SIGTERM)
	for i := range o.APINodes {
		c.API = append(c.API, c.process(fmt.Sprintf("api%d", i+1), "", "", o.Binary, []string{"serve"},
			[]string{"ADDR=127.0.0.1:0", "OPS_ADDR=127.0.0.1:0"}, syscall.SIGTERM))
	}
	for _, p := range append([]*Process{c.Worker}, c.API...) {
		if err := p.Start(); err != nil {
			return c, fmt.Errorf("cluster: %s: %w", p.Name, err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	if c.Worker.OpsAddr, err = waitListener(ctx, c.Worker, "operations listener up", "OPS_ADDR", deadline); err != nil {
		return c, err
	}
	if err := waitHTTP(ctx, c.Worker, "http://"+c.Worker.OpsAddr+"/healthz", time.Until(deadline)); err != nil {
		return c, err
	}
	for _, n := range c.API {
		if n.OpsAddr, err = waitListener(ctx, n, "operations listener up", "OPS_ADDR", deadline); err != nil {
			return c, err
		}
		if n.Addr, err = waitListener(ctx, n, "public listener up", "ADDR", deadline); err != nil {
			return c, err
		}
		if err := waitHTTP(ctx, n, "http://"+n.Addr+"/readyz", time.Until(deadline)); err != nil {
			return c, err
		}
	}
	o.logf("cluster: worker and %d API nodes are ready", len(c.API))

	// nginx, rendered from the same templates as docker compose.
	env := []string{
		"NGINX_LISTEN=" + o.Listen,
		"NGINX_RUN_DIR=" + c.NginxDir, // where waitNginx looks for the pid file
		"NGINX_USER=" + currentUser(),
		"NGINX_WORKER_PROCESSES=2",
		"NGINX_ERROR_LOG=" + filepath.Join(c.NginxDir, "error.log"),
		"NGINX_ACCESS_LOG=" + filepath.Join(c.NginxDir, "access.log"),
		"JOKSTER_OPS_SERVER=" + c.Worker.OpsAddr,
		"JOKSTER_MEDIA_ROOT=" + c.Media,
		"OPS_USER=admin",
		"OPS_PASSWORD=" + o.OpsPassword,
	}
	var servers []string
	for _, n := range c.API {
		servers = append(servers, n.Addr)
	}
	env = append(env, "JOKSTER_API_SERVERS="+strings.Join(servers, " "))
	if _, err := os.Stat(filepath.Join(o.Repo, "web", "dist", "index.html")); err == nil {
		c.WebRoot = filepath.Join(o.Repo, "web", "dist")
		env = append(env, "JOKSTER_WEB_ROOT="+c.WebRoot)
	}
	for _, k := range []string{"UPLOAD_MAX_BYTES", "PHOTO_MAX_BYTES"} {
		if v, ok := common[k]; ok {
			env = append(env, k+"="+v)
		}
	}
	ours := map[string]bool{} // the addresses nginx binds that the cluster picked
	if listenChosen {
		ours[o.Listen] = true
	}
	if o.TLS {
		tlsAddr, err := freeAddr()
		if err != nil {
			return c, err
		}
		ours[tlsAddr] = true
		cert, key, err := selfSigned(c.NginxDir)
		if err != nil {
			return c, err
		}
		if c.CertPEM, err = os.ReadFile(cert); err != nil {
			return c, err
		}
		c.TLSURL = "https://" + tlsAddr
		env = append(env, "NGINX_TLS_LISTEN="+tlsAddr, "NGINX_TLS_CERT="+cert, "NGINX_TLS_KEY="+key)
	}
	if out, err := Render(o.Repo, c.NginxDir, env); err != nil {
		return c, fmt.Errorf("cluster: nginx/render.sh: %w\n%s", err, out)
	}
	if out, err := TestConfig(o.Nginx, c.NginxDir); err != nil {
		return c, fmt.Errorf("cluster: nginx -t: %w\n%s", err, out)
	}
	c.Nginx = c.process("nginx", o.Listen, "", o.Nginx, []string{"-p", c.NginxDir, "-c", filepath.Join(c.NginxDir, "nginx.conf"),
		"-e", "stderr", "-g", "daemon off;"}, nil, syscall.SIGQUIT)
	pidFile := filepath.Join(c.NginxDir, "nginx.pid")
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	errorLog := filepath.Join(c.NginxDir, "error.log")
	var errorLogFrom int64
	if st, err := os.Stat(errorLog); err == nil {
		errorLogFrom = st.Size()
	}
	if err := c.Nginx.Start(); err != nil {
		return c, fmt.Errorf("cluster: nginx: %w", err)
	}
	if err := waitNginx(ctx, c.Nginx, pidFile, errorLog, errorLogFrom, ours, 20*time.Second); err != nil {
		return c, err
	}
	if err := waitHTTP(ctx, c.Nginx, c.URL+"/readyz", 20*time.Second); err != nil {
		return c, err
	}
	o.logf("cluster: nginx answers at %s", c.URL)
	return c, nil
}

// Command is a one-off jokster command (seed, migrate, backup …) with the
// cluster's settings: its database, Redis, key prefix and media folder.
func (c *Cluster) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.opts.Binary, args...)
	cmd.Env = append([]string{}, c.env...)
	return cmd
}

// Render runs nginx/render.sh into dir with env added to this process's
// environment; it returns the script's messages.
func Render(repo, dir string, env []string) ([]byte, error) {
	cmd := exec.Command("sh", filepath.Join(repo, "nginx", "render.sh"), dir)
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// TestConfig runs `nginx -t` on the configuration that Render wrote into dir.
func TestConfig(nginx, dir string) ([]byte, error) {
	cmd := exec.Command(nginx, "-t", "-q", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr")
	return cmd.CombinedOutput()
}

func redisServer() string {
	if b := os.Getenv("REDIS_SERVER"); b != "" {
		return b
	}
	return "redis-server"
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" && os.Getuid() != 0 {
		return u
	}
	if os.Getuid() == 0 {
		return "root"
	}
	return "nobody" // ignored: nginx started by a normal user keeps that user
}

func (c *Cluster) process(name, addr, ops, path string, args, env []string, stop syscall.Signal) *Process {
	p := &Process{Name: name, Addr: addr, OpsAddr: ops, Log: filepath.Join(c.opts.Dir, "logs", name+".log"),
		path: path, args: args, stop: stop}
	if path == c.opts.Binary {
		p.env = append(append([]string{}, c.env...), env...)
	}
	c.mu.Lock()
	c.all = append(c.all, p)
	c.mu.Unlock()
	return p
}

// Start starts the process (again, after Kill or Stop), appending to its log.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !p.exited() {
		return fmt.Errorf("%s is running", p.Name)
	}
	log, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := log.Stat()
	if err != nil {
		log.Close()
		return err
	}
	cmd := exec.Command(p.path, p.args...)
	if p.env != nil {
		cmd.Env = p.env
	}
	cmd.Stdout, cmd.Stderr = log, log
	// A process group of its own (nginx's workers included), so Stop can
	// end all of it; and gone with us if this program dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: p.stop}
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	p.cmd, p.done, p.err, p.logFrom = cmd, make(chan struct{}), nil, st.Size()
	done := p.done
	go func() {
		err := cmd.Wait()
		log.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *Process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Running tells whether the process is alive.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.exited()
}

// Pid is the process id (0 when never started).
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *Process) Kill() {
	p.signal(syscall.SIGKILL, 10*time.Second)
}

// Stop asks the process to stop (SIGTERM; SIGQUIT for nginx, a graceful
// stop), and kills its whole process group after the timeout.
func (p *Process) Stop(timeout time.Duration) {
	if !p.signal(p.stop, timeout) {
		p.signal(syscall.SIGKILL, 5*time.Second)
	}
}

// signal sends sig to the process group and waits up to timeout for the
// process to exit; false if it did not. Only this process's own group (its
// pid, from Setpgid) is ever signalled.
func (p *Process) signal(sig syscall.Signal, timeout time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	select {
	case <-done:
		// The leader is gone; make sure nothing of its group stays.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return true
	default:
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
		if sig != syscall.SIGKILL {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // stragglers (nginx workers)
		}
		return true
	case <-time.After(timeout):
		return false
	}
}

// Tail is the end of the process's log, for error messages.
func (p *Process) Tail(lines int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// Stop ends every process: nginx first, then the API nodes and the worker
// (SIGTERM: they shut down in their documented order), Redis last.
func (c *Cluster) Stop() {
	c.mu.Lock()
	all := append([]*Process{}, c.all...)
	c.mu.Unlock()
	order := func(p *Process) int {
		switch {
		case p == c.Nginx:
			return 0
		case p == c.Redis:
			return 3
		case p == c.Worker:
			return 2
		}
		return 1
	}
	for rank := range 4 {
		var wg sync.WaitGroup
		for _, p := range all {
			if order(p) == rank {
				wg.Add(1)
				go func() { defer wg.Done(); p.Stop(15 * time.Second) }()
			}
		}
		wg.Wait()
	}
}

// Metric reads one unlabelled metric (a gauge or counter) from a jokster
// process's /metrics; the sum over its label sets if it has labels.
func Metric(ctx context.Context, p *Process, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.OpsAddr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s /metrics: HTTP %d: %.300s", p.Name, resp.StatusCode, body)
	}
	sum, found := 0.0, false
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != ' ' && line[len(name)] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", p.Name, line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, nil // a counter nobody touched yet is absent
	}
	return sum, nil
}

// sinceStart is what the process has logged since it last started.
func (p *Process) sinceStart() string {
	p.mu.Lock()
	from := p.logFrom
	p.mu.Unlock()
	return readFrom(p.Log, from)
}

// readFrom is the end of a file from offset on ("" when it cannot be read).
func readFrom(name string, offset int64) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(io.NewSectionReader(f, offset, 1<<40))
	return string(data)
}

// pin sets an environment variable of the process for its next starts.
func (p *Process) pin(key, value string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.env = slices.DeleteFunc(p.env, func(kv string) bool { return strings.HasPrefix(kv, key+"=") })
	p.env = append(p.env, key+"="+value)
}

// waitRedis waits until the redis-server at p.Addr is p itself: a PING
// would also be answered by another Redis holding the port while p fails to
// bind it. errPortTaken when p exits because the port was taken.
func waitRedis(ctx context.Context, p *Process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	want := "process_id:" + strconv.Itoa(p.Pid())
	taken := func() error {
		if strings.Contains(p.sinceStart(), "Address already in use") {
			return fmt.Errorf("cluster: redis-server on %s: %w", p.Addr, errPortTaken)
		}
		return nil
	}
	for {
		info, _ := rdb.Info(ctx, "server").Result()
		for l := range strings.SplitSeq(info, "\n") {
			if strings.TrimSpace(l) == want {
				return nil
			}
		}
		if err := waitErr(ctx, p, deadline, "answering on "+p.Addr, taken); err != nil {
			return err
		}
	}
}

// ListenerAddr finds, in a jokster process's log, the address its "…
// listener up" line (msg) reports, in text or JSON (LOG_FORMAT); "" if the
// line is not there (yet).
func ListenerAddr(log, msg string) string {
	m := regexp.MustCompile(regexp.QuoteMeta(msg) + `"[ ,]"?addr"?[=:]"?([^"\s,]+)`).FindStringSubmatch(log)
	if m == nil {
		return ""
	}
	return m[1]
}

// waitListener waits until the jokster process p logs that a listener
// (msg) is up, returns the address it reports, and pins the process's
// setting env to it, so that a restart listens at the same address (which
// nginx's configuration names).
func waitListener(ctx context.Context, p *Process, msg, env string, deadline time.Time) (string, error) {
	for {
		if addr := ListenerAddr(p.sinceStart(), msg); addr != "" {
			p.pin(env, addr)
			return addr, nil
		}
		// LOG_LEVEL above info (Options.Env) would hide the line.
		if err := waitErr(ctx, p, deadline, "logging "+strconv.Quote(msg)+" (at LOG_LEVEL info)", nil); err != nil {
			return "", err
		}
	}
}

// nginxBindFailed is nginx's message when another process holds an address.
var nginxBindFailed = regexp.MustCompile(`bind\(\) to (\S+) failed \(98: Address already in use\)`)

// waitNginx waits until nginx has bound all its addresses: it writes its
// pid file only after that. errPortTaken when it exits because another
// process holds one of the addresses in ours (which the cluster picked).
func waitNginx(ctx context.Context, p *Process, pidFile, errorLog string, errorLogFrom int64, ours map[string]bool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := strconv.Itoa(p.Pid())
	taken := func() error {
		for _, m := range nginxBindFailed.FindAllStringSubmatch(p.sinceStart()+readFrom(errorLog, errorLogFrom), -1) {
			if ours[m[1]] {
				return fmt.Errorf("cluster: nginx on %s: %w", m[1], errPortTaken)
			}
		}
		return nil
	}
	for {
		if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) == want {
			return nil
		}
		if err := waitErr(ctx, p, deadline, "listening (it writes "+pidFile+" once it does)", taken); err != nil {
			return err
		}
	}
}

func waitHTTP(ctx context.Context, p *Process, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 3 * time.Second}
	last := ""
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf(" (last answer %d: %s)", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		if err := waitErr(ctx, p, deadline, "answering "+url+last, nil); err != nil {
			return err
		}
	}
}

// waitErr is nil after a short pause while p runs and the deadline is
// ahead; otherwise the error to stop waiting with: exitCause's (when not nil
// and it explains the exit), or a generic one with the end of p's log.
func waitErr(ctx context.Context, p *Process, deadline time.Time, what string, exitCause func() error) error {
	if !p.Running() {
		if exitCause != nil {
			if err := exitCause(); err != nil {
				return err
			}
		}
		return fmt.Errorf("cluster: %s exited before %s; its log ends:\n%s", p.Name, what, p.Tail(30))
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("cluster: %s is not %s; its log ends:\n%s", p.Name, what, p.Tail(30))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 and localhost.
func selfSigned(dir string) (cert, key string, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "jokster cluster"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &priv.PublicKey, priv)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", "", err
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", "", err
	}
	return cert, key, nil
}

// ErrNoNginx is returned by EnsureNginx when nginx is missing and could not
// be installed.
var ErrNoNginx = errors.New("nginx is not installed")

// EnsureNginx returns the nginx binary, installing Debian's package through
// scripts/services.sh tools when it is missing.
func EnsureNginx(repo string, log io.Writer) (string, error) {
	if p := FindNginx(); p != "" {
		return p, nil
	}
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "services.sh"), "tools")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w, and scripts/services.sh tools could not install it: %v", ErrNoNginx, err)
	}
	if p := FindNginx(); p != "" {
		return p, nil
	}
	return "", ErrNoNginx
}
