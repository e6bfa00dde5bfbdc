#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite:
# installs the dependencies, builds everything and runs every test (unit,
# integration against the real binary, nginx in front, and a short fuzz run
# of each parser). TRELLIS_FUZZ_SECONDS=0 skips the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh --test
# The estimate: 400 s of CPU time measured for a clean build (GCC 12, -O3).
build "Building everything, tests included (the first build takes about 4 minutes on 2 cores)"
# Integration tests start real servers on a shared 2-core machine: a test
# that fails is run once more (and CTest's output shows it), so a rare
# scheduling hiccup does not hide the rest of the run.
ctest --test-dir build --output-on-failure -j2 --timeout 600 --repeat until-pass:2
fuzz_seconds="${TRELLIS_FUZZ_SECONDS:-30}"
if (( fuzz_seconds > 0 )); then
  for f in tests/plugins/*/run_fuzz.sh; do
    echo "== fuzzing: $f (${fuzz_seconds}s)"
    bash "$f" "$fuzz_seconds"
  done
fi
