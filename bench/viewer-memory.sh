#!/usr/bin/env bash
# bench/viewer-memory.sh — what a WHEP viewer holds in the server, measured
# so that machine load moves it little (issue 14).
#
# bench/stream.sh measures RSS per viewer during a full-rate hold; on a
# loaded machine its pinned server falls behind, queues packets and the RSS
# figure becomes the backlog. This script keeps the media rate low (a
# 100 kbit/s, 5 fps publisher plus Opus), does not pin, and reads, 15 s
# into a hold of N `pavload whep --engine lite` viewers and after a forced
# GC (/debug/pprof/heap?gc=1): the live heap, the heap in use, the
# goroutine stacks, the goroutines (go_memstats_*, go_goroutines) and VmRSS;
# per viewer is the rise over the same readings with the publisher and no
# viewer. It saves the heap profile and goroutine dump of both moments as
# bench/out/vmem-{idle,held}.{pprof,txt} and a summary as
# bench/out/VIEWER-MEMORY.md (copied to bench/results/<date>-<commit>-viewer-memory.md).
#
# Knobs: BENCH_VMEM_VIEWERS (600), BENCH_VMEM_BITRATE (100000),
# BENCH_VMEM_FPS (5), BENCH_VMEM_RAMP (50 a second), BENCH_VMEM_HOLD (30s),
# BENCH_PAVILION (a server binary built elsewhere, for before/after runs).
set -euo pipefail
cd "$(dirname "$0")/.."

N="${BENCH_VMEM_VIEWERS:-600}"
BITRATE="${BENCH_VMEM_BITRATE:-100000}"
FPS="${BENCH_VMEM_FPS:-5}"
RAMP="${BENCH_VMEM_RAMP:-50}"
HOLD="${BENCH_VMEM_HOLD:-30s}"
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 2000 ] || { echo "BENCH_VMEM_VIEWERS must be 1 to 2000" >&2; exit 1; }
[[ "$HOLD" =~ ^([0-9]+)s$ ]] && [ "${BASH_REMATCH[1]}" -ge 20 ] || { echo "BENCH_VMEM_HOLD must be whole seconds, 20s or more" >&2; exit 1; }

BENCH_TAG="bench viewer-memory"
BENCH_WORK=pavbench-vmem
STOP_TRIES=150
BENCH_PROFILE=1 # the debug listener, for the forced GC and the profiles
# shellcheck source=bench/lib.sh
. bench/lib.sh
# Memory, not CPU, is measured: the server may use both CPUs.
PIN_SERVER=()
PIN_LOAD=()

soft="$(ulimit -Sn)"
if [ "$soft" != unlimited ] && [ "$soft" -lt $((N * 8 + 1024)) ]; then
	ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
fi

publisher_pid=""
trap 'rc=$?; [ -n "$publisher_pid" ] && kill -INT "$publisher_pid" 2>/dev/null; (exit $rc); cleanup' EXIT

build_bins
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- cmd stream internal go.mod go.sum 2>/dev/null || commit="$commit-dirty"
[ -n "${BENCH_PAVILION:-}" ] && commit="$(basename "$BENCH_PAVILION")"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
unset PAVILION_DATABASE_URL PAVILION_REDIS_URL
start_server embedded
dir="$work/embedded"

bin/pavload whip --demo "$dir/demo.json" --label publisher --bitrate "$BITRATE" --fps "$FPS" \
	--duration 0 --progress 0 >"$dir/whip.txt" 2>&1 &
publisher_pid=$!
for _ in $(seq 1 300); do grep -q '^publishing' "$dir/whip.txt" 2>/dev/null && break; sleep 0.1; done
grep -q '^publishing' "$dir/whip.txt" || { cat "$dir/whip.txt" >&2; die "the publisher did not start"; }
sleep 8

# snapshot NAME: forced GC, profiles, then the figures as one JSON line.
snapshot() {
	curl -fsS -o /dev/null "http://$debug_addr/debug/pprof/heap?gc=1"
	sleep 1
	curl -fsS -o "$OUT/vmem-$1.pprof" "http://$debug_addr/debug/pprof/heap?gc=1"
	curl -fsS -o "$OUT/vmem-$1.txt" "http://$debug_addr/debug/pprof/goroutine?debug=1"
	curl -fsS "$metrics_url" | awk -v rss="$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$server_pid/status")" '
		/^go_goroutines / {g = $2}
		/^go_memstats_heap_alloc_bytes / {ha = $2}
		/^go_memstats_heap_inuse_bytes / {hi = $2}
		/^go_memstats_stack_inuse_bytes / {st = $2}
		/^pavilion_stream_viewers[{ ]/ {v += $2}
		END {printf "{\"rss\": %d, \"goroutines\": %d, \"heap_live\": %d, \"heap_inuse\": %d, \"stacks\": %d, \"viewers\": %d}\n", rss, g, ha, hi, st, v}'
}
idle="$(snapshot idle)"
log "no viewer: $idle"
bin/pavload whep --demo "$dir/demo.json" --metrics-url "$metrics_url" --label "$N viewers" --viewers "$N" --ramp "$RAMP" \
	--duration "$HOLD" --progress 0 --json "$dir/whep.json" >"$dir/whep.txt" 2>&1 &
load_pid=$!
for _ in $(seq 1 $((N / RAMP + 120))); do grep -q 'viewers in after' "$dir/whep.txt" 2>/dev/null && break; sleep 1; done
sleep 15
held="$(snapshot held)"
log "$N viewers: $held"
wait "$load_pid" || true
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

{
	echo "# bench/viewer-memory.sh at $commit, $(date -u '+%F %H:%M UTC')"
	echo
	echo "$N \`pavload whep --engine lite\` viewers (ramp $RAMP/s, hold $HOLD) of a $((BITRATE / 1000)) kbit/s, $FPS fps VP8 + Opus show, server unpinned; figures after a forced GC, 15 s into the hold, less the same with no viewer. Machine: $(nproc) CPUs; load before $load_before, after $load_after."
	echo
	echo "| viewers held | RSS / viewer | live heap / viewer | heap in use / viewer | stacks / viewer | goroutines / viewer | loss % | server skips |"
	echo "|---|---|---|---|---|---|---|---|"
	jq -rn --argjson a "$idle" --argjson b "$held" --slurpfile w "$dir/whep.json" '
		($b.viewers) as $n | def kb(k): ((($b[k] - $a[k]) / $n / 1024 * 10 | round) / 10 | tostring) + " KB";
		"| \($n) | \(kb("rss")) | \(kb("heap_live")) | \(kb("heap_inuse")) | \(kb("stacks")) | \((($b.goroutines - $a.goroutines) / $n * 10 | round) / 10) | \($w[0].loss_pct) | \($w[0].server.viewer_skips // "?") |"'
	echo
	echo "Loss and skips show whether the server kept up: when it did not, the figures include the packets it queued."
} >"$OUT/VIEWER-MEMORY.md"
saved="bench/results/$(date -u +%F)-$commit-viewer-memory.md"
for i in 2 3 4 5 6 7 8 9; do
	[ -e "$saved" ] || break
	saved="bench/results/$(date -u +%F)-$commit-viewer-memory-$i.md"
done
cp "$OUT/VIEWER-MEMORY.md" "$saved"
log "wrote $OUT/VIEWER-MEMORY.md and $saved"
cat "$OUT/VIEWER-MEMORY.md"
