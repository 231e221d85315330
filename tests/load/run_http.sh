#!/usr/bin/env bash
# HTTP load test: the petstore mix (tests/load/http_mix.lua) against the example server.
#
#   bash tests/load/run_http.sh                 # 20 s, 50 connections
#   LOAD_SECONDS=60 LOAD_CONNECTIONS=100 bash tests/load/run_http.sh
#   LOAD_TOOL=python bash tests/load/run_http.sh   # force the Python load generator
#
# Starts the server on free ports, checks /health, runs wrk (installed with apt-get when missing,
# as root; otherwise tests/load/http_load.py sends the same mix), checks the figures against
# tests/load/thresholds.json, prints the verdict and stops the server. Under CI=true only errors,
# a crash or a failed /health fail the run.
set -uo pipefail
source "$(dirname "$0")/_lib.sh"

DURATION=${LOAD_SECONDS:-20}
CONNECTIONS=${LOAD_CONNECTIONS:-50}
TOOL=${LOAD_TOOL:-auto}
((DURATION >= 1 && DURATION <= 600)) || fail "LOAD_SECONDS must be 1..600"
((CONNECTIONS >= 1 && CONNECTIONS <= 1000)) || fail "LOAD_CONNECTIONS must be 1..1000"

if [[ "$TOOL" == auto ]]; then
  if ! command -v wrk >/dev/null && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "wrk is missing: installing it with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    timeout 120 apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { timeout 180 apt-get update -qq >/dev/null 2>&1 && timeout 120 apt-get install -y -qq wrk >/dev/null 2>&1; } ||
      echo "apt-get could not install wrk"
  fi
  if command -v wrk >/dev/null; then TOOL=wrk; else TOOL=python; fi
fi

start_server
check_health || fail "/health failed before the load"

echo "load: $TOOL, $CONNECTIONS connections, $DURATION s, mix 40% GET /pets, 30% GET /pets/{id}, 20% POST /pets, 10% DELETE /pets/{id}"
URL="http://127.0.0.1:$HTTP_PORT"
if [[ "$TOOL" == wrk ]]; then
  timeout $((DURATION + 60)) wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
    -s "$LOAD_DIR/http_mix.lua" "$URL" >"$WORK/load.out" 2>&1
  LOAD_EXIT=$?
  grep -v '^MOCKFORGE_RESULT ' "$WORK/load.out"
  grep '^MOCKFORGE_RESULT ' "$WORK/load.out" | sed 's/^MOCKFORGE_RESULT //' >"$WORK/figures.json"
else
  timeout $((DURATION + 60)) "$PY" "$LOAD_DIR/http_load.py" --url "$URL" --connections "$CONNECTIONS" \
    --seconds "$DURATION" --json "$WORK/figures.json"
  LOAD_EXIT=$?
fi

finish_checks
verdict http "$WORK/figures.json" "$LOAD_EXIT"
