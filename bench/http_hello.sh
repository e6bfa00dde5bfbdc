#!/usr/bin/env bash
# Hello world over HTTP: trellis vs uWSGI vs gunicorn, 2 worker processes each,
# wrk with 50 connections, in one run, the servers alternating.
#
# usage: bench/http_hello.sh            (ROUNDS=3 DURATION=5 by default)
#   (a) keep-alive:         trellis --http-socket vs uWSGI --http11-socket vs gunicorn (sync, 2 workers)
#   (b) Connection: close:  trellis --http-socket vs uWSGI --http-socket   vs gunicorn
# Also: CPU time of each server per request, and how many of 50 concurrent
# keep-alive connections each server answers at all (lib/keepalive_served.py).
# App: bench/apps/hello_cl.py = examples/hello.py plus Content-Length, for
# every server (uWSGI closes an unframed response and wrk then counts it as
# a read error, which would make the error columns meaningless).
# Targets: keep-alive >= 1.5x uWSGI http11-socket; close >= 1.2x uWSGI http-socket;
# no socket errors or timeouts.
# Close mode also runs floor/floor_server.c (no parsing, no app: the system
# calls of one connection and a fixed answer) as the reference for how far
# any server can get ahead of uWSGI on this machine.
source "$(dirname "$0")/lib/common.sh"

APP_DIR=$BENCH/apps
APP=$APP_DIR/hello_cl.py
PROCS=2
WRK=(-t2 -c50)

port_t=$(free_port); port_u11=$(free_port); port_u10=$(free_port); port_g=$(free_port); port_f=$(free_port)
declare -A MASTER   # port -> master pid, for the CPU time per request
start_server trellis "$TRELLIS" --plugin python --plugin http --http-socket "127.0.0.1:$port_t" \
  --wsgi-file "$APP" --processes $PROCS --disable-logging
MASTER[$port_t]=$SERVER_PID
start_server uwsgi-http11 uwsgi --plugin python3 --http11-socket "127.0.0.1:$port_u11" \
  --wsgi-file "$APP" --master --processes $PROCS --disable-logging
MASTER[$port_u11]=$SERVER_PID
start_server uwsgi-http uwsgi --plugin python3 --http-socket "127.0.0.1:$port_u10" \
  --wsgi-file "$APP" --master --processes $PROCS --disable-logging
MASTER[$port_u10]=$SERVER_PID
# gunicorn logs no access lines by default; sync workers do not keep connections alive.
start_server gunicorn /usr/bin/gunicorn --workers $PROCS --worker-class sync \
  --bind "127.0.0.1:$port_g" --chdir "$APP_DIR" hello_cl:application
MASTER[$port_g]=$SERVER_PID
build_floor
start_server floor "$FLOOR" http "$port_f" $PROCS
MASTER[$port_f]=$SERVER_PID
for p in $port_t $port_u11 $port_u10 $port_g $port_f; do wait_http "http://127.0.0.1:$p/"; done

# Warm-up (not recorded): every server, both modes.
for p in $port_t $port_u11 $port_u10 $port_g $port_f; do
  wrk "${WRK[@]}" -d1s "http://127.0.0.1:$p/" >/dev/null
  wrk "${WRK[@]}" -d1s -H "Connection: close" "http://127.0.0.1:$p/" >/dev/null
done

KA=("trellis --http-socket:$port_t" "uWSGI --http11-socket:$port_u11" "gunicorn sync:$port_g")
CL=("trellis --http-socket:$port_t" "uWSGI --http-socket:$port_u10" "gunicorn sync:$port_g" "floor (C, no app):$port_f")
for ((round = 1; round <= ROUNDS; round++)); do
  # rotate the order every round so no server always runs first or last
  for ((i = 0; i < 3; i++)); do
    s=${KA[(i + round) % 3]}
    CPU_OF=${MASTER[${s##*:}]} run_wrk http keep-alive "${s%:*}" $round "http://127.0.0.1:${s##*:}/" "${WRK[@]}"
  done
  for ((i = 0; i < 4; i++)); do
    s=${CL[(i + round) % 4]}
    CPU_OF=${MASTER[${s##*:}]} run_wrk http "Connection: close" "${s%:*}" $round "http://127.0.0.1:${s##*:}/" "${WRK[@]}" -H "Connection: close"
  done
done

echo "### HTTP hello world, $PROCS processes, wrk ${WRK[*]} -d${DURATION}s"
echo
"$PY" "$BENCH/lib/table.py" "$RESULTS"

# wrk says nothing about connections that never get an answer: count them.
echo "**keep-alive: of 50 connections opened at once, each sending one GET, how many are answered within 3 s** (lib/keepalive_served.py)"
echo
echo "| server | answered | not answered |"
echo "|---|---:|---:|"
for s in "${KA[@]}"; do
  read -r yes no < <("$PY" "$BENCH/lib/keepalive_served.py" "${s##*:}" 50)
  echo "| ${s%:*} | $yes | $no |"
done
