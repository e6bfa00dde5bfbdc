#!/usr/bin/env bash
# Wake-ups per accepted connection for each accept strategy of trellis
# (default: EPOLLEXCLUSIVE; --lock-engine pthread|flock|sem; --reuse-port),
# with uWSGI (default, --thunder-lock) as a reference. 4 workers, hello app,
# wrk with "Connection: close" (one connection per request) at 1 and 16
# concurrent connections. Wake-ups are counted as context switches of every
# thread of every worker (/proc/PID/task/*/status, voluntary = the thread
# blocked and was woken again) before and after the run, divided by the
# connections wrk completed. An ideal strategy wakes one worker once per
# connection (<= 1 voluntary switch per connection; fewer under load, when a
# wake-up finds several connections waiting).
#
# usage: bench/accept_wakeups.sh        (DURATION=3 by default here)
source "$(dirname "$0")/lib/common.sh"

DURATION=${WAKEUP_DURATION:-3}
PROCS=4
APP=$BENCH/apps/hello_cl.py

switches() {  # switches MASTER: "voluntary involuntary" summed over all threads of the workers
  local pid
  for pid in $(worker_pids "$1"); do cat /proc/"$pid"/task/*/status; done 2>/dev/null |
    awk '/^voluntary_ctxt_switches/ { v += $2 } /^nonvoluntary_ctxt_switches/ { n += $2 } END { print v + 0, n + 0 }'
}

variant() {  # variant LABEL CMD...
  local label=$1; shift
  local port; port=$(free_port)
  start_server wakeups "${@//PORT/$port}"
  local master=$SERVER_PID
  wait_http "http://127.0.0.1:$port/"
  wrk -t1 -c16 -d1s -H "Connection: close" "http://127.0.0.1:$port/" >/dev/null   # warm-up
  local c before after out req rps
  for c in 1 16; do
    sleep 0.5
    before=$(switches "$master")
    out=$(wrk -t1 -c$c -d${DURATION}s -H "Connection: close" -s "$BENCH/lib/wrk_report.lua" "http://127.0.0.1:$port/" | grep '^RESULT')
    after=$(switches "$master")
    req=$(cut -f2 <<<"$out"); rps=$(cut -f3 <<<"$out")
    read -r bv bn <<<"$before"; read -r av an <<<"$after"
    printf '| %s | %d | %d | %d | %.2f | %.2f | %s |\n' "$label" "$c" "$req" "$rps" \
      "$(bc -l <<<"($av - $bv) / $req")" "$(bc -l <<<"($an - $bn) / $req")" "$(cut -f6- <<<"$out" | tr '\t' /)"
  done
  stop_server "$master"
}

T=("$TRELLIS" --plugin python --plugin http --http-socket 127.0.0.1:PORT --wsgi-file "$APP" --processes $PROCS --disable-logging)
U=(uwsgi --plugin python3 --http-socket 127.0.0.1:PORT --wsgi-file "$APP" --master --processes $PROCS --disable-logging)

echo "### Accept wake-ups, $PROCS workers, one connection per request, wrk -t1 -d${DURATION}s"
echo
echo "| strategy | concurrent connections | connections | conn/s | voluntary switches per connection | involuntary per connection | non-2xx/connect/read/write/timeout errors |"
echo "|---|---:|---:|---:|---:|---:|---|"
variant "trellis default (EPOLLEXCLUSIVE)" "${T[@]}"
variant "trellis --lock-engine pthread" "${T[@]}" --lock-engine pthread
variant "trellis --lock-engine flock" "${T[@]}" --lock-engine flock
variant "trellis --lock-engine sem" "${T[@]}" --lock-engine sem
variant "trellis --reuse-port" "${T[@]}" --reuse-port
variant "uWSGI (default)" "${U[@]}"
variant "uWSGI --thunder-lock" "${U[@]}" --thunder-lock
