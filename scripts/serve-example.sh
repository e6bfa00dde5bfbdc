#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a served page:
# installs the dependencies, builds trellis and serves examples/hello.py on
# http://127.0.0.1:8080/ with a master and two workers (Ctrl-C stops it).
# EXAMPLE_ADDR=HOST:PORT serves elsewhere. Each step prints one line; its
# output goes to a log, printed only if it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
scripts/install-deps.sh
# Only what serving needs; scripts/test.sh builds the rest. The estimate:
# 146 s of CPU time for a clean build (GCC 12, -O3), 64 s on a fresh
# Debian 12 with 2 cores (more when they are busy).
build "Building trellis and its python and http plugins (the first build takes about a minute on 2 cores)" \
  trellis python_plugin http_plugin
addr=${EXAMPLE_ADDR:-127.0.0.1:8080}
echo "Serving examples/hello.py on http://$addr/ (try: curl http://$addr/); Ctrl-C stops it."
exec build/bin/trellis --plugin python --plugin http --http-socket "$addr" \
  --wsgi-file examples/hello.py --master --processes 2
