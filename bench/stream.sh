#!/usr/bin/env bash
# bench/stream.sh — the media fan-out benchmark behind `make bench`.
#
# It builds bin/pavilion and bin/pavload, starts a fresh embedded server
# (pavilion serve --demo, media on a free UDP port) pinned to CPU 0, and
# pinned to CPU 1:
#
#   one publisher  pavload whip: synthetic VP8 at 1.5 Mbit/s, 30 fps, a
#                  keyframe every 2 s, plus Opus at 48 kbit/s, for the whole run;
#   viewer steps   pavload whep with N viewers (100, 200, … 600), each step a
#                  fresh crowd: ramped in at BENCH_STREAM_RAMP a second, held
#                  for BENCH_STREAM_HOLD, then gone. The viewers are pavload's
#                  lite ones (--engine lite: one goroutine each, SRTP decrypted
#                  in place, no RTCP sent, which the server needs none of);
#                  BENCH_STREAM_ARGS="--engine pion --feedback" makes them
#                  full pion PeerConnections with browser-like feedback.
#
# First, the server otherwise idle, start-up: POST→connected at 20 viewers
# coming 10 a second (offering every candidate of this machine, then only
# loopback ones, --loopback-only) and first keyframe at 100 coming at once.
#
# Per step it records what decides it, all from pavload whep:
#   loss       lost/expected over every viewer's tracks (RTP sequence numbers);
#   skips      the server's pavilion_stream_viewer_skips_total over the step
#              (from its /metrics, on --metrics-addr): a viewer that fell
#              behind skips to the next keyframe and is renumbered without a
#              sequence gap, so loss cannot see it;
#   delivered  each viewer's video rate over the hold against the source's
#              (the server's video ingest over the same window);
#   frames     pavload whip's frame numbers each viewer got against those sent
#              while it watched (frozen video, whatever its cause);
# and beside them the server's CPU (% of one CPU, utime+stime from
# /proc/<pid>/stat over the hold), its allocations and GC cycles a second,
# RSS per viewer (VmRSS at the end of the hold, and its mean over the hold,
# minus the baseline with the publisher and no viewer), goroutines per
# viewer, POST→connected and first keyframe p50/p95, and the client's own
# limits: pavload's CPU over the hold (and per packet received), goroutines
# and RSS per viewer, and the machine's UDP receive-buffer drops. A step
# passes with every viewer connected, loss under 1%, no skip, no frame
# missing and every viewer at 97% or more of the source rate; one where
# pavload used 90% of its CPU or the kernel dropped datagrams is marked
# "client-limited" (its failure may be the load generator's). Steps stop
# early once one loses 5% or more, or leaves a tenth of its viewers
# unconnected: past that point the server is saturated.
#
# Results: bench/out/STREAM.md (the table), bench/out/stream.json (every
# pavload figure) and a copy of the table as
# bench/results/<date>-<commit>-stream.md (commit it when the README quotes
# it). Everything listens on 127.0.0.1 (media on the server's interfaces,
# which pavload only accepts when they are this machine's).
#
# Knobs (environment): BENCH_STREAM_STEPS ("100 200 300 400 500 600"; each at
# most 2000), BENCH_STREAM_HOLD (20s), BENCH_STREAM_RAMP (100 a second),
# BENCH_STREAM_BITRATE (1500000), BENCH_STREAM_FPS (30), BENCH_STREAM_ARGS
# (more pavload whep flags, e.g. "--engine pion --feedback" or --concurrency 64),
# BENCH_STREAM_STARTUP (1; 0 skips the start-up runs), BENCH_SERVER_GOGC (the
# server's GOGC; unset, the runtime's default), and
# BENCH_PROFILE=1, which saves the server's CPU profile over each hold as
# bench/out/stream-cpu-<N>.pprof (and its heap, stream-heap-<N>.pprof, and
# a goroutine dump, stream-goroutines-<N>.txt), and pavload whep's own CPU
# profile over each step as bench/out/stream-pavload-cpu-<N>.pprof.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS="${BENCH_STREAM_STEPS:-100 200 300 400 500 600}"
HOLD="${BENCH_STREAM_HOLD:-20s}"
RAMP="${BENCH_STREAM_RAMP:-100}"
BITRATE="${BENCH_STREAM_BITRATE:-1500000}"
FPS="${BENCH_STREAM_FPS:-30}"
EXTRA="${BENCH_STREAM_ARGS:-}"
STARTUP="${BENCH_STREAM_STARTUP:-1}"
MAX_STEP=2000

BENCH_TAG="bench stream"
BENCH_WORK=pavbench-stream
STOP_TRIES=150
# shellcheck source=bench/lib.sh
. bench/lib.sh

[[ "$HOLD" =~ ^([0-9]+)s$ ]] || die "BENCH_STREAM_HOLD must be whole seconds, like 20s"
hold_s="${BASH_REMATCH[1]}"
[ "$hold_s" -ge 6 ] || die "BENCH_STREAM_HOLD must be 6s or more"
for n in $STEPS; do
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_STEP" ] || die "BENCH_STREAM_STEPS: $n is not from 1 to $MAX_STEP"
done

# The server and pavload each hold a UDP socket (and more) per viewer.
max_n=0
for n in $STEPS; do [ "$n" -gt "$max_n" ] && max_n=$n; done
need_files=$((max_n * 8 + 1024))
soft="$(ulimit -Sn)"
if [ "$soft" != unlimited ] && [ "$soft" -lt "$need_files" ]; then
	ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
fi

publisher_pid=""
stop_publisher() {
	[ -n "$publisher_pid" ] || return 0
	# SIGINT: pavload whip DELETEs its session and writes its figures.
	kill -INT "$publisher_pid" 2>/dev/null || true
	for _ in $(seq 1 100); do kill -0 "$publisher_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$publisher_pid" 2>/dev/null || true
	wait "$publisher_pid" 2>/dev/null || true
	publisher_pid=""
}
trap 'rc=$?; stop_publisher; (exit $rc); cleanup' EXIT

# proc_ticks PID: utime+stime of PID in clock ticks.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# gc_counters: the server's bytes allocated so far and GC cycles run so far,
# from its metrics.
gc_counters() {
	curl -fsS "$metrics_url" | awk '/^go_memstats_alloc_bytes_total / {a = $2} /^go_gc_duration_seconds_count / {g = $2}
		END {printf "%.0f %.0f\n", a, g}'
}
# mem_counters: the server's heap in use, goroutine stacks and heap goal
# (the size at which its next GC starts), in bytes, as a JSON object.
mem_counters() {
	curl -fsS "$metrics_url" | awk '/^go_memstats_heap_inuse_bytes / {h = $2} /^go_memstats_stack_inuse_bytes / {s = $2}
		/^go_memstats_next_gc_bytes / {n = $2} END {printf "{\"heap_inuse\": %.0f, \"stacks\": %.0f, \"next_gc\": %.0f}\n", h, s, n}'
}
# proc_rss PID: VmRSS of PID in kB.
proc_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
HZ="$(getconf CLK_TCK)"

# wait_line FILE REGEX SECONDS: waits for pavload to print a line; false when
# it does not in time.
wait_line() {
	for _ in $(seq 1 $(($3 * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

build_bins
# The commit the binaries were built from (the tree may change during the run).
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- cmd stream internal go.mod go.sum 2>/dev/null || commit="$commit-dirty"
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
log "machine load before: $load_before"
media_port="$(free_port udp)" || die "no free UDP port"
SERVER_FLAGS=(--media-port "$media_port")
SERVER_NOTE=", media on UDP $media_port"
unset PAVILION_DATABASE_URL PAVILION_REDIS_URL
start_server embedded
dir="$work/embedded"
demo="$dir/demo.json"

log "publisher: pavload whip --bitrate $BITRATE --fps $FPS (VP8 + Opus), until the end"
"${PIN_LOAD[@]}" bin/pavload whip --demo "$demo" --label publisher --bitrate "$BITRATE" --fps "$FPS" \
	--duration 0 --progress 0 --json "$dir/whip.json" >"$dir/whip.txt" 2>&1 &
publisher_pid=$!
wait_line "$dir/whip.txt" '^publishing' 30 || { cat "$dir/whip.txt" >&2; die "the publisher did not start"; }
# The baseline: the publisher's media flowing and no viewer. RSS right after
# start still holds the demo seeding's garbage, which the runtime hands back
# over the next seconds: take the lowest of 8 readings, a second apart.
rss_base=""
for _ in $(seq 1 8); do
	sleep 1
	r="$(proc_rss "$server_pid")"
	if [ -z "$rss_base" ] || [ "$r" -lt "$rss_base" ]; then rss_base=$r; fi
done
log "server RSS with the publisher and no viewer: $rss_base kB (lowest of 8 readings)"
mem_base="$(mem_counters)"

# Start-up, before the steps, the server otherwise idle: POST→connected
# with 20 viewers coming one by one (every candidate of this machine
# offered, then loopback candidates only), and first keyframe with 100
# coming at once.
startup_json="$work/startup.jsonl"
: >"$startup_json"
if [ "$STARTUP" = 1 ]; then
	for run in "20 10 all" "20 10 loopback" "100 100 all"; do
		read -r sn sramp scands <<<"$run"
		sflags=()
		[ "$scands" = loopback ] && sflags=(--loopback-only)
		sjson="$dir/startup-$sn-$scands.json"
		log "start-up: $sn viewers at $sramp/s, candidates: $scands"
		"${PIN_LOAD[@]}" bin/pavload whep --demo "$demo" --metrics-url "$metrics_url" --label "start-up $sn $scands" \
			--viewers "$sn" --ramp "$sramp" --duration 2s --progress 0 --json "$sjson" "${sflags[@]}" >"$dir/startup-$sn-$scands.txt" 2>&1 ||
			log "start-up run $sn $scands failed (see its figures)"
		[ -s "$sjson" ] && jq -c --argjson n "$sn" --argjson ramp "$sramp" --arg c "$scands" \
			'{viewers: $n, ramp: $ramp, candidates: $c, connected: .connect.connected, answer: .connect.negotiate,
			  connect: .time_to_connected, first_keyframe: .time_to_first_keyframe, first_packet: .time_to_first_packet}' "$sjson" >>"$startup_json"
		sleep 3
	done
fi

steps_json="$work/steps.jsonl"
: >"$steps_json"
status=0
for n in $STEPS; do
	kill -0 "$publisher_pid" 2>/dev/null || { cat "$dir/whip.txt" >&2; die "the publisher is gone"; }
	txt="$dir/whep-$n.txt" json="$dir/whep-$n.json"
	: >"$txt"
	log "step: $n viewers (ramp $RAMP/s, hold $HOLD)"
	rc=0
	client_prof=()
	[ -n "$debug_addr" ] && client_prof=(--cpuprofile "$OUT/stream-pavload-cpu-$n.pprof")
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload whep --demo "$demo" --metrics-url "$metrics_url" --label "$n viewers" \
		--viewers "$n" --ramp "$RAMP" --duration "$HOLD" --progress 0 --json "$json" "${client_prof[@]}" $EXTRA >"$txt" 2>&1 &
	load_pid=$!
	cpu_pct=null rss_kb=null rss_mean_kb=null alloc_mb_s=null gcs_s=null mem_held=null
	if wait_line "$txt" 'viewers in after' $((n / RAMP + 60)); then
		# Skip the first second of the hold (stragglers' handshakes), then measure most of it.
		sleep 1
		t0="$(date +%s.%N)" k0="$(proc_ticks "$server_pid")"
		read -r a0 g0 <<<"$(gc_counters)"
		if [ -n "$debug_addr" ]; then
			# BENCH_PROFILE=1: the server's CPU over the same window, and its heap.
			curl -fsS -o "$OUT/stream-cpu-$n.pprof" "http://$debug_addr/debug/pprof/profile?seconds=$((hold_s - 4))" &
			profiler_pid=$!
		fi
		# RSS moves with the GC's cycle: a reading a second, for the mean.
		rss_sum=0 rss_n=0
		for _ in $(seq 1 $((hold_s - 3))); do
			sleep 1
			r="$(proc_rss "$server_pid")" && rss_sum=$((rss_sum + r)) rss_n=$((rss_n + 1))
		done
		if [ -n "$debug_addr" ]; then
			wait "$profiler_pid" || log "step $n: no CPU profile"
			profiler_pid=""
			curl -fsS -o "$OUT/stream-heap-$n.pprof" "http://$debug_addr/debug/pprof/heap" || true
			curl -fsS -o "$OUT/stream-goroutines-$n.txt" "http://$debug_addr/debug/pprof/goroutine?debug=1" || true
		fi
		t1="$(date +%s.%N)" k1="$(proc_ticks "$server_pid")"
		read -r a1 g1 <<<"$(gc_counters)"
		mem_held="$(mem_counters)"
		rss_kb="$(proc_rss "$server_pid")"
		[ "$rss_n" -gt 0 ] && rss_mean_kb=$((rss_sum / rss_n))
		alloc_mb_s="$(awk -v a="$a0" -v b="$a1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / 1048576 / (t1 - t0)}')"
		gcs_s="$(awk -v a="$g0" -v b="$g1" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.2f", (b - a) / (t1 - t0)}')"
		cpu_pct="$(awk -v a="$k0" -v b="$k1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" 'BEGIN {printf "%.1f", 100 * (b - a) / hz / (t1 - t0)}')"
	fi
	wait "$load_pid" || rc=$?
	cat "$txt"
	if [ ! -s "$json" ]; then
		log "step $n: pavload whep wrote no figures (exit $rc)"
		status=1
		break
	fi
	jq -c --argjson n "$n" --argjson cpu "$cpu_pct" --argjson rss "$rss_kb" --argjson base "$rss_base" \
		--argjson alloc "$alloc_mb_s" --argjson gcs "$gcs_s" --argjson rssmean "$rss_mean_kb" \
		--argjson membase "$mem_base" --argjson memheld "$mem_held" \
		'{viewers: $n, server_cpu_pct: $cpu, server_rss_kb: $rss, server_rss_base_kb: $base,
		  server_alloc_mb_s: $alloc, server_gcs_s: $gcs, server_mem_base: $membase, server_mem_held: $memheld,
		  server_rss_per_viewer_kb: (if $rss == null or .connect.connected == 0 then null
		                             else (($rss - $base) / .connect.connected * 10 | round / 10) end),
		  server_rss_mean_per_viewer_kb: (if $rssmean == null or .connect.connected == 0 then null
		                                  else (($rssmean - $base) / .connect.connected * 10 | round / 10) end),
		  whep: .}' "$json" >>"$steps_json"
	loss="$(jq -r '.loss_pct' "$json")"
	connected="$(jq -r '.connect.connected' "$json")"
	log "step $n: $connected connected, loss $loss %, skips $(jq -r '.server.viewer_skips // "?"' "$json"), verdict $(jq -r 'if .verdict.pass then "pass" else "FAIL: " + (.verdict.reasons | join("; ")) end' "$json"), server CPU $cpu_pct %, RSS $rss_kb kB"
	if awk -v l="$loss" -v c="$connected" -v n="$n" 'BEGIN {exit !(l >= 5 || c < 0.9 * n)}'; then
		log "step $n is past saturation (loss $loss %, $connected of $n connected): no bigger steps"
		break
	fi
	sleep 3 # the server ends the sessions
done

stop_publisher
stop_server
cp "$dir/server.log" "$OUT/server-stream.log"

jq -s --arg pinning "$PINNING" --arg load "$load_before" --argjson bitrate "$BITRATE" --argjson fps "$FPS" \
	--arg hold "$HOLD" --argjson ramp "$RAMP" --slurpfile whip <(cat "$dir/whip.json" 2>/dev/null || echo null) \
	--slurpfile startup "$startup_json" \
	'{pinning: $pinning, load_before: $load, bitrate: $bitrate, fps: $fps, hold: $hold, ramp: $ramp,
	  publisher: $whip[0], startup: $startup, steps: .}' "$steps_json" >"$OUT/stream.json"

{
	echo "## Media fan-out (\`bench/stream.sh\`)"
	echo
	echo "One publisher (\`pavload whip\`: synthetic VP8 at $((BITRATE / 1000)) kbit/s, $FPS fps, a keyframe every 2 s, plus Opus 48 kbit/s) and steps of N WHEP viewers (\`pavload whep\`, ramped in at $RAMP/s, held $HOLD), against \`pavilion serve --demo\` (embedded); $PINNING. Machine load before: $load_before."
	echo
	echo "| viewers | connected | step | loss % | server skips | video frames received % (worst viewer) | delivered video Mbit/s min / p50 (source) | viewers < 97% of source | server CPU % | server CPU µs per packet sent | server RSS per viewer (KB): end of hold (mean over it) | server allocs MB/s (GCs/s) | goroutines per viewer | POST→connected p50 (ms) | first keyframe p50 / p95 (ms) | pavload CPU % (µs per packet) | pavload goroutines / RSS KB per viewer | UDP buffer drops |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	jq -r '.steps[] | . as $s | .whep as $w | ($w.frames.video // {}) as $f |
		"| \($s.viewers) | \($w.connect.connected) | \(if $w.verdict.pass then "pass" else "FAIL" end)\(if $w.verdict.client_limited then " (client-limited)" else "" end) | \((1000 * $w.loss_pct | round) / 1000) | \($w.server.viewer_skips // "?") | \(if ($f.expected // 0) > 0 then ((10000 * $f.received / $f.expected | round) / 100 | tostring) else "?" end) (\(if $f.worst_viewer_received_pct then (100 * $f.worst_viewer_received_pct | round) / 100 else "?" end)) | \($w.delivery.min_mbit) / \($w.delivery.p50_mbit) (\($w.delivery.source_video_mbit)) | \($w.delivery.viewers_below_97pct) | \($s.server_cpu_pct // "?") | \($w.server.cpu_us_per_packet // "?") | \($s.server_rss_per_viewer_kb // "?") (\($s.server_rss_mean_per_viewer_kb // "?")) | \($s.server_alloc_mb_s // "?") (\($s.server_gcs_s // "?")) | \($w.server.goroutines_per_viewer // "?") | \($w.time_to_connected.p50_ms) | \($w.time_to_first_keyframe.p50_ms) / \($w.time_to_first_keyframe.p95_ms) | \($w.client.hold_cpu_pct // $w.client.cpu_pct) (\($w.client.cpu_us_per_packet // "?")) | \($w.client.goroutines_per_viewer // "?") / \(if $w.client.rss_per_viewer_bytes then ($w.client.rss_per_viewer_bytes / 1024 | round) else "?" end) | \($w.udp_rcvbuf_errors // "?") |"' "$OUT/stream.json"
	echo
	jq -r '.steps[] | select(.whep.verdict.pass | not) | "- \(.viewers) viewers: \(.whep.verdict.reasons | join("; "))\(if .whep.verdict.client_limited then "; " + .whep.verdict.client_note else "" end)"' "$OUT/stream.json"
	echo
	jq -r '([.steps[] | select(.whep.verdict.pass)] | map(.viewers) | max) as $best |
		if $best == null then "**Largest N that passes: none of the steps.**"
		else "**Largest N that passes (every viewer connected, loss < 1%, no skip, no missing frame, every viewer ≥ 97% of the source rate): \($best).**" end' "$OUT/stream.json"
	echo
	if jq -e '.startup | length > 0' "$OUT/stream.json" >/dev/null; then
		echo "Start-up, before the steps (the server otherwise idle; 2 s each):"
		echo
		echo "| viewers | ramp /s | candidates offered | connected | answer p50 (ms) | POST→connected p50 / p95 (ms) | first keyframe p50 / p95 (ms) |"
		echo "|---|---|---|---|---|---|---|"
		jq -r '.startup[] | "| \(.viewers) | \(.ramp) | \(.candidates) | \(.connected) | \(.answer.p50_ms) | \(.connect.p50_ms) / \(.connect.p95_ms) | \(.first_keyframe.p50_ms) / \(.first_keyframe.p95_ms) |"' "$OUT/stream.json"
		echo
	fi
	echo "Server CPU is utime+stime of the server process over the hold (100% = the one CPU it is pinned to); CPU per packet is the server's CPU time over the hold (process_cpu_seconds_total) divided by the RTP packets the viewers received in it: on a machine other processes share it moves less than the CPU share does. RSS per viewer is VmRSS at the end of the hold minus the baseline with the publisher and no viewer ($rss_base kB), and in brackets the mean of a reading a second over the hold (RSS rises and falls with the GC's cycle); goroutines per viewer from go_goroutines; allocations are the server's bytes allocated (go_memstats_alloc_bytes_total) over the hold a second, with the GC cycles a second beside them. Loss counts every viewer's video and audio from the RTP sequence numbers (lost/expected); server skips are pavilion_stream_viewer_skips_total over the step; frames received are pavload whip's frame numbers each viewer got over those sent while it watched; delivered video is each viewer's rate over the hold, the source's from the server's ingest counter (it includes the publisher's transport-wide sequence extension, 8 bytes a packet, which viewers do not get: about 0.7% less). POST→connected runs from the POST that got the answer to ICE+DTLS connected. \"UDP buffer drops\" is the machine's RcvbufErrors during the step: when it is not zero, some of the loss happened in a receiver's socket buffer (pavload's, usually), not in the server; a step marked client-limited had that or pavload at 90% of its CPU or more. pavload's CPU is over the hold (its own getrusage), per packet its CPU time over the hold divided by the RTP packets its viewers received; its goroutines and RSS per viewer are the rise from before the first viewer to the end of the hold. Viewers: \`pavload whep --engine $(jq -r '.steps[0].whep.client.engine // "?"' "$OUT/stream.json")\`."
} >"$OUT/STREAM.md"
saved="bench/results/$(date -u +%F)-$commit-stream.md"
for i in 2 3 4 5 6 7 8 9; do
	[ -e "$saved" ] || break
	saved="bench/results/$(date -u +%F)-$commit-stream-$i.md" # another run of the same commit
done
{
	echo "# bench/stream.sh at $commit, $(date -u '+%F %H:%M UTC')"
	echo
	echo "Machine: $(nproc) CPUs, $(awk '/^MemTotal:/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo); load (1, 5, 15 min) before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg). Steps: $STEPS; extra pavload flags: ${EXTRA:-none}."
	echo
	sed 's/^## /### /' "$OUT/STREAM.md"
} >"$saved"
log "wrote $OUT/STREAM.md, $OUT/stream.json and $saved"
cat "$OUT/STREAM.md"
exit "$status"
