#!/usr/bin/env bash
# bench/draw.sh — the fair-draw benchmark behind `make bench` (issue 15's row
# "fair draw with 50,000 entries on 3 nodes: winners = units exactly, the
# verifier agrees, the result reaches every viewer < 1 s after close").
#
# For each mode it builds bin/pavilion and bin/pavload, starts fresh servers
# pinned to CPU 0, reads `pavilion demo --json`, and runs `pavload draw`
# pinned to CPU 1:
#
#   embedded  one node, SQLite.
#   cluster   three `pavilion serve` nodes on one PostgreSQL database and
#             Redis, with a shared --cluster-secret; entries and viewers are
#             spread round-robin over the three, the host opens and closes
#             the draw on the first, the record is read back from the third.
#
# pavload creates the entrants (token-only accounts), a fresh offer of
# BENCH_DRAW_UNITS units, opens a draw with a one-hour window, has every
# entrant enter once (64 at a time), connects BENCH_DRAW_VIEWERS signed-in
# viewers to the show's live room and waits for their welcomes, then closes
# the draw and times the close's answer and the "draw" event with the
# winners at every viewer (from the close request's send). It then checks
# the result: winners = min(units, entries), each an entrant and none twice,
# the seed opens the commitment made at open, internal/draw.Verify draws
# the same winners from the published record, every viewer got them, and
# every winner holds a unit.
#
# The servers' CPU (every node's, from /proc; PostgreSQL's and Redis's are
# not counted) is read when the entrants are made and when the entries are
# done: CPU per entry, which moves less than the rate on a shared machine.
#
# Results: bench/out/draw-<mode>.json (every figure), bench/out/DRAW.md.
# Everything listens on 127.0.0.1. Cluster mode uses a fresh database
# pavbench_<random> (dropped at the end) and Redis DB 15 (flushed before and
# after), as bench/buy.sh does.
#
# Knobs (environment): BENCH_DRAW_MODES ("embedded cluster"),
# BENCH_DRAW_ENTRIES (50000), BENCH_DRAW_UNITS (100), BENCH_DRAW_VIEWERS
# (300), BENCH_DRAW_NODES (3: cluster nodes), BENCH_DRAW_ARGS (more pavload
# draw flags), BENCH_PG_SERVER (as in buy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

MODES="${BENCH_DRAW_MODES:-embedded cluster}"
ENTRIES="${BENCH_DRAW_ENTRIES:-50000}"
UNITS="${BENCH_DRAW_UNITS:-100}"
VIEWERS="${BENCH_DRAW_VIEWERS:-300}"
NODES="${BENCH_DRAW_NODES:-3}"
EXTRA="${BENCH_DRAW_ARGS:-}"

BENCH_TAG="bench draw"
BENCH_WORK=pavbench-draw
STOP_TRIES=100
# shellcheck source=bench/lib.sh
. bench/lib.sh

[[ "$NODES" =~ ^[1-9]$ ]] || die "BENCH_DRAW_NODES must be from 1 to 9"

# The cluster's other nodes (lib.sh's start_server starts the first); they
# are stopped before lib.sh's cleanup runs.
node_pids=()
stop_nodes() {
	local pid
	for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${node_pids[@]}"; do
		for _ in $(seq 1 "$STOP_TRIES"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	node_pids=()
}
draw_cleanup() {
	local rc=$?
	stop_nodes
	(exit "$rc")
	cleanup
}
trap draw_cleanup EXIT

# start_node MODE N: one more node of the cluster (same database, bus and
# secret as the first), on ports of its own; sets node_base to its base URL.
# (Not run in $(...): node_pids must be this shell's.)
start_node() {
	local mode=$1 n=$2 dir="$work/$1/node$2" port udp metrics base
	mkdir -p "$dir"
	port="$(free_port)" || die "no free port"
	udp="$(free_port udp)" || die "no free UDP port"
	metrics="127.0.0.1:$(free_port)" || die "no free port"
	base="http://127.0.0.1:$port"
	log "$mode: starting node $n on $base (${PIN_SERVER[*]:-unpinned})"
	"${PIN_SERVER[@]}" bin/pavilion serve --http "127.0.0.1:$port" --public-url "$base" --metrics-addr "$metrics" \
		--media-port "$udp" --media-addr 127.0.0.1 --log-level warn --data-dir "$dir/data" \
		--database-url "$PAVILION_DATABASE_URL" --redis-url "$PAVILION_REDIS_URL" "${SERVER_FLAGS[@]}" >"$dir/server.log" 2>&1 &
	node_pids+=($!)
	for _ in $(seq 1 150); do
		if curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then
			node_base=$base
			return 0
		fi
		kill -0 "${node_pids[-1]}" 2>/dev/null || { cat "$dir/server.log" >&2; die "$mode: node $n exited"; }
		sleep 0.2
	done
	cat "$dir/server.log" >&2
	die "$mode: node $n is not ready after 30 s"
}

# servers_cpu prints the user+system CPU of every node so far, in clock ticks.
servers_cpu() {
	local pid total=0 t
	for pid in "$server_pid" "${node_pids[@]}"; do
		t="$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
		total=$((total + t))
	done
	echo "$total"
}

# cpu_marks TXT OUT: the servers' CPU when pavload (writing TXT) has made its
# entrants, when every entrant has entered, and when the result is verified
# (polled ten times a second, on pavload's CPU).
cpu_marks() {
	if [ ${#PIN_LOAD[@]} -gt 0 ]; then taskset -cp 1 "$BASHPID" >/dev/null 2>&1 || true; fi
	local line
	for line in '^created ' '^enter: ' '^verify '; do
		for _ in $(seq 1 9000); do grep -q "$line" "$1" 2>/dev/null && break; sleep 0.1; done
		servers_cpu >>"$2"
	done
}

# bench_mode MODE: writes $OUT/draw-MODE.json.
bench_mode() {
	local mode=$1 rc=0 load_before nodes n
	prepare_mode "$mode"
	SERVER_FLAGS=()
	if [ "$mode" = cluster ]; then
		SERVER_FLAGS=(--cluster-secret "pavbench-draw-$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')")
	fi
	start_server "$mode"
	nodes="$(jq -r .base_url "$work/$mode/demo.json")"
	if [ "$mode" = cluster ]; then
		for n in $(seq 2 "$NODES"); do
			start_node "$mode" "$n"
			nodes="$nodes,$node_base"
		done
	fi
	local txt="$work/$mode/draw.txt" cpu="$work/$mode/draw.cpu"
	: >"$cpu"
	cpu_marks "$txt" "$cpu" &
	local marks=$!
	log "$mode: pavload draw: $ENTRIES entries, $UNITS units, $VIEWERS viewers on $nodes (${PIN_LOAD[*]:-unpinned})"
	# shellcheck disable=SC2086 # EXTRA is a list of flags
	timeout 1200 "${PIN_LOAD[@]}" bin/pavload draw --demo "$work/$mode/demo.json" --nodes "$nodes" --label "$mode" \
		--entries "$ENTRIES" --units "$UNITS" --viewers "$VIEWERS" --json "$work/$mode/draw.json" $EXTRA >"$txt" 2>&1 || rc=1
	cat "$txt" >&2
	for _ in $(seq 1 30); do kill -0 "$marks" 2>/dev/null || break; sleep 0.1; done
	kill "$marks" 2>/dev/null || true
	wait "$marks" 2>/dev/null || true
	log "$mode: servers' CPU (ticks) at the entrants made, the entries done, the result verified: $(paste -sd' ' "$cpu")"
	local load_after
	load_after="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	stop_nodes
	stop_server
	cp "$work/$mode/server.log" "$OUT/server-draw-$mode.log"
	if [ -s "$work/$mode/draw.json" ]; then
		jq -n --arg mode "$mode" --arg pinning "$PINNING" --arg load "$load_before" --arg load_after "$load_after" \
			--arg commit "$COMMIT" \
			--argjson hz "$(getconf CLK_TCK)" --argjson c "[$(paste -sd, "$cpu")]" --slurpfile d "$work/$mode/draw.json" \
			'{mode: $mode, commit: $commit, pinning: $pinning, load_before: $load, load_after: $load_after,
			  server_cpu: {entries_s: (if ($c | length) >= 2 then ($c[1] - $c[0]) / $hz else null end),
			               close_and_verify_s: (if ($c | length) >= 3 then ($c[2] - $c[1]) / $hz else null end)}} + $d[0]' \
			>"$OUT/draw-$mode.json" || { log "$mode: could not write $OUT/draw-$mode.json"; rc=1; }
	else
		log "$mode: pavload wrote no report"
		rc=1
	fi
	[ "$mode" = cluster ] && drop_db
	return "$rc"
}

# summary MODE...: bench/out/DRAW.md, one column per mode.
summary() {
	local m files=()
	for m in "$@"; do [ -s "$OUT/draw-$m.json" ] && files+=("$OUT/draw-$m.json"); done
	[ ${#files[@]} -gt 0 ] || return 1
	jq -rs '
	  . as $all |
	  def col(f): map(f | tostring) | join(" | ");
	  def ms: if . == null then "–" else (. * 10 | round / 10 | tostring) + " ms" end;
	  "# Fair draw under load (`bench/draw.sh`)\n",
	  "Issue 15: a fair draw with \(.[0].config.entries) entries and \(.[0].config.units) units; the host closes it while \(.[0].config.viewers) signed-in viewers watch the live room. The latency of the result is from the close request'"'"'s send to the `draw` event with the winners at each viewer.\n",
	  "| | " + col(.mode) + " |",
	  "|---|" + (map("---") | join("|")) + "|",
	  "| commit | " + col(.commit) + " |",
	  "| nodes | " + col(.nodes | length) + " |",
	  "| machine load before / after | " + col("\(.load_before) / \(.load_after)") + " |",
	  "| pinning | " + col(.pinning) + " |",
	  "| entrants created | " + col("\(.entrants.count) in \(.entrants.seconds) s (\(.entrants.per_sec)/s)") + " |",
	  "| entries | " + col("\(.enter.entered) of \(.enter.entrants) in \(.enter.seconds) s = \(.enter.per_sec)/s, \(.enter.workers) at a time") + " |",
	  "| entry failures | " + col(.enter.failures | if length == 0 then "none" else (to_entries | map("\(.value) \(.key)") | join(", ")) end) + " |",
	  "| entry latency p50 / p99 / max | " + col("\(.enter.latency.p50_ms | ms) / \(.enter.latency.p99_ms | ms) / \(.enter.latency.max_ms | ms)") + " |",
	  "| servers'"'"' CPU per entry (all nodes) | " + col(if .server_cpu.entries_s == null then "–" else "\(.server_cpu.entries_s * 1e6 / .enter.entrants | round) µs" end) + " |",
	  "| servers'"'"' CPU from the entries done to the result verified | " + col(if .server_cpu.close_and_verify_s == null then "–" else "\(.server_cpu.close_and_verify_s) s" end) + " |",
	  "| pavload CPU while entering | " + col("\(.enter.client_cpu_cores) cores, \(.enter.client_cpu_us_per_entry) µs per entry\(if .enter.client_bound then " (client-bound)" else "" end)") + " |",
	  "| viewers welcomed | " + col("\(.connect.welcomed) of \(.connect.viewers)") + " |",
	  "| close answered | " + col(.close.answer_ms | ms) + " |",
	  "| result at viewers p50 / p99 / max | " + col("\(.close.latency.p50_ms | ms) / \(.close.latency.p99_ms | ms) / \(.close.latency.max_ms | ms)") + " |",
	  "| result per node, p50 / max (viewers) | " + col(.close.nodes | map("\(.latency.p50_ms | ms) / \(.latency.max_ms | ms) (\(.viewers))") | join("; ")) + " |",
	  "| viewers with the result < 1 s / within \(.[0].config.result_wait_seconds) s / missed | " + col("\(.close.within_1s) / \(.close.got) / \(.close.missed)") + " |",
	  "| pavload CPU during the close | " + col("\(.close.client_cpu_cores) cores") + " |",
	  "| winners / units | " + col("\(.verify.winners) / \(.config.units)") + " |",
	  (.[0].verify.checks | to_entries | map(.key as $i | "| check: \(.value.name) | " + ($all | map(.verify.checks[$i].result) | join(" | ")) + " |") | join("\n")),
	  "| **target: result at every viewer < 1 s** | " + col("**" + .target.check.result + "**") + " |",
	  "| **verification** | " + col(if .verify.pass then "**PASS**" else "**FAIL**" end) + " |",
	  "",
	  "PostgreSQL and Redis (cluster) run unpinned and their CPU is not in the servers'"'"' figure. Every figure: `bench/out/draw-<mode>.json`."
	' "${files[@]}"
}

build_bins
# The commit measured: taken now, before anything can change the tree.
COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"

run_modes draw

if summary "${done_modes[@]}" >"$OUT/DRAW.md"; then
	log "wrote $OUT/DRAW.md and $(printf "$OUT/draw-%s.json " "${done_modes[@]}")"
	cat "$OUT/DRAW.md"
else
	log "error: no report to summarise"
	status=1
fi
exit "$status"
