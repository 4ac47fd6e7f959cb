#!/usr/bin/env bash
# bench/chat.sh — the live-room benchmark behind `make bench` (run after
# bench/buy.sh).
#
# For each mode (default: embedded only) it builds bin/pavilion and
# bin/pavload, starts a fresh server pinned to CPU 0 (--log-level warn),
# reads `pavilion demo --json`, and runs `pavload chat` pinned to CPU 1:
#
#   10,000 websocket viewers join the demo show's room (anonymous, but for
#   the chatters and reacters); after 3 s idle the server's /metrics give
#   the memory an idle connection costs; 20 of the viewers chat, 20 messages
#   a second of 100 bytes in all, for 20 s; then a storm of 2,000 reactions
#   a second from 500 signed-in viewers (4 a second each: the server allows
#   5 a second per user) for 10 s, the chat going on. Every viewer times
#   every chat message from send to receipt.
#
# Results: bench/out/chat-<mode>.json (every figure), bench/out/CHAT.md (a
# summary), which also replaces the live-room section of bench/out/RESULTS.md.
# Everything listens on 127.0.0.1. Cluster mode (BENCH_CHAT_MODES="embedded
# cluster") uses PostgreSQL and Redis as bench/buy.sh does: a fresh database
# pavbench_<random> (dropped at the end) and Redis DB 15 (flushed before and
# after).
#
# Knobs (environment): BENCH_CHAT_MODES ("embedded"), BENCH_CHAT_VIEWERS
# (10000), BENCH_CHAT_CHATTERS (20), BENCH_CHAT_RATE (20 messages/s in all),
# BENCH_CHAT_SIZE (100 bytes), BENCH_CHAT_DURATION (20s), BENCH_CHAT_REACTIONS
# (2000/s in all), BENCH_CHAT_REACTERS (500), BENCH_CHAT_STORM (10s; 0s: no
# storm), BENCH_CHAT_ARGS (more pavload chat flags), BENCH_PG_SERVER (as in
# buy.sh), BENCH_PROFILE (set to 1: serve pprof on a private port and save the
# server's heap with the idle crowd, a CPU profile of each phase and a
# goroutine dump mid-storm as bench/out/chat-*-<mode>-*.pprof/.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

GO="${GO:-go}"
command -v "$GO" >/dev/null 2>&1 || GO=/usr/local/go/bin/go
MODES="${BENCH_CHAT_MODES:-embedded}"
VIEWERS="${BENCH_CHAT_VIEWERS:-10000}"
CHATTERS="${BENCH_CHAT_CHATTERS:-20}"
RATE="${BENCH_CHAT_RATE:-20}"
SIZE="${BENCH_CHAT_SIZE:-100}"
DURATION="${BENCH_CHAT_DURATION:-20s}"
REACTIONS="${BENCH_CHAT_REACTIONS:-2000}"
REACTERS="${BENCH_CHAT_REACTERS:-500}"
STORM="${BENCH_CHAT_STORM:-10s}"
EXTRA="${BENCH_CHAT_ARGS:-}"
PG_SERVER="${BENCH_PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
PG_ADMIN_URL="$PG_SERVER/postgres?sslmode=disable"
REDIS_DB=15
REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"
OUT=bench/out
RUN_TIMEOUT=300 # seconds, per pavload run
PROFILE="${BENCH_PROFILE:-}"

log() { printf '[bench chat %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in curl jq; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is needed"
done

# Open files: the server and pavload each hold one socket per viewer.
need_files=$((VIEWERS + 1024))
soft="$(ulimit -Sn)"
hard="$(ulimit -Hn)"
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need_files" ]; then
	if [ "$hard" = unlimited ] || [ "$hard" -ge "$need_files" ]; then
		ulimit -Sn "$need_files"
	else
		ulimit -Sn "$hard"
		log "warning: open files are limited to $hard (hard limit); $VIEWERS viewers need about $need_files"
	fi
fi
FILES="$(ulimit -Sn)"

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

work="$(mktemp -d "${TMPDIR:-/tmp}/pavbench-chat.XXXXXX")"
server_pid=""
debug_addr=""
profiler_pid=""
dbname=""
redis_used=""

stop_server() {
	[ -n "$server_pid" ] || return 0
	if kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
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

# start_postgres and start_redis follow .ci/run (and bench/buy.sh).
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

# free_port prints a TCP port that no socket uses, below the ephemeral range
# (10,000 outgoing connections take many ports from it).
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

# start_server MODE: a fresh server for MODE; writes $work/MODE/demo.json.
start_server() {
	local mode=$1 dir="$work/$1" port base
	mkdir -p "$dir"
	port="$(free_port)" || die "no free port"
	base="http://127.0.0.1:$port"
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
	log "$mode: starting bin/pavilion on $base (${PIN_SERVER[*]:-unpinned}, open files $FILES)"
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

# seconds D: a Go duration of whole seconds ("20s") as a number, or "".
seconds() { [[ "$1" =~ ^([0-9]+)s$ ]] && echo "${BASH_REMATCH[1]}" || true; }

# wait_line FILE REGEX: waits (2 minutes at most) for pavload to print a line.
wait_line() {
	for _ in $(seq 1 1200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# profile_run MODE TXT: follows pavload's output (TXT) and saves the server's
# heap with the crowd idle, a CPU profile of each phase, and a goroutine dump
# in the middle of the storm.
profile_run() {
	local mode=$1 txt=$2 d s p="$OUT/chat"
	d="$(seconds "$DURATION")"
	s="$(seconds "$STORM")"
	wait_line "$txt" '^server memory' || return 0
	curl -fsS -o "$p-heap-$mode-idle.pprof" "http://$debug_addr/debug/pprof/heap" || log "no heap profile"
	wait_line "$txt" '^chatting for' || return 0
	if [ -n "$d" ] && [ "$d" -ge 6 ]; then
		sleep 2
		curl -fsS -o "$p-cpu-$mode-chat.pprof" "http://$debug_addr/debug/pprof/profile?seconds=$((d - 4))" || log "no chat profile"
	fi
	if [ -n "$s" ] && [ "$s" -ge 6 ] && [ -n "$d" ]; then
		# The chat profile ended 2 s before the storm; start 2 s into it.
		sleep 4
		curl -fsS -o "$p-cpu-$mode-storm.pprof" "http://$debug_addr/debug/pprof/profile?seconds=$((s / 2 - 2))" || log "no storm profile"
		curl -fsS -o "$p-goroutines-$mode-storm.txt" "http://$debug_addr/debug/pprof/goroutine?debug=1" || log "no goroutine dump"
	fi
}

# cpu_ticks: "busy total" jiffies of CPU 0 and CPU 1 (every process, not just ours).
cpu_ticks() { awk '/^cpu[01] / {b=0; t=0; for (i=2;i<=NF;i++) {t+=$i; if (i!=5 && i!=6) b+=$i}; printf "%s %d %d ", $1, b, t}' /proc/stat; }

# busy_pct BEFORE AFTER CPU: percent of CPU time busy between two cpu_ticks.
busy_pct() {
	awk -v a="$1" -v b="$2" -v cpu="$3" 'BEGIN {
		n = split(a, x, " "); split(b, y, " ")
		for (i = 1; i <= n; i += 3) if (x[i] == cpu) { db = y[i+1] - x[i+1]; dt = y[i+2] - x[i+2] }
		if (dt > 0) printf "%.0f", 100 * db / dt; else printf "null"
	}'
}

# bench_mode MODE: one pavload chat run against a fresh server; writes $OUT/chat-MODE.json.
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

	local txt="$work/$mode/chat.txt" json="$work/$mode/chat.json"
	: >"$txt"
	if [ -n "$debug_addr" ]; then
		profile_run "$mode" "$txt" &
		profiler_pid=$!
	fi
	local -a storm=()
	if [ "$(seconds "$STORM")" != 0 ] && [ "$REACTIONS" != 0 ]; then
		storm=(--reactions "$REACTIONS" --reacters "$REACTERS" --storm "$STORM")
	fi
	local ticks_before ticks_after
	ticks_before="$(cpu_ticks)"
	log "$mode: pavload chat --viewers $VIEWERS --chatters $CHATTERS --rate $RATE --size $SIZE --duration $DURATION ${storm[*]} $EXTRA"
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload chat --demo "$work/$mode/demo.json" --label "$mode" \
		--viewers "$VIEWERS" --chatters "$CHATTERS" --rate "$RATE" --size "$SIZE" --duration "$DURATION" "${storm[@]}" \
		--json "$json" $EXTRA | tee "$txt" || rc=$?
	ticks_after="$(cpu_ticks)"
	if [ -n "$profiler_pid" ]; then
		kill "$profiler_pid" 2>/dev/null || true
		wait "$profiler_pid" 2>/dev/null || true
		profiler_pid=""
	fi
	stop_server
	cp "$work/$mode/server.log" "$OUT/server-chat-$mode.log"
	[ -s "$json" ] || die "$mode: pavload chat wrote no figures (exit $rc)"
	jq -n --arg mode "$mode" --arg pinning "$PINNING" --arg load "$load_before" --argjson files "$FILES" \
		--argjson cpu0 "$(busy_pct "$ticks_before" "$ticks_after" cpu0)" --argjson cpu1 "$(busy_pct "$ticks_before" "$ticks_after" cpu1)" \
		--slurpfile c "$json" \
		'{mode: $mode, pinning: $pinning, load_before: $load, open_files: $files,
		  cpu_busy_pct: {cpu0: $cpu0, cpu1: $cpu1}, chat: $c[0]}' >"$OUT/chat-$mode.json" ||
		{ log "$mode: could not write $OUT/chat-$mode.json"; rc=1; }
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
	rm -f "$OUT/chat-$mode.json" "$OUT"/chat-*-"$mode"-*.pprof "$OUT"/chat-*-"$mode"-*.txt
	if bench_mode "$mode"; then
		log "$mode: done"
	else
		log "$mode: the run FAILED (see above)"
		status=1
	fi
	done_modes+=("$mode")
done

if ! bench/chat-results.sh "${done_modes[@]}" >"$OUT/CHAT.md"; then
	log "error: bench/chat-results.sh could not write $OUT/CHAT.md"
	exit 1
fi
# RESULTS.md keeps the buy section (bench/results.sh) and gets this one in
# place of the last live-room section.
marker='<!-- bench/chat.sh -->'
{
	if [ -f "$OUT/RESULTS.md" ]; then
		# Everything before the marker, without trailing blank lines.
		awk -v m="$marker" '$0 == m {exit} {l[NR] = $0} END {n = NR; while (n > 0 && l[n] == "") n--; for (i = 1; i <= n; i++) print l[i]}' "$OUT/RESULTS.md"
		echo
	fi
	echo "$marker"
	cat "$OUT/CHAT.md"
} >"$work/RESULTS.md"
mv "$work/RESULTS.md" "$OUT/RESULTS.md"
log "wrote $OUT/CHAT.md (also in $OUT/RESULTS.md) and $(printf "$OUT/chat-%s.json " "${done_modes[@]}")"
cat "$OUT/CHAT.md"
exit "$status"
