#!/usr/bin/env bash
# nginx -> uwsgi protocol: nginx (uwsgi_pass) in front of trellis --socket vs
# in front of uWSGI --socket; same app (examples/hello.py), 2 processes each,
# one nginx (its own config in a temp dir, loopback only, 2 workers) with one
# port per backend; wrk (keep-alive, 50 connections) against nginx.
#
# usage: bench/nginx_uwsgi.sh            (ROUNDS=3 DURATION=5 by default)
# Target: trellis >= 1.2x uWSGI.
# Also nginx -> floor/floor_server.c in uwsgi mode (no parsing, no app) as the
# reference for how far any backend can get ahead of uWSGI here.
source "$(dirname "$0")/lib/common.sh"

APP=$ROOT/examples/hello.py
PROCS=2
WRK=(-t2 -c50)
NGINX_WORKERS=${NGINX_WORKERS:-2}

up_t=$(free_port); up_u=$(free_port); up_f=$(free_port); front_t=$(free_port); front_u=$(free_port); front_f=$(free_port)
start_server trellis "$TRELLIS" --plugin python --plugin uwsgi --socket "127.0.0.1:$up_t" \
  --wsgi-file "$APP" --processes $PROCS --disable-logging
master_t=$SERVER_PID
start_server uwsgi uwsgi --plugin python3 --socket "127.0.0.1:$up_u" \
  --wsgi-file "$APP" --master --processes $PROCS --disable-logging
master_u=$SERVER_PID
build_floor
start_server floor "$FLOOR" uwsgi "$up_f" $PROCS
master_f=$SERVER_PID

start_nginx_uwsgi "$NGINX_WORKERS" "$front_t:$up_t" "$front_u:$up_u" "$front_f:$up_f"
for p in $front_t $front_u $front_f; do wait_http "http://127.0.0.1:$p/"; done
for p in $front_t $front_u $front_f; do wrk "${WRK[@]}" -d1s "http://127.0.0.1:$p/" >/dev/null; done   # warm-up

SERVERS=("nginx → trellis --socket:$front_t" "nginx → uWSGI --socket:$front_u" "floor: nginx → C, no app:$front_f")
declare -A MASTER=([$front_t]=$master_t [$front_u]=$master_u [$front_f]=$master_f)   # CPU time: the backend only, not nginx
for ((round = 1; round <= ROUNDS; round++)); do
  for ((i = 0; i < 3; i++)); do
    s=${SERVERS[(i + round) % 3]}
    CPU_OF=${MASTER[${s##*:}]} run_wrk nginx "nginx uwsgi_pass, keep-alive clients" "${s%:*}" $round "http://127.0.0.1:${s##*:}/" "${WRK[@]}"
  done
done

echo "### nginx → uwsgi protocol, hello world, $PROCS processes, nginx $NGINX_WORKERS workers, wrk ${WRK[*]} -d${DURATION}s"
echo
"$PY" "$BENCH/lib/table.py" "$RESULTS"
if [[ -s $WORK/nginx/logs/error.log ]]; then
  echo "nginx error.log (last lines):"; tail -n 5 "$WORK/nginx/logs/error.log" | sed 's/^/    /'
fi
