#!/usr/bin/env bash
# `make loadtest`: the HTTP, WebSocket and gRPC load tests, 30 s of hostile input, then a 60 s soak.
#
#   bash tests/load/run_all.sh
#   SOAK_SECONDS=180 bash tests/load/run_all.sh
#
# Each part starts and stops its own server on free ports. Goes on past a failing part and exits
# non-zero at the end when any failed. Under CI=true only errors, crashes, a failed /health and
# growth far beyond the soak bound fail (see run_*.sh and benchmarks/soak.py). About 3 minutes
# on 2 cores; every part has a time cap.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
if [[ -z "${PY:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
export PY
SOAK_SECONDS=${SOAK_SECONDS:-60}

declare -a NAMES=() RESULTS=()
run_part() {  # run_part NAME CAP_SECONDS COMMAND...
  local name=$1 cap=$2
  shift 2
  echo
  echo "===== $name ====="
  local started=$SECONDS
  timeout --kill-after=15 "$cap" "$@"
  local rc=$?
  NAMES+=("$name")
  if ((rc == 0)); then RESULTS+=("PASS ($((SECONDS - started)) s)"); else RESULTS+=("FAIL (exit $rc, $((SECONDS - started)) s)"); fi
}

run_part http 180 bash "$HERE/run_http.sh"
run_part websocket 240 bash "$HERE/run_ws.sh"
run_part grpc 300 bash "$HERE/run_grpc.sh"
run_part hostile 240 "$PY" "$REPO/benchmarks/hostile_load.py" --seconds 30
run_part soak $((SOAK_SECONDS + 240)) "$PY" "$REPO/benchmarks/soak.py" --seconds "$SOAK_SECONDS"

echo
echo "===== load tests ====="
failed=0
for i in "${!NAMES[@]}"; do
  printf '%-10s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}"
  [[ "${RESULTS[$i]}" == PASS* ]] || failed=$((failed + 1))
done
echo "$(( ${#NAMES[@]} - failed )) passed, $failed failed"
((failed == 0))
