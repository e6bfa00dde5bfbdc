#!/usr/bin/env bash
# Run every benchmark once, one after another, and write one markdown report
# (machine, versions, exact commands, then each script's tables) to
# bench/results/latest.md (or $1). docs/performance.md is pasted from it.
#
# usage: bench/run_all.sh [OUT.md]
#   build first: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
OUT=${1:-$BENCH/results/latest.md}
mkdir -p "$(dirname "$OUT")"
TRELLIS=${TRELLIS:-$ROOT/build-bench/bin/trellis}
[[ -x $TRELLIS ]] || TRELLIS=$ROOT/build/bin/trellis
export TRELLIS

{
  echo "# trellis benchmark run"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo)"
  echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- trellis: $("$TRELLIS" --version 2>&1 | head -1), git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo ' + uncommitted changes'), $TRELLIS"
  echo "- uWSGI: $(uwsgi --version) (Debian uwsgi-core, plugin python3)"
  echo "- gunicorn: $(/usr/bin/gunicorn --version 2>&1) (sync workers)"
  echo "- nginx: $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
  echo "- python: $(/usr/bin/python3 --version 2>&1); wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); valgrind: $(valgrind --version)"
  echo
} >"$OUT"

for script in http_hello nginx_uwsgi reload memory accept_wakeups environ_cost; do
  echo "== $script" >&2
  start=$(date +%s)
  "$BENCH/$script.sh" >>"$OUT"
  echo >>"$OUT"
  echo "(\`bench/$script.sh\`: $(($(date +%s) - start)) s, load average after: $(cut -d' ' -f1-3 /proc/loadavg))" >>"$OUT"
  echo >>"$OUT"
done
echo "report written to $OUT" >&2
