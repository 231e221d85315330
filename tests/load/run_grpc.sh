#!/usr/bin/env bash
# gRPC load test: tests/load/grpc_load.py (mockforge.MockService, all four call kinds) against
# the example server.
#
#   bash tests/load/run_grpc.sh                # 2000 calls per kind, 16 concurrent, 20 s cap each
#   LOAD_CALLS=5000 LOAD_CONCURRENCY=32 bash tests/load/run_grpc.sh
#
# Starts the server on free ports, checks /health, runs the bounded load on the gRPC listener,
# checks each call kind against tests/load/thresholds.json, prints the verdict and stops the
# server. Under CI=true only errors, a crash or a failed /health fail the run.
set -uo pipefail
source "$(dirname "$0")/_lib.sh"

CALLS=${LOAD_CALLS:-2000}
CONCURRENCY=${LOAD_CONCURRENCY:-16}
((CALLS >= 10 && CALLS <= 100000)) || fail "LOAD_CALLS must be 10..100000"
((CONCURRENCY >= 1 && CONCURRENCY <= 256)) || fail "LOAD_CONCURRENCY must be 1..256"

start_server
check_health || fail "/health failed before the load"
[[ -n "${GRPC_PORT:-}" ]] || fail "the server printed no gRPC port"

# grpc_load.py's own gates are switched off: its exit status then means failed calls only.
timeout 240 "$PY" "$LOAD_DIR/grpc_load.py" --target "127.0.0.1:$GRPC_PORT" --calls "$CALLS" \
  --concurrency "$CONCURRENCY" --seconds 20 --min-rps 0 --max-p99-ms 1e9 \
  --cache-dir "$REPO/.mockforge-cache" >"$WORK/load.out" 2>&1
LOAD_EXIT=$?
grep -v '^thresholds:' "$WORK/load.out"

finish_checks
verdict grpc "$WORK/load.out" "$LOAD_EXIT"
