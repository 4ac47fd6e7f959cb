#!/usr/bin/env bash
# bench/buy-client.sh — what pavload's own taps cost: `pavload buy --client
# std` (net/http) against `--client lite` (rawhttp), on one embedded server.
#
# It builds bin/pavilion and bin/pavload, starts one embedded server pinned to
# CPU 0 (as bench/buy.sh does) and runs bench/buy.sh's stampede (5,000 buyers,
# 100 units, limit 1, one tap each, then a closed loop of 128 workers on the
# sold-out offer) with pavload pinned to CPU 1, alternating std, lite, std,
# lite... so that both see the same machine load. The figure to compare is
# pavload's CPU per attempt (its getrusage over the taps): on a shared
# machine a rate moves with the load, CPU per request much less.
#
# Results: bench/out/buy-client-<client>-<round>.json and a table on stdout.
# Knobs (environment): BENCH_ROUNDS (2), BENCH_BUYERS (5000), BENCH_UNITS (100),
# BENCH_DURATION (12s), BENCH_LOOP_WORKERS (128), BENCH_CLIENT_PROFILE (set to
# 1: each pavload writes its CPU profile to bench/out/cpu-client-<client>-<round>.pprof).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${BENCH_ROUNDS:-2}"
BUYERS="${BENCH_BUYERS:-5000}"
UNITS="${BENCH_UNITS:-100}"
DURATION="${BENCH_DURATION:-12s}"
LOOP_WORKERS="${BENCH_LOOP_WORKERS:-128}"

BENCH_TAG="bench client"
BENCH_WORK=pavbenchclient
STOP_TRIES=100
# shellcheck source=bench/lib.sh
. bench/lib.sh


build_bins
prepare_mode embedded
start_server embedded
rm -f "$OUT"/buy-client-*.json "$OUT"/cpu-client-*.pprof
for round in $(seq 1 "$ROUNDS"); do
	for client in std lite; do
		profile=()
		[ -z "${BENCH_CLIENT_PROFILE:-}" ] || profile=(--cpuprofile "$OUT/cpu-client-$client-$round.pprof")
		log "round $round: pavload buy --client $client"
		timeout --foreground "$RUN_TIMEOUT" "${PIN_LOAD[@]}" bin/pavload buy --demo "$work/embedded/demo.json" \
			--label "client $client $round" --json "$OUT/buy-client-$client-$round.json" --client "$client" \
			--buyers "$BUYERS" --units "$UNITS" --limit 1 --taps 1 --duration "$DURATION" --loop-workers "$LOOP_WORKERS" \
			"${profile[@]}" >"$work/client-$client-$round.txt" || die "pavload --client $client (round $round) failed: $(tail -20 "$work/client-$client-$round.txt")"
	done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
stop_server

echo "machine load before: $load_before, after: $load_after; $PINNING"
echo
echo "| run | client | burst µs/attempt | loop attempts | loop attempts/s | loop pavload cores | loop µs/attempt | loop outcomes | checks |"
echo "|---|---|---:|---:|---:|---:|---:|---|---|"
for round in $(seq 1 "$ROUNDS"); do
	for client in std lite; do
		jq -r --arg run "$round" '"| \($run) | \(.config.client) | \(.burst.client_cpu_us_per_attempt) | \(.sustained.attempts) | \(.sustained.attempts_per_sec | floor) | \(.sustained.client_cpu_cores) | \(.sustained.client_cpu_us_per_attempt) | \(.sustained.outcomes | to_entries | map("\(.key) \(.value.count)") | join(", ")) | \(if .verify.pass then "PASS" else "FAIL" end) |"' \
			"$OUT/buy-client-$client-$round.json"
	done
done
