#!/usr/bin/env bash
# bench/chat-results.sh RUN... — prints bench/out/CHAT.md (Markdown) from
# bench/out/chat-RUN.json (RUN: MODE-VIEWERSxRATE, one column each), written
# by bench/chat.sh. Needs jq.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
modes=()
for m in "$@"; do
	[ -s "$OUT/chat-$m.json" ] && modes+=("$m")
done
first="${modes[0]:-embedded}"

# v MODE JQ: one figure of one mode, "–" when missing.
v() { jq -r "($2) // \"–\"" "$OUT/chat-$1.json" 2>/dev/null || echo "–"; }

# row LABEL JQ: one table row, one column per mode.
row() {
	local line="| $1 |"
	for m in "${modes[@]}"; do line+=" $(v "$m" "$2") |"; done
	echo "$line"
}

r1='(. * 10 | round / 10)'
# Latency cells: "p50 / p90 / p99 / max" in ms.
lat() { echo "(if $1 == null or $1.count == 0 then null else \"\\($1.p50_ms | $r1) / \\($1.p90_ms | $r1) / \\($1.p99_ms | $r1) / \\($1.max_ms | $r1)\" end)"; }
kb() { echo "(($1) / 100 | round / 10)"; }
counts() { echo "(($1 // {}) | to_entries | if length == 0 then \"none\" else map(\"\\(.value) \\(.key)\") | join(\", \") end)"; }
phase() { echo "(.chat.phases | map(select(.name == \"$1\")) | .[0])"; }

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
mem="$(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')"
c=".chat.config"

cat <<EOF
## Live-room benchmark (\`bench/chat.sh\`)

- date: $(date -u +'%Y-%m-%d %H:%M UTC')
- commit: $commit
- machine: ${cpu:-unknown CPU}, $(nproc) CPUs, ${mem:-? GiB} RAM, Linux $(uname -r)
- $(go version 2>/dev/null || /usr/local/go/bin/go version 2>/dev/null || echo "go: unknown")
- pinning: $(v "$first" .pinning); open files $(v "$first" .open_files); the server runs with \`--log-level warn\`

Each column is a run against a fresh server: its viewers (the row below) join the demo show's room
(anonymous but for the $(v "$first" "$c.chatters") chatters and $(v "$first" "$c.reacters") reacters, token-only accounts),
at most $(v "$first" "$c.dial_concurrency") handshakes at a time; after $(v "$first" "$c.idle_seconds") s idle the server's
\`/metrics\` give the memory an idle connection costs; then the row's chat messages a second of
$(v "$first" "$c.size") bytes in all for $(v "$first" "$c.duration_seconds") s (**chat**), then
$(v "$first" "$c.reactions") reactions a second ($(v "$first" "$c.reactions_per_reacter_per_sec") per reacter; the server allows
$(v "$first" "$c.server_frame_limit_per_user_per_sec") a second per user) for $(v "$first" "$c.storm_seconds") s with the chat going on (**storm**); at most
$(v "$first" "$c.drain_max_seconds") s more for deliveries still on their way. During the storm the stock of an offer changes
every $(v "$first" "$c.stock_every_ms") ms (**commerce**: the stock events' own lane). Every viewer times every chat message from
send to receipt (same process, same clock) in a histogram (buckets 1.6 % wide). A delivery is one message
reaching one viewer; expected deliveries are every message the server did not refuse × every viewer
in the room when it was sent.

Targets (issue 13; measured, not asserted): 5,000 × 20 msg/s every message, p99 < 150 ms; 10,000 × 20 msg/s
≥ 95 % of what the room's policy sends, chat p99 < 250 ms, commerce all delivered, p99 < 250 ms; 20,000 × 10 msg/s
commerce all delivered, p99 < 500 ms; ≤ 15 KB of server memory (RSS) per idle connection. pavload reports its
own CPU: a column where it used 90 % of its core or more in a phase is **client-limited** and does not count.
Latencies are in ms: p50 / p90 / p99 / max.

EOF

head="| |"
sep="|---|"
for m in "${modes[@]}"; do head+=" $m |"; sep+="---|"; done
echo "$head"
echo "$sep"
row "**row**: viewers × chat messages/s" 'if .row == null then "\(.chat.config.viewers) × \(.chat.config.rate)" elif .row.viewers == .row.viewers_asked then "\(.row.viewers) × \(.row.rate)" else "\(.row.viewers) × \(.row.rate) (\(.row.viewers_asked) asked; open files \(.open_files))" end'
row "**client-limited** (pavload ≥ 90 % of its core in a phase; most it used, cores)" 'if .client_limited == null then null elif .client_limited then "YES: does not count (\(.client_cpu_max))" else "no (\(.client_cpu_max))" end'
row "machine load before (1 / 5 / 15 min)" '.load_before'
row "CPUs busy during the run, all processes: CPU 0 (server) / CPU 1 (pavload)" '"\(.cpu_busy_pct.cpu0) % / \(.cpu_busy_pct.cpu1) %"'
row "accounts created (token-only)" '"\(.chat.accounts.count) in \(.chat.accounts.seconds) s"'
row "**connect**: viewers welcomed" '"\(.chat.connect.welcomed) of \(.chat.connect.viewers) in \(.chat.connect.seconds) s (\(.chat.connect.per_sec | floor)/s)"'
row "connect failures" "$(counts .chat.connect.failures)"
row "dial to welcome" "$(lat .chat.connect.latency)"
row "**server memory per idle connection**: RSS" "\"\\($(kb .chat.memory.rss_per_conn_bytes)) KB\""
row "… heap in use / stacks / goroutines" "\"\\($(kb .chat.memory.heap_inuse_per_conn_bytes)) KB / \\($(kb .chat.memory.stack_inuse_per_conn_bytes)) KB / \\(.chat.memory.goroutines_per_conn)\""
row "server RSS: before / idle crowd / end" '"\(.chat.server.before.process_resident_memory_bytes / 1e6 | round) / \(.chat.server.idle.process_resident_memory_bytes / 1e6 | round) / \(.chat.server.end.process_resident_memory_bytes / 1e6 | round) MB"'
for name in chat storm; do
	p="$(phase "$name")"
	row "**$name phase**: messages sent (refused)" "if $p == null then null else \"\\($p.messages_sent) (\\($p.messages_refused))\" end"
	row "$name: deliveries" "if $p == null then null else \"\\($p.deliveries) of \\($p.deliveries_expected) (\\($p.delivered_pct) %)\" end"
	row "$name: messages that reached every viewer" "if $p == null then null else \"\\($p.messages_complete) of \\($p.messages_sent - $p.messages_refused)\" end"
	row "$name: deliveries/s (chat frames arriving/s)" "if $p == null then null else \"\\($p.deliveries_per_sec | floor) (\\($p.received_per_sec | floor))\" end"
	row "$name: sampled by the server on purpose (counted in batches); delivered of what the room's policy sent" "if $p == null then null else \"\\($p.sampled // 0); \\($p.delivered_of_policy_pct // \"–\") %\" end"
	row "$name: delivery latency" "$(lat "$p.latency")"
	if [ "$name" = storm ]; then
		row "storm: reactions sent / refused / counted by the server" "if $p == null then null else \"\\($p.reactions_sent) / \\($p.reactions_refused) / \\($p.reactions_counted)\" end"
		row "storm: reaction frames received/s (per viewer)" "if $p == null then null else \"\\($p.reaction_frames_per_sec | floor) (\\($p.reaction_frames_per_viewer_sec))\" end"
	fi
	row "$name: CPU, server / pavload (cores)" "if $p == null then null else \"\\($p.server_cpu_cores) / \\($p.client_cpu_cores)\" end"
	row "$name: CPU µs per frame the viewers read, server / pavload; server µs per chat line delivered" "if $p == null or ($p.client_frames // 0) == 0 then null else \"\\($p.server_cpu_us_per_frame) / \\($p.client_cpu_us_per_frame); \\($p.server_cpu_us_per_delivery)\" end"
	row "$name: frames read (read calls, epoll waits)" "if $p == null or ($p.client_frames // 0) == 0 then null else \"\\($p.client_frames) (\\($p.client_reads // \"–\"), \\($p.client_poll_waits // \"–\"))\" end"
done
row "**commerce**: a stock change every … ms during the storm: stock events, deliveries" 'if .chat.commerce == null then "not measured" else "\(.chat.commerce.every_ms) ms: \(.chat.commerce.events) events, \(.chat.commerce.deliveries) of \(.chat.commerce.expected) (\(.chat.commerce.delivered_pct) %)" end'
row "commerce: latency from the stock read to receipt" "$(lat .chat.commerce.latency)"
row "protocol" '"v\(.chat.config.protocol // 1)"'
row "pavload's reader (epoll: a few goroutines read every socket; goroutine: one each)" '"\(.chat.config.reader // "goroutine")\(if .chat.config.pollers then " (\(.chat.config.pollers) pollers)" else "" end)"'
row "**all**: deliveries" '"\(.chat.total.deliveries) of \(.chat.total.deliveries_expected) (\(.chat.total.delivered_pct) %)"'
row "all: delivery latency" "$(lat .chat.total.latency)"
row "seq gaps (events a viewer never got)" '.chat.seq_gaps'
row "disconnects during the run" "$(counts .chat.disconnects)"
row "connections at the end: server / pavload" '"\(.chat.server.connections_at_end) / \(.chat.server.connections_held)"'
row "frames the server shed (pavilion_chat_dropped_total)" '.chat.server.dropped_during_run'
row "error frames" "$(counts .chat.error_frames)"
for t in "every message delivered" "p99 delivery under 250 ms" "at most 15 KB of server memory per idle connection" "pavload kept up"; do
	row "target: $t" "(.chat.targets | map(select(.name == \"$t\")) | .[0]) as \$t | if \$t == null then (if \"$t\" == \"pavload kept up\" then \"yes\" else null end) else \"\\(\$t.result): \\(\$t.detail)\" end"
done

cat <<EOF

Every figure is in \`bench/out/chat-<mode>-<row>.json\` (the \`pavload chat --json\` report, with the server's
\`/metrics\` before, idle, at each phase's end and at the end); the server's warn-level log is in
\`bench/out/server-chat-<mode>-<row>.log\`. "CPUs busy" counts every process on the machine: far above the
server's and pavload's own figures means something else was running.
EOF
profiles=$(cd "$OUT" && ls chat-*.pprof chat-*.txt 2>/dev/null | tr '\n' ' ' || true)
if [ -n "$profiles" ]; then
	echo
	echo "Server profiles (BENCH_PROFILE=1): $profiles— read them with"
	echo "\`go tool pprof -top bin/pavilion bench/out/<file>\` (\`-sample_index=inuse_space\` for the heap)."
fi
