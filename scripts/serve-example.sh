#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a served page:
# installs the dependencies, builds trellis and serves examples/hello.py on
# http://127.0.0.1:8080/ with a master and two workers (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Only what serving needs; scripts/test.sh builds the rest.
cmake --build build --target trellis python_plugin http_plugin
exec build/bin/trellis --plugin python --plugin http --http-socket "${EXAMPLE_ADDR:-127.0.0.1:8080}" \
  --wsgi-file examples/hello.py --master --processes 2
