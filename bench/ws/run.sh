#!/usr/bin/env bash
# Runs the live-updates benchmark as docs/benchmarks.md records it: the
# three servers pinned to core 0, the load generator to core 1, all on
# loopback. Every server is started afresh for each mode, because a Go
# process keeps the memory it once used.
#
#   bench/ws/run.sh latency [extra load flags…]   # 1,000 subscribers, 20,000 and 50,000 deliveries/s
#   bench/ws/run.sh memory  [extra load flags…]   # idle sockets, RSS per socket
#
# Needs PostgreSQL and Redis as `make run` starts them. Uses its own
# database (jokster_wsbench), Redis DB 6 and prefix wsb:, and cleans them
# up at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:-latency}
shift || true
out=${WSBENCH_OUT:-/tmp/wsbench}
mkdir -p "$out"
db=jokster_wsbench
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
export REDIS_URL=redis://127.0.0.1:6379/6 REDIS_PREFIX=wsb:
export ADDR=127.0.0.1:18280 OPS_ADDR=127.0.0.1:18281 MEDIA_ROOT="$out/media" LOG_LEVEL=warn
export RATE_IP=0 RATE_RATE=0 RATE_REGISTER=0 RATE_LOGIN=0 RATE_WRITE=0 RATE_UPLOAD=0 RATE_COMMENT=0
export WS_MAX_PER_IP=1000000 WS_MAX_PER_USER=1000000

go build -o "$out/jokster" ./cmd/jokster
go build -o "$out/wsbench" ./bench/ws

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

wait_http() { # url
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "no answer from $1" >&2
	return 1
}

"$out/jokster" migrate >/dev/null
taskset -c 0 "$out/jokster" serve >"$out/jokster.log" 2>&1 &
pids+=($!)
taskset -c 0 "$out/wsbench" -bare-server 127.0.0.1:18290 >"$out/bare.log" 2>&1 &
pids+=($!)
taskset -c 0 "$out/wsbench" -hub-server 127.0.0.1:18292 >"$out/hub.log" 2>&1 &
pids+=($!)
wait_http http://127.0.0.1:18280/readyz
wait_http http://127.0.0.1:18290/stats
wait_http http://127.0.0.1:18292/stats

case $mode in
latency)
	for rate in ${WSBENCH_RATES:-20000 50000}; do
		taskset -c 1 "$out/wsbench" -targets bare,hub,jokster -conns 1000 -rate "$rate" \
			-duration 20s -rounds 5 -json "$out/latency-$rate.json" "$@" | tee "$out/latency-$rate.txt"
	done
	;;
memory)
	# 19,500: the open-file limit here is 20,000 per process (hard), and
	# each side needs a descriptor per socket plus its own.
	taskset -c 1 "$out/wsbench" -mode memory -targets bare,hub,jokster -conns 19500 \
		-ops-url http://127.0.0.1:18281 -json "$out/memory.json" "$@" | tee "$out/memory.txt"
	;;
*)
	echo "usage: $0 latency|memory [load flags…]" >&2
	exit 2
	;;
esac

cleanup
pids=()
dropdb -h 127.0.0.1 -U postgres --if-exists "$db"
redis-cli -n 6 --scan --pattern 'wsb:*' | xargs -r -n 500 redis-cli -n 6 del >/dev/null
redis-cli -n 6 --scan --pattern 'asynq:*' | xargs -r -n 500 redis-cli -n 6 del >/dev/null
