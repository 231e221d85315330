# Sourced by tests/load/run_*.sh: start the example server on free ports, check /health, stop it.
#
#   source "$(dirname "$0")/_lib.sh"
#   start_server            # sets SERVER_PID, HTTP_PORT, WS_PORT, GRPC_PORT, ADMIN_PORT, METRICS_PORT
#   check_health || fail "..."
#   finish_checks           # sets SERVER_ALIVE and HEALTH_AFTER for check_thresholds.py
#
# The server is `python -m mockforge serve --config examples/mockforge.yaml` with every port 0;
# the bound ports are read from the lines it prints before ` ready `. An EXIT trap stops it
# (SIGTERM, then SIGKILL after 10 s) and removes the work folder.

LOAD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$LOAD_DIR/../.." && pwd)
if [[ -z "${PY:-}" ]]; then
  if [[ -x "$REPO/.venv/bin/python" ]]; then PY="$REPO/.venv/bin/python"; else PY=python3; fi
fi
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mockforge-load.XXXXXX")
SERVER_PID=""
SERVER_ALIVE=yes
HEALTH_AFTER=ok
is_ci() { [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; }

stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

_cleanup() {
  local rc=$?
  stop_server
  rm -rf "$WORK"
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "verdict: FAIL ($*)"
  if [[ -s "$WORK/server.err" ]]; then
    echo "--- server stderr (last 20 lines) ---"
    tail -n 20 "$WORK/server.err"
  fi
  exit 1
}

_port_of() {  # the port on the printed line whose label is $1
  grep -E "^[[:space:]]+$1[[:space:]]" "$WORK/server.out" | head -n 1 | grep -oE ':[0-9]+' | tail -n 1 | tr -d :
}

start_server() {
  (cd "$REPO" && exec "$PY" -m mockforge serve --config examples/mockforge.yaml --log-level warning \
    --http-port 0 --ws-port 0 --grpc-port 0 --admin-port 0 --metrics-port 0 "$@") \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  local deadline=$((SECONDS + 60))
  until grep -q ' ready ' "$WORK/server.out" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited before it was ready"
    ((SECONDS < deadline)) || fail "the server was not ready within 60 s"
    sleep 0.1
  done
  HTTP_PORT=$(_port_of HTTP)
  WS_PORT=$(_port_of WebSocket)
  GRPC_PORT=$(_port_of gRPC)
  ADMIN_PORT=$(_port_of admin)
  METRICS_PORT=$(_port_of '[Mm]etrics')
  [[ -n "$HTTP_PORT" ]] || fail "no HTTP port in the server's output"
  echo "server pid $SERVER_PID: HTTP $HTTP_PORT, WS ${WS_PORT:-none}, gRPC ${GRPC_PORT:-none}," \
    "admin ${ADMIN_PORT:-none}, metrics ${METRICS_PORT:-none}"
}

check_health() {  # GET /health on the HTTP port answers 200 with status ok
  "$PY" - "$HTTP_PORT" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5) as r:
        body = json.loads(r.read())
        ok = r.status == 200 and body.get("status") == "ok"
except Exception as exc:
    print(f"/health failed: {exc!r}")
    sys.exit(1)
print(f"/health: {'ok' if ok else 'unexpected answer ' + repr(body)}")
sys.exit(0 if ok else 1)
EOF
}

finish_checks() {  # after the load: is the server still up and healthy?
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    SERVER_ALIVE=no
    HEALTH_AFTER=failed
    return
  fi
  check_health || HEALTH_AFTER=failed
}

verdict() {  # verdict PROTOCOL RESULT_FILE LOAD_EXIT
  "$PY" "$LOAD_DIR/check_thresholds.py" "$1" "$2" --load-exit "$3" --server-log "$WORK/server.err" \
    --server-alive "$SERVER_ALIVE" --health-after "$HEALTH_AFTER"
}
