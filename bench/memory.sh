#!/usr/bin/env bash
# Idle memory per worker after warm-up: trellis vs uWSGI vs gunicorn, 2 worker
# processes each, for the hello app and a Flask app. Each server in turn:
# start, 3 s of wrk (keep-alive, 8 connections), 2 s idle, then read every
# process of the server from /proc: VmRSS (status) and Pss (smaps_rollup).
# Pss splits pages shared after fork between the processes sharing them, so
# "total Pss" (master + loader + workers) is the server's real footprint.
#
# usage: bench/memory.sh
# Target: trellis <= uWSGI (per-worker).
source "$(dirname "$0")/lib/common.sh"

PROCS=2
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "$1"; }

measure() {  # measure APP LABEL: reads the server started last ($SERVER_PID, $port)
  local app=$1 label=$2 master=$SERVER_PID pid rss pss n=0 wrss=0 wpss=0 tpss=0 trss=0
  wait_http "http://127.0.0.1:$port/"
  wrk -t1 -c8 -d3s "http://127.0.0.1:$port/" >/dev/null
  sleep 2
  local workers; workers=$(worker_pids "$master")
  for pid in $master $(pgrep -P "$master"); do
    rss=$(kb "/proc/$pid/status" VmRSS); pss=$(kb "/proc/$pid/smaps_rollup" Pss)
    trss=$((trss + rss)); tpss=$((tpss + pss))
    if grep -qx "$pid" <<<"$workers"; then n=$((n + 1)); wrss=$((wrss + rss)); wpss=$((wpss + pss)); fi
  done
  printf '| %s | %s | %d | %.1f | %.1f | %.1f | %.1f |\n' "$app" "$label" "$n" \
    "$(bc -l <<<"$wrss / $n / 1024")" "$(bc -l <<<"$wpss / $n / 1024")" \
    "$(bc -l <<<"$trss / 1024")" "$(bc -l <<<"$tpss / 1024")" | tee -a "$WORK/rows"
  stop_server "$master"
}

echo "### Idle memory after warm-up, $PROCS workers (MiB)"
echo
echo "| app | server | workers | RSS per worker | Pss per worker | total RSS (all processes) | total Pss (all processes) |"
echo "|---|---|---:|---:|---:|---:|---:|"
for app in hello flask; do
  if [[ $app == hello ]]; then dir=$ROOT/examples; file=hello.py; mod=hello:application
  else dir=$BENCH/apps; file=flask_app.py; mod=flask_app:application; fi
  port=$(free_port)
  start_server "trellis-$app" "$TRELLIS" --plugin python --plugin http --http-socket "127.0.0.1:$port" \
    --wsgi-file "$dir/$file" --processes $PROCS --disable-logging
  measure $app trellis
  port=$(free_port)
  start_server "uwsgi-$app" uwsgi --plugin python3 --http-socket "127.0.0.1:$port" \
    --wsgi-file "$dir/$file" --master --processes $PROCS --disable-logging
  measure $app "uWSGI --master"
  port=$(free_port)
  start_server "gunicorn-$app" /usr/bin/gunicorn --workers $PROCS --bind "127.0.0.1:$port" --chdir "$dir" "$mod"
  measure $app gunicorn
done

echo
# trellis / uWSGI for each app and column (from the rows above; < 1 means trellis uses less)
awk -F' *[|] *' '{ v[$2, $3] = $0; for (i = 5; i <= 8; i++) x[$2, $3, i] = $i; apps[$2] = 1 }
  END { for (a in apps) printf "trellis / uWSGI, %s: RSS per worker %.2f, Pss per worker %.2f, total RSS %.2f, total Pss %.2f\n", a,
        x[a, "trellis", 5] / x[a, "uWSGI --master", 5], x[a, "trellis", 6] / x[a, "uWSGI --master", 6],
        x[a, "trellis", 7] / x[a, "uWSGI --master", 7], x[a, "trellis", 8] / x[a, "uWSGI --master", 8] }' "$WORK/rows" | sort
