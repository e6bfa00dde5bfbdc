#!/usr/bin/env bash
# Installs what trellis needs from Debian 12's packages.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   also what the test suite and benchmarks use
# Quiet: one line; apt's output goes to build/install-deps.log, printed only
# if it fails.
# Does nothing when everything is installed; root or a user with sudo.
# Starts no service: the tests need nginx's binary, not a system nginx on
# port 80 (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# curl: the README's first command after serve-example.sh.
packages=(build-essential cmake ninja-build python3-dev libboost-dev libboost-program-options-dev
          libspdlog-dev libgtest-dev curl)
purpose="to build trellis"
if [[ "${1:-}" == "--test" ]]; then
  # clang: libFuzzer targets; nginx-light: uwsgi_pass tests; pytest/requests:
  # integration tests; flask/django: real applications; wrk, uwsgi, gunicorn:
  # the side-by-side benchmarks.
  # file, pkgconf, dpkg-dev: the package tests (CPack's shlibdeps, pkg-config).
  # apache2-utils (ab), python3-httpx, python3-aiohttp: real HTTP clients the
  # black-box client tests drive trellis with. libc++-dev, libc++abi-dev: the
  # SDK test builds the example plugins with clang++ and libc++ and loads them.
  # The ASGI runtime's tests and bench: python3-uvloop (--asgi-loop uvloop),
  # python3-starlette, python3-fastapi, python3-asgiref (Django's ASGI
  # handler and sync views) as real applications; uvicorn,
  # python3-httptools, python3-websockets and python3-hypercorn: the ASGI
  # servers bench/asgi.sh compares with (uvicorn --loop uvloop --http
  # httptools); python3-gevent: the asgi black-box suite's clients.
  packages+=(python3-uvloop python3-starlette python3-fastapi python3-asgiref uvicorn python3-uvicorn
             python3-httptools python3-websockets python3-hypercorn python3-gevent)
  packages+=(clang libclang-rt-dev libc++-dev libc++abi-dev python3-pytest python3-requests python3-flask python3-django
             nginx-light wrk uwsgi-core uwsgi-plugin-python3 gunicorn procps file pkgconf dpkg-dev
             apache2-utils python3-httpx python3-aiohttp)
  purpose="to build and test trellis"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
(( ${#missing[@]} )) || exit 0

sudo=()
if (( $(id -u) != 0 )); then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: installing these Debian packages needs root or sudo: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi

# Debian's way to keep maintainer scripts from starting services (invoke-rc.d
# and deb-systemd-invoke both ask it; exit 101 means "no"): a policy-rc.d
# that exists only while apt runs, and only if the machine had none (a
# container's own one is left alone).
policy=/usr/sbin/policy-rc.d
own_policy=false
# Its output (sudo's warnings, say) goes to the log too.
remove_policy() {
  if $own_policy; then
    "${sudo[@]}" rm -f "$policy" >>"$log" 2>&1
    own_policy=false
  fi
}
trap remove_policy EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

installed() {
  dpkg-query -W -f='${db:Status-Abbrev} ${binary:Package}\n' | awk '$1 == "ii" { print $2 }' | sort
}

install_packages() {
  echo "Installing: ${missing[*]}" &&
    if [[ ! -e $policy && ! -L $policy ]]; then
      own_policy=true &&
        printf '#!/bin/sh\n# trellis scripts/install-deps.sh: no service starts while it installs.\nexit 101\n' |
          "${sudo[@]}" tee "$policy" >/dev/null &&
        "${sudo[@]}" chmod 755 "$policy"
    fi &&
    "${sudo[@]}" apt-get update -q &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Use-Pty=0 "${missing[@]}"
}

mkdir -p build
log=build/install-deps.log
before=$(installed)
step "$log" "Installing ${#missing[@]} Debian packages $purpose (apt-get)" install_packages
remove_policy

# Nor should they start at boot: the units that packages installed just now
# enable (nginx.service, through nginx-light) are disabled where systemctl
# works (also offline, in a chroot).
if command -v systemctl >/dev/null; then
  new=$(comm -13 <(echo "$before") <(installed))
  disabled=()
  # shellcheck disable=SC2086  # package names have no blanks
  for unit in $(dpkg-query -L $new 2>/dev/null |
                  sed -n -E 's@^(/usr)?/lib/systemd/system/([^/@]+\.(service|socket|timer|path))$@\2@p' | sort -u); do
    # As root, like the disabling: in a chroot an unprivileged systemctl
    # cannot see that it is in one (/proc/1/root) and asks a systemd that
    # is not there.
    state=$("${sudo[@]}" systemctl is-enabled "$unit" 2>>"$log" || true)
    if [[ -z $state ]]; then
      echo "install-deps: could not tell whether $unit starts at boot (see $log)" >&2
      continue
    fi
    [[ $state == enabled ]] || continue
    if "${sudo[@]}" systemctl disable "$unit" >>"$log" 2>&1; then
      disabled+=("$unit")
    else
      echo "install-deps: could not disable $unit, which starts at boot (see $log)" >&2
    fi
  done
  if (( ${#disabled[@]} )); then
    echo "Disabled at boot what those packages enabled: ${disabled[*]} (trellis's tests start their own)"
  fi
fi
