#!/usr/bin/env bash
# Per-request CPU cost in instructions (callgrind: counts, not time, so they
# do not depend on the machine's load): trellis vs uWSGI, 1 worker, one
# client sending requests one after another. Each server runs under
# `valgrind --tool=callgrind --trace-children=yes` (the worker is forked, so
# it gets its own profile), answers N requests and stops; the worker's total
# instruction count for N1 and N2 requests gives the marginal cost
#   (Ir(N2) - Ir(N1)) / (N2 - N1)
# which cancels start-up, import and shutdown. Only the worker is counted
# (not the master, nor the kernel).
# Cases: hello over HTTP keep-alive; apps/environ_app.py (reads every environ
# entry) with 40 extra request headers whose names all differ in length, then
# 40 whose names all have the same length (X-Bench-00..39: the worst case for
# a field-name comparison that first filters on length); hello over HTTP with
# a new connection per request (Connection: close); hello in the uwsgi
# protocol, a new connection per request as nginx's uwsgi_pass does.
# gunicorn is left out: its sync workers close every connection, and a
# pure-Python server under callgrind is too slow for this budget.
#
# usage: bench/environ_cost.sh        (N1=1000 N2=2000 by default)
source "$(dirname "$0")/lib/common.sh"

N1=${N1:-1000}
N2=${N2:-2000}
export PYTHONHASHSEED=0   # same hashing every run: counts reproducible

# worker_ir SERVER PROTO APP N CLIENT...: the worker's instructions for N requests
# (PROTO http, http-close or uwsgi; CLIENT gets the port and N appended after its first word)
worker_ir() {
  local server=$1 proto=$2 app=$3 n=$4; shift 4
  local port; port=$(free_port)
  local name; name=cg-$server-$proto-$(basename "$app" .py)-$RANDOM-$n
  local out=$WORK/$name; mkdir -p "$out"
  local -a vg=(valgrind --tool=callgrind --trace-children=yes "--callgrind-out-file=$out/cg.%p")
  local -a sock
  if [[ $server == trellis ]]; then
    [[ $proto == uwsgi ]] && sock=(--plugin uwsgi --socket) || sock=(--plugin http --http-socket)
    start_server "$name" "${vg[@]}" "$TRELLIS" --plugin python "${sock[@]}" "127.0.0.1:$port" \
      --wsgi-file "$app" --processes 1 --disable-logging
  else
    # as in http_hello.sh: --http11-socket for keep-alive, --http-socket (closes after each response) otherwise
    case $proto in http) sock=(--http11-socket) ;; http-close) sock=(--http-socket) ;; uwsgi) sock=(--socket) ;; esac
    start_server "$name" "${vg[@]}" uwsgi --plugin python3 "${sock[@]}" "127.0.0.1:$port" \
      --wsgi-file "$app" --master --processes 1 --disable-logging
  fi
  local master=$SERVER_PID
  # ready = the client's first request is answered (the worker counts it as fixed cost)
  local i
  for ((i = 0; i < 600; i++)); do "$@" "$port" 1 >/dev/null 2>&1 && break; sleep 0.2; done
  "$@" "$port" "$n"
  local wpid; wpid=$(grep -oE 'worker 1 \(pid:? [0-9]+' "$WORK/$name.log" | head -1 | grep -oE '[0-9]+$')
  stop_server "$master"
  awk '/^totals:/ { print $2 }' "$out/cg.$wpid"
}

echo "### Instructions per request (callgrind), 1 worker, marginal cost between $N1 and $N2 requests"
echo
echo "| case | server | Ir worker ($N1 req) | Ir worker ($N2 req) | instructions per request | trellis / uWSGI |"
echo "|---|---|---:|---:|---:|---:|"
HELLO=$BENCH/apps/hello_cl.py
ENVIRON=$BENCH/apps/environ_app.py
HTTP=("$PY" "$BENCH/lib/http_client.py")
row() {  # row LABEL PROTO APP CLIENT_ARGS...: the two servers' rows
  local label=$1 proto=$2 app=$3; shift 3
  local -a args=("$@")
  local server a b per trellis_per=0 shown ratio
  for server in trellis uwsgi; do
    local -a client
    if [[ $proto == uwsgi ]]; then client=(uwsgi_client); else client=(http_client "${args[@]}"); fi
    a=$(worker_ir $server $proto "$app" "$N1" run_client "${client[@]}")
    b=$(worker_ir $server $proto "$app" "$N2" run_client "${client[@]}")
    per=$(( (b - a) / (N2 - N1) ))
    if [[ $server == trellis ]]; then
      trellis_per=$per; ratio="—"
      [[ $proto == uwsgi ]] && shown="trellis --socket" || shown="trellis --http-socket"
    else
      ratio=$(printf '%.2f' "$(bc -l <<<"$trellis_per / $per")")
      case $proto in http) shown="uWSGI --http11-socket" ;; http-close) shown="uWSGI --http-socket" ;; uwsgi) shown="uWSGI --socket" ;; esac
    fi
    printf '| %s | %s | %d | %d | %d | %s |\n' "$label" "$shown" "$a" "$b" "$per" "$ratio"
  done
}
# run_client KIND [ARGS...] PORT N: the client with PORT and N first (see lib/*_client.py usage)
run_client() {
  local kind=$1; shift
  local n=${*: -1} port=${*: -2:1}
  set -- "${@:1:$#-2}"
  "$PY" "$BENCH/lib/$kind.py" "$port" "$n" "$@"
}
row "hello, HTTP keep-alive" http "$HELLO" 0 same keepalive
row "environ, 40 extra headers, names of distinct lengths, keep-alive" http "$ENVIRON" 40 distinct keepalive
row "environ, 40 extra headers, names of one length, keep-alive" http "$ENVIRON" 40 same keepalive
row "hello, HTTP Connection: close (new connection per request)" http-close "$HELLO" 0 same close
row "hello, uwsgi protocol (new connection per request, as from nginx)" uwsgi "$HELLO"
