#!/usr/bin/env bash
# bench/results.sh MODE... — prints bench/out/RESULTS.md (Markdown) from
# bench/out/buy-MODE.json, written by bench/buy.sh. Needs jq.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
modes=()
for m in "$@"; do
	[ -s "$OUT/buy-$m.json" ] && modes+=("$m")
done

# v MODE JQ: one figure of one mode, "–" when missing.
v() { jq -r "($2) // \"–\"" "$OUT/buy-$1.json" 2>/dev/null || echo "–"; }

# row LABEL JQ: one table row, one column per mode.
row() {
	local line="| $1 |"
	for m in "${modes[@]}"; do line+=" $(v "$m" "$2") |"; done
	echo "$line"
}

# Latency cells: "p50 / p90 / p99 / max" in ms.
r1='(. * 10 | round / 10)'
lat() { echo "(\"\\($1.p50_ms | $r1) / \\($1.p90_ms | $r1) / \\($1.p99_ms | $r1) / \\($1.max_ms | $r1)\")"; }
rate() { echo "(($1) | floor | tostring)"; }
# bound PHASE: a mark for a phase run at pavload's own CPU ceiling.
bound() { echo "(if ($1.client_bound // false) then \" (at pavload's ceiling)\" else \"\" end)"; }

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
mem="$(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')"

cat <<EOF
# Buy-path benchmark (\`make bench\`)

- date: $(date -u +'%Y-%m-%d %H:%M UTC')
- commit: $commit
- machine: ${cpu:-unknown CPU}, $(nproc) CPUs, ${mem:-? GiB} RAM, Linux $(uname -r)
- $(go version 2>/dev/null || /usr/local/go/bin/go version 2>/dev/null || echo "go: unknown"); $(psql --version 2>/dev/null || echo "psql: not found"); $(redis-server --version 2>/dev/null | awk '{print "Redis", $3}' || true)
- pinning: $(v "${modes[0]:-embedded}" .pinning); PostgreSQL and Redis are not pinned (they share both CPUs)
- everything on 127.0.0.1, HTTP/1.1 keep-alive; the server runs with \`--log-level warn\`

Targets (issue 15; measured, not asserted), the server on one core: every tap wins, at least 10,000 holds/s
with p99 under 50 ms embedded and 5,000 with p99 under 100 ms in cluster mode; a burst of 20,000 buyers on
100 units all answered within 1 s, p99 under 300 ms; the sold-out loop at least 30,000 taps/s, measured by a
client with headroom. Latencies are in milliseconds, as p50 / p90 / p99 / max, measured by pavload from
request to full answer.

Runs, for each mode against a fresh server:

- **stampede**: fresh offer, $(v "${modes[0]:-embedded}" .stampede.offer.allocated) units, limit 1 per customer;
  $(v "${modes[0]:-embedded}" .stampede.config.buyers) buyer accounts each tap once, all released together by a barrier
  ($(v "${modes[0]:-embedded}" .stampede.config.concurrency) requests in flight at most, connections opened beforehand);
  then $(v "${modes[0]:-embedded}" .stampede.config.loop_workers) workers keep tapping the sold-out offer in a closed loop for
  $(v "${modes[0]:-embedded}" .stampede.config.duration_seconds) s; the winners pay; the ledger is read back.
- **reserve**: fresh offer of $(v "${modes[0]:-embedded}" .reserve.offer.allocated) units, no limit;
  $(v "${modes[0]:-embedded}" .reserve.config.loop_workers) workers tap in a closed loop for
  $(v "${modes[0]:-embedded}" .reserve.config.duration_seconds) s over $(v "${modes[0]:-embedded}" .reserve.config.buyers) buyers:
  every tap wins and is written to the ledger (no payment).

Every reserve and order carries a unique \`Idempotency-Key\`.

EOF

head="| |"
sep="|---|"
for m in "${modes[@]}"; do head+=" $m |"; sep+="---|"; done
echo "$head"
echo "$sep"
row "machine load before (1 / 5 / 15 min)" '.load_before'
row "buyers created (token-only accounts)" '"\(.stampede.buyers.count) in \(.stampede.buyers.seconds) s (\(.stampede.buyers.per_sec | floor)/s)"'
row "**stampede burst**: attempts/s (window)" '"\(.stampede.burst.attempts_per_sec | floor) (\(.stampede.burst.attempts) in \(.stampede.burst.seconds) s)"'" + $(bound .stampede.burst)"
row "burst outcomes" '.stampede.burst.outcomes | to_entries | map("\(.value.count) \(.key)") | join(", ")'
row "burst latency, all" "$(lat .stampede.burst.latency)"
row "burst latency, reserved" "$(lat .stampede.burst.outcomes.reserved.latency)"
row "burst latency, sold_out" "$(lat .stampede.burst.outcomes.sold_out.latency)"
row "**sold-out loop**: attempts/s" "$(rate .stampede.sustained.attempts_per_sec) + $(bound .stampede.sustained)"
row "sold-out loop outcomes" '.stampede.sustained.outcomes | to_entries | map("\(.value.count) \(.key)") | join(", ")'
row "sold-out loop latency" "$(lat .stampede.sustained.latency)"
row "pay: paid / pending / failed" '"\(.stampede.pay.paid) / \(.stampede.pay.pending) / \(.stampede.pay.failed) in \(.stampede.pay.phase.seconds) s"'
row "pay latency" "$(lat .stampede.pay.phase.latency)"
row "**reserve loop**: attempts/s" "$(rate .reserve.sustained.attempts_per_sec) + $(bound .reserve.sustained)"
row "reserve loop: reserved/s" "$(rate .reserve.sustained.outcomes.reserved.per_sec)"
row "reserve loop outcomes" '.reserve.sustained.outcomes | to_entries | map("\(.value.count) \(.key)") | join(", ")'
row "reserve loop latency" "$(lat .reserve.sustained.latency)"
# The issue's targets. The reserve loop counts holds (a loop whose offer ran
# out of units would count refusals too, and says so); the burst's is for
# 20,000 buyers or more; a rate reached at pavload's ceiling is the client's.
verdict='if . then "met" else "not met" end'
row "target: holds/s, p99 (embedded ≥ 10,000, < 50 ms; cluster ≥ 5,000, < 100 ms)" \
	'(if .mode == "cluster" then [5000, 100] else [10000, 50] end) as [$n, $ms] | .reserve.sustained as $p |
	 (($p.outcomes.reserved.per_sec // 0) >= $n and $p.latency.p99_ms < $ms and ($p.outcomes.sold_out == null) and (($p.client_bound // false) | not)) as $ok |
	 "\($ok | '"$verdict"'): \(($p.outcomes.reserved.per_sec // 0) | floor)/s, p99 \($p.latency.p99_ms | '"$r1"') ms" +
	 (if $p.outcomes.sold_out then " (the offer ran out: \($p.outcomes.sold_out.count) refusals; raise BENCH_RESERVE_UNITS)" else "" end)'
row "target: burst of 20,000 all answered ≤ 1 s, p99 < 300 ms" \
	'.stampede.burst as $p | (.stampede.config.buyers >= 20000 and $p.seconds <= 1 and $p.latency.p99_ms < 300 and ($p.failures // 0) == 0) as $ok |
	 "\($ok | '"$verdict"'): \(.stampede.config.buyers) in \($p.seconds) s, p99 \($p.latency.p99_ms | '"$r1"') ms"'
row "target: sold-out loop ≥ 30,000/s, client with headroom" \
	'.stampede.sustained as $p | ($p.attempts_per_sec >= 30000 and (($p.client_bound // false) | not)) as $ok |
	 "\($ok | '"$verdict"'): \($p.attempts_per_sec | floor)/s, pavload at \($p.client_cpu_cores // "n/a") of its core"'
row "pavload CPU, cores: burst / sold-out loop / reserve loop" '[.stampede.burst.client_cpu_cores, .stampede.sustained.client_cpu_cores, .reserve.sustained.client_cpu_cores] | map(. // "n/a" | tostring) | join(" / ")'
row "pavload client; its CPU µs per attempt: burst / sold-out loop / reserve loop" '"\(.stampede.config.client // "std"); " + ([.stampede.burst.client_cpu_us_per_attempt, .stampede.sustained.client_cpu_us_per_attempt, .reserve.sustained.client_cpu_us_per_attempt] | map(. // "n/a" | tostring) | join(" / "))'
row "5xx or no answer (all runs)" '[.stampede.burst.failures, .stampede.sustained.failures, .stampede.pay.phase.failures, .reserve.sustained.failures] | map(. // 0) | add'
row "checks, stampede" '.stampede.verify.checks | map("\(.result) \(.name)") | join("; ")'
row "checks, reserve" '.reserve.verify.checks | map("\(.result) \(.name)") | join("; ")'
row "verdict" '[.stampede.verify.pass, .reserve.verify.pass] | if all then "PASS" else "FAIL" end'

cat <<EOF

Every figure is in \`bench/out/buy-<mode>.json\` (one \`pavload buy --json\` report per run); the
servers' warn-level logs are in \`bench/out/server-<mode>.log\`.
EOF
profiles=$(cd "$OUT" && ls cpu-*.pprof 2>/dev/null | tr '\n' ' ' || true)
if [ -n "$profiles" ]; then
	echo
	echo "CPU profiles of the server during each closed loop (BENCH_PROFILE=1): $profiles— read them with"
	echo "\`go tool pprof -top bin/pavilion bench/out/<file>\`."
fi

# The live-room section, written by bench/chat.sh (which replaces it after
# its own run: the marker tells it where the section starts).
if [ -s "$OUT/CHAT.md" ]; then
	echo
	echo '<!-- bench/chat.sh -->'
	cat "$OUT/CHAT.md"
fi
