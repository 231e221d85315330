"""Shared state on Redis (issue 18): what it costs against memory state, measured in the same run.

    python benchmarks/shared_state_bench.py [--seconds 5] [--rounds 3] [--json FILE]

1. Throughput and p99 (wrk, one thread, on the same 2 cores as the servers: the ratios are
   floors): ``--workers 1`` memory (the baseline), ``--workers 1`` Redis, ``--workers 2``
   independent (memory), ``--workers 2`` Redis; every mode is started at once and wrk runs each in
   turn, round after round, best round kept (``workers_bench.py`` does the same). After each run
   the shared log's ``dropped`` and ``pending`` are read from ``/__mockforge/stats``: dropped > 0
   means the log fell behind at that rate.
2. The rate the log writer can sustain: one ``LogShipper`` writing 50,000 captured entries to
   Redis as fast as it can (entries/s). Requests above that rate fill the buffer, then drop.
3. Redis memory (``INFO memory`` used_memory delta) for 1,000 and 100,000 log entries of a typical
   request (``GET /pets/7`` with five headers), with ``core.max_request_logs`` at 100,000.
4. How long a stub added through replica A takes to answer on replica B (the issue's target is
   100 ms): 20 stubs, each timed from A's 201 until B answers it (polled), median and worst.

Starts its own redis-server (no persistence) on a free port and stops it at the end.
Timing verdicts are printed, never gating.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
from _util import free_port, have_wrk, mb, tree_rss, wrk
from workers_bench import PATH, Mode, rss_by_process, started


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (make redis-deps)")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        try:
            import redis

            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(redis.RedisError), redis.Redis.from_url(url) as r:
                    if r.ping():
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            proc.wait(30)


def shared_stats(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{url}/__mockforge/stats", timeout=30).json().get("shared_state") or {}
    return stats


def throughput(redis_url: str, seconds: int, rounds: int, connections: int) -> dict[str, Any]:
    modes = [
        Mode("memory, --workers 1", ["--workers", "1"], 1),
        Mode("redis, --workers 1", ["--workers", "1", "--shared-state", redis_url], 1,
             {"MOCKFORGE_SHARED_STATE_PREFIX": "bench1"}),
        Mode("memory, --workers 2 (independent)", ["--workers", "2", "--independent-workers"], 2),
        Mode("redis, --workers 2", ["--workers", "2", "--shared-state", redis_url], 2,
             {"MOCKFORGE_SHARED_STATE_PREFIX": "bench2"}),
    ]
    out: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        servers = {m.name: stack.enter_context(started(m)) for m in modes}
        for _, url in servers.values():
            for _ in range(4):
                httpx.get(f"{url}{PATH}", headers={"connection": "close"})
        time.sleep(1.0)  # let start-up garbage settle before reading idle RSS (not a sync point)
        idle = {name: (tree_rss(proc.pid), rss_by_process(proc.pid)) for name, (proc, _) in servers.items()}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        dropped: dict[str, int] = dict.fromkeys(servers, 0)
        if have_wrk():
            for _ in range(rounds):
                for name, (_, url) in servers.items():
                    runs[name].append(wrk(f"{url}{PATH}", seconds=seconds, connections=connections))
                    if name.startswith("redis"):
                        # each worker reports its own buffer: ask on new connections a few times
                        for _ in range(6):
                            with httpx.Client(headers={"connection": "close"}) as c:
                                s = c.get(f"{url}/__mockforge/stats").json().get("shared_state") or {}
                            dropped[name] = max(dropped[name], int(s.get("log", {}).get("dropped", 0)))
        else:
            print("wrk is not installed (apt-get install wrk): throughput skipped, memory only")
    base = max(runs[modes[0].name], key=lambda r: r["rps"]) if runs[modes[0].name] else None
    for mode in modes:
        total, per = idle[mode.name]
        row: dict[str, Any] = {"idle_rss_mb": round(total / 2**20, 1),
                               "idle_rss_by_process_mb": {k: round(v / 2**20, 1) for k, v in per.items()}}
        line = f"{mode.name:<36} idle RSS {mb(total)} (" + ", ".join(f"{k} {mb(v)}" for k, v in per.items()) + ")"
        if runs[mode.name] and base is not None:
            best = max(runs[mode.name], key=lambda r: r["rps"])
            row.update(best)
            row["ratio_to_memory_1"] = best["rps"] / base["rps"]
            row["log_dropped"] = dropped[mode.name]
            line += (f"\n{'':<36} {best['rps']:9.0f} req/s  ratio {row['ratio_to_memory_1']:.2f}"
                     f"  p50 {best.get('p50_ms', 0):.2f} ms  p99 {best.get('p99_ms', 0):.2f} ms"
                     f"  errors {best['errors']:.0f}" + (f"  log dropped {dropped[mode.name]}"
                                                        if mode.name.startswith("redis") else ""))
        out[mode.name] = row
        print(line)
    r1, r2 = out[modes[1].name], out[modes[3].name]
    m1 = out[modes[0].name]
    if "rps" in r1 and "rps" in r2:
        out["redis_workers2_over_workers1"] = r2["rps"] / r1["rps"]
        out["redis_p99_over_memory_p99"] = r1.get("p99_ms", 0) / max(m1.get("p99_ms", 1e-9), 1e-9)
        print(f"verdict: with Redis, --workers 2 serves {out['redis_workers2_over_workers1']:.2f}x the requests/s "
              f"of --workers 1 (wrk on the same {os.cpu_count()} cores); Redis vs memory, one worker: "
              f"{r1['ratio_to_memory_1']:.2f}x throughput, p99 {out['redis_p99_over_memory_p99']:.2f}x")
    return out


def _entries(n: int) -> list[Any]:
    from mockforge.core.model import Headers, Request, Response
    from mockforge.core.request_log import RequestLog

    log = RequestLog(n)
    headers = Headers([("host", "127.0.0.1:3000"), ("user-agent", "python-httpx/0.27"), ("accept", "*/*"),
                       ("accept-encoding", "gzip, deflate"), ("connection", "keep-alive")])
    response = Response(status=200, body=b'{"id":7,"name":"Rex","tag":"dog"}')
    out = []
    for i in range(n):
        req = Request(protocol="http", method="GET", path=f"/pets/{i % 100}", raw_query="", headers=headers,
                      body=b"", client="127.0.0.1:50000")
        req.route = "/pets/{petId}"
        out.append(log.capture(req, response, 0.2))
    return out


async def _writer_and_memory(redis_url: str) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from mockforge.core.request_log import RequestLog
    from mockforge.shared.log_shipper import LogShipper

    results: dict[str, Any] = {}
    client = aioredis.Redis.from_url(redis_url)
    try:
        local = RequestLog(10)
        # 2. how fast one writer drains its buffer into the stream
        n = 50_000
        shipper = LogShipper(client, "rate", "r", local, max_entries=n, buffer=n, max_unmatched=10,
                             max_near_misses=10, on_lost=lambda _why: None)
        for e in _entries(n):
            shipper.on_entry(e)
        started = time.perf_counter()
        await shipper.flush()
        elapsed = time.perf_counter() - started
        results["writer_entries_per_s"] = round(n / elapsed)
        print(f"log writer: {n} entries in {elapsed:.2f} s = {n / elapsed:,.0f} entries/s "
              f"(one replica falls behind above this request rate, then drops past core.max_shared_log_buffer)")
        await client.delete("rate:log")
        # 3. Redis memory per log size
        for count in (1_000, 100_000):
            await client.delete("mem:log")
            before = int((await client.info("memory"))["used_memory"])
            shipper = LogShipper(client, "mem", "r", local, max_entries=100_000, buffer=count, max_unmatched=10,
                                 max_near_misses=10, on_lost=lambda _why: None)
            for e in _entries(count):
                shipper.on_entry(e)
            await shipper.flush()
            after = int((await client.info("memory"))["used_memory"])
            length = await client.xlen("mem:log")
            results[f"redis_memory_{count}_entries_mb"] = round((after - before) / 2**20, 2)
            results[f"redis_bytes_per_entry_at_{count}"] = round((after - before) / max(1, length))
            print(f"redis memory for {length:>7} log entries: {mb(after - before)} "
                  f"({(after - before) / max(1, length):.0f} bytes/entry)")
        await client.delete("mem:log")
    finally:
        await client.aclose()
    return results


def propagation(redis_url: str, n: int = 20) -> dict[str, Any]:
    mode = Mode("redis", ["--workers", "1", "--shared-state", redis_url], 1, {"MOCKFORGE_SHARED_STATE_PREFIX": "prop"})
    delays: list[float] = []
    with started(mode) as (_, a), started(mode) as (_, b), httpx.Client(timeout=30) as c:
        for i in range(n):
            stub = {"request": {"method": "GET", "path": f"/prop/{i}"}, "response": {"status": 200, "body": "x"}}
            assert c.post(f"{a}/__mockforge/stubs", json=stub).status_code == 201
            t0 = time.perf_counter()
            while c.get(f"{b}/prop/{i}").status_code != 200:
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("a stub did not reach the other replica within 10 s")
            delays.append((time.perf_counter() - t0) * 1000)
    delays.sort()
    out = {"stub_propagation_ms_median": round(delays[len(delays) // 2], 2),
           "stub_propagation_ms_max": round(delays[-1], 2)}
    print(f"stub added on A answers on B after {out['stub_propagation_ms_median']} ms median, "
          f"{out['stub_propagation_ms_max']} ms worst of {n} (target 100 ms; includes one GET round trip)")
    return out


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count(), "path": PATH, "load_generator": "wrk -t1 on the same cores"}
    with redis_server() as url:
        results["modes"] = throughput(url, args.seconds, args.rounds, args.connections)
        results.update(asyncio.run(_writer_and_memory(url)))
        results.update(propagation(url))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
