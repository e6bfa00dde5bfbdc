#!/bin/sh
# Builds the HTTP parser fuzzer with clang (-fsanitize=fuzzer,address) in
# build-fuzz/ and runs it for the given number of seconds (default 30) on a
# copy of the seed corpus. Exits non-zero if the fuzzer finds anything.
#
#   tests/plugins/proto_http/run_fuzz.sh [seconds]
set -eu
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${TRELLIS_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${TRELLIS_FUZZ_BUILD_JOBS:-2}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DTRELLIS_FUZZ=ON >/dev/null
fi
cmake --build "$build" --target fuzz_http_parser -j"$jobs"

artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/corpus/* "$work"/
cd "$work"
# -timeout: any single input taking a second is a bug (quadratic parsing).
"$build/bin/fuzz_http_parser" -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 \
  -max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work"
