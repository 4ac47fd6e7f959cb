# bench/lib.sh — shared by bench/buy.sh, bench/chat.sh and bench/draw.sh (sourced, from the
# repository root, after `set -euo pipefail`).
#
# The sourcing script sets, before sourcing:
#   BENCH_TAG        the log prefix ("bench", "bench chat")
#   BENCH_WORK       the name of the temporary work directory (pavbench...)
#   STOP_TRIES       tenths of a second to wait for the server to stop
# and may set SERVER_NOTE (more words for the "starting" log line) and
# SERVER_FLAGS (an array of more `pavilion serve` flags) at any time.
# It defines GO, PG_*, REDIS_*, OUT, RUN_TIMEOUT, PROFILE, PIN_SERVER,
# PIN_LOAD, PINNING and $work, installs the cleanup traps, and provides
# log, die, stop_server, drop_db, start_postgres, start_redis, free_port,
# start_server, prepare_mode, build_bins and run_modes (which calls the
# suite's bench_mode for each of $MODES). start_server sets metrics_url:
# the server's Prometheus metrics, on their own loopback listener
# (--metrics-addr), for pavload's --metrics-url.

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
PG_SERVER="${BENCH_PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_URL="$PG_SERVER/postgres?sslmode=disable"
REDIS_DB=15
REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
OUT=bench/out
RUN_TIMEOUT=300 # seconds, per pavload run
PROFILE="${BENCH_PROFILE:-}"
SERVER_NOTE="${SERVER_NOTE:-}"
[ -n "${SERVER_FLAGS+x}" ] || SERVER_FLAGS=()

log() { printf '[%s %s] %s\n' "$BENCH_TAG" "$(date +%H:%M:%S)" "$*" >&2; }
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

work="$(mktemp -d "${TMPDIR:-/tmp}/$BENCH_WORK.XXXXXX")"
server_pid=""
debug_addr=""
profiler_pid=""
dbname=""
redis_used=""

stop_server() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 "$STOP_TRIES"); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
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
	if [ -n "$profiler_pid" ]; then kill "$profiler_pid" 2>/dev/null || true; wait "$profiler_pid" 2>/dev/null || true; fi
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

# free_port [udp] prints a TCP port that no socket uses (with udp: a port
# that no UDP or TCP socket uses, for the media port, which serves both),
# taken below the ephemeral range so that no outgoing connection (and the
# chat bench makes 10,000 of them) grabs it meanwhile.
free_port() {
	local proto=${1:-tcp} port low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$low" -gt 11000 ] || low=32768
	for _ in $(seq 1 100); do
		port=$((10000 + RANDOM % (low - 10000)))
		if command -v ss >/dev/null 2>&1; then
			[ "$proto" = tcp ] || [ -z "$(ss -Huan "( sport = :$port )" 2>/dev/null)" ] || continue
			[ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] || continue
		fi
		if [ "$proto" = udp ] || ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# prepare_mode MODE: for cluster, makes sure PostgreSQL and Redis run and
# points PAVILION_* at a fresh database and Redis DB 15 (for embedded, unsets
# them); then logs the machine's load and keeps it in $load_before.
prepare_mode() {
	local mode=$1
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
	load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	log "$mode: machine load before: $load_before"
}

# start_server MODE: starts a fresh server for MODE, writes $work/MODE/demo.json
# and sets metrics_url.
start_server() {
	local mode=$1 dir="$work/$1" port base metrics_addr
	mkdir -p "$dir"
	port="$(free_port)" || die "no free port"
	base="http://127.0.0.1:$port"
	# Metrics are never on the public port: a listener of their own.
	metrics_addr="127.0.0.1:$(free_port)" || die "no free port"
	metrics_url="http://$metrics_addr/metrics"
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
	# Media on a free UDP port unless the suite chose one: the default, 8189,
	# may be another server's on a shared machine, and this one would exit.
	local -a media=()
	if [[ " ${SERVER_FLAGS[*]} " != *" --media-port "* ]]; then
		local udp
		udp="$(free_port udp)" || die "no free UDP port"
		media=(--media-port "$udp")
	fi
	# BENCH_SERVER_GOGC: the server's GOGC (the GC's target), for runs that
	# compare it; unset, the runtime's default.
	local -a genv=(env)
	[ -n "${BENCH_SERVER_GOGC:-}" ] && genv+=("GOGC=$BENCH_SERVER_GOGC")
	log "$mode: starting bin/pavilion on $base (${PIN_SERVER[*]:-unpinned}$SERVER_NOTE${BENCH_SERVER_GOGC:+, GOGC=$BENCH_SERVER_GOGC})"
	"${PIN_SERVER[@]}" "${genv[@]}" bin/pavilion serve --demo --http "127.0.0.1:$port" --public-url "$base" --metrics-addr "$metrics_addr" \
		--log-level warn "${store[@]}" "${bus[@]}" "${debug[@]}" "${media[@]}" "${SERVER_FLAGS[@]}" >"$dir/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then break; fi
		kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "$mode: the server exited"; }
		sleep 0.2
	done
	curl -fsS -o /dev/null "$base/readyz" || { cat "$dir/server.log" >&2; die "$mode: the server is not ready after 30 s"; }
	curl -fsS -o /dev/null "$metrics_url" || { cat "$dir/server.log" >&2; die "$mode: no metrics at $metrics_url"; }
	bin/pavilion demo --json --public-url "$base" "${store[@]}" >"$dir/demo.json" 2>"$dir/demo.err" ||
		{ cat "$dir/demo.err" >&2; die "$mode: pavilion demo --json failed"; }
}

# build_bins builds bin/pavilion and bin/pavload (and makes $OUT).
build_bins() {
	mkdir -p "$OUT" bin
	log "building bin/pavilion and bin/pavload"
	if [ -n "${BENCH_PAVILION:-}" ]; then
		# A server built elsewhere (an earlier commit), for a before/after
		# comparison run by the same pavload.
		log "using $BENCH_PAVILION as bin/pavilion"
		cp "$BENCH_PAVILION" bin/pavilion
	else
		"$GO" build -o bin/pavilion ./cmd/pavilion
	fi
	"$GO" build -o bin/pavload ./cmd/pavload
}

# run_modes NAME: runs bench_mode (the suite's own) for each of $MODES,
# after removing that mode's old $OUT/NAME-MODE.json; sets done_modes to the
# modes run and status to 1 when one of them failed a check.
run_modes() {
	local name=$1 mode
	status=0
	done_modes=()
	for mode in $MODES; do
		case "$mode" in embedded | cluster) ;; *) die "unknown mode $mode (embedded or cluster)" ;; esac
		rm -f "$OUT/$name-$mode.json"
		if bench_mode "$mode"; then
			log "$mode: PASS"
		else
			log "$mode: a check FAILED (see above)"
			status=1
		fi
		done_modes+=("$mode")
	done
}
