#!/usr/bin/env bash
# bench/buy.sh — the buy-path benchmark behind `make bench`.
#
# For each storage mode (embedded: SQLite + in-process gate; cluster:
# PostgreSQL + Redis) it builds bin/pavilion and bin/pavload, starts a fresh
# server pinned to CPU 0, reads `pavilion demo --json`, and runs pavload
# pinned to CPU 1, twice:
#
#   stampede  20,000 buyers tap one offer of 100 units (limit 1) at once, then
#             keep tapping the sold-out offer in a closed loop; winners pay;
#             the ledger is read back and checked.
#   reserve   a closed loop on a fresh offer of 1,000,000 units: every tap wins,
#             so every tap reaches the ledger.
#
# Results: bench/out/buy-<mode>.json (every figure) and bench/out/RESULTS.md.
# Everything listens on 127.0.0.1. PostgreSQL and Redis are started as .ci/run
# does when they are not running. Cluster mode uses a fresh database
# pavbench_<random> (dropped at the end) and Redis DB 15 (flushed before and
# after; no other Redis DB is touched).
#
# Knobs (environment): BENCH_MODES ("embedded cluster"), BENCH_BUYERS (20000: issue 15's burst),
# BENCH_UNITS (100), BENCH_DURATION (12s), BENCH_LOOP_WORKERS (128),
# BENCH_RESERVE_UNITS (1000000: more than 12 s can sell), BENCH_RESERVE_BUYERS (2000),
# BENCH_PG_SERVER (postgres://postgres@127.0.0.1:5432: the server, no database),
# BENCH_PROFILE (set to 1: serve pprof on a private port and save a CPU profile
# of the server during each closed loop as bench/out/cpu-<mode>-<run>.pprof).
set -euo pipefail
cd "$(dirname "$0")/.."

MODES="${BENCH_MODES:-embedded cluster}"
BUYERS="${BENCH_BUYERS:-20000}"
UNITS="${BENCH_UNITS:-100}"
DURATION="${BENCH_DURATION:-12s}"
LOOP_WORKERS="${BENCH_LOOP_WORKERS:-128}"
RESERVE_UNITS="${BENCH_RESERVE_UNITS:-1000000}"
RESERVE_BUYERS="${BENCH_RESERVE_BUYERS:-2000}"

BENCH_TAG=bench
BENCH_WORK=pavbench
STOP_TRIES=100
# shellcheck source=bench/lib.sh
. bench/lib.sh

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
	local rc=0 cpu_before cpu_watch
	: >"$work/$mode/$name.txt"
	cpu_before="$(server_cpu)"
	rm -f "$work/$mode/$name.cpu0"
	cpu_at_created "$work/$mode/$name.txt" "$work/$mode/$name.cpu0" &
	cpu_watch=$!
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
	# The server's own CPU over the run (buyers, burst, loop, pay), from
	# /proc: on a shared machine a rate moves with the load, CPU per request
	# much less.
	local cpu_end cpu0 cpu_loop hz
	cpu_end="$(server_cpu)"
	kill "$cpu_watch" 2>/dev/null || true
	wait "$cpu_watch" 2>/dev/null || true
	cpu0="$(cat "$work/$mode/$name.cpu0" 2>/dev/null || echo "$cpu_before")"
	cpu_loop="$(cat "$work/$mode/$name.cpu0.loop" 2>/dev/null || echo "$cpu_end")"
	hz="$(getconf CLK_TCK)"
	echo "$((cpu_end - cpu_before)) $((cpu_loop - cpu0))" >"$work/$mode/$name.cpu"
	log "$mode $name: server CPU $(awk -v t="$((cpu_end - cpu_before))" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}') s;" \
		"from the buyers' creation to the loop's end $(awk -v t="$((cpu_loop - cpu0))" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}') s" \
		"= $(jq -r --argjson t "$((cpu_loop - cpu0))" --argjson hz "$hz" \
			'($t / $hz) / ((.burst.attempts // 0) + (.sustained.attempts // 0)) * 1e6 | floor' "$work/$mode/$name.json") µs per attempt"
	return "$rc"
}

# server_cpu prints the server's user+system CPU so far, in clock ticks.
server_cpu() {
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$server_pid/stat" 2>/dev/null || echo 0
}

# cpu_at_created TXT OUT: once pavload (writing TXT) has created its buyers,
# writes the server's CPU so far to OUT: what follows is the taps' own; and
# once it reports its closed loop, the CPU then to OUT.loop (what comes
# after, paying and reading the ledger back, is not the taps').
#
# It polls twice a second and runs on pavload's CPU: polling every 50 ms on
# whatever CPU was free cost the cluster loops a quarter of their rate (an
# old server binary measured with this script against the script before it).
cpu_at_created() {
	if [ ${#PIN_LOAD[@]} -gt 0 ]; then taskset -cp 1 "$BASHPID" >/dev/null 2>&1 || true; fi
	for _ in $(seq 1 600); do grep -q '^created ' "$1" 2>/dev/null && break; sleep 0.5; done
	server_cpu >"$2"
	for _ in $(seq 1 600); do grep -q '^sustained: ' "$1" 2>/dev/null && break; sleep 0.5; done
	server_cpu >"$2.loop"
}

# bench_mode MODE: both runs against a fresh server; writes $OUT/buy-MODE.json.
bench_mode() {
	local mode=$1 rc=0 load_before
	prepare_mode "$mode"
	start_server "$mode"

	load "$mode" stampede --buyers "$BUYERS" --units "$UNITS" --limit 1 --taps 1 \
		--duration "$DURATION" --loop-workers "$LOOP_WORKERS" || rc=1
	load "$mode" reserve --buyers "$RESERVE_BUYERS" --units "$RESERVE_UNITS" --limit 0 --taps 0 \
		--duration "$DURATION" --loop-workers "$LOOP_WORKERS" --pay=false || rc=1

	# The server's own figures (batch sizes of the group commit, among others).
	curl -fsS -o "$OUT/metrics-$mode.txt" "$metrics_url" || log "$mode: no metrics saved"
	stop_server
	cp "$work/$mode/server.log" "$OUT/server-$mode.log"
	jq -n --arg mode "$mode" --arg pinning "$PINNING" --arg load "$load_before" \
		--slurpfile s "$work/$mode/stampede.json" --slurpfile r "$work/$mode/reserve.json" \
		--argjson hz "$(getconf CLK_TCK)" --argjson cs "[$(tr ' ' , <"$work/$mode/stampede.cpu")]" --argjson cr "[$(tr ' ' , <"$work/$mode/reserve.cpu")]" \
		'{mode: $mode, pinning: $pinning, load_before: $load,
		  stampede: ($s[0] + {server_cpu_s: ($cs[0] / $hz), server_cpu_taps_s: ($cs[1] / $hz)}),
		  reserve: ($r[0] + {server_cpu_s: ($cr[0] / $hz), server_cpu_taps_s: ($cr[1] / $hz)})}' >"$OUT/buy-$mode.json" ||
		{ log "$mode: could not write $OUT/buy-$mode.json"; rc=1; }
	[ "$mode" = cluster ] && drop_db
	return "$rc"
}

build_bins

for mode in $MODES; do rm -f "$OUT"/cpu-"$mode"-*.pprof; done # an earlier run's profiles
run_modes buy

if ! bench/results.sh "${done_modes[@]}" >"$OUT/RESULTS.md"; then
	log "error: bench/results.sh could not write $OUT/RESULTS.md"
	status=1
fi
log "wrote $OUT/RESULTS.md and $(printf "$OUT/buy-%s.json " "${done_modes[@]}")"
cat "$OUT/RESULTS.md"
exit "$status"
