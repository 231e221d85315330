"""Leak check: constant mixed load (HTTP, WebSocket, gRPC) with the request log full.

    python benchmarks/soak.py                      # 10 minutes, bound 2 MB
    python benchmarks/soak.py --seconds 180 --json .bench/soak.json

Starts mockforge with HTTP (petstore), WebSocket, gRPC, admin and metrics on ports 0, fills the
request log (``--log-entries``, via ``MOCKFORGE_MAX_REQUEST_LOGS``), then for ``--seconds`` drives
paced HTTP (the petstore mix, from ``tests/load/http_load.py`` in its own process), WebSocket echo
round trips on long-lived connections plus a new short-lived connection every second, and gRPC
unary and server-stream calls. RSS of the server's process tree is sampled all along. After the
warm-up, growth is measured over the second half: the median of the last samples minus the
median of the samples at the middle of the post-warm-up period, against ``--bound-mb``.

Fails on any error, a crash, a failed /health or growth over the bound. Under ``CI=true`` the
machines are shared and noisy, so growth fails only beyond ``--ci-factor`` times the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _server import LOAD_DIR, PY, GrpcClient, Mockforge, all_protocols_config, http_load

MB = 2**20


class Load:
    """WebSocket and gRPC load in this process, paced; counts calls and errors."""

    def __init__(self, ws_port: int, grpc_port: int, ws_rate: float, grpc_rate: float, ws_clients: int) -> None:
        self.ws_port = ws_port
        self.grpc_port = grpc_port
        self.ws_rate = ws_rate
        self.grpc_rate = grpc_rate
        self.ws_clients = ws_clients
        self.counts = {"ws_messages": 0, "ws_connections": 0, "grpc_calls": 0}
        self.errors: list[str] = []
        self.stop = asyncio.Event()

    def _error(self, where: str, exc: BaseException) -> None:
        if len(self.errors) < 1000:
            self.errors.append(f"{where}: {type(exc).__name__}: {exc}")

    async def _paced(self, rate: float, step: Any, where: str) -> None:
        """Call ``step(n)`` at ``rate`` per second until stopped."""
        start = time.perf_counter()
        n = 0
        while not self.stop.is_set():
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                try:
                    await asyncio.wait_for(self.stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            try:
                await step(n)
            except Exception as exc:
                self._error(where, exc)
                await asyncio.sleep(0.1)
            n += 1

    async def ws_long(self, index: int) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{self.ws_port}/ws"
        ws = await connect(url, compression=None, open_timeout=10, ping_interval=None)
        self.counts["ws_connections"] += 1

        async def step(n: int) -> None:
            text = f"{index}:{n}:" + "x" * 64
            await ws.send(text)
            answer = await asyncio.wait_for(ws.recv(), 10)
            if answer != text:
                raise AssertionError(f"wrong echo {str(answer)[:40]!r}")
            self.counts["ws_messages"] += 1

        try:
            await self._paced(self.ws_rate / self.ws_clients, step, "ws")
        finally:
            await ws.close()

    async def ws_churn(self) -> None:
        from websockets.asyncio.client import connect

        async def step(n: int) -> None:
            async with connect(f"ws://127.0.0.1:{self.ws_port}/ws/json", compression=None,
                               open_timeout=10, ping_interval=None) as ws:
                text = json.dumps({"n": n})
                await ws.send(text)
                answer = await asyncio.wait_for(ws.recv(), 10)
                if json.loads(answer).get("data") != {"n": n}:  # {"type": "echo", "timestamp", "data"}
                    raise AssertionError(f"wrong json echo {str(answer)[:40]!r}")
            self.counts["ws_connections"] += 1
            self.counts["ws_messages"] += 1

        await self._paced(1.0, step, "ws churn")

    async def grpc(self) -> None:
        client = GrpcClient(self.grpc_port)
        await client.open()

        async def step(n: int) -> None:
            if n % 10 == 9:
                await client.server_stream(5)
            else:
                await client.unary(f"soak-{n % 100}")
            self.counts["grpc_calls"] += 1

        try:
            await self._paced(self.grpc_rate, step, "grpc")
        finally:
            client.close()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.ws_long(i)) for i in range(self.ws_clients)]
        tasks += [asyncio.create_task(self.ws_churn()), asyncio.create_task(self.grpc())]
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, BaseException):
                self._error("load task", result)


def growth(samples: list[tuple[float, int]], warmup: float) -> dict[str, float]:
    """Growth over the second half of the post-warm-up samples (MB), with the window medians."""
    post = [rss for t, rss in samples if t >= warmup]
    if len(post) < 6:
        return {"growth_mb": float("nan"), "mid_mb": float("nan"), "end_mb": float("nan"), "slope_mb_per_min": 0.0}
    w = max(3, len(post) // 20)
    mid = len(post) // 2
    mid_mb = statistics.median(post[max(0, mid - w // 2): mid - w // 2 + w]) / MB
    end_mb = statistics.median(post[-w:]) / MB
    second = [(t, rss) for t, rss in samples if t >= warmup][mid:]
    slope = 0.0
    if len(second) >= 2:
        ts = [t for t, _ in second]
        rs = [rss / MB for _, rss in second]
        t_mean, r_mean = statistics.fmean(ts), statistics.fmean(rs)
        var = sum((t - t_mean) ** 2 for t in ts)
        if var:
            slope = sum((t - t_mean) * (r - r_mean) for t, r in zip(ts, rs, strict=True)) / var * 60
    return {"growth_mb": end_mb - mid_mb, "mid_mb": mid_mb, "end_mb": end_mb, "slope_mb_per_min": slope}


def run(args: argparse.Namespace) -> dict[str, Any]:
    warmup = args.warmup_seconds if args.warmup_seconds is not None else max(15.0, args.seconds * 0.2)
    interval = args.interval or max(1.0, args.seconds / 120)
    folder = Path(tempfile.mkdtemp(prefix="mockforge-soak-"))
    serve_args = all_protocols_config(folder)
    env = {"MOCKFORGE_MAX_REQUEST_LOGS": str(args.log_entries)}
    problems: list[str] = []
    with Mockforge(*serve_args, env=env) as mf:
        ports = mf.ports
        print(f"server pid {mf.pid}: ports {ports}; log capacity {args.log_entries}")
        if not mf.health():
            raise SystemExit("verdict: FAIL (/health failed before the load)")
        fill = http_load(mf.url(), seconds=120, connections=20, requests=args.log_entries + 100)
        stats = mf.stats()
        print(f"log filled: {stats['log']['entries']}/{stats['log']['capacity']} entries "
              f"({fill['requests']} requests, {fill['errors']} errors)")
        if fill["errors"]:
            problems.append(f"{fill['errors']} errors while filling the log")

        http_cmd = [PY, str(LOAD_DIR / "http_load.py"), "--url", mf.url(), "--seconds", str(args.seconds),
                    "--connections", "10", "--rate", str(args.http_rate), "--json", str(folder / "http.json"),
                    "--quiet"]
        http_proc = subprocess.Popen(http_cmd)
        samples: list[tuple[float, int]] = []
        load = Load(ports["WebSocket"], ports["gRPC"], args.ws_rate, args.grpc_rate, args.ws_clients)

        async def drive() -> None:
            runner = asyncio.create_task(load.run())
            start = time.perf_counter()
            next_sample = start
            while (elapsed := time.perf_counter() - start) < args.seconds and mf.alive():
                if time.perf_counter() >= next_sample:
                    samples.append((elapsed, mf.rss()))
                    next_sample += interval
                await asyncio.sleep(min(0.2, max(0.0, next_sample - time.perf_counter())))
            load.stop.set()
            await asyncio.wait_for(runner, 30)

        asyncio.run(drive())
        try:
            http_proc.wait(60)
        except subprocess.TimeoutExpired:
            http_proc.kill()
            problems.append("the HTTP load did not stop")
        http = json.loads((folder / "http.json").read_text()) if (folder / "http.json").exists() else {}
        alive = mf.alive()
        healthy = alive and mf.health()
        final_stats = mf.stats() if healthy else {}
        tracebacks = mf.tracebacks()
        if not alive:
            problems.append(f"the server died:\n{mf.stderr_tail()}")
        elif not healthy:
            problems.append("/health failed after the load")
        if tracebacks:
            problems.append(f"{tracebacks} traceback(s) in the server log:\n{mf.stderr_tail()}")
    if not http:
        problems.append("no HTTP figures")
    elif http["errors"]:
        problems.append(f"{http['errors']} HTTP errors: {http.get('status_errors')}, socket {http['errors_socket']}")
    if load.errors:
        problems.append(f"{len(load.errors)} WS/gRPC errors, first: {load.errors[0]}")
    g = growth(samples, warmup)
    return {"seconds": args.seconds, "warmup_s": warmup, "interval_s": interval, "bound_mb": args.bound_mb,
            "samples": [(round(t, 1), round(r / MB, 2)) for t, r in samples], **g,
            "http": {k: http.get(k) for k in ("requests", "rps", "p99_ms", "errors")},
            **load.counts, "log": final_stats.get("log"), "problems": problems}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=600.0, help="load time (default 10 minutes)")
    p.add_argument("--bound-mb", type=float, default=2.0, help="allowed growth over the second half")
    p.add_argument("--warmup-seconds", type=float, help="default max(15 s, 20%% of --seconds)")
    p.add_argument("--interval", type=float, help="seconds between RSS samples (default seconds/120, >= 1)")
    p.add_argument("--log-entries", type=int, default=10_000, help="request log capacity, kept full")
    p.add_argument("--http-rate", type=float, default=300.0, help="HTTP requests/s")
    p.add_argument("--ws-rate", type=float, default=100.0, help="WebSocket messages/s on long-lived clients")
    p.add_argument("--ws-clients", type=int, default=10)
    p.add_argument("--grpc-rate", type=float, default=50.0, help="gRPC calls/s (every 10th a stream of 5)")
    p.add_argument("--ci-factor", type=float, default=10.0, help="under CI=true, fail only beyond this x bound")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    if not (10 <= args.seconds <= 3600 and 0 < args.http_rate <= 5000 and 0 < args.ws_rate <= 5000
            and 0 < args.grpc_rate <= 2000 and 1 <= args.ws_clients <= 200 and 0 <= args.log_entries <= 1_000_000):
        p.error("--seconds 10..3600; rates and client counts must be positive and modest")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the server child is stopped
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    started = time.time()
    result = run(args)
    result["started"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    result["command"] = "python benchmarks/soak.py " + " ".join(sys.argv[1:])

    print("RSS samples (seconds: MB):")
    row = [f"{t:>6.0f}s {mb:6.1f}" for t, mb in result["samples"]]
    for i in range(0, len(row), 6):
        print("  " + "  ".join(row[i:i + 6]))
    http = result["http"]
    print(f"load: HTTP {http['requests']} requests ({http['rps']}/s, p99 {http['p99_ms']} ms); "
          f"WS {result['ws_messages']} messages on {result['ws_connections']} connections; "
          f"gRPC {result['grpc_calls']} calls; log {result['log']}")
    g, bound = result["growth_mb"], args.bound_mb
    print(f"growth over the second half (after {result['warmup_s']:.0f} s warm-up): {g:+.2f} MB "
          f"(median {result['mid_mb']:.2f} -> {result['end_mb']:.2f} MB; "
          f"slope {result['slope_mb_per_min']:+.3f} MB/min)"
          f"; bound {bound} MB")
    failed = list(result["problems"])
    limit = bound * args.ci_factor if ci else bound
    if g != g:  # NaN: too few samples
        failed.append("too few RSS samples")
    elif g > limit:
        failed.append(f"growth {g:+.2f} MB over {'the CI limit ' if ci else 'the bound '}{limit} MB")
    elif g > bound:
        print(f"note: growth is over the bound, but under CI=true only growth over {limit} MB fails")
    result["verdict"] = "FAIL" if failed else "PASS"
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    for problem in failed:
        print(f"problem: {problem}")
    print(f"verdict: {result['verdict']} (soak {args.seconds:.0f} s, growth {g:+.2f} MB, bound {bound} MB"
          f"{', CI=true' if ci else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
