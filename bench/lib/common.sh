# Shared helpers for the bench/*.sh scripts (source it, don't run it).
#
# Every script starts its servers on free loopback ports in a private temp
# dir ($WORK), and kills exactly the processes it started when it exits.
# Environment:
#   TRELLIS   trellis binary (default: build-bench/bin/trellis, then build/bin/trellis)
#   ROUNDS    how many times each measurement is repeated (default 3)
#   DURATION  seconds of each wrk run (default 5)
#   KEEP_WORK=1  keep $WORK (server logs) after the run

set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(dirname "$BENCH")
if [[ -z "${TRELLIS:-}" ]]; then
  TRELLIS=$ROOT/build-bench/bin/trellis
  [[ -x $TRELLIS ]] || TRELLIS=$ROOT/build/bin/trellis
fi
PY=/usr/bin/python3             # Debian's python: the one trellis, uWSGI and gunicorn use
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WORK=$(mktemp -d /tmp/trellis-bench.XXXXXX)
RESULTS=$WORK/results.tsv
STARTED=()                      # pids of the servers this script started

cleanup() {
  local pid
  for pid in "${STARTED[@]}"; do stop_server "$pid"; done
  if [[ "${KEEP_WORK:-0}" == 1 ]]; then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME CMD...: start CMD in the background (log in $WORK/NAME.log);
# sets SERVER_PID to its pid (the master).
start_server() {
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
}

# stop_server PID: SIGINT (immediate shutdown in all three servers; SIGTERM
# is a reload in uWSGI), then SIGKILL after 10 s.
stop_server() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local -a rest=()
  for i in "${STARTED[@]}"; do [[ $i == "$pid" ]] || rest+=("$i"); done
  STARTED=("${rest[@]+"${rest[@]}"}")
}

# build_floor: compiles floor/floor_server.c into $WORK; sets FLOOR to it.
build_floor() {
  FLOOR=$WORK/floor_server
  cc -O2 -o "$FLOOR" "$BENCH/floor/floor_server.c"
}

# wait_http URL [SECONDS]: until URL answers 200 (fails after 30 s by default).
wait_http() {
  local url=$1 limit=${2:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.1
  done
  echo "server at $url did not answer within ${limit}s" >&2
  return 1
}

# wait_tcp PORT: until something listens on 127.0.0.1:PORT.
wait_tcp() {
  local port=$1 i
  for ((i = 0; i < 300; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $port" >&2
  return 1
}

# cpu_ticks PID: user and system clock ticks used so far by PID and its children
# (the master and its workers; a worker that exited is not counted)
cpu_ticks() {
  local pid
  for pid in "$1" $(pgrep -P "$1"); do cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null || true; done |
    awk '{ u += $1; s += $2 } END { print u + 0, s + 0 }'
}

# start_nginx_uwsgi WORKERS FRONT:UPSTREAM...: nginx with WORKERS worker
# processes in $WORK/nginx, one server per pair: listening on 127.0.0.1:FRONT,
# uwsgi_pass to 127.0.0.1:UPSTREAM. Sets SERVER_PID to nginx's master.
start_nginx_uwsgi() {
  local workers=$1 pair servers=""; shift
  for pair in "$@"; do
    servers+="  server { listen 127.0.0.1:${pair%%:*}; location / { uwsgi_pass 127.0.0.1:${pair##*:}; } }"$'\n'
  done
  mkdir -p "$WORK/nginx/logs"
  # "user" only matters when nginx starts as root: keep the workers as the current user.
  cat >"$WORK/nginx/nginx.conf" <<CONF
user $(id -un) $(id -gn);
worker_processes $workers;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/client_body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  include /etc/nginx/uwsgi_params;
$servers}
CONF
  start_server nginx /usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
}

# run_wrk TABLE SCENARIO SERVER ROUND URL [WRK ARGS...]: one bounded wrk run;
# appends a line to $RESULTS (see lib/wrk_report.lua for the fields). With
# CPU_OF=PID set, also the CPU time PID's process tree used per request
# (user and system, microseconds).
run_wrk() {
  local table=$1 scenario=$2 server=$3 round=$4 url=$5; shift 5
  local line before after cpu=""
  [[ -n "${CPU_OF:-}" ]] && before=$(cpu_ticks "$CPU_OF")
  line=$(timeout $((DURATION + 20)) wrk --timeout 5s -d "${DURATION}s" -s "$BENCH/lib/wrk_report.lua" "$@" "$url" \
         | grep '^RESULT' | cut -f2-)
  if [[ -n "${CPU_OF:-}" ]]; then
    after=$(cpu_ticks "$CPU_OF")
    cpu=$(awk -v b="$before" -v a="$after" -v n="$(cut -f1 <<<"$line")" -v hz="$(getconf CLK_TCK)" 'BEGIN {
      split(b, x, " "); split(a, y, " "); printf "\t%.1f\t%.1f", (y[1] - x[1]) * 1e6 / hz / n, (y[2] - x[2]) * 1e6 / hz / n }')
  fi
  printf '%s\t%s\t%s\t%s\t%s%s\n' "$table" "$scenario" "$server" "$round" "$line" "$cpu" >>"$RESULTS"
  printf '  %-10s %-28s round %s: %s\n' "$scenario" "$server" "$round" "$line" >&2
}

# Worker pids of a master: its children, minus trellis' loader process.
worker_pids() {
  local master=$1 pid
  for pid in $(pgrep -P "$master"); do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == trellis-loader ]] || echo "$pid"
  done
}
