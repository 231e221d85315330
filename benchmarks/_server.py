"""A ``mockforge serve`` child on ports 0, plus the small clients the memory benchmarks drive.

    with Mockforge("--spec", "examples/petstore.yaml", "--http-port", "0") as mf:
        mf.ports["HTTP"], mf.rss(), mf.settled_rss(), mf.health()

Used by ``memory_footprint.py`` and ``soak.py``. The child runs in a scratch folder (so no
``./mockforge.yaml`` or ``./plugins`` of the caller's is picked up) with absolute paths; the ports
are read from the lines it prints before `` ready ``. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _util import ROOT, tree_rss

PY = sys.executable
EXAMPLES = ROOT / "examples"
CACHE_DIR = ROOT / ".mockforge-cache"
LOAD_DIR = ROOT / "tests" / "load"


class Mockforge:
    """``python -m mockforge serve ARGS`` started in ``cwd`` (a scratch folder by default)."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180.0,
                 cwd: Path | None = None) -> None:
        self._scratch = None if cwd else tempfile.mkdtemp(prefix="mockforge-bench-")
        self.cwd = cwd or Path(self._scratch or ".")
        self.args = ["-m", "mockforge", "serve", "--log-level", "warning", *args]
        self.err = tempfile.TemporaryFile()  # noqa: SIM115 - read until the object goes, after stop() too
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
        full_env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + full_env.get("PYTHONPATH", "")
        full_env.update(env or {})
        started = time.perf_counter()
        self.proc = subprocess.Popen([PY, *self.args], cwd=self.cwd, stdout=subprocess.PIPE,
                                     stderr=self.err, env=full_env, text=True)
        self.ports: dict[str, int] = {}
        self._ready = threading.Event()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        deadline = started + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"mockforge did not start ({' '.join(args)}):\n{self.stderr_tail()}")
        self.startup_s = time.perf_counter() - started

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if " ready " in line:
                self._ready.set()
            m = re.match(r"^\s+(\S.*?)\s{2,}\S*?:(\d+)\S*\s*$", line)
            if m and not self._ready.is_set():
                self.ports[m.group(1).split()[0]] = int(m.group(2))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports['HTTP']}{path}"

    def rss(self) -> int:
        return tree_rss(self.proc.pid)

    def settled_rss(self, wait: float = 2.0, samples: int = 5) -> int:
        """Median RSS over ``samples`` readings, after ``wait`` seconds of quiet."""
        time.sleep(wait)
        values = []
        for _ in range(samples):
            values.append(self.rss())
            time.sleep(0.2)
        return int(statistics.median(values))

    def health(self) -> bool:
        try:
            r = httpx.get(self.url("/health"), timeout=5)
            return r.status_code == 200 and r.json().get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(self.url("/__mockforge/stats"), timeout=10).json()
        return result

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, lines: int = 20) -> str:
        self.err.seek(0)
        return "\n".join(self.err.read().decode(errors="replace").splitlines()[-lines:])

    def tracebacks(self) -> int:
        self.err.seek(0)
        return self.err.read().decode(errors="replace").count("Traceback (most recent call last)")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> Mockforge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def all_protocols_config(folder: Path, *, plugin_dirs: list[str] | None = None) -> list[str]:
    """Write a config serving HTTP (petstore), WebSocket, gRPC, admin and metrics on ports 0 into
    ``folder``; returns the ``serve`` arguments. ``plugin_dirs`` adds plugins (none by default)."""
    cfg = {
        "http": {"port": 0, "specs": [str(EXAMPLES / "petstore.yaml")], "stubs_dir": str(EXAMPLES / "stubs")},
        "websocket": {"enabled": True, "port": 0,
                      "routes": [{"path": "/ws", "mode": "echo"}, {"path": "/ws/json", "mode": "json_echo"}]},
        "grpc": {"port": 0, "proto_dir": str(EXAMPLES / "protos"), "stubs_dir": str(EXAMPLES / "grpc_stubs")},
        "admin": {"enabled": True, "port": 0},
        "observability": {"metrics": {"enabled": True, "port": 0}},
        "plugins": {"dirs": plugin_dirs or []},
        "core": {"cache_dir": str(CACHE_DIR)},
    }
    path = folder / "mockforge.json"
    path.write_text(json.dumps(cfg, indent=2))
    return ["--config", str(path)]


def http_load(url: str, *, seconds: float, connections: int = 20, rate: float = 0.0,
              requests: int | None = None, mix: str = "petstore") -> dict[str, Any]:
    """Run ``tests/load/http_load.py`` in its own process; returns its figures."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [PY, str(LOAD_DIR / "http_load.py"), "--url", url, "--seconds", str(seconds),
               "--connections", str(connections), "--rate", str(rate), "--mix", mix, "--json", out.name, "--quiet"]
        if requests:
            cmd += ["--requests", str(requests)]
        subprocess.run(cmd, check=True, timeout=seconds + 120)
        result: dict[str, Any] = json.loads(Path(out.name).read_text())
        return result


class GrpcClient:
    """Unary and server-stream calls to ``mockforge.MockService`` (examples/protos) with grpclib."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.channel: Any = None
        self.types: dict[str, Any] = {}

    async def open(self) -> None:
        from google.protobuf import message_factory
        from grpclib.client import Channel

        from mockforge.config import build_config
        from mockforge.grpc.compiler import load_descriptor_set
        from mockforge.grpc.service import build_pool

        cfg = build_config({"grpc": {"proto_dir": str(EXAMPLES / "protos")}}, env={}).grpc
        pool, _ = build_pool((await load_descriptor_set(cfg, cache_dir=str(CACHE_DIR))).descriptor_set)
        for name in ("UnaryRequest", "UnaryResponse", "StreamRequest", "StreamResponse"):
            self.types[name] = message_factory.GetMessageClass(pool.FindMessageTypeByName(f"mockforge.{name}"))
        self.channel = Channel("127.0.0.1", self.port)

    async def unary(self, name: str = "soak") -> None:
        from grpclib.const import Cardinality

        req, resp = self.types["UnaryRequest"], self.types["UnaryResponse"]
        async with self.channel.request("/mockforge.MockService/UnaryCall", Cardinality.UNARY_UNARY,
                                        req, resp, timeout=10) as st:
            await st.send_message(req(name=name, message="hi"), end=True)
            reply = await st.recv_message()
        if reply is None or reply.name != name:
            raise AssertionError(f"unexpected unary reply {reply}")

    async def server_stream(self, count: int = 5) -> None:
        from grpclib.const import Cardinality

        req, resp = self.types["StreamRequest"], self.types["StreamResponse"]
        async with self.channel.request("/mockforge.MockService/ServerStream", Cardinality.UNARY_STREAM,
                                        req, resp, timeout=10) as st:
            await st.send_message(req(count=count, interval_ms=0), end=True)
            got = [m.sequence async for m in st]
        if got != list(range(1, count + 1)):
            raise AssertionError(f"unexpected stream {got}")

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()


async def ws_round_trip(port: int, text: str = "hello", path: str = "/ws") -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}{path}", compression=None, open_timeout=10,
                       ping_interval=None) as ws:
        await ws.send(text)
        answer = await ws.recv()
    if answer != text:
        raise AssertionError(f"wrong echo {answer!r}")
