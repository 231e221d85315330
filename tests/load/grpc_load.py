"""Load test of the gRPC mock: mockforge.MockService, all four call kinds, over loopback.

Starts a mock server in a subprocess (examples/protos + examples/grpc_stubs) unless ``--target``
points at a running one, then drives each call kind with a bounded number of calls and a time cap
and prints calls/s and p50/p95/p99 latency per kind with a verdict against the thresholds.

    .venv/bin/python tests/load/grpc_load.py --calls 2000 --concurrency 16 --seconds 15

Latency is per call for unary, server stream (``--stream-count`` replies, no interval) and
client stream (``--stream-count`` messages); for bidi it is per message round trip (send one,
await its reply). Exit 1 when a call fails or a threshold is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SERVER = """
import asyncio, sys
from mockforge.config import build_config
from mockforge.runtime import Runtime
from mockforge.grpc.service import GrpcService

async def main():
    cfg = {"grpc": {"proto_dir": sys.argv[1], "stubs_dir": sys.argv[2], "port": 0},
           "core": {"cache_dir": sys.argv[3]}}
    svc = await GrpcService.create(Runtime(build_config(cfg, env={})))
    port = await svc.start("127.0.0.1", 0)
    print(port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await svc.stop(2)

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


class Kind:
    def __init__(self, name: str) -> None:
        self.name = name
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.elapsed = 0.0

    def report(self) -> dict[str, float]:
        lat = sorted(self.latencies)
        return {
            "calls": len(lat),
            "rps": len(lat) / self.elapsed if self.elapsed else 0.0,
            "p50": percentile(lat, 50),
            "p95": percentile(lat, 95),
            "p99": percentile(lat, 99),
            "mean": statistics.fmean(lat) if lat else float("nan"),
        }


async def drive(kind: Kind, calls: int, concurrency: int, seconds: float,
                one: Callable[[], Awaitable[int]]) -> None:
    """Run ``one`` up to ``calls`` times (or until ``seconds`` pass) on ``concurrency`` workers;
    ``one`` returns how many latencies it recorded."""
    done = 0
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        while done < calls and time.monotonic() < deadline:
            done += 1
            try:
                await one()
            except Exception as exc:
                kind.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    kind.elapsed = time.perf_counter() - started


async def run(args: argparse.Namespace, port: int) -> int:
    from grpclib.client import Channel
    from grpclib.const import Cardinality

    from mockforge.config import build_config
    from mockforge.grpc.compiler import load_descriptor_set
    from mockforge.grpc.service import build_pool

    cfg = build_config({"grpc": {"proto_dir": str(REPO / "examples" / "protos")}}, env={}).grpc
    pool, _ = build_pool((await load_descriptor_set(cfg, cache_dir=args.cache_dir)).descriptor_set)
    from google.protobuf import message_factory

    def cls(name: str) -> Any:
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"mockforge.{name}"))

    unary_req, unary_resp = cls("UnaryRequest"), cls("UnaryResponse")
    stream_req, stream_resp = cls("StreamRequest"), cls("StreamResponse")
    msg, count_resp = cls("StreamMessage"), cls("ClientStreamResponse")
    base = "/mockforge.MockService/"
    n = int(args.stream_count)
    channels = [Channel(args.host, port) for _ in range(max(1, args.channels))]
    pick = iter(range(10**12))

    def ch() -> Any:
        return channels[next(pick) % len(channels)]

    kinds = {k: Kind(k) for k in ("unary", "server_stream", "client_stream", "bidi")}

    async def unary() -> int:
        t = time.perf_counter()
        async with ch().request(base + "UnaryCall", Cardinality.UNARY_UNARY, unary_req, unary_resp) as st:
            await st.send_message(unary_req(name="load", message="hi"), end=True)
            reply = await st.recv_message()
        if reply is None or reply.name != "load":
            raise AssertionError(f"unexpected reply {reply}")
        kinds["unary"].latencies.append((time.perf_counter() - t) * 1000)
        return 1

    async def server_stream() -> int:
        t = time.perf_counter()
        kind = Cardinality.UNARY_STREAM
        async with ch().request(base + "ServerStream", kind, stream_req, stream_resp) as st:
            await st.send_message(stream_req(count=n, interval_ms=0), end=True)
            got = [m.sequence async for m in st]
        if got != list(range(1, n + 1)):
            raise AssertionError(f"sequences {got}")
        kinds["server_stream"].latencies.append((time.perf_counter() - t) * 1000)
        return 1

    async def client_stream() -> int:
        t = time.perf_counter()
        async with ch().request(base + "ClientStream", Cardinality.STREAM_UNARY, msg, count_resp) as st:
            for i in range(n):
                await st.send_message(msg(sequence=i, data="x"))
            await st.end()
            reply = await st.recv_message()
        if reply is None or reply.total_received != n:
            raise AssertionError(f"total_received {reply}")
        kinds["client_stream"].latencies.append((time.perf_counter() - t) * 1000)
        return 1

    async def bidi() -> int:
        async with ch().request(base + "BidirectionalStream", Cardinality.STREAM_STREAM, msg, msg) as st:
            for i in range(n):
                t = time.perf_counter()
                await st.send_message(msg(sequence=i, data="x"))
                reply = await st.recv_message()
                if reply is None or reply.sequence != i:
                    raise AssertionError(f"bidi reply {reply} for {i}")
                kinds["bidi"].latencies.append((time.perf_counter() - t) * 1000)
            await st.end()
            async for _ in st:
                pass
        return n

    for name, fn in (("unary", unary), ("server_stream", server_stream),
                     ("client_stream", client_stream), ("bidi", bidi)):
        calls = args.calls if name != "bidi" else max(1, args.calls // n)
        await drive(kinds[name], calls, args.concurrency, args.seconds, fn)
    for c in channels:
        c.close()

    failed = False
    print(f"{'kind':<14}{'calls':>8}{'calls/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  verdict")
    for name, kind in kinds.items():
        r = kind.report()
        unit_ok = r["p99"] <= args.max_p99_ms and r["rps"] >= args.min_rps
        verdict = "PASS" if unit_ok and not kind.errors else "FAIL"
        failed |= verdict == "FAIL"
        print(f"{name:<14}{int(r['calls']):>8}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p95']:>9.2f}"
              f"{r['p99']:>9.2f}  {verdict}" + (f" ({len(kind.errors)} errors: {kind.errors[0]})"
                                                  if kind.errors else ""))
    print(f"thresholds: calls/s >= {args.min_rps}, p99 <= {args.max_p99_ms} ms "
          f"(bidi counts message round trips); stream length {n}; concurrency {args.concurrency}")
    return 1 if failed else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", help="host:port of a running mock (default: start one)")
    p.add_argument("--calls", type=int, default=2000, help="calls per kind (bidi: messages)")
    p.add_argument("--seconds", type=float, default=15.0, help="time cap per kind")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--channels", type=int, default=4, help="HTTP/2 connections")
    p.add_argument("--stream-count", type=int, default=10)
    p.add_argument("--min-rps", type=float, default=200.0)
    p.add_argument("--max-p99-ms", type=float, default=250.0)
    p.add_argument("--cache-dir", default=os.path.join(REPO, ".mockforge-cache"))
    args = p.parse_args()
    proc = None
    if args.target:
        args.host, port_text = args.target.rsplit(":", 1)
        port = int(port_text)
    else:
        args.host = "127.0.0.1"
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(REPO / "examples" / "protos"),
             str(REPO / "examples" / "grpc_stubs"), args.cache_dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
    try:
        return asyncio.run(run(args, port))
    finally:
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
