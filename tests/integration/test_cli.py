"""The CLI as a user runs it: a real process, real signals, real sockets."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def mockforge(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    return subprocess.run([sys.executable, "-m", "mockforge", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, env=env)


def start(*args: str, cwd: Path | None = None) -> tuple[subprocess.Popen[str], dict[str, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd or ROOT, env=env)
    ports: dict[str, int] = {}
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        m = re.match(r"\s+(HTTP|WebSocket|gRPC|admin API|metrics)\s+(?:\w+://)?[\d.]+:(\d+)", line)
        if m:
            ports[m.group(1)] = int(m.group(2))
        elif " ready " in line:
            break
    return proc, ports


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)  # waits, and closes the pipes (no ResourceWarning)
    return proc.returncode


def test_serve_prints_ports_answers_and_stops_on_sigterm() -> None:
    proc, ports = start("--spec", str(EXAMPLES / "petstore.yaml"), "--http-port", "0", "--admin-port", "0")
    try:
        assert set(ports) >= {"HTTP", "admin API"}
        r = httpx.get(f"http://127.0.0.1:{ports['HTTP']}/pets/7")
        assert r.status_code == 200 and r.json()["name"] == "Rex"
        ready = httpx.get(f"http://127.0.0.1:{ports['admin API']}/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ok"
    finally:
        code = stop(proc)
    assert code == 0


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = mockforge("serve", "--http-port", str(port))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "in use" in lines[0]


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "mockforge.yaml"
    cfg.write_text("http:\n  port: nope\n")
    result = mockforge("serve", "--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.strip() == f"mockforge: error: {cfg} at http.port: Expected `int`, got `str`"


def test_missing_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = mockforge("serve", "--spec", str(tmp_path / "nope.yaml"), "--http-port", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.yaml" in lines[0]


def test_validate_ok_and_broken(tmp_path: Path) -> None:
    ok = mockforge("validate", str(EXAMPLES / "petstore.yaml"))
    assert ok.returncode == 0 and ok.stdout.startswith("ok:")
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n"
        "      responses:\n        '200':\n          description: x\n          content:\n"
        "            application/json:\n              schema: {$ref: '#/components/schemas/Missing'}\n"
    )
    bad = mockforge("validate", str(broken))
    assert bad.returncode == 1
    assert "broken.yaml" in bad.stdout and "/paths/~1a~1{id}/get" in bad.stdout


def test_init_writes_a_project_that_serves(tmp_path: Path) -> None:
    result = mockforge("init", "myapi", cwd=tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "myapi" / "mockforge.yaml").read_text().startswith("# mockforge configuration")
    again = mockforge("init", "myapi", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    proc, ports = start("--http-port", "0", cwd=tmp_path / "myapi")
    try:
        r = httpx.get(f"http://127.0.0.1:{ports['HTTP']}/items/1")
        assert r.json() == {"id": 1, "name": "First item", "price": 9.5}
    finally:
        assert stop(proc) == 0


def test_help_lists_every_serve_flag() -> None:
    out = mockforge("serve", "--help").stdout
    for flag in ("--spec", "--config", "--profile", "--host", "--http-port", "--ws-port", "--grpc-port", "--admin",
                 "--admin-port", "--metrics", "--metrics-port", "--proto-dir", "--seed", "--watch", "--validation",
                 "--log-level", "--log-requests", "--port", "-p", "--shared-state"):
        assert flag in out


@pytest.mark.parametrize(
    "module", ["grpclib", "grpc", "wasmtime", "httpx", "prometheus_client", "mockforge.http.callbacks", "redis"]
)
def test_http_only_server_does_not_import_optional_stacks(module: str) -> None:
    code = f"""
import asyncio, sys, uvloop
from mockforge.config import build_config
from mockforge.server import Server
async def main():
    s = Server(build_config({{"http": {{"port": 0, "specs": [{str(EXAMPLES / 'petstore.yaml')!r}]}}}}, env={{}}))
    await s.start()
    r, w = await asyncio.open_connection("127.0.0.1", s.ports["http"])
    w.write(b"GET /pets/7 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    data = await r.read()
    assert b"Rex" in data, data
    await s.stop()
uvloop.run(main())
print("loaded" if {module!r} in sys.modules else "absent")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "absent"


@pytest.mark.parametrize("flag", ["--port", "-p"])
def test_port_and_p_are_aliases_of_http_port(flag: str, tmp_path: Path) -> None:
    proc, ports = start("--spec", str(EXAMPLES / "petstore.yaml"), flag, "0", cwd=tmp_path)
    try:
        assert httpx.get(f"http://127.0.0.1:{ports['HTTP']}/pets/7").json()["name"] == "Rex"
    finally:
        assert stop(proc) == 0
    assert "--port" in mockforge("serve", "--help").stdout


def test_serve_with_nothing_to_serve_says_what_to_pass(tmp_path: Path) -> None:
    proc, ports = start("--http-port", "0", cwd=tmp_path)
    try:
        assert httpx.get(f"http://127.0.0.1:{ports['HTTP']}/health").json()["status"] == "ok"  # still serves
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    hint = [line for line in err.splitlines() if "nothing to serve" in line]
    assert len(hint) == 1 and "--spec" in hint[0] and "--config" in hint[0] and "mockforge init" in hint[0]


def test_serve_with_a_spec_gives_no_hint(tmp_path: Path) -> None:
    proc, _ = start("--spec", str(EXAMPLES / "petstore.yaml"), "--http-port", "0", cwd=tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert "nothing to serve" not in err


def test_log_requests_prints_one_line_per_exchange(tmp_path: Path) -> None:
    proc, ports = start("--spec", str(EXAMPLES / "petstore.yaml"), "-p", "0", "--log-requests", cwd=tmp_path)
    try:
        httpx.get(f"http://127.0.0.1:{ports['HTTP']}/pets/7")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    (line,) = [line for line in err.splitlines() if " GET /pets/7 " in line]
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} http GET /pets/7 200 spec \d+\.\d\dms", line)
