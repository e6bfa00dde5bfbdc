# shellcheck shell=bash
# Sourced by scripts/*.sh, from the repository's root. Each step prints one
# line, "what ... done (time)"; its output goes to a log that is printed only
# when the step fails, so a new user sees what happens, not how.

# human_time SECONDS: "45 s", "3 min 12 s".
human_time() {
  if (( $1 < 60 )); then echo "$1 s"; else echo "$(($1 / 60)) min $(($1 % 60)) s"; fi
}

# show_log LOG: the log on stderr, ninja's progress lines ("[12/134] Building
# CXX object ...") left out: the failing command and its errors stay.
show_log() {
  {
    echo "---- $1 (ninja's progress lines left out):"
    grep -v -E '^\[[0-9]+/[0-9]+\] ' "$1" || true
    echo "---- end of $1"
  } >&2
}

# step LOG MESSAGE COMMAND...: prints MESSAGE, runs COMMAND with its output in
# LOG (replaced), then says "done" and how long it took. On failure it prints
# LOG and returns COMMAND's status. COMMAND runs in an `||` list, where bash
# ignores `set -e`: a shell function given as COMMAND must chain with &&.
step() {
  local log=$1 message=$2 start=$SECONDS status=0
  shift 2
  printf '%s ... ' "$message"
  "$@" >"$log" 2>&1 </dev/null || status=$?
  if (( status == 0 )); then
    echo "done ($(human_time $((SECONDS - start))))"
  else
    echo "FAILED (exit status $status, after $(human_time $((SECONDS - start))))"
    show_log "$log"
  fi
  return "$status"
}

# build MESSAGE [TARGET...]: configures build/ (Release, Ninja) and builds the
# targets (default: all), the output of both in build/build.log.
build() {
  local message=$1
  shift
  mkdir -p build
  step build/build.log "$message" configure_and_build "$@"
}

configure_and_build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release &&
    cmake --build build ${1:+--target "$@"}
}
