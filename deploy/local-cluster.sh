#!/usr/bin/env bash
# Runs a Pavilion cluster on loopback, without containers: PostgreSQL, Redis
# and three `pavilion serve` nodes sharing them, as in production.
#
#   deploy/local-cluster.sh [start]   build, start everything, print the URLs and
#                                     stay in the foreground; Ctrl-C stops it all
#   deploy/local-cluster.sh stop      stop the cluster started from another shell
#   deploy/local-cluster.sh status    say what runs and whether each node is ready
#
# Needs Go, redis-server, curl and PostgreSQL's server binaries (initdb,
# pg_ctl; Debian's postgresql package). Environment, all optional:
#
#   PAVILION_CLUSTER_DIR         state: binary, logs, database files
#                                (default ${TMPDIR:-/tmp}/pavilion-cluster)
#   PAVILION_CLUSTER_PG          "private" (default): a throwaway PostgreSQL
#                                cluster under the state directory, run as the
#                                postgres user when this script runs as root;
#                                or the admin URL of a running server, e.g.
#                                postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable,
#                                where a fresh database is created, and
#                                dropped on stop
#   PAVILION_CLUSTER_PG_PORT     private PostgreSQL port (default 55432)
#   PAVILION_CLUSTER_REDIS_PORT  private redis-server port (default 56379)
#   PAVILION_CLUSTER_HTTP_BASE   first node's HTTP port (default 8081; then 8082, 8083)
#   PAVILION_CLUSTER_MEDIA_BASE  first node's media port (default 8191; then 8192, 8193)
#   PAVILION_CLUSTER_METRICS_BASE first node's Prometheus metrics port (default 9091; then 9092, 9093)
#   PAVILION_CLUSTER_DEMO        1 (default) seeds the demo data through node 1; 0 does not
#   PAVILION_CLUSTER_KEEP        1 keeps the state directory after stop (logs, data)
#   PAVILION_CLUSTER_SECRET      the nodes' shared --cluster-secret, which lets a
#                                show published on one node be watched on the
#                                others (default: a random one per start)
#   PAVILION_BIN                 use this pavilion binary instead of building one
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${PAVILION_CLUSTER_DIR:-${TMPDIR:-/tmp}/pavilion-cluster}"
pg_mode="${PAVILION_CLUSTER_PG:-private}"
pg_port="${PAVILION_CLUSTER_PG_PORT:-55432}"
redis_port="${PAVILION_CLUSTER_REDIS_PORT:-56379}"
http_base="${PAVILION_CLUSTER_HTTP_BASE:-8081}"
media_base="${PAVILION_CLUSTER_MEDIA_BASE:-8191}"
metrics_base="${PAVILION_CLUSTER_METRICS_BASE:-9091}"
demo="${PAVILION_CLUSTER_DEMO:-1}"
keep="${PAVILION_CLUSTER_KEEP:-0}"
secret="${PAVILION_CLUSTER_SECRET:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
nodes=3

pidfile="$dir/cluster.pid"

say() { printf '%s\n' "$*"; }
die() { printf 'local-cluster: %s\n' "$*" >&2; exit 1; }

# running prints the pid of the script instance that owns $dir, if it lives.
running() {
	local pid
	[[ -f $pidfile ]] || return 1
	pid="$(<"$pidfile")"
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	printf '%s\n' "$pid"
}

cmd_stop() {
	local pid
	pid="$(running)" || { say "no cluster running under $dir"; return 0; }
	say "stopping the cluster (pid $pid)…"
	kill -TERM "$pid"
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || { say "stopped"; return 0; }
		sleep 0.1
	done
	die "pid $pid still running after 60 s"
}

cmd_status() {
	local pid i port
	if ! pid="$(running)"; then
		say "no cluster running under $dir"
		return 1
	fi
	say "cluster running (pid $pid), state in $dir"
	for ((i = 1; i <= nodes; i++)); do
		port=$((http_base + i - 1))
		if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz"; then
			say "  node $i  http://127.0.0.1:$port  ready"
		else
			say "  node $i  http://127.0.0.1:$port  NOT ready"
		fi
	done
}

# --- start ---------------------------------------------------------------

# Filled in as things start, so cleanup stops exactly what was started.
node_pids=()
redis_pid=""
pg_started=""
pg_database=""
pg_admin_url=""

# as_pg runs a PostgreSQL tool as the postgres user when we are root:
# PostgreSQL refuses to run as root.
as_pg() {
	if [[ $(id -u) == 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_bin() {
	local d
	if command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v initdb)"
		return
	fi
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
	[[ -n $d && -x $d/initdb ]] || die "initdb not found: install PostgreSQL, or set PAVILION_CLUSTER_PG to an admin URL"
	printf '%s\n' "$d"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cleanup() {
	local rc=$? pid
	trap - EXIT INT TERM
	say ""
	say "stopping…"
	# Nodes first, while the database and Redis they drain into still run.
	for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [[ -n $redis_pid ]]; then
		kill -TERM "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	if [[ -n $pg_started ]]; then
		as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null || true
	fi
	if [[ -n $pg_database ]]; then
		psql -q "$pg_admin_url" -c "DROP DATABASE IF EXISTS \"$pg_database\" WITH (FORCE)" >/dev/null || true
	fi
	rm -f "$pidfile"
	if [[ $rc != 0 && $rc != 130 && $rc != 143 ]]; then
		say "failed; logs kept in $dir"
	elif [[ $keep == 1 ]]; then
		say "stopped; state kept in $dir"
	else
		rm -rf "$dir"
		say "stopped"
	fi
	exit "$rc"
}

wait_ready() { # name pid url
	local name=$1 pid=$2 url=$3
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || die "$name exited during start; its log: $(log_of "$name")"
		curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	die "$name not ready within 30 s; its log: $(log_of "$name")"
}

log_of() { printf '%s/%s.log' "$dir" "${1// /}"; }

start_postgres() {
	local bin
	if [[ $pg_mode != private ]]; then
		pg_admin_url="$pg_mode"
		[[ $pg_admin_url =~ ^postgres(ql)?://[^/]+/ ]] || die "PAVILION_CLUSTER_PG must be \"private\" or a postgres:// URL with a database path"
		pg_database="pavilion_cluster_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
		psql -q "$pg_admin_url" -c "CREATE DATABASE \"$pg_database\"" >/dev/null || { pg_database=""; die "cannot create a database through PAVILION_CLUSTER_PG"; }
		database_url="$(sed -E "s#^(postgres(ql)?://[^/]+)/[^?]*#\\1/$pg_database#" <<<"$pg_admin_url")"
		return
	fi
	bin="$(pg_bin)"
	if port_busy "$pg_port"; then die "port $pg_port is taken: set PAVILION_CLUSTER_PG_PORT"; fi
	mkdir -p "$dir/pg" "$dir/pgrun"
	if [[ $(id -u) == 0 ]]; then
		chown postgres: "$dir/pg" "$dir/pgrun"
	fi
	# A throwaway cluster: trust on loopback, no fsync. Never like this for data you keep.
	as_pg "$bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --no-sync >"$dir/pgrun/initdb.log" 2>&1 ||
		die "initdb failed: $dir/pgrun/initdb.log"
	# setsid: Ctrl-C reaches this script only, which then stops things in order.
	as_pg setsid "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pgrun/postgres.log" -w -t 30 \
		-o "-p $pg_port -k $dir/pgrun -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		start >/dev/null || die "PostgreSQL did not start: $dir/pgrun/postgres.log"
	pg_started=1
	psql -q "postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable" -c "CREATE DATABASE pavilion" >/dev/null
	database_url="postgres://postgres@127.0.0.1:$pg_port/pavilion?sslmode=disable"
}

start_redis() {
	command -v redis-server >/dev/null || die "redis-server not found (Debian: apt-get install redis-server)"
	if port_busy "$redis_port"; then die "port $redis_port is taken: set PAVILION_CLUSTER_REDIS_PORT"; fi
	mkdir -p "$dir/redis"
	setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$dir/redis" --logfile "$(log_of redis)" &
	redis_pid=$!
	for _ in $(seq 1 100); do
		kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited; its log: $(log_of redis)"
		redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
		sleep 0.1
	done
	redis_url="redis://127.0.0.1:$redis_port/0"
}

start_node() { # index
	local i=$1 http=$((http_base + $1 - 1)) media=$((media_base + $1 - 1)) metrics=$((metrics_base + $1 - 1)) args=()
	if [[ $i == 1 && $demo == 1 ]]; then args+=(--demo); fi
	mkdir -p "$dir/node$i"
	# The secret goes by the environment, out of the process list.
	PAVILION_CLUSTER_SECRET="$secret" setsid "$bin" serve \
		--http "127.0.0.1:$http" --media-port "$media" --media-addr 127.0.0.1 --public-ip 127.0.0.1 \
		--public-url "http://127.0.0.1:$http" --data-dir "$dir/node$i" \
		--database-url "$database_url" --redis-url "$redis_url" \
		--metrics-addr "127.0.0.1:$metrics" --trusted-proxies 127.0.0.1,::1 \
		--shutdown-timeout 5s "${args[@]}" >"$(log_of "node$i")" 2>&1 &
	node_pids+=($!)
}

cmd_start() {
	local pid i http
	if pid="$(running)"; then
		die "a cluster is already running under $dir (pid $pid): deploy/local-cluster.sh stop"
	fi
	for ((i = 0; i < nodes; i++)); do
		if port_busy $((http_base + i)); then die "port $((http_base + i)) is taken: set PAVILION_CLUSTER_HTTP_BASE"; fi
		if port_busy $((metrics_base + i)); then die "port $((metrics_base + i)) is taken: set PAVILION_CLUSTER_METRICS_BASE"; fi
	done
	command -v curl >/dev/null || die "curl not found"
	if [[ -d $dir ]]; then
		# Left by a run that was killed outright: its PostgreSQL may still run.
		if [[ -f $dir/pg/postmaster.pid ]]; then
			as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$dir"
	fi
	mkdir -p "$dir"
	# The postgres user must reach its data directory inside.
	chmod 0755 "$dir"
	printf '%s\n' "$$" >"$pidfile"
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	if [[ -n ${PAVILION_BIN:-} ]]; then
		bin="$PAVILION_BIN"
	else
		say "building pavilion…"
		bin="$dir/bin/pavilion"
		(cd "$root" && go build -o "$bin" ./cmd/pavilion)
	fi

	if [[ $pg_mode == private ]]; then
		say "starting a private PostgreSQL on 127.0.0.1:$pg_port…"
	else
		say "creating a fresh database through PAVILION_CLUSTER_PG…"
	fi
	start_postgres
	say "starting Redis on 127.0.0.1:$redis_port…"
	start_redis

	# Node 1 migrates (and seeds the demo) before the others join; nodes
	# starting together would be safe too (advisory lock), only noisier.
	say "starting node 1…"
	start_node 1
	wait_ready "node1" "${node_pids[0]}" "http://127.0.0.1:$http_base/readyz"
	say "starting nodes 2 and 3…"
	for ((i = 2; i <= nodes; i++)); do start_node "$i"; done
	for ((i = 2; i <= nodes; i++)); do
		wait_ready "node$i" "${node_pids[i - 1]}" "http://127.0.0.1:$((http_base + i - 1))/readyz"
	done

	cat >"$dir/env" <<-EOF
		export PAVILION_DATABASE_URL='$database_url'
		export PAVILION_REDIS_URL='$redis_url'
	EOF
	say ""
	say "Pavilion cluster: $nodes nodes on PostgreSQL and Redis (state in $dir)"
	for ((i = 1; i <= nodes; i++)); do
		http=$((http_base + i - 1))
		say "  node $i  http://127.0.0.1:$http   media udp+tcp 127.0.0.1:$((media_base + i - 1))   metrics http://127.0.0.1:$((metrics_base + i - 1))/metrics   log $(log_of "node$i")"
	done
	say "  PostgreSQL  $database_url"
	say "  Redis       $redis_url"
	if [[ $demo == 1 ]]; then
		say "  demo show   http://127.0.0.1:$http_base$(sed -n 's#^  watch    http://[^/]*##p' "$(log_of node1)" | head -1) (same path on every node)"
		say "  demo logins: password pavilion-demo, e.g. viewer@pavilion.example"
	fi
	say "  CLI against the cluster: source $dir/env; $bin demo --json"
	say "Ctrl-C (or deploy/local-cluster.sh stop) stops everything."

	# Until a signal, or until any process dies, which ends the whole cluster
	# rather than leaving a lopsided one running.
	set +e
	wait -n "${node_pids[@]}" "$redis_pid"
	rc=$?
	set -e
	for ((i = 0; i < nodes; i++)); do
		kill -0 "${node_pids[i]}" 2>/dev/null || say "node $((i + 1)) exited (status $rc); its log: $(log_of "node$((i + 1))")"
	done
	kill -0 "$redis_pid" 2>/dev/null || say "redis-server exited; its log: $(log_of redis)"
	exit 1
}

case "${1:-start}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
-h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
*) die "unknown command ${1} (start, stop, status)" ;;
esac
