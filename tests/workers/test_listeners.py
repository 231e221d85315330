"""Every listener a config starts works with two workers: HTTP, HTTPS on its own port, WebSocket,
gRPC and admin shared by both workers; metrics on one port per worker (docs/SCALING.md)."""

from __future__ import annotations

import asyncio
import re
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import yaml

from workers.helpers import EXAMPLES, ROOT, SPEC, clean_env, indexes_seen, start


def _config(tmp_path: Path) -> Path:
    cfg = {
        "http": {"port": 0, "specs": [SPEC], "tls": {"auto": True, "port": 0}},
        "websocket": {"port": 0},
        "grpc": {"port": 0, "proto_dir": str(EXAMPLES / "protos")},
        "admin": {"port": 0},
        "observability": {"metrics": {"port": 0}},
        "core": {"workers": 2, "independent_workers": True, "cache_dir": str(tmp_path / "cache")},
    }
    path = tmp_path / "mockforge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


async def _grpc_services(port: int) -> list[str]:
    from grpclib.client import Channel
    from grpclib.reflection.v1 import reflection_pb2
    from grpclib.reflection.v1.reflection_grpc import ServerReflectionStub

    ch = Channel("127.0.0.1", port)
    try:
        async with ServerReflectionStub(ch).ServerReflectionInfo.open() as stream:
            await stream.send_message(reflection_pb2.ServerReflectionRequest(list_services=""))
            answer = await stream.recv_message()
            await stream.end()
    finally:
        ch.close()
    assert answer is not None
    return sorted(s.name for s in answer.list_services_response.service)


async def _ws_echo(port: int) -> str:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        await ws.send("hello")
        return str(await ws.recv())


def test_every_listener_answers_with_two_workers(tmp_path: Path) -> None:
    tree = start("--config", str(_config(tmp_path)))
    try:
        text = "".join(tree.out)
        ports = tree.ports
        assert {"HTTP", "HTTPS", "WebSocket", "gRPC", "admin API", "metrics"} <= set(ports), text
        # HTTP and admin: one port each, answered by both workers
        indexes_seen(tree.url, {1, 2})
        indexes_seen(f"http://127.0.0.1:{ports['admin API']}", {1, 2})
        # HTTPS on its own port, with the local CA both workers share
        ca = re.search(r"CA\s+(\S+)", text)
        assert ca is not None, text
        with httpx.Client(verify=ssl.create_default_context(cafile=ca.group(1))) as c:
            r = c.get(f"https://localhost:{ports['HTTPS']}/pets/7")
        assert r.status_code == 200 and r.json()["name"] == "Rex"
        # WebSocket listener
        assert asyncio.run(_ws_echo(ports["WebSocket"])) == "hello"
        # gRPC
        services = asyncio.run(_grpc_services(ports["gRPC"]))
        assert any("mock" in name.lower() for name in services), services
        # metrics: one port per worker, each its own process's counters
        assert set(tree.worker_metrics) == {2}
        metrics_ports = {ports["metrics"], tree.worker_metrics[2]}
        assert len(metrics_ports) == 2
        for port in metrics_ports:
            r = httpx.get(f"http://127.0.0.1:{port}/metrics")
            assert r.status_code == 200 and "mockforge_" in r.text
    finally:
        code, err = tree.stop()
    assert code == 0, err


def test_inherited_socket_mode_serves_and_stops(tmp_path: Path) -> None:
    """Where SO_REUSEPORT does not balance (macOS, BSD) the workers inherit the supervisor's socket."""
    code = (
        "import sys\n"
        "from mockforge.config import load_config\n"
        "from mockforge.workers.launch import supervise\n"
        f"cfg = load_config(None, overrides={{'http.port': 0, 'http.specs': [{SPEC!r}], 'core.workers': 2,"
        " 'core.independent_workers': True, 'admin.port': 0})\n"
        "supervise(cfg, mode='inherit')\n"
    )
    tree = start(cmd=[sys.executable, "-c", code], cwd=tmp_path)
    try:
        assert "one inherited socket" in "".join(tree.out)
        pids = tree.worker_pids()
        assert len(pids) == 2
        # both workers accept from the one socket: keep asking until both have answered
        seen = indexes_seen(tree.url, {1, 2})
        assert set(seen.values()) == pids
        assert httpx.get(f"{tree.url}/pets/7").json()["name"] == "Rex"
        indexes_seen(f"http://127.0.0.1:{tree.ports['admin API']}", {1, 2})
    finally:
        rc, err = tree.stop(signal.SIGTERM)
    assert rc == 0, err
    assert not any(psutil.pid_exists(p) for p in pids)


def test_a_worker_started_by_hand_refuses_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "mockforge.workers.child"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "mockforge: error: mockforge.workers.child is started by `mockforge serve --workers N`"
    ]


def test_a_supervisor_started_by_hand_refuses_in_one_line() -> None:
    for plan in (None, "not json", '{"count": 2}'):
        env = clean_env() if plan is None else {**clean_env(), "MOCKFORGE_SUPERVISOR": plan}
        result = subprocess.run([sys.executable, "-m", "mockforge.workers.supervisor"], capture_output=True,
                                text=True, timeout=60, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        assert result.returncode == 2, (plan, result.stderr)
        assert result.stderr.strip().splitlines() == [
            "mockforge: error: mockforge.workers.supervisor is started by `mockforge serve --workers N`"
        ]
