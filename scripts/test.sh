#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite:
# installs the dependencies, builds everything and runs every test (unit,
# integration against the real binary, nginx in front, and a short fuzz run
# of each parser). TRELLIS_FUZZ_SECONDS=0 skips the fuzzing.
# Quiet: a line per step, failures in full, a summary at the end; each step's
# whole output is in a log under build/. Failing tests do not stop the
# fuzzing: everything runs, then the exit status says whether all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
# Nothing ends this script silently: a failing step prints its log, and any
# other command that stops it (set -e) says where.
trap 'echo "scripts/test.sh: stopped at line $LINENO (exit status $?)" >&2' ERR
started=$SECONDS
scripts/install-deps.sh --test
# The estimate: 335 to 400 s of CPU time for a clean build (GCC 12, -O3);
# on a fresh Debian 12 with 2 cores, 64 s for serve-example.sh's part and
# 98 s for the rest (more when the cores are busy).
build "Building everything, tests included (the first build takes about 3 minutes on 2 cores)"

summary=()   # one line per part: PASS/FAIL, what, log
failures=()  # what failed, for the last line

# CTest's output without the lines of passing tests (a test that passes on
# its second run keeps its line, after its first failure's output) and
# without the label timings.
trim_ctest_output() {
  awk '
    function test_name(line) { sub(/.*Test +#[0-9]+: /, "", line); sub(/ .*/, "", line); return line }
    /^Internal ctest changing into directory: / || /^Test project / || /^ *Start +[0-9]+: / { next }
    /Test +#[0-9]+: .* Passed +[0-9.]+ sec$/ { if (!(test_name($0) in failed)) next }
    /Test +#[0-9]+: .*\*\*\*/ { failed[test_name($0)] = 1 }
    /^Label Time Summary:/ { labels = 1; next }
    labels { if ($0 == "") labels = 0; next }
    { print; fflush() }'
}

# Integration tests start real servers on a shared 2-core machine: a test
# that fails is run once more (its first failure stays in the output), so a
# rare scheduling hiccup does not hide the rest of the run.
total=$(ctest --test-dir build -N | sed -n 's/^Total Tests: //p')
echo "Running $total tests with CTest, two at a time (about 5 minutes; log: build/ctest.log)."
echo "Only failures and the totals are shown:"
# Without the caller's TRELLIS_* variables: trellis reads each as an option
# and refuses unknown ones, so TRELLIS_FUZZ_SECONDS=0 (or an exported
# TRELLIS_PROCESSES) would fail or bend every integration test.
# (In an if: a failing run must neither stop the script nor fire the trap.)
if (
  while read -r name; do unset "$name"; done < <(compgen -e | grep '^TRELLIS_')
  exec ctest --test-dir build --output-on-failure -j2 --timeout 600 --repeat until-pass:2
) 2>&1 | tee build/ctest.log | trim_ctest_output; then
  ctest_status=0
else
  ctest_status=${PIPESTATUS[0]}
fi
totals=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' build/ctest.log | tail -1 || true)
# "name" for a plain failure, "name (Timeout)" and the like otherwise.
failed_tests=$(sed -n -E '/^The following tests FAILED:/,$ s/^[[:space:]]*[0-9]+ - (.*)$/\1/p' build/ctest.log |
               sed 's/ (Failed)$//')
# Tests whose first run failed but not their second.
retried=$({ grep -E 'Test +#[0-9]+: .*\*\*\*' build/ctest.log || true; } | sed -E 's/.*Test +#[0-9]+: ([^ ]+) .*/\1/' | sort -u |
          while read -r name; do awk -v n="$name" '$1 == n { f = 1 } END { exit !f }' <<<"$failed_tests" || echo "$name"; done |
          paste -sd, - | sed 's/,/, /g')
# The failed tests on one line: the first ten, then how many more.
failed_list=$(head -n 10 <<<"$failed_tests" | paste -sd, - | sed 's/,/, /g')
listed=$(grep -c . <<<"$failed_tests" || true)
(( listed <= 10 )) || failed_list+=" and $((listed - 10)) more"
if [[ -z $totals ]]; then
  summary+=("FAIL  tests: CTest ended (status $ctest_status) without its totals (log: build/ctest.log)")
  failures+=("CTest did not finish")
else
  read -r _ _ _ nfailed _ _ _ _ ntotal <<<"$totals"
  if (( ctest_status == 0 )); then
    summary+=("PASS  tests: all $ntotal passed${retried:+; on a second run only: $retried} (log: build/ctest.log)")
  else
    summary+=("FAIL  tests: $nfailed of $ntotal failed: $failed_list (log: build/ctest.log)")
    failures+=("$nfailed of $ntotal tests failed")
  fi
fi

# Each fuzzer's output (a line per new input, thousands) goes to its log.
fuzz_seconds="${TRELLIS_FUZZ_SECONDS:-30}"
if (( fuzz_seconds > 0 )); then
  for script in tests/plugins/*/run_fuzz.sh; do
    name=$(basename "$(dirname "$script")")
    log=build/fuzz-$name.log
    start=$SECONDS
    printf 'Fuzzing %s for %s s (the first time builds its fuzzer with clang) ... ' "$name" "$fuzz_seconds"
    status=0
    bash "$script" "$fuzz_seconds" >"$log" 2>&1 </dev/null || status=$?
    execs=$(sed -n -E 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
    if (( status == 0 )); then
      echo "clean, ${execs:-?} executions ($(human_time $((SECONDS - start))) with the build)"
      summary+=("PASS  fuzz $name: clean, ${execs:-?} executions in $fuzz_seconds s (log: $log)")
    else
      echo "FAILED (exit status $status)"
      show_log "$log"
      summary+=("FAIL  fuzz $name: exit status $status, a finding or a build error (shown above; log: $log)")
      failures+=("fuzz $name failed")
    fi
  done
else
  summary+=("SKIP  fuzzing (TRELLIS_FUZZ_SECONDS=0)")
fi

echo
echo "== scripts/test.sh summary"
printf '%s\n' "${summary[@]}"
took=$(human_time $((SECONDS - started)))
if (( ${#failures[@]} )); then
  echo "FAILED after $took: $(printf '%s; ' "${failures[@]}" | sed 's/; $//')"
  exit 1
fi
if (( fuzz_seconds > 0 )); then
  echo "PASSED after $took: all $ntotal tests, and the fuzzers found nothing"
else
  echo "PASSED after $took: all $ntotal tests (no fuzzing)"
fi
