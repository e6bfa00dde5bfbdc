#!/usr/bin/env bash
# ASGI: trellis (--plugin asgi --plugin http) vs uvicorn (--loop uvloop
# --http httptools) vs hypercorn (uvloop worker class), 2 workers each, wrk on
# the same machine, the servers alternating inside every round.
#
# usage: bench/asgi.sh              (ROUNDS=3 DURATION=5 by default)
#   (a) hello world over keep-alive, wrk -t2 -c50     (apps/asgi_hello.py)
#   (b) a view that awaits asyncio.sleep(0.1), -c512  (apps/asgi_sleep.py):
#       the ideal is 512 / 0.1 s = 5,120 req/s whatever the worker count
# For each: req/s, p99, errors, server CPU per request (master + workers,
# from /proc), and every server against uvicorn; then idle RSS per worker
# after the hello rounds.
# Targets (issue 15): hello >= 2x uvicorn's req/s and <= 0.5x its CPU per
# request; the 100 ms view >= 0.95x the ideal (4,860 req/s), p99 < 130 ms,
# no errors; idle RSS per worker <= uvicorn's.
# A trellis without the asgi plugin is named as such and left out: it gets
# no row at all rather than numbers that measure something else.
#
# Needs (Debian 12): wrk, uvicorn, python3-uvloop, python3-httptools,
# python3-hypercorn, bc.
source "$(dirname "$0")/lib/common.sh"

APP_DIR=$BENCH/apps
PROCS=2
IDEAL=5120

# Does this trellis have the asgi plugin? The test that counts: it starts
# with --plugin asgi on the hello app and answers "Hello World!".
HAVE_TRELLIS=0
why_not=""
if [[ ! -x $TRELLIS ]]; then
  why_not="no trellis binary at $TRELLIS (build first, or set TRELLIS)"
else
  port=$(free_port)
  start_server trellis-probe "$TRELLIS" --plugin asgi --plugin http --http-socket "127.0.0.1:$port" \
    --asgi-file "$APP_DIR/asgi_hello.py" --processes 1 --disable-logging
  for ((i = 0; i < 200; i++)); do
    [[ $(curl -s --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null) == "Hello World!" ]] && { HAVE_TRELLIS=1; break; }
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  stop_server "$SERVER_PID"
  if ((!HAVE_TRELLIS)); then
    why_not="$TRELLIS does not serve ASGI (no asgi plugin?): $(grep -v '^\s*$' "$WORK/trellis-probe.log" | tail -1)"
    "$TRELLIS" --plugins-list 2>/dev/null | awk '$1 == "asgi" { found = 1 } END { exit !found }' ||
      why_not="$TRELLIS has no asgi plugin (--plugins-list does not list it; starting it says: $(grep -v '^\s*$' "$WORK/trellis-probe.log" | tail -1))"
  fi
fi

# start_all APP: every server on APP (asgi_hello or asgi_sleep); sets
# SERVERS to "label:port" entries and MASTER[port] to the master's pid.
declare -A MASTER
start_all() {
  local app=$1 port
  SERVERS=()
  if ((HAVE_TRELLIS)); then
    port=$(free_port)
    start_server "trellis-$app" "$TRELLIS" --plugin asgi --plugin http --http-socket "127.0.0.1:$port" \
      --asgi-file "$APP_DIR/$app.py" --processes $PROCS --disable-logging
    MASTER[$port]=$SERVER_PID
    SERVERS+=("trellis asgi:$port")
  fi
  port=$(free_port)
  start_server "uvicorn-$app" "$PY" -m uvicorn --app-dir "$APP_DIR" "$app:app" --host 127.0.0.1 --port "$port" \
    --workers $PROCS --loop uvloop --http httptools --no-access-log --log-level warning
  MASTER[$port]=$SERVER_PID
  SERVERS+=("uvicorn:$port")
  port=$(free_port)
  # hypercorn imports app modules from its working directory; no access log by default
  start_server "hypercorn-$app" env -C "$APP_DIR" "$PY" -m hypercorn --workers $PROCS --worker-class uvloop \
    --bind "127.0.0.1:$port" "$app:app"
  MASTER[$port]=$SERVER_PID
  SERVERS+=("hypercorn:$port")
  local s
  for s in "${SERVERS[@]}"; do
    if ! wait_http "http://127.0.0.1:${s##*:}/" 60; then
      echo "${s%:*} did not start; its log:" >&2
      cat "$WORK/${s%%[ :]*}-$app.log" >&2 || true
      exit 1
    fi
  done
}

stop_all() {
  local s
  for s in "${SERVERS[@]}"; do stop_server "${MASTER[${s##*:}]}"; done
}

# rounds TABLE SCENARIO WRK-ARGS...: ROUNDS rounds, the servers' order rotating.
rounds() {
  local table=$1 scenario=$2; shift 2
  local n=${#SERVERS[@]} round i s
  for s in "${SERVERS[@]}"; do wrk "$@" -d1s "http://127.0.0.1:${s##*:}/" >/dev/null; done   # warm-up
  for ((round = 1; round <= ROUNDS; round++)); do
    for ((i = 0; i < n; i++)); do
      s=${SERVERS[(i + round - 1) % n]}
      CPU_OF=${MASTER[${s##*:}]} run_wrk "$table" "$scenario" "${s%:*}" $round "http://127.0.0.1:${s##*:}/" "$@"
    done
  done
}

kb() { awk -v k="$2" '$1 == k":" { print $2 }' "$1"; }

# The worker processes of a server: the master's children, less trellis's
# loader and Python's multiprocessing helpers.
asgi_workers() {
  local pid
  for pid in $(worker_pids "$1"); do
    grep -q "resource_tracker\|semaphore_tracker" "/proc/$pid/cmdline" 2>/dev/null || echo "$pid"
  done
}

idle_rss() {  # rows of the idle memory table, for the servers running now
  local s master pid n wrss rss
  for s in "${SERVERS[@]}"; do
    master=${MASTER[${s##*:}]}
    n=0 wrss=0
    for pid in $(asgi_workers "$master"); do
      rss=$(kb "/proc/$pid/status" VmRSS)
      n=$((n + 1)); wrss=$((wrss + rss))
    done
    ((n > 0)) || { echo "| ${s%:*} | 0 | — | — |"; continue; }
    printf '| %s | %d | %.1f | %.1f |\n' "${s%:*}" "$n" "$(bc -l <<<"$wrss / $n / 1024")" \
      "$(bc -l <<<"$(kb "/proc/$master/status" VmRSS) / 1024")"
  done
}

echo "### ASGI, $PROCS workers each: trellis vs uvicorn vs hypercorn, wrk -d${DURATION}s, $ROUNDS rounds"
echo
if ((HAVE_TRELLIS)); then
  echo "trellis: $("$TRELLIS" --version 2>&1 | head -1) ($TRELLIS)"
else
  echo "**trellis is NOT measured: $why_not.** The tables below compare uvicorn and hypercorn only."
fi
echo "uvicorn $("$PY" -c 'import uvicorn; print(uvicorn.__version__)') (--loop uvloop --http httptools), hypercorn $("$PY" -c 'import importlib.metadata as m; print(m.version("hypercorn"))') (-k uvloop), $("$PY" --version)"
echo "$(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (wrk shares the CPUs with the servers)"
echo

start_all asgi_hello
rounds asgi "hello, keep-alive, -c50" -t2 -c50
sleep 2   # idle, as bench/memory.sh: let every server settle after the load
IDLE=$(idle_rss)
stop_all

start_all asgi_sleep
rounds asgi "await asyncio.sleep(0.1), -c512 (ideal 5,120 req/s)" -t2 -c512
stop_all

"$PY" "$BENCH/lib/table.py" "$RESULTS" --base uvicorn
echo "(Read errors in the keep-alive table are connections the server closed while wrk meant to reuse them:"
echo "Debian's hypercorn 0.13.2 with h11 0.14 closes the connection after every response, so its keep-alive row"
echo "really measures one connection per request.)"
echo

echo "**The 100 ms view against its ideal ($IDEAL req/s: 512 connections / 0.1 s)**"
echo
echo "| server | req/s (median) / ideal |"
echo "|---|---:|"
"$PY" - "$RESULTS" $IDEAL <<'PY'
import statistics, sys
rps = {}
for line in open(sys.argv[1]):
    p = line.rstrip("\n").split("\t")
    if "sleep" in p[1]:
        rps.setdefault(p[2], []).append(float(p[5]))
for server, values in rps.items():
    print(f"| {server} | {statistics.median(values) / float(sys.argv[2]):.2f} |")
PY
echo
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "**Idle RSS after the hello rounds (MiB)**"
echo
echo "| server | workers | RSS per worker | master RSS |"
echo "|---|---:|---:|---:|"
echo "$IDLE"
