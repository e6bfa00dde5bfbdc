#!/bin/sh
# Builds the uwsgi parser fuzzer (clang, libFuzzer + ASan) and runs it.
#   tests/plugins/proto_uwsgi/run_fuzz.sh [seconds]   (default 30)
# BUILD_DIR overrides the build directory, JOBS the build parallelism,
# SOURCE_DIR the CMake source tree (default: this repository).
set -eu
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
source=${SOURCE_DIR:-$root}
build=${BUILD_DIR:-$root/build-fuzz-uwsgi}
jobs=${JOBS:-2}

CC=clang CXX=clang++ cmake -S "$source" -B "$build" -G Ninja -DTRELLIS_FUZZ=ON >/dev/null
cmake --build "$build" --target fuzz_uwsgi_parser -j "$jobs"

work="$build/fuzz-uwsgi"
mkdir -p "$work/corpus"
/usr/bin/python3 "$here/make_seeds.py" "$work/seeds"
# Findings land in $work (crash-*, leak-*); the corpus grows across runs.
cd "$work"
exec "$build/bin/fuzz_uwsgi_parser" corpus seeds \
  -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
