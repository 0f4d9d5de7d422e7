package deploy_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v4"

	"github.com/jokster/jokster/cluster"
	"github.com/jokster/jokster/config"
)

// ---------------------------------------------------------------- compose model

type compose struct {
	Services map[string]service `yaml:"services"`
	Networks map[string]struct {
		Ipam struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Volumes map[string]any `yaml:"volumes"`
}

type service struct {
	Image       string      `yaml:"image"`
	Build       *build      `yaml:"build"`
	Command     []string    `yaml:"command"`
	EnvFile     []string    `yaml:"env_file"`
	Environment any         `yaml:"environment"`
	Healthcheck healthcheck `yaml:"healthcheck"`
	Volumes     []string    `yaml:"volumes"`
	Ports       []string    `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	Networks any `yaml:"networks"`
}

type build struct {
	Context string `yaml:"context"`
	Target  string `yaml:"target"`
}

type healthcheck struct {
	Test []string `yaml:"test"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	data, err := os.ReadFile("../docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return c
}

// env is what a service's process sees: its env_files in order, then its
// environment entries.
func (s service) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range s.EnvFile {
		for k, v := range readEnvFile(t, filepath.Join("..", f)) {
			out[k] = v
		}
	}
	switch e := s.Environment.(type) {
	case nil:
	case map[string]any:
		for k, v := range e {
			out[k] = fmt.Sprint(v)
		}
	case []any:
		for _, kv := range e {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment: unexpected YAML %T", e)
	}
	return out
}

// readEnvFile reads a docker compose env file: KEY=VALUE lines, comments
// and blank lines ignored, optional quotes around the value.
func readEnvFile(t *testing.T, name string) map[string]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`).MatchString(k) {
			t.Fatalf("%s:%d: not KEY=VALUE: %q", name, n, line)
		}
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		if _, dup := out[k]; dup {
			t.Errorf("%s:%d: %s is set twice", name, n, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q: %v", hostport, err)
	}
	return p
}

// mountTarget is where a service mounts the named volume.
func (s service) mountTarget(volume string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[0] == volume {
			return parts[1]
		}
	}
	return ""
}

func (s service) healthURL(t *testing.T) *url.URL {
	t.Helper()
	for _, a := range s.Healthcheck.Test {
		if strings.HasPrefix(a, "http://") {
			u, err := url.Parse(a)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatalf("health check %v has no URL", s.Healthcheck.Test)
	return nil
}

// ---------------------------------------------------------------- tests

// TestCompose_Services: every service is there with the command and the
// health check the topology needs.
func TestCompose_Services(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"postgres", "redis", "api", "worker", "nginx", "mailpit"} {
		s, ok := c.Services[name]
		if !ok {
			t.Fatalf("docker-compose.yaml has no %s service", name)
		}
		if len(s.Healthcheck.Test) < 2 || s.Healthcheck.Test[0] == "NONE" {
			t.Errorf("%s: no health check (%v)", name, s.Healthcheck.Test)
		}
	}
	s := c.Services

	if !strings.HasPrefix(s["postgres"].Image, "postgres:") || !strings.Contains(strings.Join(s["postgres"].Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres: image %q, health check %v", s["postgres"].Image, s["postgres"].Healthcheck.Test)
	}
	if s["postgres"].mountTarget("pgdata") != "/var/lib/postgresql/data" {
		t.Errorf("postgres: the pgdata volume is not its data folder: %v", s["postgres"].Volumes)
	}

	rc := strings.Join(s["redis"].Command, " ")
	if s["redis"].Command[0] != "redis-server" || !strings.Contains(rc, "--maxmemory-policy noeviction") {
		t.Errorf("redis: command %q; asynq needs --maxmemory-policy noeviction", rc)
	}
	if !slices.Equal(s["redis"].Healthcheck.Test, []string{"CMD", "redis-cli", "ping"}) {
		t.Errorf("redis: health check %v", s["redis"].Healthcheck.Test)
	}

	for name, cmd := range map[string]string{"api": "serve", "worker": "worker"} {
		j := s[name]
		if !slices.Equal(j.Command, []string{cmd}) {
			t.Errorf("%s: command %v, want [%s]", name, j.Command, cmd)
		}
		if j.Build == nil || j.Build.Target != "runtime" || j.Image == "" {
			t.Errorf("%s: must be built from the Dockerfile's runtime stage (build %+v, image %q)", name, j.Build, j.Image)
		}
		if j.DependsOn["postgres"].Condition != "service_healthy" || j.DependsOn["redis"].Condition != "service_healthy" {
			t.Errorf("%s: must wait for healthy postgres and redis: %+v", name, j.DependsOn)
		}
		if j.Healthcheck.Test[0] != "CMD" || j.Healthcheck.Test[1] != "curl" {
			t.Errorf("%s: health check %v should use curl (installed in the runtime image)", name, j.Healthcheck.Test)
		}
	}
	if s["api"].Deploy.Replicas < 2 {
		t.Errorf("api: %d replicas, want at least 2", s["api"].Deploy.Replicas)
	}
	if p := s["api"].healthURL(t).Path; p != "/readyz" {
		t.Errorf("api: health check on %s, want /readyz", p)
	}
	if p := s["worker"].healthURL(t).Path; p != "/healthz" {
		t.Errorf("worker: health check on %s, want /healthz (its operations listener)", p)
	}

	n := s["nginx"]
	nc := strings.Join(n.Command, " ")
	if n.Build == nil || n.Build.Target != "nginx" || !strings.Contains(nc, "render.sh /tmp/nginx") ||
		!strings.Contains(nc, "nginx -p /tmp/nginx -c /tmp/nginx/nginx.conf") || !strings.Contains(nc, "daemon off;") {
		t.Errorf("nginx: build %+v, command %q: want the Dockerfile's nginx stage rendering its config at start", n.Build, nc)
	}
	if p := n.healthURL(t).Path; p != "/healthz" {
		t.Errorf("nginx: health check on %s, want /healthz (through to the API)", p)
	}
	for _, dep := range []string{"api", "worker"} {
		if n.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("nginx: must wait for a healthy %s", dep)
		}
	}

	if !strings.HasPrefix(s["mailpit"].Image, "axllent/mailpit") ||
		!slices.Equal(s["mailpit"].Healthcheck.Test, []string{"CMD", "/mailpit", "readyz"}) {
		t.Errorf("mailpit: image %q, health check %v", s["mailpit"].Image, s["mailpit"].Healthcheck.Test)
	}
	for _, v := range []string{"pgdata", "media"} {
		if _, ok := c.Volumes[v]; !ok {
			t.Errorf("no named volume %s", v)
		}
	}
}

// TestCompose_JoksterSettings: every variable the api and worker get is a
// setting of the binary, and together they load and validate as the
// binary would load them.
func TestCompose_JoksterSettings(t *testing.T) {
	c := loadCompose(t)
	settings := cluster.Settings()
	pg := readEnvFile(t, "../deploy/postgres.env")
	for _, name := range []string{"api", "worker"} {
		s := c.Services[name]
		vars := s.env(t)
		if len(vars) < 5 {
			t.Fatalf("%s: only %d settings", name, len(vars))
		}
		for k := range vars {
			if !settings[k] {
				t.Errorf("%s: %s is not a setting of the jokster binary (config.Config)", name, k)
			}
		}
		if _, ok := vars["JWT_SECRET"]; ok {
			t.Errorf("%s: JWT_SECRET is set in a file; leave it unset (the key is generated and kept in PostgreSQL)", name)
		}
		var cfg config.Config
		if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}

		if !cfg.RequireVerifiedEmail {
			t.Errorf("%s: REQUIRE_VERIFIED_EMAIL must be true", name)
		}
		if u, err := url.Parse(cfg.SMTPURL); err != nil || u.Hostname() != "mailpit" {
			t.Errorf("%s: SMTP_URL %q should point at the mailpit service", name, cfg.SMTPURL)
		}
		db, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		pass, _ := db.User.Password()
		if db.Hostname() != "postgres" || db.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] ||
			strings.TrimPrefix(db.Path, "/") != pg["POSTGRES_DB"] {
			t.Errorf("%s: DATABASE_URL %q does not match deploy/postgres.env", name, db.Redacted())
		}
		if u, err := url.Parse(cfg.RedisURL); err != nil || u.Hostname() != "redis" {
			t.Errorf("%s: REDIS_URL %q should point at the redis service", name, cfg.RedisURL)
		}
		if target := s.mountTarget("media"); target == "" || target != cfg.MediaRoot {
			t.Errorf("%s: MEDIA_ROOT %q, but the media volume is mounted at %q", name, cfg.MediaRoot, target)
		}
		if p := s.healthURL(t); name == "api" && p.Port() != port(t, cfg.Addr) || name == "worker" && p.Port() != port(t, cfg.OpsAddr) {
			t.Errorf("%s: health check on port %s, but ADDR=%s OPS_ADDR=%s", name, p.Port(), cfg.Addr, cfg.OpsAddr)
		}
		if host, _, _ := net.SplitHostPort(cfg.OpsAddr); host != "0.0.0.0" && host != "" {
			t.Errorf("%s: OPS_ADDR %s is unreachable from nginx and Prometheus", name, cfg.OpsAddr)
		}

		// Only nginx is trusted to say who the client is.
		nets, _ := c.Services["nginx"].Networks.(map[string]any)
		backend, _ := nets["backend"].(map[string]any)
		ip := fmt.Sprint(backend["ipv4_address"])
		if !slices.Equal(cfg.TrustedProxies, []string{ip}) {
			t.Errorf("%s: TRUSTED_PROXIES %v, want only nginx's address %s", name, cfg.TrustedProxies, ip)
		}
		subnet := c.Networks["backend"].Ipam.Config[0].Subnet
		if _, n, err := net.ParseCIDR(subnet); err != nil || !n.Contains(net.ParseIP(ip)) {
			t.Errorf("nginx's address %s is not in the backend subnet %s", ip, subnet)
		}

		// Links in mails and the WebSocket origin check use nginx's published port.
		pub, err := url.Parse(cfg.PublicURL)
		if err != nil {
			t.Fatal(err)
		}
		if want := publishedPort(t, c.Services["nginx"], "80"); pub.Port() != want {
			t.Errorf("%s: PUBLIC_URL %s, but nginx is published on port %s", name, cfg.PublicURL, want)
		}
	}
}

func publishedPort(t *testing.T, s service, container string) string {
	t.Helper()
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if parts[len(parts)-1] == container && len(parts) >= 2 {
			return parts[len(parts)-2]
		}
	}
	t.Fatalf("port %s is not published: %v", container, s.Ports)
	return ""
}

// renderSettings are the variables nginx/render.sh documents in its header.
func renderSettings(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../nginx/render.sh")
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(string(data), "\nset -eu")
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#\s.*?\b([A-Z][A-Z0-9_]+)=`).FindAllStringSubmatch(header, -1) {
		out[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`\b([A-Z][A-Z0-9_]+)=`).FindAllStringSubmatch(header, -1) {
		out[m[1]] = true
	}
	return out
}

// TestCompose_Nginx: nginx's settings are render.sh's, and they agree with
// the app's: upstream ports, the media mount, the upload limit.
func TestCompose_Nginx(t *testing.T) {
	c := loadCompose(t)
	n := c.Services["nginx"]
	vars := n.env(t)
	known := renderSettings(t)
	for _, k := range []string{"NGINX_LISTEN", "JOKSTER_API_SERVERS", "UPLOAD_MAX_BYTES", "OPS_PASSWORD"} {
		if !known[k] {
			t.Fatalf("render.sh's header does not document %s (found %v)", k, known)
		}
	}
	for k := range vars {
		if !known[k] {
			t.Errorf("nginx: %s is not a setting of nginx/render.sh", k)
		}
	}
	api := c.Services["api"].env(t)
	worker := c.Services["worker"].env(t)
	if got, want := port(t, vars["JOKSTER_API_SERVERS"]), port(t, api["ADDR"]); got != want {
		t.Errorf("nginx sends the API to port %s, the api listens on %s", got, want)
	}
	if host, _, _ := net.SplitHostPort(vars["JOKSTER_API_SERVERS"]); host != "api" {
		t.Errorf("JOKSTER_API_SERVERS %q should name the api service", vars["JOKSTER_API_SERVERS"])
	}
	if got, want := port(t, vars["JOKSTER_OPS_SERVER"]), port(t, worker["OPS_ADDR"]); got != want {
		t.Errorf("nginx sends /monitor/ to port %s, the worker's OPS_ADDR is %s", got, worker["OPS_ADDR"])
	}
	if target := n.mountTarget("media"); target != vars["JOKSTER_MEDIA_ROOT"] || !strings.HasSuffix(n.volumeSpec("media"), ":ro") {
		t.Errorf("nginx: JOKSTER_MEDIA_ROOT %q, media volume %q (want the same path, read-only)", vars["JOKSTER_MEDIA_ROOT"], n.volumeSpec("media"))
	}
	for _, k := range []string{"UPLOAD_MAX_BYTES", "PHOTO_MAX_BYTES", "OPS_USER", "OPS_PASSWORD"} {
		if vars[k] != api[k] || vars[k] != worker[k] {
			t.Errorf("%s differs between nginx (%q), api (%q) and worker (%q)", k, vars[k], api[k], worker[k])
		}
	}
	if vars["NGINX_RESOLVER"] != "127.0.0.11" {
		t.Errorf("NGINX_RESOLVER %q: Docker's DNS is 127.0.0.11 (replicas change address when they restart)", vars["NGINX_RESOLVER"])
	}

	// The configuration compose renders, with a password for /monitor/.
	dir := t.TempDir()
	var envList []string
	for k, v := range vars {
		envList = append(envList, k+"="+v)
	}
	envList = append(envList, "OPS_PASSWORD=s3cret-for-the-test", "JOKSTER_WEB_ROOT=/srv/jokster/web")
	if out, err := cluster.Render("..", dir, envList); err != nil {
		t.Fatalf("render.sh: %v\n%s", err, out)
	}
	conf := readAll(t, dir, "nginx.conf") + readAll(t, dir, "locations.conf")
	upload, _ := strconv.ParseInt(api["UPLOAD_MAX_BYTES"], 10, 64)
	photo, _ := strconv.ParseInt(api["PHOTO_MAX_BYTES"], 10, 64)
	for _, want := range []string{
		"server api:8080 max_fails=1 fail_timeout=5s resolve;",
		"resolver 127.0.0.11 valid=10s",
		fmt.Sprintf("client_max_body_size %d;", max(upload, photo)+1<<20),
		"alias /srv/jokster/media/;",
		"location ^~ /media/originals/ {\n    return 404;",
		"add_header X-Content-Type-Options nosniff always;",
		"root /srv/jokster/web;",
		"auth_basic_user_file " + dir + "/htpasswd;",
		"proxy_set_header X-Forwarded-For $remote_addr;",
		"proxy_read_timeout 1h;",
		"listen 80;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("the compose configuration lacks %q", want)
		}
	}
	if strings.Contains(readAll(t, dir, "htpasswd"), "s3cret-for-the-test") {
		t.Errorf("htpasswd holds the password in clear (openssl is on this machine)")
	}
	if regexp.MustCompile(`\$\{[A-Z_]+\}`).MatchString(conf) {
		t.Errorf("an unrendered ${…} is left in the configuration")
	}
}

func (s service) volumeSpec(volume string) string {
	for _, v := range s.Volumes {
		if strings.HasPrefix(v, volume+":") {
			return v
		}
	}
	return ""
}

func readAll(t *testing.T, dir, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestNginx_ConfigTest runs `nginx -t` on the loopback rendering (as the
// cluster uses it): plain, with /monitor/ closed, and with TLS.
func TestNginx_ConfigTest(t *testing.T) {
	nginx, err := cluster.EnsureNginx("..", os.Stderr)
	if err != nil {
		t.Skipf("nginx -t skipped: %v", err)
	}
	cert, key := selfSigned(t)
	media := t.TempDir()
	base := []string{"NGINX_LISTEN=127.0.0.1:18080", "NGINX_USER=" + userName(), "JOKSTER_API_SERVERS=127.0.0.1:18081,127.0.0.1:18082 127.0.0.1:18083",
		"JOKSTER_OPS_SERVER=127.0.0.1:18091", "JOKSTER_MEDIA_ROOT=" + media, "NGINX_ACCESS_LOG=off"}
	cases := map[string][]string{
		"plain":          {"OPS_PASSWORD=secret", "JOKSTER_WEB_ROOT=" + media},
		"monitor closed": {"OPS_PASSWORD="},
		"tls":            {"OPS_PASSWORD=secret", "NGINX_TLS_LISTEN=127.0.0.1:18443", "NGINX_TLS_CERT=" + cert, "NGINX_TLS_KEY=" + key},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := cluster.Render("..", dir, append(append([]string{}, base...), extra...)); err != nil {
				t.Fatalf("render.sh: %v\n%s", err, out)
			}
			if out, err := cluster.TestConfig(nginx, dir); err != nil {
				t.Fatalf("nginx -t: %v\n%s\n%s", err, out, readAll(t, dir, "nginx.conf"))
			}
			tls := readAll(t, dir, "tls.conf")
			if name == "tls" != strings.Contains(tls, "ssl_certificate "+cert+";") {
				t.Errorf("tls.conf:\n%s", tls)
			}
			if name == "monitor closed" && !strings.Contains(readAll(t, dir, "locations.conf"), "return 403;") {
				t.Errorf("/monitor/ is not closed without a password")
			}
		})
	}

	// Values that would change the configuration's meaning are refused.
	for _, bad := range []string{"JOKSTER_API_SERVERS=127.0.0.1:1;include /etc/passwd", "NGINX_LISTEN=80 default_server",
		"JOKSTER_MEDIA_ROOT=/srv/$host", "UPLOAD_MAX_BYTES=50M", "NGINX_TLS_CERT=/x.pem"} {
		if out, err := cluster.Render("..", t.TempDir(), append(append([]string{}, base...), bad)); err == nil {
			t.Errorf("render.sh accepted %s:\n%s", bad, out)
		}
	}
}

func userName() string {
	if os.Getuid() == 0 {
		return "root"
	}
	return "nobody"
}

// TestDockerfile: the stages, and what the runtime image must be.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	stages := regexp.MustCompile(`(?m)^FROM \S+ AS (\S+)$`).FindAllStringSubmatch(text, -1)
	var names []string
	for _, s := range stages {
		names = append(names, s[1])
	}
	if !slices.Equal(names, []string{"web", "build", "nginx", "runtime"}) {
		t.Errorf("stages %v, want web, build, nginx, runtime (runtime last: the default target)", names)
	}
	runtime := text[strings.LastIndex(text, "AS runtime"):]
	for _, want := range []string{"make web", "make build", "CGO_ENABLED=0"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Dockerfile does not run %q (the Makefile's build steps)", want)
		}
	}
	for _, want := range []string{"ffmpeg", "postgresql-client", "curl", "HEALTHCHECK", "/healthz", "ENTRYPOINT [\"jokster\"]"} {
		if !strings.Contains(runtime, want) {
			t.Errorf("the runtime stage lacks %q", want)
		}
	}
	users := regexp.MustCompile(`(?m)^USER (\S+)$`).FindAllStringSubmatch(runtime, -1)
	if len(users) != 1 || strings.HasPrefix(users[0][1], "0") || strings.HasPrefix(users[0][1], "root") {
		t.Errorf("the runtime image must run as a non-root user: %v", users)
	}
	// No secret in any image: no ENV or ARG that names one.
	for _, m := range regexp.MustCompile(`(?m)^(ENV|ARG)\s+(.*)$`).FindAllStringSubmatch(text, -1) {
		if regexp.MustCompile(`(?i)password|secret|token|_key\b|smtp_url|database_url`).MatchString(m[2]) {
			t.Errorf("the Dockerfile sets %s %s: secrets and connection strings come at run time", m[1], m[2])
		}
	}
	// The Debian release's postgresql-client must match the compose server.
	debian := regexp.MustCompile(`(?m)^ARG DEBIAN=(\S+)$`).FindStringSubmatch(text)
	clients := map[string]string{"bookworm": "15", "trixie": "17"}
	pg := loadCompose(t).Services["postgres"].Image
	if debian == nil || !strings.HasPrefix(pg, "postgres:"+clients[debian[1]]) {
		t.Errorf("postgres image %q, Debian %v (postgresql-client %s): pg_dump must not be older than the server", pg, debian, clients[debian[1]])
	}
	for name, s := range loadCompose(t).Services {
		if s.Build != nil && !slices.Contains(names, s.Build.Target) {
			t.Errorf("%s builds the Dockerfile stage %q, which does not exist", name, s.Build.Target)
		}
	}

	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "**/node_modules", "deploy", "*.env"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore lacks %q (settings and secrets must stay out of the build context)", want)
		}
	}
}

func selfSigned(t *testing.T) (string, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
