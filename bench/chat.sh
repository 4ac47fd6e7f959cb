#!/usr/bin/env bash
# bench/chat.sh — the live-room benchmark behind `make bench` (run after
# bench/buy.sh).
#
# For each mode (default: embedded only) and each row (default: the three
# of issue 13, below) it builds bin/pavilion and bin/pavload, starts a
# fresh server pinned to CPU 0 (--log-level warn), reads `pavilion demo
# --json`, and runs `pavload chat` pinned to CPU 1:
#
#   N websocket viewers join the demo show's room (anonymous, but for the
#   chatters and reacters); after 3 s idle the server's metrics (read from
#   its own --metrics-addr listener) give the memory an idle connection
#   costs; 20 of the viewers chat, R messages a second of 100 bytes in all,
#   for 20 s; then a storm of 2,000 reactions a second from 500 signed-in
#   viewers (4 a second each: the server allows 5 a second per user) for
#   10 s, the chat going on, and a stock change every 100 ms (the commerce
#   lane). Every viewer times every chat message from send to receipt, and
#   every stock event from the server's read of the stock to receipt.
#
# Rows (BENCH_CHAT_ROWS, "VIEWERSxRATE" each): 5000x20, 10000x20 and
# 20000x10. pavload (its epoll reader: internal/load/chat/epoll_linux.go)
# reports its own CPU per phase and CPU µs per frame read on both sides; a
# row where it used 90 % of its core or more is marked client-limited (its
# figures may be pavload's limit, not the server's, and do not count). A
# row the machine's open-files limit cannot hold (the server and pavload
# each need one file per viewer and a few hundred more) runs with fewer
# viewers, and says so.
#
# Results: bench/out/chat-<mode>-<row>.json (every figure), bench/out/CHAT.md
# (a summary, one column per run), which also replaces the live-room
# section of bench/out/RESULTS.md.
# Everything listens on 127.0.0.1. Cluster mode (BENCH_CHAT_MODES="embedded
# cluster") uses PostgreSQL and Redis as bench/buy.sh does: a fresh database
# pavbench_<random> (dropped at the end) and Redis DB 15 (flushed before and
# after).
#
# Knobs (environment): BENCH_CHAT_MODES ("embedded"), BENCH_CHAT_ROWS
# ("5000x20 10000x20 20000x10"; BENCH_CHAT_VIEWERS and BENCH_CHAT_RATE, when
# set, make it the one row VIEWERSxRATE), BENCH_CHAT_CHATTERS (20),
# BENCH_CHAT_SIZE (100 bytes), BENCH_CHAT_DURATION (20s), BENCH_CHAT_REACTIONS
# (2000/s in all), BENCH_CHAT_REACTERS (500), BENCH_CHAT_STORM (10s; 0s: no
# storm), BENCH_CHAT_STOCK_EVERY (100ms: a stock change this often during
# the storm, whose events every viewer times; 0: none), BENCH_CHAT_ARGS (more pavload chat flags), BENCH_PG_SERVER (as in
# buy.sh), BENCH_PROFILE (set to 1: serve pprof on a private port and save the
# server's heap with the idle crowd, a CPU profile of each phase and a
# goroutine dump mid-storm as bench/out/chat-*-<mode>-<row>-*.pprof/.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

MODES="${BENCH_CHAT_MODES:-embedded}"
ROWS="${BENCH_CHAT_ROWS:-5000x20 10000x20 20000x10}"
if [ -n "${BENCH_CHAT_VIEWERS:-}" ] || [ -n "${BENCH_CHAT_RATE:-}" ]; then
	ROWS="${BENCH_CHAT_VIEWERS:-10000}x${BENCH_CHAT_RATE:-20}"
fi
CHATTERS="${BENCH_CHAT_CHATTERS:-20}"
SIZE="${BENCH_CHAT_SIZE:-100}"
DURATION="${BENCH_CHAT_DURATION:-20s}"
REACTIONS="${BENCH_CHAT_REACTIONS:-2000}"
REACTERS="${BENCH_CHAT_REACTERS:-500}"
STORM="${BENCH_CHAT_STORM:-10s}"
STOCK_EVERY="${BENCH_CHAT_STOCK_EVERY:-100ms}"
EXTRA="${BENCH_CHAT_ARGS:-}"

BENCH_TAG="bench chat"
BENCH_WORK=pavbench-chat
STOP_TRIES=150
# shellcheck source=bench/lib.sh
. bench/lib.sh

# Open files: the server and pavload each hold one socket per viewer, and
# a few hundred more (listeners, the database, the Go runtime).
for row in $ROWS; do
	[[ "$row" =~ ^[0-9]+x[0-9]+$ ]] || die "row $row is not VIEWERSxRATE"
done
most=0
for row in $ROWS; do most=$((${row%x*} > most ? ${row%x*} : most)); done
need_files=$((most + 1024))
soft="$(ulimit -Sn)"
hard="$(ulimit -Hn)"
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need_files" ]; then
	if [ "$hard" = unlimited ] || [ "$hard" -ge "$need_files" ]; then
		ulimit -Sn "$need_files"
	else
		ulimit -Sn "$hard"
		log "warning: open files are limited to $hard (hard limit); $most viewers need about $need_files: rows past $((hard - 400)) viewers run with $((hard - 400))"
	fi
fi
FILES="$(ulimit -Sn)"
SERVER_NOTE=", open files $FILES"

# viewers_for N: the viewers a row of N can have under the open-files limit.
viewers_for() {
	if [ "$FILES" != unlimited ] && [ "$1" -gt $((FILES - 400)) ]; then
		echo $((FILES - 400))
	else
		echo "$1"
	fi
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

# bench_run MODE ROW: one pavload chat run against a fresh server; writes
# $OUT/chat-MODE-ROW.json.
bench_run() {
	local mode=$1 row=$2 rc=0 load_before
	local asked=${row%x*} rate=${row#*x} viewers key="$1-$2"
	viewers="$(viewers_for "$asked")"
	prepare_mode "$mode"
	rm -rf "${work:?}/$mode" # a fresh data directory for each run
	start_server "$mode"

	local txt="$work/$key/chat.txt" json="$work/$key/chat.json"
	mkdir -p "$work/$key"
	: >"$txt"
	if [ -n "$debug_addr" ]; then
		profile_run "$key" "$txt" &
		profiler_pid=$!
	fi
	local -a storm=()
	if [ "$(seconds "$STORM")" != 0 ] && [ "$REACTIONS" != 0 ]; then
		storm=(--reactions "$REACTIONS" --reacters "$REACTERS" --storm "$STORM")
	fi
	local ticks_before ticks_after
	ticks_before="$(cpu_ticks)"
	log "$key: pavload chat --viewers $viewers --chatters $CHATTERS --rate $rate --size $SIZE --duration $DURATION ${storm[*]} $EXTRA"
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload chat --demo "$work/$mode/demo.json" --metrics-url "$metrics_url" --label "$key" \
		--viewers "$viewers" --chatters "$CHATTERS" --rate "$rate" --size "$SIZE" --duration "$DURATION" "${storm[@]}" \
		--stock-every "$STOCK_EVERY" --json "$json" $EXTRA | tee "$txt" || rc=$?
	ticks_after="$(cpu_ticks)"
	if [ -n "$profiler_pid" ]; then
		kill "$profiler_pid" 2>/dev/null || true
		wait "$profiler_pid" 2>/dev/null || true
		profiler_pid=""
	fi
	stop_server
	cp "$work/$mode/server.log" "$OUT/server-chat-$key.log"
	[ -s "$json" ] || die "$key: pavload chat wrote no figures (exit $rc)"
	# client_limited: pavload used 90 % of its cores or more in a phase.
	jq -n --arg mode "$mode" --arg pinning "$PINNING" --arg load "$load_before" --argjson files "$FILES" \
		--argjson asked "$asked" --argjson viewers "$viewers" --argjson rate "$rate" \
		--argjson cpu0 "$(busy_pct "$ticks_before" "$ticks_after" cpu0)" --argjson cpu1 "$(busy_pct "$ticks_before" "$ticks_after" cpu1)" \
		--slurpfile c "$json" \
		'{mode: $mode, row: {viewers_asked: $asked, viewers: $viewers, rate: $rate}, pinning: $pinning, load_before: $load, open_files: $files,
		  cpu_busy_pct: {cpu0: $cpu0, cpu1: $cpu1}, chat: $c[0],
		  client_cpu_max: ([$c[0].phases[]?.client_cpu_cores] | max),
		  client_limited: ([$c[0].phases[]? | select(.client_cpu_cores >= 0.9 * ($c[0].client.gomaxprocs // 1))] | length > 0)}' >"$OUT/chat-$key.json" ||
		{ log "$key: could not write $OUT/chat-$key.json"; rc=1; }
	[ "$mode" = cluster ] && drop_db
	return "$rc"
}

build_bins

status=0
done_runs=()
for mode in $MODES; do
	case "$mode" in embedded | cluster) ;; *) die "unknown mode $mode (embedded or cluster)" ;; esac
	for row in $ROWS; do
		key="$mode-$row"
		rm -f "$OUT/chat-$key.json" "$OUT"/chat-*-"$key"-*.pprof "$OUT"/chat-*-"$key"-*.txt
		if bench_run "$mode" "$row"; then
			log "$key: done"
		else
			log "$key: the run FAILED (see above)"
			status=1
		fi
		done_runs+=("$key")
	done
done

if ! bench/chat-results.sh "${done_runs[@]}" >"$OUT/CHAT.md"; then
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
log "wrote $OUT/CHAT.md (also in $OUT/RESULTS.md) and $(printf "$OUT/chat-%s.json " "${done_runs[@]}")"
cat "$OUT/CHAT.md"
exit "$status"
