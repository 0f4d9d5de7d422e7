#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2012 # inner bash scripts are single-quoted on purpose; ls lists fixed paths
# scripts/services.sh — make sure the services and tools Jokster needs are here.
#
#   scripts/services.sh ensure    PostgreSQL and Redis answer at DATABASE_URL / REDIS_URL
#                                 (installs and starts local ones when needed); the
#                                 redis-server binary the Go tests start is installed
#   scripts/services.sh cgo       a C compiler for `go test -race`
#   scripts/services.sh node      Node.js and npm for the web UI build
#   scripts/services.sh tools     optional tools (OPTIONAL_TOOLS below)
#   scripts/services.sh status    say what answers, change nothing
#   scripts/services.sh stop [--purge]
#                                 stop the private PostgreSQL / Redis this script started
#                                 for the URLs' ports (never a system one); --purge also
#                                 removes their folders
#
# Several commands may be given at once: `scripts/services.sh ensure cgo`.
# Safe to run again and from several shells at once (one run at a time holds a lock).
# docs/setup.md explains each step and the environment variables.
set -euo pipefail

DEFAULT_DATABASE_URL='postgres://postgres@127.0.0.1:5432/jokster?sslmode=disable'
DEFAULT_REDIS_URL='redis://127.0.0.1:6379/0'
DATABASE_URL=${DATABASE_URL:-$DEFAULT_DATABASE_URL}
REDIS_URL=${REDIS_URL:-$DEFAULT_REDIS_URL}
TEST_DATABASE_URL=${TEST_DATABASE_URL:-}
WAIT_SECONDS=${JOKSTER_SERVICES_WAIT:-60}

# Optional tools for later features, as "command:debian-package" (or just "command"
# when the package has the command's name), e.g. ffmpeg nginx chromium.
# ffmpeg/ffprobe: video uploads (media package); without them videos are refused.
# nginx: `nginx -t` on the rendered config and the loopback cluster (make cluster);
# envsubst renders its templates (nginx/render.sh).
# pg_dump/pg_restore: `jokster backup` and `jokster restore`.
OPTIONAL_TOOLS=(ffmpeg ffprobe:ffmpeg nginx envsubst:gettext-base pg_dump:postgresql-client pg_restore:postgresql-client chromium)

# Tools may live in sbin even for a user whose PATH lacks it.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

if [ "$(id -u)" -eq 0 ]; then
	IS_ROOT=1
	STATE_DIR=${JOKSTER_STATE_DIR:-/var/lib/jokster}
else
	IS_ROOT=0
	STATE_DIR=${JOKSTER_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/jokster}
fi
# Marker: this script installed the Debian package postgresql, so the Debian
# cluster that came with it is ours to configure (see pg_fix_login).
PG_INSTALLED_MARKER="$STATE_DIR/installed-postgresql"

say() { printf 'services: %s\n' "$*"; }
die() {
	printf 'services: ERROR: %s\n' "$*" >&2
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# as_root CMD…: run CMD as root (directly, or through sudo).
as_root() {
	if [ "$IS_ROOT" = 1 ]; then
		"$@"
	elif have sudo; then
		sudo "$@"
	else
		die "need root to run: $* (run as root, or install sudo)"
	fi
}

# no_inherit CMD…: run CMD with only stdin, stdout and stderr open, so that a
# daemon it starts holds neither our lock nor a pipe of whoever called us (a
# CI runner or `make … | tee` would otherwise wait for it to exit).
no_inherit() {
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
		done
		"$@"
	)
}

# ---------------------------------------------------------------- locking, apt

# lock: one run at a time; the others wait here. Daemons are started through
# no_inherit, or they would hold the lock (descriptor 9) for ever.
lock() {
	mkdir -p "$STATE_DIR"
	[ "$IS_ROOT" = 1 ] && chmod 755 "$STATE_DIR"
	have flock || return 0
	exec 9>"$STATE_DIR/services.lock"
	if ! flock -n 9; then
		say "another scripts/services.sh run holds $STATE_DIR/services.lock; waiting for it"
		flock -w 900 9 || die "waited 15 minutes for $STATE_DIR/services.lock; giving up"
	fi
}

APT_UPDATED=0
# apt_install PKG…: install Debian packages (apt-get update once per run first).
apt_install() {
	have apt-get || die "apt-get not found: install $* by hand (this script knows Debian only)"
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
	if [ "$APT_UPDATED" = 0 ]; then
		say "apt-get update"
		no_inherit as_root "${apt[@]}" update
		APT_UPDATED=1
	fi
	say "installing Debian package(s): $*"
	no_inherit as_root "${apt[@]}" install -y --no-install-recommends "$@" </dev/null
}

# ensure_commands "cmd[:package]"…: install the packages whose command is missing.
ensure_commands() {
	local entry cmd pkg missing=()
	for entry in "$@"; do
		cmd=${entry%%:*}
		pkg=${entry#*:}
		if have "$cmd"; then
			say "$cmd: $(command -v "$cmd")"
		else
			say "$cmd is missing (Debian package $pkg)"
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		apt_install "${missing[@]}"
	fi
	for entry in "$@"; do
		have "${entry%%:*}" || die "${entry%%:*} is still missing after installing ${entry#*:}"
	done
}

# ---------------------------------------------------------------- URLs, probes

# parse_url URL: sets U_SCHEME U_USER U_PASS U_HOST U_PORT U_PATH U_QUERY.
parse_url() {
	local url=$1 rest auth=''
	[[ $url =~ ^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$ ]] || die "cannot read URL '$(redact "$url")'"
	U_SCHEME=${BASH_REMATCH[1],,}
	rest=${BASH_REMATCH[2]}
	rest=${rest%%#*}
	U_QUERY=''
	if [[ $rest == *\?* ]]; then
		U_QUERY=${rest#*\?}
		rest=${rest%%\?*}
	fi
	U_PATH=''
	if [[ $rest == */* ]]; then
		U_PATH=/${rest#*/}
		rest=${rest%%/*}
	fi
	if [[ $rest == *@* ]]; then
		auth=${rest%@*}
		rest=${rest##*@}
	fi
	U_USER=$(urldecode "${auth%%:*}")
	U_PASS=''
	[[ $auth == *:* ]] && U_PASS=$(urldecode "${auth#*:}")
	if [[ $rest =~ ^\[([^]]+)\](:([0-9]*))?$ ]]; then
		U_HOST=${BASH_REMATCH[1]}
		U_PORT=${BASH_REMATCH[3]}
	elif [[ $rest =~ ^([^:]*)(:([0-9]*))?$ ]]; then
		U_HOST=${BASH_REMATCH[1]}
		U_PORT=${BASH_REMATCH[3]}
	else
		die "cannot read host and port of '$(redact "$url")'"
	fi
}

urldecode() {
	local s=${1//\\/\\\\}
	printf '%b' "${s//%/\\x}"
}

# redact URL: the URL without its password, for messages.
redact() {
	printf '%s' "$1" | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://[^:/@]*):[^@/]*@#\1:***@#'
}

# query_param NAME: the value of NAME in U_QUERY (empty when absent).
query_param() {
	local kv
	local IFS='&'
	for kv in $U_QUERY; do
		if [ "${kv%%=*}" = "$1" ]; then
			urldecode "${kv#*=}"
			return 0
		fi
	done
}

is_loopback() {
	case "${1,,}" in
	localhost | localhost.localdomain | ::1 | 0:0:0:0:0:0:0:1 | 127.*) return 0 ;;
	*) return 1 ;;
	esac
}

hostport() {
	if [[ $1 == *:* ]]; then printf '[%s]:%s' "$1" "$2"; else printf '%s:%s' "$1" "$2"; fi
}

# tcp_open HOST PORT: something accepts TCP connections there.
tcp_open() {
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# log_tail FILE: the end of a log, indented, for error messages.
log_tail() {
	if [ -r "$1" ]; then
		printf '\n--- last lines of %s ---\n' "$1"
		tail -n 25 "$1" | sed 's/^/    /'
	else
		printf '\n(no log at %s)\n' "$1"
	fi
}

# ---------------------------------------------------------------- PostgreSQL

# pg_bindir [MAJOR]: folder with the PostgreSQL server programs (initdb, pg_ctl),
# the newest installed one, or the one of version MAJOR. Empty when missing.
pg_bindir() {
	local want=${1:-} d best=''
	if [ -n "$want" ]; then
		[ -x "/usr/lib/postgresql/$want/bin/pg_ctl" ] && echo "/usr/lib/postgresql/$want/bin"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then best=$d; fi
	done
	if [ -z "$best" ] && have initdb && have pg_ctl && have postgres; then
		best=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
	fi
	echo "$best"
}

# pg_client NAME: path of a working client program (pg_isready, psql), empty if none.
# Debian's /usr/bin ones are wrappers that fail when no client version is installed.
pg_client() {
	local d c
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -Vr); do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	if c=$(command -v "$1" 2>/dev/null) && "$c" --version >/dev/null 2>&1; then echo "$c"; fi
}

# pg_probe HOST PORT: 0 accepting connections, 1 up but refusing (starting or
# stopping), 2 nothing answers, 3 something else listens on that port.
pg_probe() {
	local isready rc=0
	isready=$(pg_client pg_isready)
	if [ -n "$isready" ]; then
		"$isready" -q -h "$1" -p "$2" -t 3 >/dev/null 2>&1 || rc=$?
		case $rc in
		0) return 0 ;;
		1) return 1 ;;
		*) if tcp_open "$1" "$2"; then return 3; else return 2; fi ;;
		esac
	fi
	if tcp_open "$1" "$2"; then return 0; else return 2; fi
}

# pg_wait HOST PORT LOG: wait until PostgreSQL accepts connections.
pg_wait() {
	local deadline=$((SECONDS + WAIT_SECONDS)) rc
	while :; do
		rc=0
		pg_probe "$1" "$2" || rc=$?
		[ "$rc" = 0 ] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "PostgreSQL did not answer at $(hostport "$1" "$2") within ${WAIT_SECONDS}s (JOKSTER_SERVICES_WAIT)$(log_tail "$3")"
		fi
		sleep 1
	done
}

# as_pg CMD…: run a server program as the postgres user (initdb and postgres
# refuse to run as root); as yourself when not root.
as_pg() {
	if [ "$IS_ROOT" = 1 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

ensure_postgres_user() {
	[ "$IS_ROOT" = 1 ] || return 0
	id -u postgres >/dev/null 2>&1 && return 0
	say "creating system user postgres (initdb and postgres refuse to run as root)"
	useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# pg_listen HOST: listen_addresses for a server that must answer at HOST.
pg_listen() {
	case "${1,,}" in
	localhost | localhost.localdomain) echo localhost ;;
	0:0:0:0:0:0:0:1) echo ::1 ;;
	*) echo "$1" ;;
	esac
}

# pg_debian_cluster PORT: "version name status logfile" of the Debian cluster
# (pg_lsclusters) configured for PORT, empty when there is none.
pg_debian_cluster() {
	have pg_lsclusters || return 0
	pg_lsclusters -h 2>/dev/null | awk -v p="$1" '$3 == p { print $1, $2, $4, $7; exit }'
}

# pg_private_dir PORT: the folder of the private cluster for PORT.
pg_private_dir() { echo "$STATE_DIR/pg-$1"; }

# pg_private_running PORT: the private cluster for PORT is running.
pg_private_running() {
	local data bindir
	data="$(pg_private_dir "$1")/data"
	[ -f "$data/PG_VERSION" ] || return 1
	bindir=$(pg_bindir "$(cat "$data/PG_VERSION")")
	[ -n "$bindir" ] || return 1
	as_pg "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1
}

# pg_start_private HOST PORT: create (once) and start a private cluster that
# answers at HOST:PORT, in a folder of its own under STATE_DIR.
pg_start_private() {
	local host=$1 port=$2 dir data log bindir ver listen
	dir=$(pg_private_dir "$port")
	data=$dir/data
	log=$dir/postgres.log
	ensure_postgres_user
	mkdir -p "$dir"
	if [ "$IS_ROOT" = 1 ]; then
		chown postgres:postgres "$dir"
		chmod 750 "$dir"
	fi
	if [ -f "$data/PG_VERSION" ]; then
		ver=$(cat "$data/PG_VERSION")
		bindir=$(pg_bindir "$ver")
		[ -n "$bindir" ] || die "$data was made by PostgreSQL $ver, whose server programs are not installed (install postgresql-$ver, or remove $dir)"
		say "private cluster $data exists (PostgreSQL $ver)"
	else
		if [ -e "$data" ]; then
			say "removing the incomplete cluster folder $data (an earlier initdb did not finish)"
			rm -rf "$data"
		fi
		bindir=$(pg_bindir)
		[ -n "$bindir" ] || die "no PostgreSQL server programs (initdb, pg_ctl) found"
		say "creating a private cluster in $data ($bindir/initdb, trust auth, superuser postgres)"
		no_inherit as_pg "$bindir/initdb" -D "$data" --auth=trust -U postgres -E UTF8 --locale=C.UTF-8 \
			>"$dir/initdb.log" 2>&1 </dev/null ||
			die "initdb failed$(log_tail "$dir/initdb.log")"
		as_pg tee -a "$data/postgresql.conf" >/dev/null <<EOF

# Added by jokster scripts/services.sh for a private development/test cluster.
port = $port
unix_socket_directories = '$dir'
max_connections = 200
EOF
	fi
	listen=$(pg_listen "$host")
	if pg_private_running "$port"; then
		say "private cluster in $dir is running; waiting until it answers at $(hostport "$host" "$port")"
	else
		say "starting the private cluster in $dir on $(hostport "$host" "$port") (pg_ctl, log $log)"
		no_inherit as_pg "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t "$WAIT_SECONDS" \
			-o "-c listen_addresses=$listen -c port=$port" >/dev/null </dev/null ||
			die "pg_ctl could not start the private cluster in $dir$(log_tail "$log")"
	fi
	pg_wait "$host" "$port" "$log"
	say "PostgreSQL answers at $(hostport "$host" "$port") (private cluster in $dir)"
}

# pg_start_debian HOST PORT "VER NAME STATUS LOG": start a Debian cluster.
pg_start_debian() {
	local host=$1 port=$2 ver name status log
	read -r ver name status log <<<"$3"
	if [ "$status" = online ]; then
		say "Debian cluster $ver/$name is online on port $port but does not answer at $(hostport "$host" "$port") yet; waiting"
	else
		say "starting Debian cluster $ver/$name on port $port (pg_ctlcluster --skip-systemctl-redirect $ver $name start)"
		no_inherit as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start </dev/null ||
			die "pg_ctlcluster could not start cluster $ver/$name$(log_tail "$log")"
	fi
	pg_wait "$host" "$port" "$log"
	say "PostgreSQL answers at $(hostport "$host" "$port") (Debian cluster $ver/$name)"
}

# pg_login URL: try to log in with the URL's credentials; prints the error.
# A missing database is fine (the application creates it).
pg_login() {
	local psql db sslmode out conninfo
	psql=$(pg_client psql)
	if [ -z "$psql" ]; then
		echo psql-missing
		return 1
	fi
	db=${U_PATH#/}
	db=$(urldecode "${db:-${U_USER:-postgres}}")
	sslmode=$(query_param sslmode)
	conninfo="host='$(cq "$U_HOST")' port=$U_PORT user='$(cq "${U_USER:-$(id -un)}")' dbname='$(cq "$db")' connect_timeout=5"
	[ -n "$sslmode" ] && conninfo+=" sslmode='$(cq "$sslmode")'"
	if out=$(PGPASSWORD=$U_PASS "$psql" -X -A -t -q -w "$conninfo" -c 'select 1' 2>&1); then
		return 0
	fi
	case $out in
	*"database \""*"\" does not exist"*) return 0 ;;
	esac
	echo "$out"
	return 1
}

# cq: quote a value for a libpq conninfo string.
cq() {
	local s=${1//\\/\\\\}
	printf '%s' "${s//\'/\\\'}"
}

# pg_super PORT KIND: psql as superuser postgres on a cluster this script manages.
pg_super() {
	local port=$1 kind=$2 psql
	psql=$(pg_client psql)
	shift 2
	if [ "$kind" = private ]; then
		"$psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_private_dir "$port")" -p "$port" -U postgres -d postgres "$@"
	elif [ "$IS_ROOT" = 1 ]; then
		(cd / && runuser -u postgres -- "$psql" -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@")
	else
		(cd / && sudo -u postgres "$psql" -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@")
	fi
}

# pg_check_login URL HOST PORT: the URL's user can log in; fix what is ours to fix.
pg_check_login() {
	local url=$1 host=$2 port=$3 err kind='' deb hba
	if err=$(pg_login); then
		say "logged in to PostgreSQL as ${U_USER:-$(id -un)}"
		return 0
	fi
	if [ "$err" = psql-missing ]; then
		say "psql is not installed, so the log-in itself was not tried"
		return 0
	fi
	# Which cluster is it, and is it ours to change?
	if is_loopback "$host" && pg_private_running "$port"; then
		kind=private
	elif is_loopback "$host" && [ -f "$PG_INSTALLED_MARKER" ] && deb=$(pg_debian_cluster "$port") && [ -n "$deb" ]; then
		kind=debian
	fi
	if [ -n "$kind" ] && [[ $err == *"role \""*"\" does not exist"* ]] && [ -n "$U_USER" ]; then
		say "creating PostgreSQL role $U_USER (superuser) in the $kind cluster on port $port"
		printf '%s\n' 'CREATE ROLE :"u" LOGIN SUPERUSER;' \
			"$([ -n "$U_PASS" ] && echo 'ALTER ROLE :"u" PASSWORD :'"'"'p'"'"';')" |
			pg_super "$port" "$kind" -v u="$U_USER" -v p="$U_PASS" >/dev/null
		err=''
	elif [ "$kind" = debian ] && [[ $err == *password* || $err == *authentication* ]]; then
		read -r ver name _ <<<"$deb"
		hba=/etc/postgresql/$ver/$name/pg_hba.conf
		[ -f "$hba" ] || die "cannot log in to PostgreSQL at $(hostport "$host" "$port"): $err"
		if ! grep -q 'jokster scripts/services.sh' "$hba"; then
			say "this script installed PostgreSQL here: letting loopback TCP connections in without a password (trust lines at the top of $hba)"
			as_root sed -i '1i # Added by jokster scripts/services.sh (development machine): loopback TCP connections need no password.\nhost    all    all    127.0.0.1/32    trust\nhost    all    all    ::1/128         trust\n' "$hba"
			say "reloading Debian cluster $ver/$name"
			no_inherit as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload </dev/null
			sleep 1
		fi
		err=''
	fi
	if [ -z "$err" ] && err=$(pg_login); then
		say "logged in to PostgreSQL as ${U_USER:-$(id -un)}"
		return 0
	fi
	local hint
	hint="Fix the server's users or pg_hba.conf, or put the right user and password into $(redact "$url")."
	if is_loopback "$host" && deb=$(pg_debian_cluster "$port") && [ -n "$deb" ]; then
		read -r ver name _ <<<"$deb"
		hint="This is Debian cluster $ver/$name, which this script did not install, so it leaves its settings alone.
For a development machine, either put the password into the URL, or let loopback connections in
without one: add these lines at the top of /etc/postgresql/$ver/$name/pg_hba.conf
    host  all  all  127.0.0.1/32  trust
    host  all  all  ::1/128       trust
and run: pg_ctlcluster $ver $name reload"
	fi
	die "PostgreSQL answers at $(hostport "$host" "$port"), but $(redact "$url") cannot log in:
    $err
$hint"
}

# ensure_pg URL NAME: PostgreSQL answers at URL (NAME is the variable, for messages).
ensure_pg() {
	local url=$1 name=$2 host port rc deb
	parse_url "$url"
	case $U_SCHEME in
	postgres | postgresql) ;;
	*) die "$name must be a postgres:// URL, not '$(redact "$url")'" ;;
	esac
	[ -n "$U_HOST" ] || die "$name has no host ('$(redact "$url")'); give one, e.g. 127.0.0.1"
	host=$U_HOST
	port=${U_PORT:-5432}
	U_PORT=$port
	say "PostgreSQL for $name: $(redact "$url")"

	rc=0
	pg_probe "$host" "$port" || rc=$?
	if [ "$rc" = 0 ]; then
		say "PostgreSQL answers at $(hostport "$host" "$port")"
		pg_check_login "$url" "$host" "$port"
		return 0
	fi
	if ! is_loopback "$host"; then
		die "PostgreSQL does not answer at $(hostport "$host" "$port") ($name). That host is not this machine, so this script will not start anything there: start PostgreSQL on it, or point $name at a server that runs."
	fi
	case $rc in
	1)
		say "PostgreSQL at $(hostport "$host" "$port") is starting up or shutting down; waiting"
		pg_wait "$host" "$port" /dev/null
		pg_check_login "$url" "$host" "$port"
		return 0
		;;
	3) die "port $port on $host is taken by something that is not PostgreSQL; stop it, or point $name at another port" ;;
	esac
	say "PostgreSQL does not answer at $(hostport "$host" "$port")"

	if [ -z "$(pg_bindir)" ] || [ -z "$(pg_client pg_isready)" ]; then
		say "PostgreSQL server programs are missing; installing Debian package postgresql"
		apt_install postgresql
		mkdir -p "$STATE_DIR"
		date >"$PG_INSTALLED_MARKER"
		[ -n "$(pg_bindir)" ] || die "installed postgresql, but still no initdb/pg_ctl under /usr/lib/postgresql"
		rc=0
		pg_probe "$host" "$port" || rc=$?
		if [ "$rc" = 0 ]; then
			say "PostgreSQL answers at $(hostport "$host" "$port") (started by the package)"
			pg_check_login "$url" "$host" "$port"
			return 0
		fi
	else
		say "PostgreSQL server programs: $(pg_bindir)"
	fi

	deb=$(pg_debian_cluster "$port")
	if [ -n "$deb" ]; then
		pg_start_debian "$host" "$port" "$deb"
	else
		say "no Debian cluster is configured for port $port (pg_lsclusters)"
		pg_start_private "$host" "$port"
	fi
	pg_check_login "$url" "$host" "$port"
}

# ---------------------------------------------------------------- Redis

redis_server_bin() { echo "${REDIS_SERVER:-redis-server}"; }

# ensure_redis_binary: the redis-server the Go tests start for themselves.
ensure_redis_binary() {
	local bin
	bin=$(redis_server_bin)
	if ! have "$bin"; then
		[ "$bin" = redis-server ] || die "REDIS_SERVER=$bin is not an executable program"
		say "redis-server is missing (the Go tests start their own); installing Debian package redis-server"
		apt_install redis-server
		have redis-server || die "installed redis-server, but the redis-server program is still missing"
	fi
	say "redis-server binary: $(command -v "$bin") ($("$bin" --version 2>/dev/null | awk '{print $3}'))"
}

# redis_probe HOST PORT: 0 PONG, 1 up but not ready (loading), 2 nothing answers,
# 4 needs a password / refuses our one, 3 something else. Sets REDIS_REPLY.
redis_probe() {
	local args=(-h "$1" -p "$2") reply rc=0
	REDIS_REPLY=''
	[ "$U_SCHEME" = rediss ] && args+=(--tls)
	[ -n "$U_USER" ] && args+=(--user "$U_USER")
	if have redis-cli; then
		if [ -n "$U_PASS" ]; then
			reply=$(REDISCLI_AUTH=$U_PASS timeout 5 redis-cli "${args[@]}" ping 2>&1) || rc=$?
		else
			reply=$(timeout 5 redis-cli "${args[@]}" ping 2>&1) || rc=$?
		fi
	elif [ "$U_SCHEME" = redis ]; then
		reply=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
			[ -n "$2" ] && printf "AUTH %s\r\n" "$2" >&3 && read -r -t 3 _ <&3
			printf "PING\r\n" >&3; read -r -t 3 line <&3; printf "%s" "${line%$'\''\r'\''}"' "$1" "$2" "$U_PASS" 2>&1) || rc=$?
		reply=${reply#+}
	else
		tcp_open "$1" "$2" && return 0 || return 2
	fi
	REDIS_REPLY=$reply
	case $reply in
	PONG) return 0 ;;
	*LOADING*) return 1 ;;
	*NOAUTH* | *WRONGPASS* | *"invalid password"* | *"without any password"*) return 4 ;;
	esac
	if [ "$rc" != 0 ] || [[ $reply == *"Could not connect"* || $reply == *"Connection refused"* || -z $reply ]]; then
		if tcp_open "$1" "$2"; then return 3; else return 2; fi
	fi
	return 3
}

redis_dir() { echo "$STATE_DIR/redis-$1"; }

# redis_private_pid PORT: pid of the private redis-server for PORT, if it runs.
redis_private_pid() {
	local pidfile pid
	pidfile="$(redis_dir "$1")/redis.pid"
	[ -f "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] || return 1
	echo "$pid"
}

# redis_wait HOST PORT LOG: wait until Redis answers PONG.
redis_wait() {
	local deadline=$((SECONDS + WAIT_SECONDS)) rc
	while :; do
		rc=0
		redis_probe "$1" "$2" || rc=$?
		[ "$rc" = 0 ] && return 0
		if [ "$rc" = 4 ]; then die "Redis at $(hostport "$1" "$2") refuses the URL's password: $REDIS_REPLY"; fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "Redis did not answer at $(hostport "$1" "$2") within ${WAIT_SECONDS}s (JOKSTER_SERVICES_WAIT)${REDIS_REPLY:+: $REDIS_REPLY}$(log_tail "$3")"
		fi
		sleep 0.5
	done
}

# ensure_redis URL: Redis answers at URL.
ensure_redis() {
	local url=$1 host port rc dir log bind bin args
	parse_url "$url"
	case $U_SCHEME in
	redis | rediss) ;;
	*) die "REDIS_URL must be a redis:// or rediss:// URL, not '$(redact "$url")'" ;;
	esac
	[ -n "$U_HOST" ] || die "REDIS_URL has no host ('$(redact "$url")'); give one, e.g. 127.0.0.1"
	host=$U_HOST
	port=${U_PORT:-6379}
	say "Redis for REDIS_URL: $(redact "$url")"
	ensure_redis_binary

	rc=0
	redis_probe "$host" "$port" || rc=$?
	case $rc in
	0)
		say "Redis answers at $(hostport "$host" "$port")"
		return 0
		;;
	4) die "Redis answers at $(hostport "$host" "$port") but wants another password than REDIS_URL gives: $REDIS_REPLY" ;;
	esac
	if ! is_loopback "$host"; then
		die "Redis does not answer at $(hostport "$host" "$port") (REDIS_URL)${REDIS_REPLY:+: $REDIS_REPLY}. That host is not this machine, so this script will not start anything there: start Redis on it, or point REDIS_URL at one that runs."
	fi
	dir=$(redis_dir "$port")
	log=$dir/redis.log
	case $rc in
	1)
		say "Redis at $(hostport "$host" "$port") is loading its data; waiting"
		redis_wait "$host" "$port" "$log"
		say "Redis answers at $(hostport "$host" "$port")"
		return 0
		;;
	3) die "port $port on $host is taken by something that does not answer like Redis${REDIS_REPLY:+ ($REDIS_REPLY)}; stop it, or point REDIS_URL at another port" ;;
	esac
	[ "$U_SCHEME" = redis ] || die "Redis does not answer at $(hostport "$host" "$port"), and this script starts only plain (non-TLS) Redis: use redis:// for a local one"
	say "Redis does not answer at $(hostport "$host" "$port")"

	if redis_private_pid "$port" >/dev/null; then
		say "the private redis-server for port $port is running (pid $(redis_private_pid "$port")); waiting until it answers"
	else
		case "${host,,}" in
		localhost | localhost.localdomain) bind='127.0.0.1 -::1' ;;
		*) bind=$host ;;
		esac
		mkdir -p "$dir"
		bin=$(redis_server_bin)
		args=(--daemonize yes --bind "$bind" --port "$port" --save "" --appendonly no
			--dir "$dir" --logfile "$log" --pidfile "$dir/redis.pid")
		[ -n "$U_PASS" ] && args+=(--requirepass "$U_PASS")
		say "starting $bin on $(hostport "$host" "$port") (keeps nothing on disk; folder $dir, log $log)"
		no_inherit "$bin" "${args[@]}" </dev/null >/dev/null 2>>"$log" ||
			die "redis-server did not start$(log_tail "$log")"
	fi
	redis_wait "$host" "$port" "$log"
	say "Redis answers at $(hostport "$host" "$port") (private redis-server in $dir)"
}

# ---------------------------------------------------------------- commands

cmd_ensure() {
	ensure_pg "$DATABASE_URL" DATABASE_URL
	if [ -n "$TEST_DATABASE_URL" ] && [ "$TEST_DATABASE_URL" != "$DATABASE_URL" ]; then
		ensure_pg "$TEST_DATABASE_URL" TEST_DATABASE_URL
	fi
	ensure_redis "$REDIS_URL"
	say "services are ready"
}

cmd_status() {
	local rc
	parse_url "$DATABASE_URL"
	rc=0
	pg_probe "$U_HOST" "${U_PORT:-5432}" || rc=$?
	say "PostgreSQL at $(hostport "$U_HOST" "${U_PORT:-5432}"): $(case $rc in 0) echo answers ;; 1) echo starting/stopping ;; 2) echo 'does not answer' ;; *) echo 'port taken by something else' ;; esac)"
	parse_url "$REDIS_URL"
	rc=0
	redis_probe "$U_HOST" "${U_PORT:-6379}" || rc=$?
	say "Redis at $(hostport "$U_HOST" "${U_PORT:-6379}"): $(case $rc in 0) echo answers ;; 1) echo loading ;; 2) echo 'does not answer' ;; 4) echo "answers, refuses the password" ;; *) echo "port taken by something else" ;; esac)"
}

# cmd_stop [--purge]: stop the private instances of this script for the URLs'
# ports; never a Debian cluster or a server someone else started.
cmd_stop() {
	local purge=${1:-} port dir data bindir pid
	parse_url "$DATABASE_URL"
	port=${U_PORT:-5432}
	dir=$(pg_private_dir "$port")
	data=$dir/data
	if pg_private_running "$port"; then
		bindir=$(pg_bindir "$(cat "$data/PG_VERSION")")
		say "stopping the private PostgreSQL cluster in $dir"
		as_pg "$bindir/pg_ctl" stop -D "$data" -m fast -w >/dev/null
	else
		say "no private PostgreSQL cluster runs for port $port"
	fi
	if [ "$purge" = --purge ] && [ -d "$dir" ]; then
		say "removing $dir"
		rm -rf "$dir"
	fi
	parse_url "$REDIS_URL"
	port=${U_PORT:-6379}
	dir=$(redis_dir "$port")
	if pid=$(redis_private_pid "$port"); then
		say "stopping the private redis-server for port $port (pid $pid)"
		kill "$pid"
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -0 "$pid" 2>/dev/null && die "redis-server pid $pid did not stop"
	else
		say "no private redis-server runs for port $port"
	fi
	if [ "$purge" = --purge ] && [ -d "$dir" ]; then
		say "removing $dir"
		rm -rf "$dir"
	fi
}

cmd_cgo() {
	local cc=${CC:-gcc}
	if have "$cc"; then
		say "C compiler for go test -race: $(command -v "$cc")"
		return 0
	fi
	say "no C compiler ($cc); go test -race needs cgo: installing Debian packages gcc libc6-dev"
	apt_install gcc libc6-dev
	have "$cc" || die "$cc is still missing"
}

# The web build (vite 8, vitest 4) needs node 20.19 or later; Debian 12's
# nodejs is 18. An older node gets a newer one beside it, from the npm
# registry's node-linux-<arch> package (the registry answers where Node's
# own download site may not), in /usr/local, which comes before /usr/bin.
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19
NODE_PKG_VERSION=22.23.3
node_recent() {
	local v major minor
	v=$(node --version 2>/dev/null) || return 1
	v=${v#v}
	major=${v%%.*}
	minor=${v#*.}
	minor=${minor%%.*}
	[ "$major" -gt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -ge "$NODE_MIN_MINOR" ]; }
}

cmd_node() {
	ensure_commands node:nodejs npm
	if ! node_recent; then
		local arch dir=/usr/local/lib/jokster-node tmp
		case $(uname -m) in
		x86_64) arch=x64 ;;
		aarch64) arch=arm64 ;;
		*) die "node $(node --version) is older than the web build needs ($NODE_MIN_MAJOR.$NODE_MIN_MINOR) and no newer one is known for $(uname -m)" ;;
		esac
		say "node $(node --version) is older than the web build needs ($NODE_MIN_MAJOR.$NODE_MIN_MINOR): installing node $NODE_PKG_VERSION (npm package node-linux-$arch) in $dir"
		tmp=$(mktemp -d)
		(cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_PKG_VERSION" >/dev/null && tar -xzf node-linux-*.tgz) ||
			die "could not fetch node-linux-$arch@$NODE_PKG_VERSION from the npm registry"
		as_root rm -rf "$dir"
		as_root mkdir -p "$(dirname "$dir")"
		as_root cp -a "$tmp/package" "$dir"
		as_root ln -sf "$dir/bin/node" /usr/local/bin/node
		rm -rf "$tmp"
		hash -r
		node_recent || die "node is still $(node --version) after installing $dir: put /usr/local/bin before /usr/bin in PATH"
	fi
	say "node $(node --version), npm $(npm --version)"
}

cmd_tools() {
	if [ ${#OPTIONAL_TOOLS[@]} -eq 0 ]; then
		say "optional tools: none needed yet"
		return 0
	fi
	ensure_commands "${OPTIONAL_TOOLS[@]}"
}

usage() {
	sed -n '3,19p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}

main() {
	[ $# -gt 0 ] || usage
	case $1 in
	-h | --help | help) usage ;;
	esac
	lock
	while [ $# -gt 0 ]; do
		case $1 in
		ensure) cmd_ensure ;;
		status) cmd_status ;;
		stop)
			if [ "${2:-}" = --purge ]; then
				cmd_stop --purge
				shift
			else
				cmd_stop
			fi
			;;
		cgo) cmd_cgo ;;
		node) cmd_node ;;
		tools) cmd_tools ;;
		*)
			printf 'services: unknown command %s\n\n' "$1" >&2
			usage
			;;
		esac
		shift
	done
}

main "$@"
