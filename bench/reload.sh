#!/usr/bin/env bash
# Graceful reloads under load: 5 reloads 2 s apart while lib/loadgen.py sends
# requests over fresh connections (8 threads, Connection: close), for trellis
# (SIGHUP), uWSGI --master (SIGHUP, its graceful reload) and gunicorn (SIGHUP),
# 2 processes each, default settings otherwise. The app (apps/version_app.py)
# serves a version string read at import; it is changed before every reload
# and after the run 20 fresh requests must all serve the last one.
#
# usage: bench/reload.sh
# Target: trellis 0 failed requests, slowest request <= 100 ms.
source "$(dirname "$0")/lib/common.sh"

PROCS=2
RELOADS=5
now() { "$PY" -c 'import time; print(f"{time.monotonic():.6f}")'; }

reload_run() {  # reload_run NAME LABEL CMD... (CMD gets the app dir and port via $dir/$port)
  local name=$1 label=$2; shift 2
  "$@"
  local master=$SERVER_PID
  wait_http "http://127.0.0.1:$port/"
  "$PY" "$BENCH/lib/loadgen.py" "$port" 1 8 >/dev/null     # warm-up
  : >"$dir/hups"
  "$PY" "$BENCH/lib/loadgen.py" "$port" $((2 + 2 * RELOADS + 2)) 8 "$dir/records.tsv" >"$dir/summary" &
  local gen=$!
  sleep 2
  for ((k = 1; k <= RELOADS; k++)); do
    echo "v$k" >"$dir/version.txt"
    now >>"$dir/hups"
    kill -HUP "$master"
    sleep 2
  done
  wait $gen
  local check=ok body i
  for ((i = 0; i < 20; i++)); do
    body=$(curl -s --max-time 5 -H 'Connection: close' "http://127.0.0.1:$port/" || true)
    [[ $body == "v$RELOADS" ]] || check="FAILED (got '$body')"
  done
  stop_server "$master"
  "$PY" "$BENCH/lib/reload_report.py" "$label" "$dir/records.tsv" "$dir/hups" "v$RELOADS" "$check"
}

prepare() {  # fresh copy of the app with version v0; sets dir and port
  dir=$WORK/$1; mkdir -p "$dir"; cp "$BENCH/apps/version_app.py" "$dir/"; echo v0 >"$dir/version.txt"
  port=$(free_port)
}

start_trellis() { start_server trellis "$TRELLIS" --plugin python --plugin http --http-socket "127.0.0.1:$port" \
  --wsgi-file "$dir/version_app.py" --processes $PROCS --disable-logging; }
start_uwsgi() { start_server uwsgi uwsgi --plugin python3 --http-socket "127.0.0.1:$port" \
  --wsgi-file "$dir/version_app.py" --master --processes $PROCS --disable-logging; }
start_gunicorn() { start_server gunicorn /usr/bin/gunicorn --workers $PROCS --bind "127.0.0.1:$port" \
  --chdir "$dir" version_app:application; }

echo "### Graceful reload under load: $RELOADS reloads 2 s apart, 8 closed-loop clients over fresh connections, $PROCS processes"
echo
echo "| server | requests | failed | slowest ms | p99 ms | new version first served (s after last signal) | old version last served (s after) | after the run: 20 requests serve the last version | failure reasons |"
echo "|---|---:|---:|---:|---:|---:|---:|---|---|"
prepare trellis;  reload_run trellis "trellis (SIGHUP)" start_trellis
prepare uwsgi;    reload_run uwsgi "uWSGI --master (SIGHUP)" start_uwsgi
prepare gunicorn; reload_run gunicorn "gunicorn (SIGHUP)" start_gunicorn
