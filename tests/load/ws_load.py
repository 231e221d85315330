"""Load test of the WebSocket mock: N clients each send M messages and time every round trip.

Starts ``mockforge.server.Server`` in a subprocess (echo on ``/ws``, HTTP and WS ports 0) unless
``--url`` points at a running one, so the server's RSS can be read with psutil before and after.
Loopback only; the number of messages and the wall time are both bounded.

    .venv/bin/python tests/load/ws_load.py --clients 100 --messages 200
    .venv/bin/python tests/load/ws_load.py --clients 1000 --messages 20 --threshold-p95-ms 500
    .venv/bin/python tests/load/ws_load.py --idle 1000          # RSS per idle connection
    .venv/bin/python tests/load/ws_load.py --url ws://127.0.0.1:3001/ws

Each client connects (all before any sends), then sends one message and awaits its echo, M times.
Prints messages/s (round trips), p50/p95/p99 latency and one verdict line. Exit 1 on any error
(connect failure, wrong echo, time cap hit) or when p95 misses the threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
SERVER = """
import asyncio, json, sys
from mockforge.config import build_config
from mockforge.server import Server

async def main():
    clients = int(sys.argv[1])
    cfg = build_config({"http": {"port": 0}, "websocket": {"port": 0, "max_connections": clients + 50,
                        "routes": [{"path": "/ws", "mode": "echo"}]}}, env={})
    server = Server(cfg)
    await server.start()
    print(json.dumps(server.ports), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(2)

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


class SpawnedServer:
    def __init__(self, clients: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(clients)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("server did not start")
        self.ports: dict[str, int] = json.loads(line)

    def rss_mb(self) -> float:
        import psutil  # type: ignore[import-untyped]

        return float(psutil.Process(self.proc.pid).memory_info().rss) / 2**20

    def cpu_s(self) -> float:
        import psutil  # type: ignore[import-untyped]

        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def open_clients(url: str, count: int, errors: list[str]) -> list[Any]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(200)  # keep the accept queue short while a thousand connect

    async def one() -> Any:
        async with gate:
            try:
                return await connect(url, compression=None, open_timeout=20, ping_interval=None)
            except Exception as exc:
                errors.append(f"connect: {exc!r}")
                return None

    clients = await asyncio.gather(*(one() for _ in range(count)))
    return [c for c in clients if c is not None]


async def drive(ws: Any, messages: int, payload: str, latencies: list[float], errors: list[str]) -> None:
    for i in range(messages):
        text = f"{i}:{payload}"
        started = time.perf_counter()
        await ws.send(text)
        answer = await ws.recv()
        latencies.append((time.perf_counter() - started) * 1000)
        if answer != text:
            errors.append(f"wrong echo: {str(answer)[:40]!r}")
            return


async def run_load(args: argparse.Namespace, url: str, server: SpawnedServer | None) -> int:
    errors: list[str] = []
    latencies: list[float] = []
    rss_before = server.rss_mb() if server else None
    t_connect = time.perf_counter()
    clients = await open_clients(url, args.clients, errors)
    connect_s = time.perf_counter() - t_connect
    rss_connected = server.rss_mb() if server else None
    payload = "x" * max(0, args.payload_bytes)
    cpu_before = server.cpu_s() if server else 0.0
    started = time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(drive(ws, args.messages, payload, latencies, errors) for ws in clients)),
            args.max_seconds,
        )
    except TimeoutError:
        errors.append(f"time cap of {args.max_seconds} s reached")
    except Exception as exc:
        errors.append(f"client: {exc!r}")
    elapsed = time.perf_counter() - started
    cpu_used = server.cpu_s() - cpu_before if server else 0.0
    rss_after = server.rss_mb() if server else None
    await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)

    lat = sorted(latencies)
    rate = len(lat) / elapsed if elapsed > 0 else 0.0
    print(f"clients: {len(clients)}/{args.clients} connected in {connect_s:.2f} s", end="; ")
    print(f"{args.messages} messages each")
    print(f"round trips: {len(lat)} in {elapsed:.2f} s = {rate:,.0f} messages/s")
    p50, p95, p99 = (percentile(lat, q) for q in (50, 95, 99))
    print(f"latency ms: p50 {p50:.2f}  p95 {p95:.2f}  p99 {p99:.2f}")
    if server:
        print(f"server RSS MB: before {rss_before:.1f}", end="  ")
        print(f"connected {rss_connected:.1f}  after load {rss_after:.1f}")
        per_msg = cpu_used * 1e6 / max(1, len(lat))
        print(f"server CPU: {cpu_used:.2f} s = {per_msg:.0f} us per round trip (message in + echo out)")
    for err in errors[:5]:
        print(f"error: {err}")
    ok = not errors and bool(lat) and p95 < args.threshold_p95_ms
    verdict = "PASS" if ok else "FAIL"
    limit = args.threshold_p95_ms
    print(f"verdict: {verdict} (p95 {p95:.2f} ms vs threshold {limit} ms, {len(errors)} errors)")
    return 0 if ok else 1


async def run_idle(args: argparse.Namespace, url: str, server: SpawnedServer) -> int:
    errors: list[str] = []
    before = server.rss_mb()
    clients = await open_clients(url, args.idle, errors)
    # one round trip each, so every connection is fully set up on the server side
    await asyncio.gather(*(drive(ws, 1, "", [], errors) for ws in clients))
    after = server.rss_mb()
    await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)
    per_kib = (after - before) * 1024 / max(1, len(clients))
    print(f"idle connections: {len(clients)}; server RSS MB before {before:.1f}, with them {after:.1f}")
    print(f"RSS per idle connection: {per_kib:.1f} KiB")
    for err in errors[:5]:
        print(f"error: {err}")
    print(f"verdict: {'PASS' if not errors else 'FAIL'} ({len(errors)} errors)")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running mock's WebSocket URL (loopback only)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100, help="round trips per client")
    parser.add_argument("--payload-bytes", type=int, default=64)
    parser.add_argument("--threshold-p95-ms", type=float, default=200.0)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap on the send phase")
    parser.add_argument("--port", choices=["ws", "http"], default="ws", help="spawned server: which port")
    parser.add_argument("--idle", type=int, default=0, help="measure RSS per idle connection with N clients")
    args = parser.parse_args()
    if args.clients < 1 or args.messages < 1 or args.clients > 5000 or args.messages > 100_000:
        parser.error("--clients must be 1..5000 and --messages 1..100000")

    server: SpawnedServer | None = None
    if args.url:
        if urlsplit(args.url).hostname not in LOOPBACK:
            parser.error("--url must be on loopback (127.0.0.1, localhost, ::1)")
        url = args.url
    else:
        server = SpawnedServer(max(args.clients, args.idle))
        url = f"ws://127.0.0.1:{server.ports[args.port]}/ws"
    try:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            if args.idle:
                if server is None:
                    parser.error("--idle needs the spawned server (no --url)")
                return runner.run(run_idle(args, url, server))
            return runner.run(run_load(args, url, server))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
