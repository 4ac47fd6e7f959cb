#!/usr/bin/env bash
# bench/buy.sh — the buy-path benchmark behind `make bench`.
#
# For each storage mode (embedded: SQLite + in-process gate; cluster:
# PostgreSQL + Redis) it builds bin/pavilion and bin/pavload, starts a fresh
# server pinned to CPU 0, reads `pavilion demo --json`, and runs pavload
# pinned to CPU 1, twice:
#
#   stampede  5,000 buyers tap one offer of 100 units (limit 1) at once, then
#             keep tapping the sold-out offer in a closed loop; winners pay;
#             the ledger is read back and checked.
#   reserve   a closed loop on a fresh offer of 100,000 units: every tap wins,
#             so every tap reaches the ledger.
#
# Results: bench/out/buy-<mode>.json (every figure) and bench/out/RESULTS.md.
# Everything listens on 127.0.0.1. PostgreSQL and Redis are started as .ci/run
# does when they are not running. Cluster mode uses a fresh database
# pavbench_<random> (dropped at the end) and Redis DB 15 (flushed before and
# after; no other Redis DB is touched).
#
# Knobs (environment): BENCH_MODES ("embedded cluster"), BENCH_BUYERS (5000),
# BENCH_UNITS (100), BENCH_DURATION (12s), BENCH_LOOP_WORKERS (128),
# BENCH_RESERVE_UNITS (100000), BENCH_RESERVE_BUYERS (2000),
# BENCH_PG_SERVER (postgres://postgres@127.0.0.1:5432: the server, no database),
# BENCH_PROFILE (set to 1: serve pprof on a private port and save a CPU profile
# of the server during each closed loop as bench/out/cpu-<mode>-<run>.pprof).
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
MODES="${BENCH_MODES:-embedded cluster}"
BUYERS="${BENCH_BUYERS:-5000}"
UNITS="${BENCH_UNITS:-100}"
DURATION="${BENCH_DURATION:-12s}"
LOOP_WORKERS="${BENCH_LOOP_WORKERS:-128}"
RESERVE_UNITS="${BENCH_RESERVE_UNITS:-100000}"
RESERVE_BUYERS="${BENCH_RESERVE_BUYERS:-2000}"
PG_SERVER="${BENCH_PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_URL="$PG_SERVER/postgres?sslmode=disable"
REDIS_DB=15
REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
OUT=bench/out
RUN_TIMEOUT=300 # seconds, per pavload run
PROFILE="${BENCH_PROFILE:-}"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in curl jq; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

# Pinning: server on CPU 0, load on CPU 1, when there are two CPUs to pin to.
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	PIN_SERVER=(taskset -c 0)
	PIN_LOAD=(taskset -c 1)
	PINNING="server on CPU 0, pavload on CPU 1 (taskset)"
else
	PIN_SERVER=()
	PIN_LOAD=()
	PINNING="not pinned (taskset missing or fewer than 2 CPUs)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/pavbench.XXXXXX")"
server_pid=""
debug_addr=""
profiler_pid=""
dbname=""
redis_used=""

stop_server() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}

drop_db() {
	if [ -n "$dbname" ]; then
		psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$dbname\" WITH (FORCE)" >/dev/null 2>&1 ||
			log "could not drop database $dbname"
		dbname=""
	fi
	if [ -n "$redis_used" ]; then
		redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null 2>&1 || true
		redis_used=""
	fi
}

cleanup() {
	local rc=$?
	if [ -n "$profiler_pid" ]; then kill "$profiler_pid" 2>/dev/null || true; fi
	stop_server
	drop_db
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_postgres and start_redis follow .ci/run.
start_postgres() {
	if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then return 0; fi
	command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] || return 1
	local ver
	ver="$(ls /etc/postgresql | sort -V | tail -1)"
	log "starting PostgreSQL $ver"
	pg_ctlcluster --skip-systemctl-redirect "$ver" main start || return 1
	for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -p 5432 -q && return 0; sleep 0.2; done
	return 1
}

start_redis() {
	if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return 0; fi
	command -v redis-server >/dev/null 2>&1 || return 1
	log "starting Redis"
	redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || return 1
	for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 0.2; done
	return 1
}

# free_port prints a TCP port that no socket uses, taken below the
# ephemeral range so that no outgoing connection grabs it meanwhile.
free_port() {
	local port low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$low" -gt 11000 ] || low=32768
	for _ in $(seq 1 100); do
		port=$((10000 + RANDOM % (low - 10000)))
		if command -v ss >/dev/null 2>&1; then
			[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] || continue
		fi
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# start_server MODE: starts a fresh server for MODE and writes $work/MODE/demo.json.
start_server() {
	local mode=$1 dir="$work/$1" port base
	mkdir -p "$dir"
	port="$(free_port)" || die "no free port"
	base="http://127.0.0.1:$port"
	# The store flags, for serve and demo alike; serve also gets the bus.
	local -a store=(--data-dir "$dir/data") bus=()
	if [ "$mode" = cluster ]; then
		store=(--database-url "$PAVILION_DATABASE_URL")
		bus=(--redis-url "$PAVILION_REDIS_URL")
	fi
	local -a debug=()
	debug_addr=""
	if [ -n "$PROFILE" ]; then
		debug_addr="127.0.0.1:$(free_port)" || die "no free port"
		debug=(--debug-addr "$debug_addr")
	fi
	log "$mode: starting bin/pavilion on $base (${PIN_SERVER[*]:-unpinned})"
	"${PIN_SERVER[@]}" bin/pavilion serve --demo --http "127.0.0.1:$port" --public-url "$base" \
		--log-level warn "${store[@]}" "${bus[@]}" "${debug[@]}" >"$dir/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then break; fi
		kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "$mode: the server exited"; }
		sleep 0.2
	done
	curl -fsS -o /dev/null "$base/readyz" || { cat "$dir/server.log" >&2; die "$mode: the server is not ready after 30 s"; }
	bin/pavilion demo --json --public-url "$base" "${store[@]}" >"$dir/demo.json" 2>"$dir/demo.err" ||
		{ cat "$dir/demo.err" >&2; die "$mode: pavilion demo --json failed"; }
}

# profile_loop OUT TXT: once pavload (writing TXT) has created its buyers
# and gone through its burst, saves a CPU profile of the server's closed loop.
profile_loop() {
	local out=$1 txt=$2 secs=${DURATION%s}
	[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -ge 7 ] || { log "BENCH_PROFILE needs BENCH_DURATION of 7s or more"; return 0; }
	for _ in $(seq 1 1200); do grep -q '^created ' "$txt" 2>/dev/null && break; sleep 0.1; done
	sleep 4
	curl -fsS -o "$out" "http://$debug_addr/debug/pprof/profile?seconds=$((secs - 6))" ||
		log "no profile for $out"
}

# load MODE NAME ARGS...: one pavload run, pinned, bounded in time.
load() {
	local mode=$1 name=$2
	shift 2
	log "$mode: pavload buy ($name) $*"
	local rc=0
	: >"$work/$mode/$name.txt"
	if [ -n "$debug_addr" ]; then
		profile_loop "$OUT/cpu-$mode-$name.pprof" "$work/$mode/$name.txt" &
		profiler_pid=$!
	fi
	timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload buy --demo "$work/$mode/demo.json" --label "$mode $name" \
		--json "$work/$mode/$name.json" "$@" | tee "$work/$mode/$name.txt" || rc=$?
	if [ -n "$profiler_pid" ]; then
		# A run that never got its buyers has no loop to profile.
		grep -q '^created ' "$work/$mode/$name.txt" || kill "$profiler_pid" 2>/dev/null || true
		wait "$profiler_pid" 2>/dev/null || true
		profiler_pid=""
	fi
	[ -s "$work/$mode/$name.json" ] || die "$mode: pavload ($name) wrote no figures (exit $rc)"
	return "$rc"
}

# bench_mode MODE: both runs against a fresh server; writes $OUT/buy-MODE.json.
bench_mode() {
	local mode=$1 rc=0
	if [ "$mode" = cluster ]; then
		start_postgres || die "PostgreSQL is not running on 127.0.0.1:5432 and could not be started"
		start_redis || die "Redis is not running on 127.0.0.1:6379 and could not be started"
		dbname="pavbench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
		psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$dbname\"" >/dev/null ||
			die "could not create database $dbname"
		redis_used=1
		redis-cli -h 127.0.0.1 -p 6379 -n "$REDIS_DB" flushdb >/dev/null
		export PAVILION_DATABASE_URL="$PG_SERVER/$dbname?sslmode=disable"
		export PAVILION_REDIS_URL="$REDIS_URL"
	else
		unset PAVILION_DATABASE_URL PAVILION_REDIS_URL
	fi
	local load_before
	load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	log "$mode: machine load before: $load_before"
	start_server "$mode"

	load "$mode" stampede --buyers "$BUYERS" --units "$UNITS" --limit 1 --taps 1 \
		--duration "$DURATION" --loop-workers "$LOOP_WORKERS" || rc=1
	load "$mode" reserve --buyers "$RESERVE_BUYERS" --units "$RESERVE_UNITS" --limit 0 --taps 0 \
		--duration "$DURATION" --loop-workers "$LOOP_WORKERS" --pay=false || rc=1

	stop_server
	cp "$work/$mode/server.log" "$OUT/server-$mode.log"
	jq -n --arg mode "$mode" --arg pinning "$PINNING" --arg load "$load_before" \
		--slurpfile s "$work/$mode/stampede.json" --slurpfile r "$work/$mode/reserve.json" \
		'{mode: $mode, pinning: $pinning, load_before: $load, stampede: $s[0], reserve: $r[0]}' >"$OUT/buy-$mode.json" ||
		{ log "$mode: could not write $OUT/buy-$mode.json"; rc=1; }
	[ "$mode" = cluster ] && drop_db
	return "$rc"
}

mkdir -p "$OUT" bin
log "building bin/pavilion and bin/pavload"
"$GO" build -o bin/pavilion ./cmd/pavilion
"$GO" build -o bin/pavload ./cmd/pavload

status=0
done_modes=()
for mode in $MODES; do
	case "$mode" in embedded | cluster) ;; *) die "unknown mode $mode (embedded or cluster)" ;; esac
	rm -f "$OUT/buy-$mode.json" "$OUT"/cpu-"$mode"-*.pprof
	if bench_mode "$mode"; then
		log "$mode: PASS"
	else
		log "$mode: a check FAILED (see above)"
		status=1
	fi
	done_modes+=("$mode")
done

if ! bench/results.sh "${done_modes[@]}" >"$OUT/RESULTS.md"; then
	log "error: bench/results.sh could not write $OUT/RESULTS.md"
	status=1
fi
log "wrote $OUT/RESULTS.md and $(printf "$OUT/buy-%s.json " "${done_modes[@]}")"
cat "$OUT/RESULTS.md"
exit "$status"
