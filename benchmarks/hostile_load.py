"""Hostile-input load: 30 s of attacks on one server while a normal client measures it.

    python benchmarks/hostile_load.py [--seconds 30] [--json out.json]

Starts mockforge (HTTP with the example spec and a stub, WebSocket echo on the HTTP port, gRPC
with the example proto) on free loopback ports, waits for it, measures idle RSS, then runs at
once, for ``--seconds``:

- slowloris: 200 connections that dribble one header byte a second;
- header floods: connections sending megabytes of header lines;
- ReDoS: catastrophic ``path_regex`` log queries and catastrophic stub regexes via the admin API;
- huge bodies: ``Content-Length: 1 GiB`` announced, then megabytes sent;
- deep JSON: 200,000 nested arrays posted to a validated route;
- WebSocket floods: clients that send 1 MiB messages to the echo route and never read;
- gRPC floods: streams announcing 64 MiB messages, and many open streams per connection.

A separate process (so the attackers' own CPU use does not colour its figures) sends
``GET /health`` and ``GET /pets/7`` every 20 ms and records each latency and failure. The
script prints normal-client failures, p50/p99 latency, idle and peak RSS, and each attack's
count. Exit status: non-zero when a normal request failed or RSS passed idle + 50 MB; the p99
verdict is printed, never gating (the machines are shared). Every loop is bounded in time and
count and only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from _util import PY, ROOT, PeakSampler, free_port, mockforge_args, server_process, tree_rss

P99_TARGET_MS = 100.0
RSS_SLACK_MB = 50.0


# ---- the normal client (own process) --------------------------------------------------------
def probe(base: str, seconds: float) -> dict[str, object]:
    import httpx

    lat: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=5.0) as client:
        while time.monotonic() < deadline:
            for path in ("/health", "/pets/7"):
                t0 = time.perf_counter()
                try:
                    r = client.get(path)
                    ok = r.status_code == 200 and (path != "/pets/7" or "name" in r.json())
                    if not ok:
                        failures.append(f"{path}: {r.status_code} {r.text[:80]}")
                except Exception as exc:  # a timeout or a refused connection is a failure
                    failures.append(f"{path}: {type(exc).__name__} {exc}")
                lat.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.02)
    lat.sort()
    n = len(lat)
    return {
        "requests": n,
        "failed": len(failures),
        "failures": failures[:10],
        "p50_ms": lat[n // 2] if n else 0.0,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] if n else 0.0,
        "max_ms": lat[-1] if n else 0.0,
    }


# ---- attackers ----------------------------------------------------------------------------
class Attacks:
    def __init__(self, host: str, port: int, grpc_port: int, until: float) -> None:
        self.host, self.port, self.grpc_port, self.until = host, port, grpc_port, until
        self.counts: dict[str, int] = {}

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def live(self) -> bool:
        return time.monotonic() < self.until

    async def _conn(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)

    async def _drain_answer(self, reader: asyncio.StreamReader, limit: int = 4096) -> bytes:
        try:
            return await asyncio.wait_for(reader.read(limit), 5)
        except (TimeoutError, OSError):
            return b""

    async def slowloris(self) -> None:
        while self.live():
            try:
                reader, writer = await self._conn()
                writer.write(b"GET /pets/7 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                self.count("slowloris_connections")
                while self.live() and not reader.at_eof():
                    writer.write(b"X")
                    await writer.drain()
                    await asyncio.sleep(1.0)
                writer.close()
            except OSError:
                self.count("slowloris_closed_by_server")
                await asyncio.sleep(0.2)

    async def header_flood(self) -> None:
        line = b"X-Flood: " + b"a" * 8000 + b"\r\n"
        while self.live():
            try:
                reader, writer = await self._conn()
                writer.write(b"GET /pets/7 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                for _ in range(256):  # up to 2 MB, stops when the server closes
                    writer.write(line)
                    await writer.drain()
                answer = await self._drain_answer(reader)
                self.count("header_flood_" + (answer[9:12].decode() if answer[:5] == b"HTTP/" else "closed"))
                writer.close()
            except OSError:
                self.count("header_flood_closed")
            await asyncio.sleep(0.05)

    async def redos(self) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=f"http://{self.host}:{self.port}", timeout=10.0) as client:
            await client.get("/" + "a" * 40 + "!")
            stub = {"request": {"method": "GET", "path": {"regex": r"^/api/(\w+/?)+$"}}, "response": {"status": 200}}
            while self.live():
                try:
                    r = await client.get("/__mockforge/logs", params={"path_regex": "(a+)+$"})
                    self.count(f"redos_log_query_{r.status_code}")
                    r = await client.post("/__mockforge/stubs", json=stub)
                    self.count(f"redos_stub_add_{r.status_code}")
                    if r.status_code < 300:  # keep the store small: one hostile stub at a time
                        await client.delete(f"/__mockforge/stubs/{r.json()['stubs'][0]['id']}")
                    r = await client.get("/api/" + "a/" * 20 + "!")
                    self.count(f"redos_request_{r.status_code}")
                except httpx.HTTPError as exc:
                    self.count(f"redos_error_{type(exc).__name__}")
                await asyncio.sleep(0.05)

    async def huge_body(self) -> None:
        chunk = b"x" * 65536
        while self.live():
            try:
                reader, writer = await self._conn()
                writer.write(b"POST /pets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1073741824\r\n\r\n")
                for _ in range(64):  # 4 MiB at most, stops when the server closes
                    writer.write(chunk)
                    await writer.drain()
                answer = await self._drain_answer(reader)
                self.count("huge_body_" + (answer[9:12].decode() if answer[:5] == b"HTTP/" else "closed"))
                writer.close()
            except OSError:
                self.count("huge_body_closed")
            await asyncio.sleep(0.05)

    async def deep_json(self) -> None:
        import httpx

        body = b"[" * 200_000 + b"]" * 200_000
        async with httpx.AsyncClient(base_url=f"http://{self.host}:{self.port}", timeout=10.0) as client:
            while self.live():
                try:
                    r = await client.post("/pets", content=body, headers={"content-type": "application/json"})
                    self.count(f"deep_json_{r.status_code}")
                except httpx.HTTPError as exc:
                    self.count(f"deep_json_error_{type(exc).__name__}")
                await asyncio.sleep(0.05)

    async def ws_flood(self) -> None:
        payload = os.urandom(1 << 20)
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload[:4096])) * 256
        frame = b"\x82\xff" + struct.pack(">Q", len(masked)) + mask + masked
        while self.live():
            try:
                reader, writer = await self._conn()
                writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
                await writer.drain()
                head = await self._drain_answer(reader, 1024)
                if b" 101 " not in head[:20]:
                    self.count("ws_refused")
                    writer.close()
                    await asyncio.sleep(0.2)
                    continue
                self.count("ws_connections")
                sent = 0
                try:
                    while self.live() and sent < 64:  # never reads the echoes
                        writer.write(frame)
                        await asyncio.wait_for(writer.drain(), 5)
                        sent += 1
                        self.count("ws_messages_sent")
                except (OSError, TimeoutError):
                    self.count("ws_send_failed")
                # what the server sent meanwhile: its echoes, then a close frame naming the slow reader
                seen, outcome = b"", "ws_not_closed"
                try:
                    while len(seen) < 64 << 20:
                        chunk = await asyncio.wait_for(reader.read(1 << 20), 2)
                        if not chunk:
                            outcome = "ws_dropped_by_server"
                            break
                        seen = seen[-4096:] + chunk
                        if b"send queue full" in seen:
                            outcome = "ws_closed_as_slow_reader"
                            break
                except OSError:
                    outcome = "ws_dropped_by_server"
                except TimeoutError:
                    pass
                self.count(outcome)
                writer.close()
            except (OSError, TimeoutError):
                self.count("ws_error")
            await asyncio.sleep(0.05)

    async def grpc_flood(self) -> None:
        import h2.config
        import h2.connection
        import h2.events

        path = "/mockforge.MockService/UnaryCall"
        while self.live():
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.grpc_port), 5)
                conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                conn.initiate_connection()
                for _ in range(50):
                    sid = conn.get_next_available_stream_id()
                    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                                            (":authority", f"{self.host}:{self.grpc_port}"),
                                            ("content-type", "application/grpc"), ("te", "trailers")])
                    # announce 64 MiB, send what the window allows
                    conn.send_data(sid, b"\x00" + struct.pack(">I", 64 << 20) + b"\x00" * 1000)
                    self.count("grpc_streams")
                writer.write(conn.data_to_send())
                await writer.drain()
                statuses: dict[str, int] = {}
                end = time.monotonic() + 5
                while time.monotonic() < end and sum(statuses.values()) < 50:
                    data = await asyncio.wait_for(reader.read(65536), 5)
                    if not data:
                        break
                    for ev in conn.receive_data(data):
                        if isinstance(ev, (h2.events.TrailersReceived, h2.events.ResponseReceived)):
                            for k, v in ev.headers:
                                if k in (b"grpc-status", "grpc-status"):
                                    key = v.decode() if isinstance(v, bytes) else v
                                    statuses[key] = statuses.get(key, 0) + 1
                        elif isinstance(ev, h2.events.StreamReset):
                            statuses["reset"] = statuses.get("reset", 0) + 1
                    writer.write(conn.data_to_send())
                for k, v in statuses.items():
                    self.count(f"grpc_status_{k}", v)
                writer.close()
            except Exception as exc:  # any protocol error counts
                self.count(f"grpc_error_{type(exc).__name__}")
            await asyncio.sleep(0.05)

    #: attack -> how many run at once
    PLAN: ClassVar[dict[str, int]] = {"slowloris": 200, "header_flood": 4, "redos": 2, "huge_body": 4,
                                      "deep_json": 2, "ws_flood": 4, "grpc_flood": 2}

    async def run(self, only: set[str] | None = None) -> None:
        tasks = []
        for name, n in self.PLAN.items():
            if only is None or name in only:
                attack = getattr(self, name)
                tasks += [attack() for _ in range(n)]
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), self.until - time.monotonic() + 30)


def write_config(folder: Path, http_port: int, grpc_port: int) -> Path:
    cfg = {
        "http": {"host": "127.0.0.1", "port": http_port, "specs": [str(ROOT / "examples" / "petstore.yaml")],
                 "routes": [{"id": "hello", "request": {"method": "GET", "path": "/hello"},
                             "response": {"body": {"hello": "world"}}}]},
        "websocket": {"routes": [{"path": "/ws", "mode": "echo"}]},
        "grpc": {"host": "127.0.0.1", "port": grpc_port, "proto_dir": str(ROOT / "examples" / "protos")},
        "core": {"cache_dir": str(ROOT / ".mockforge-cache")},
    }
    path = folder / "hostile.yaml"
    path.write_text(json.dumps(cfg))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--only", help=f"comma-separated attacks to run (default all: {','.join(Attacks.PLAN)})")
    ap.add_argument("--probe", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        print(json.dumps(probe(args.probe, args.seconds)))
        return 0
    host, http_port, grpc_port = "127.0.0.1", free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = write_config(Path(tmp), http_port, grpc_port)
        base = f"http://{host}:{http_port}"
        with server_process(mockforge_args("--config", str(cfg)), base + "/pets/7") as (proc, _):
            import httpx

            for _ in range(50):  # warm every path the probe uses
                httpx.get(base + "/pets/7")
                httpx.get(base + "/health")
            idle = tree_rss(proc.pid)
            probe_proc = subprocess.Popen([PY, __file__, "--probe", base, "--seconds", str(args.seconds)],
                                          stdout=subprocess.PIPE, cwd=ROOT)
            attacks = Attacks(host, http_port, grpc_port, time.monotonic() + args.seconds)
            with PeakSampler(proc.pid, interval=0.1) as sampler:
                asyncio.run(attacks.run(set(args.only.split(",")) if args.only else None))
                out, _ = probe_proc.communicate(timeout=args.seconds + 60)
            alive = proc.poll() is None
            after = tree_rss(proc.pid)
    normal = json.loads(out)
    peak_over = (sampler.peak - idle) / 2**20
    p99 = float(normal["p99_ms"])
    results = {"normal": normal, "idle_rss_mb": idle / 2**20, "peak_rss_mb": sampler.peak / 2**20,
               "peak_over_idle_mb": peak_over, "rss_after_mb": after / 2**20, "server_alive": alive,
               "attacks": dict(sorted(attacks.counts.items()))}
    print(f"normal client      {normal['requests']} requests, {normal['failed']} failed"
          f" (target 0: {'met' if normal['failed'] == 0 else 'MISSED'})")
    print(f"normal latency     p50 {normal['p50_ms']:.1f} ms, p99 {p99:.1f} ms, max {normal['max_ms']:.1f} ms"
          f" (p99 target < {P99_TARGET_MS:.0f} ms: {'met' if p99 < P99_TARGET_MS else 'MISSED'})")
    print(f"RSS                idle {idle / 2**20:.1f} MB, peak {sampler.peak / 2**20:.1f} MB (+{peak_over:.1f} MB;"
          f" target < +{RSS_SLACK_MB:.0f} MB: {'met' if peak_over < RSS_SLACK_MB else 'MISSED'}),"
          f" after {after / 2**20:.1f} MB")
    print(f"server alive       {alive}")
    for name, n in results["attacks"].items():  # type: ignore[union-attr]
        print(f"  {name:<34} {n}")
    for failure in normal["failures"]:
        print(f"  failure: {failure}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    ok = alive and normal["failed"] == 0 and peak_over < RSS_SLACK_MB
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
