#!/usr/bin/env bash
# 10,000 requests in flight on one worker with one thread: SDK 2's example
# asynchronous runtime (sdk/examples/timer_runtime, built out of tree against
# this build's installed SDK) answers every request from a timer after
# DELAY_MS; wrk keeps CONNECTIONS connections busy, so the ideal rate is
# CONNECTIONS / DELAY. Beside it, in the same run, uvicorn (uvloop,
# httptools, one worker) with an app that awaits asyncio.sleep for the same
# delay: the usual way to hold that many requests in Python.
#
# usage: bench/async_timer.sh   (CONNECTIONS=10000 DELAY_MS=1000 ROUNDS=3
#                                DURATION=15 by default)
source "$(dirname "$0")/lib/common.sh"

CONNECTIONS=${CONNECTIONS:-10000}
DELAY_MS=${DELAY_MS:-1000}
DURATION=${DURATION:-15}
# Both ends hold CONNECTIONS descriptors (and the server its listening ones).
need=$((CONNECTIONS + 1000))
if (( $(ulimit -Hn) < need )); then
  echo "the hard limit on open files ($(ulimit -Hn)) is below $need: raise it (limits.conf) or lower CONNECTIONS" >&2
  exit 1
fi
ulimit -n "$need"

# The example, as a plugin author builds it: against the installed SDK.
cmake --install "$(dirname "$(dirname "$TRELLIS")")" --prefix "$WORK/prefix" --component dev >/dev/null
cmake -S "$ROOT/sdk/examples/timer_runtime" -B "$WORK/timer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$WORK/prefix" >"$WORK/timer-configure.log" 2>&1 ||
  { cat "$WORK/timer-configure.log" >&2; exit 1; }
cmake --build "$WORK/timer" >"$WORK/timer-build.log" 2>&1 || { cat "$WORK/timer-build.log" >&2; exit 1; }

cat >"$WORK/asleep.py" <<APP
import asyncio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await asyncio.sleep($DELAY_MS / 1000)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"waited $DELAY_MS ms"})
APP

port_t=$(free_port); port_u=$(free_port)
backlog=$(cat /proc/sys/net/core/somaxconn)
start_server timer "$TRELLIS" --plugin-dir "$WORK/timer" --plugin timer_runtime --plugin http \
  --http-socket "127.0.0.1:$port_t" --processes 1 --threads 1 --timer-delay "$DELAY_MS" \
  --listen "$backlog" --disable-logging
pid_t=$SERVER_PID
start_server uvicorn "$PY" -m uvicorn --app-dir "$WORK" --loop uvloop --http httptools --workers 1 \
  --backlog "$backlog" --no-access-log --port "$port_u" asleep:app
pid_u=$SERVER_PID
wait_http "http://127.0.0.1:$port_t/?delay=0"
wait_http "http://127.0.0.1:$port_u/"

TRELLIS_NAME="trellis timer_runtime (1 worker, 1 thread)"
UVICORN_NAME="uvicorn asyncio.sleep (1 worker)"
SCENARIO="$CONNECTIONS connections, ${DELAY_MS} ms each"
rss_kib() { for p in "$1" $(pgrep -P "$1"); do awk '/^VmRSS/ { print $2 }' "/proc/$p/status"; done | sort -n | tail -1; }
for ((round = 1; round <= ROUNDS; round++)); do
  order=(t u); ((round % 2)) || order=(u t)
  for side in "${order[@]}"; do
    if [[ $side == t ]]; then
      CPU_OF=$pid_t run_wrk timer "$SCENARIO" "$TRELLIS_NAME" $round "http://127.0.0.1:$port_t/" \
        -t2 -c"$CONNECTIONS" --timeout $((DELAY_MS / 1000 + 10))s
      echo "  largest process of $TRELLIS_NAME after round $round: $(rss_kib $pid_t) KiB RSS" >&2
    else
      CPU_OF=$pid_u run_wrk timer "$SCENARIO" "$UVICORN_NAME" $round "http://127.0.0.1:$port_u/" \
        -t2 -c"$CONNECTIONS" --timeout $((DELAY_MS / 1000 + 10))s
      echo "  largest process of $UVICORN_NAME after round $round: $(rss_kib $pid_u) KiB RSS" >&2
    fi
  done
done

echo "### $CONNECTIONS requests in flight, each answered after $DELAY_MS ms: ideal $((CONNECTIONS * 1000 / DELAY_MS)) req/s; wrk -t2 -c$CONNECTIONS -d${DURATION}s"
echo
"$PY" "$BENCH/lib/table.py" "$RESULTS"
