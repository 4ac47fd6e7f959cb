#!/usr/bin/env bash
# bench/chat.sh — the live-room benchmark behind `make bench` (run after
# bench/buy.sh).
#
# For each mode (default: embedded only) it builds bin/pavilion and
# bin/pavload, starts a fresh server pinned to CPU 0 (--log-level warn),
# reads `pavilion demo --json`, and runs `pavload chat` pinned to CPU 1:
#
#   10,000 websocket viewers join the demo show's room (anonymous, but for
#   the chatters and reacters); after 3 s idle the server's metrics (read
#   from its own --metrics-addr listener) give the memory an idle connection
#   costs; 20 of the viewers chat, 20 messages
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
# storm), BENCH_CHAT_STOCK_EVERY (100ms: a stock change this often during
# the storm, whose events every viewer times; 0: none), BENCH_CHAT_ARGS (more pavload chat flags), BENCH_PG_SERVER (as in
# buy.sh), BENCH_PROFILE (set to 1: serve pprof on a private port and save the
# server's heap with the idle crowd, a CPU profile of each phase and a
# goroutine dump mid-storm as bench/out/chat-*-<mode>-*.pprof/.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

MODES="${BENCH_CHAT_MODES:-embedded}"
VIEWERS="${BENCH_CHAT_VIEWERS:-10000}"
CHATTERS="${BENCH_CHAT_CHATTERS:-20}"
RATE="${BENCH_CHAT_RATE:-20}"
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
SERVER_NOTE=", open files $FILES"

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
	local mode=$1 rc=0 load_before
	prepare_mode "$mode"
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
	timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload chat --demo "$work/$mode/demo.json" --metrics-url "$metrics_url" --label "$mode" \
		--viewers "$VIEWERS" --chatters "$CHATTERS" --rate "$RATE" --size "$SIZE" --duration "$DURATION" "${storm[@]}" \
		--stock-every "$STOCK_EVERY" --json "$json" $EXTRA | tee "$txt" || rc=$?
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

build_bins

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
