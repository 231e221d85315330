#!/usr/bin/env bash
# WebSocket load test: tests/load/ws_load.py (echo on /ws) against the example server.
#
#   bash tests/load/run_ws.sh                  # 100 clients x 1000 round trips
#   LOAD_CLIENTS=500 LOAD_MESSAGES=50 bash tests/load/run_ws.sh
#
# Starts the server on free ports, checks /health, runs the bounded load on the WebSocket
# listener, checks the figures against tests/load/thresholds.json, prints the verdict and stops
# the server. Under CI=true only errors, a crash or a failed /health fail the run.
set -uo pipefail
source "$(dirname "$0")/_lib.sh"

CLIENTS=${LOAD_CLIENTS:-100}
MESSAGES=${LOAD_MESSAGES:-1000}
((CLIENTS >= 1 && CLIENTS <= 900)) || fail "LOAD_CLIENTS must be 1..900 (the example allows 1000 connections)"
((MESSAGES >= 1 && MESSAGES <= 10000)) || fail "LOAD_MESSAGES must be 1..10000"

start_server
check_health || fail "/health failed before the load"
[[ -n "${WS_PORT:-}" ]] || fail "the server printed no WebSocket port"

# ws_load.py's own p95 gate is switched off (1e9 ms): its exit status then means errors only.
timeout 180 "$PY" "$LOAD_DIR/ws_load.py" --url "ws://127.0.0.1:$WS_PORT/ws" --clients "$CLIENTS" \
  --messages "$MESSAGES" --threshold-p95-ms 1e9 --max-seconds 120 >"$WORK/load.out" 2>&1
LOAD_EXIT=$?
grep -v '^verdict:' "$WORK/load.out"

finish_checks
verdict ws "$WORK/load.out" "$LOAD_EXIT"
