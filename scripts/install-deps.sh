#!/usr/bin/env bash
# Installs what trellis needs from Debian 12's packages.
#   scripts/install-deps.sh          build and run dependencies
#   scripts/install-deps.sh --test   also what the test suite and benchmarks use
set -euo pipefail

packages=(build-essential cmake ninja-build python3-dev libboost-dev libboost-program-options-dev
          libspdlog-dev libgtest-dev)
if [[ "${1:-}" == "--test" ]]; then
  # clang: libFuzzer targets; nginx-light: uwsgi_pass tests; pytest/requests:
  # integration tests; flask/django: real applications; wrk, uwsgi, gunicorn:
  # the side-by-side benchmarks.
  # file, pkgconf, dpkg-dev: the package tests (CPack's shlibdeps, pkg-config).
  # apache2-utils (ab), python3-httpx, python3-aiohttp: real HTTP clients the
  # black-box client tests drive trellis with.
  packages+=(clang libclang-rt-dev python3-pytest python3-requests python3-flask python3-django
             nginx-light wrk uwsgi-core uwsgi-plugin-python3 gunicorn curl procps file pkgconf dpkg-dev
             apache2-utils python3-httpx python3-aiohttp)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
