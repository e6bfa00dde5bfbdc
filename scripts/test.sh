#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite:
# installs the dependencies, builds everything and runs every test (unit,
# integration against the real binary, nginx in front, and a short fuzz run
# of each parser). TRELLIS_FUZZ_SECONDS=0 skips the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
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
