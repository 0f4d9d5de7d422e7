#!/bin/sh
# nginx/render.sh — render Jokster's nginx configuration from the templates
# beside this script, for docker compose and for the loopback cluster alike.
#
#   nginx/render.sh OUTDIR
#
# writes OUTDIR/nginx.conf, locations.conf, tls.conf (empty without TLS) and,
# when /monitor/ is protected by a password, OUTDIR/htpasswd. Then:
#
#   nginx -p OUTDIR -c OUTDIR/nginx.conf -e stderr -g 'daemon off;'
#
# Settings (environment variables) and their defaults, which suit the nginx
# container of docker-compose.yaml:
#
#   NGINX_LISTEN=80                 address[:port] of the HTTP server
#   NGINX_SERVER_NAME=_             server_name
#   NGINX_USER=nginx                user of the worker processes (ignored unless nginx starts as root)
#   NGINX_WORKER_PROCESSES=auto
#   NGINX_RUN_DIR=OUTDIR            pid file and temporary files
#   NGINX_ERROR_LOG=stderr          error log (a file, or stderr)
#   NGINX_ACCESS_LOG=/dev/stdout    access log (a file), or "off"
#   NGINX_MIME_TYPES=/etc/nginx/mime.types
#   NGINX_RESOLVER=                 DNS server (compose: 127.0.0.11); when set, upstream names are
#                                   re-resolved while nginx runs (needs nginx >= 1.27.3)
#   JOKSTER_API_SERVERS=api:8080    the API nodes (jokster serve ADDR), separated by spaces or commas
#   JOKSTER_OPS_SERVER=worker:8081  the worker's OPS_ADDR, for /monitor/ (asynqmon)
#   JOKSTER_MEDIA_ROOT=/srv/jokster/media
#                                   the app's MEDIA_ROOT as nginx sees it, served at /media/
#   JOKSTER_WEB_ROOT=               the built web app (web/dist); when set, nginx serves /assets/
#                                   from it and asks the API only for names it lacks
#   UPLOAD_MAX_BYTES=52428800       the app's upload limits (same variables as the app):
#   PHOTO_MAX_BYTES=8388608         client_max_body_size is the larger one plus 1 MiB
#   OPS_USER=admin                  basic-auth user and password of /monitor/ (same variables as
#   OPS_PASSWORD=                   the app); empty password and no NGINX_HTPASSWD_FILE: /monitor/
#                                   answers 403
#   NGINX_HTPASSWD_FILE=            an htpasswd file to use instead (e.g. a mounted secret)
#   NGINX_TLS_CERT= NGINX_TLS_KEY=  certificate and key files: both set adds the HTTPS server
#   NGINX_TLS_LISTEN=443            address[:port] of the HTTPS server
set -eu

die() {
	printf 'render.sh: %s\n' "$*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: render.sh OUTDIR"
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
command -v envsubst >/dev/null 2>&1 || die "envsubst is missing (Debian package gettext-base)"

NGINX_LISTEN=${NGINX_LISTEN:-80}
NGINX_SERVER_NAME=${NGINX_SERVER_NAME:-_}
NGINX_USER=${NGINX_USER:-nginx}
NGINX_WORKER_PROCESSES=${NGINX_WORKER_PROCESSES:-auto}
NGINX_RUN_DIR=${NGINX_RUN_DIR:-$out}
NGINX_ERROR_LOG=${NGINX_ERROR_LOG:-stderr}
NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-/dev/stdout}
NGINX_MIME_TYPES=${NGINX_MIME_TYPES:-/etc/nginx/mime.types}
NGINX_RESOLVER=${NGINX_RESOLVER:-}
NGINX_TLS_LISTEN=${NGINX_TLS_LISTEN:-443}
NGINX_TLS_CERT=${NGINX_TLS_CERT:-}
NGINX_TLS_KEY=${NGINX_TLS_KEY:-}
NGINX_HTPASSWD_FILE=${NGINX_HTPASSWD_FILE:-}
JOKSTER_API_SERVERS=${JOKSTER_API_SERVERS:-api:8080}
JOKSTER_OPS_SERVER=${JOKSTER_OPS_SERVER:-worker:8081}
JOKSTER_MEDIA_ROOT=${JOKSTER_MEDIA_ROOT:-/srv/jokster/media}
JOKSTER_WEB_ROOT=${JOKSTER_WEB_ROOT:-}
UPLOAD_MAX_BYTES=${UPLOAD_MAX_BYTES:-52428800}
PHOTO_MAX_BYTES=${PHOTO_MAX_BYTES:-8388608}
OPS_USER=${OPS_USER:-admin}
OPS_PASSWORD=${OPS_PASSWORD:-}
NGINX_CONF_DIR=$out

# word NAME VALUE: VALUE must be one nginx word (no spaces, quotes, ; { } # $ \).
word() {
	case $2 in
	'' | *[[:space:]\;{}\#\$\"\'\`\\]*) die "$1='$2' must be one word without spaces, quotes, ; { } # \$ or \\" ;;
	esac
}
number() {
	case $2 in
	'' | *[!0-9]*) die "$1='$2' is not a number" ;;
	esac
}
for v in NGINX_LISTEN NGINX_SERVER_NAME NGINX_USER NGINX_WORKER_PROCESSES NGINX_RUN_DIR NGINX_ERROR_LOG \
	NGINX_ACCESS_LOG NGINX_MIME_TYPES NGINX_TLS_LISTEN JOKSTER_OPS_SERVER JOKSTER_MEDIA_ROOT NGINX_CONF_DIR; do
	eval "word $v \"\${$v}\""
done
for v in NGINX_RESOLVER NGINX_TLS_CERT NGINX_TLS_KEY NGINX_HTPASSWD_FILE JOKSTER_WEB_ROOT; do
	eval "val=\${$v}"
	[ -z "$val" ] || word "$v" "$val"
done
number UPLOAD_MAX_BYTES "$UPLOAD_MAX_BYTES"
number PHOTO_MAX_BYTES "$PHOTO_MAX_BYTES"
case $OPS_USER in
'' | *:* | *[[:space:]]*) die "OPS_USER='$OPS_USER' may not be empty nor hold ':' or spaces" ;;
esac

NGINX_ACCESS_LOG_FORMAT=' jokster'
[ "$NGINX_ACCESS_LOG" = off ] && NGINX_ACCESS_LOG_FORMAT=''

# Body limit: the larger upload limit plus 1 MiB of multipart envelope.
max=$UPLOAD_MAX_BYTES
[ "$PHOTO_MAX_BYTES" -gt "$max" ] && max=$PHOTO_MAX_BYTES
NGINX_CLIENT_MAX_BODY_SIZE=$((max + 1048576))

# Upstream servers. With a resolver, names are looked up again while nginx
# runs (containers that restart get new addresses).
resolve=''
NGINX_RESOLVER_LINE=''
if [ -n "$NGINX_RESOLVER" ]; then
	resolve=' resolve'
	NGINX_RESOLVER_LINE="    resolver $NGINX_RESOLVER valid=10s ipv6=off;"
fi
JOKSTER_API_UPSTREAM_SERVERS=''
for s in $(printf '%s' "$JOKSTER_API_SERVERS" | tr ',' ' '); do
	word JOKSTER_API_SERVERS "$s"
	JOKSTER_API_UPSTREAM_SERVERS="$JOKSTER_API_UPSTREAM_SERVERS        server $s max_fails=1 fail_timeout=5s$resolve;
"
done
[ -n "$JOKSTER_API_UPSTREAM_SERVERS" ] || die "JOKSTER_API_SERVERS names no server"
JOKSTER_OPS_UPSTREAM_SERVERS="        server $JOKSTER_OPS_SERVER$resolve;"

# /assets/: from the web build when nginx has it, else from the API.
if [ -n "$JOKSTER_WEB_ROOT" ]; then
	JOKSTER_ASSETS_LOCATION="location ^~ /assets/ {
    root $JOKSTER_WEB_ROOT;
    try_files \$uri @jokster_assets;
    add_header Cache-Control \"public, max-age=31536000, immutable\";
    add_header X-Content-Type-Options nosniff always;
}
# Names this build lacks (a node of another version asked for them): the API.
location @jokster_assets {
    proxy_pass http://jokster_api;
}"
else
	JOKSTER_ASSETS_LOCATION="location ^~ /assets/ {
    # The app sends Cache-Control: public, max-age=31536000, immutable.
    proxy_pass http://jokster_api;
}"
fi

# /monitor/: basic auth in nginx, with the app's own OPS_USER/OPS_PASSWORD
# check behind it (nginx passes the Authorization header on).
htpasswd=''
if [ -n "$NGINX_HTPASSWD_FILE" ]; then
	[ -r "$NGINX_HTPASSWD_FILE" ] || die "NGINX_HTPASSWD_FILE=$NGINX_HTPASSWD_FILE is not readable"
	htpasswd=$NGINX_HTPASSWD_FILE
elif [ -n "$OPS_PASSWORD" ]; then
	htpasswd=$out/htpasswd
	umask 022 # the worker processes read it
	if command -v openssl >/dev/null 2>&1; then
		hash=$(printf '%s\n' "$OPS_PASSWORD" | openssl passwd -apr1 -stdin) || die "openssl passwd failed"
	else
		echo "render.sh: warning: openssl is missing, so $htpasswd holds the password in plain text" >&2
		hash="{PLAIN}$OPS_PASSWORD"
	fi
	printf '%s:%s\n' "$OPS_USER" "$hash" >"$htpasswd"
fi
if [ -n "$htpasswd" ]; then
	JOKSTER_MONITOR_ACCESS="    auth_basic \"Jokster operations\";
    auth_basic_user_file $htpasswd;
    proxy_pass http://jokster_ops;"
else
	JOKSTER_MONITOR_ACCESS="    # No OPS_PASSWORD (nor NGINX_HTPASSWD_FILE) was set when this was rendered.
    return 403;"
fi

export NGINX_LISTEN NGINX_SERVER_NAME NGINX_USER NGINX_WORKER_PROCESSES NGINX_RUN_DIR NGINX_ERROR_LOG \
	NGINX_ACCESS_LOG NGINX_ACCESS_LOG_FORMAT NGINX_MIME_TYPES NGINX_RESOLVER_LINE NGINX_TLS_LISTEN NGINX_TLS_CERT NGINX_TLS_KEY \
	NGINX_CLIENT_MAX_BODY_SIZE NGINX_CONF_DIR JOKSTER_API_UPSTREAM_SERVERS JOKSTER_OPS_UPSTREAM_SERVERS \
	JOKSTER_MEDIA_ROOT JOKSTER_ASSETS_LOCATION JOKSTER_MONITOR_ACCESS
vars='${NGINX_LISTEN} ${NGINX_SERVER_NAME} ${NGINX_USER} ${NGINX_WORKER_PROCESSES} ${NGINX_RUN_DIR}
${NGINX_ERROR_LOG} ${NGINX_ACCESS_LOG} ${NGINX_ACCESS_LOG_FORMAT} ${NGINX_MIME_TYPES} ${NGINX_RESOLVER_LINE} ${NGINX_TLS_LISTEN}
${NGINX_TLS_CERT} ${NGINX_TLS_KEY} ${NGINX_CLIENT_MAX_BODY_SIZE} ${NGINX_CONF_DIR}
${JOKSTER_API_UPSTREAM_SERVERS} ${JOKSTER_OPS_UPSTREAM_SERVERS} ${JOKSTER_MEDIA_ROOT}
${JOKSTER_ASSETS_LOCATION} ${JOKSTER_MONITOR_ACCESS}'

render() {
	envsubst "$vars" <"$here/$1.template" >"$out/$1.new"
	mv "$out/$1.new" "$out/$1"
}
render nginx.conf
render locations.conf
if [ -n "$NGINX_TLS_CERT" ] || [ -n "$NGINX_TLS_KEY" ]; then
	[ -n "$NGINX_TLS_CERT" ] && [ -n "$NGINX_TLS_KEY" ] || die "set both NGINX_TLS_CERT and NGINX_TLS_KEY (or neither)"
	render tls.conf
else
	printf '# HTTPS is off: set NGINX_TLS_CERT and NGINX_TLS_KEY and render again.\n' >"$out/tls.conf"
fi
mkdir -p "$NGINX_RUN_DIR"
echo "render.sh: wrote $out/nginx.conf (API ${JOKSTER_API_SERVERS}; listen $NGINX_LISTEN${NGINX_TLS_CERT:+, TLS on $NGINX_TLS_LISTEN})" >&2
