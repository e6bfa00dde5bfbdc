#!/usr/bin/env bash
# This build against another trellis build, side by side in one run: hello
# world over HTTP (keep-alive and Connection: close) and behind nginx
# (uwsgi_pass), 2 workers each, the two servers alternating inside every
# round. For a change that must not cost speed (SDK 2's target: req/s
# within 5% of the previous build and server CPU per request no higher).
#
# usage: BASE_BIN=/path/to/previous/bin/trellis bench/builds_ab.sh
#   (not TRELLIS_...: every TRELLIS_* variable is an option to trellis)
#   (ROUNDS=3 DURATION=5 by default; TRELLIS is this build, as elsewhere)
source "$(dirname "$0")/lib/common.sh"

: "${BASE_BIN:?set BASE_BIN to the trellis binary to compare with}"
APP_DIR=$BENCH/apps
PROCS=2
WRK=(-t2 -c50)

declare -A MASTER
port_new=$(free_port); port_old=$(free_port); up_new=$(free_port); up_old=$(free_port)
front_new=$(free_port); front_old=$(free_port)
for side in new old; do
  bin=$TRELLIS; [[ $side == old ]] && bin=$BASE_BIN
  port_var=port_$side; up_var=up_$side
  start_server "http-$side" "$bin" --plugin python --plugin http --http-socket "127.0.0.1:${!port_var}" \
    --wsgi-file "$APP_DIR/hello_cl.py" --processes $PROCS --disable-logging
  MASTER[${!port_var}]=$SERVER_PID
  start_server "uwsgi-$side" "$bin" --plugin python --plugin uwsgi --socket "127.0.0.1:${!up_var}" \
    --wsgi-file "$ROOT/examples/hello.py" --processes $PROCS --disable-logging
  MASTER[${!up_var}]=$SERVER_PID
done

start_nginx_uwsgi 2 "$front_new:$up_new" "$front_old:$up_old"
MASTER[$front_new]=${MASTER[$up_new]}   # CPU time: the backend, not nginx
MASTER[$front_old]=${MASTER[$up_old]}
for p in $port_new $port_old $front_new $front_old; do wait_http "http://127.0.0.1:$p/"; done
for p in $port_new $port_old $front_new $front_old; do   # warm-up, not recorded
  wrk "${WRK[@]}" -d1s "http://127.0.0.1:$p/" >/dev/null
  wrk "${WRK[@]}" -d1s -H "Connection: close" "http://127.0.0.1:$p/" >/dev/null
done

NEW="trellis (this build)"
OLD="previous build"
for ((round = 1; round <= ROUNDS; round++)); do
  order=(new old); ((round % 2)) || order=(old new)   # alternate who goes first
  for side in "${order[@]}"; do
    name=$NEW; [[ $side == old ]] && name=$OLD
    port_var=port_$side; front_var=front_$side
    CPU_OF=${MASTER[${!port_var}]} run_wrk ab "HTTP keep-alive" "$name" $round "http://127.0.0.1:${!port_var}/" "${WRK[@]}"
    CPU_OF=${MASTER[${!port_var}]} run_wrk ab "HTTP Connection: close" "$name" $round "http://127.0.0.1:${!port_var}/" \
      "${WRK[@]}" -H "Connection: close"
    CPU_OF=${MASTER[${!front_var}]} run_wrk ab "nginx → uwsgi" "$name" $round "http://127.0.0.1:${!front_var}/" "${WRK[@]}"
  done
done

echo "### This build vs $("$BASE_BIN" --version | head -1) ($BASE_BIN), hello world, $PROCS processes, wrk ${WRK[*]} -d${DURATION}s"
echo
"$PY" "$BENCH/lib/table.py" "$RESULTS"
