"""Stateful mocks: the cost of a stored answer, memory per stored resource, the SQLite store rate.

    python benchmarks/state_bench.py [--seconds 5] [--rounds 3] [--pets 10000] [--parts wrk,rss,sqlite,lag]

1. One server on examples/petstore.yaml with ``--state on``: GET of a stored pet (``/pets/1001``,
   read from the store and rendered through the response schema) against the schema-generated
   route (``/pets/7/owner``) of the same server, interleaved wrk rounds, best of each; the ratio
   is the figure (target >= 0.8).
2. RSS of that server after the load with no pet stored, then after ``--pets`` creates (10,000: the default
   ``http.state.max_resources``); the difference in MB (target < 15 MB).
3. The same creates and reads over HTTP (one keep-alive client) with
   ``http.state.store: sqlite:///...``: creates/s and reads/s, one request at a time (latency
   bound: each SQLite call is a hop to the store's thread and back), then reads under wrk's 50
   connections (the store's thread and the loop work side by side).
4. Event-loop blocking while creates run: an in-process server (``MockServer`` on this loop), a
   probe task that asks for a 1 ms sleep again and again and records how late each wake-up is,
   and a client thread doing ``--lag-creates`` creates; p50/p99/max lateness with the memory store
   (the baseline, same run) and with the SQLite store.
5. ``store``: the SQLite store alone, no HTTP: 2,000 puts then 2,000 gets, one per loop turn (as
   requests come), while a probe task measures how long each turn of the loop keeps it waiting
   (the time a store call holds the loop thread); p50/p99/max per turn and the loop's total time
   held, next to the same figures with the memory store (the baseline of the run). Works with a
   store whose calls are plain functions (before the SQLite thread) or coroutines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _util import free_port, have_wrk, mockforge_args, server_process, tree_rss, wrk

from mockforge.testing.server import MockServer

SPEC = "examples/petstore.yaml"


def _create(client: httpx.Client, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        r = client.post("/pets", json={"name": f"pet{i}", "kind": "dog", "tags": ["a"]})
        assert r.status_code == 201, r.text
    return n / (time.perf_counter() - start)


def _read(client: httpx.Client, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        assert client.get(f"/pets/{1001 + i}").status_code == 200
    return n / (time.perf_counter() - start)


async def _lag(store: str, creates: int) -> dict[str, float]:
    """Lateness of 1 ms sleeps on the server's loop (ms) while a client thread creates pets."""
    cfg = {"http": {"state": {"mode": "on", "store": store}}}
    async with MockServer(cfg, spec=SPEC) as mock:
        late: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            while not done.is_set():
                t = time.perf_counter()
                await asyncio.sleep(0.001)
                late.append((time.perf_counter() - t - 0.001) * 1000)

        # The client is another process: its work must not hold this process's GIL.
        script = (
            "import httpx, sys, time\n"
            "n = int(sys.argv[2])\n"
            "with httpx.Client(base_url=sys.argv[1]) as c:\n"
            "    t = time.perf_counter()\n"
            "    for i in range(n):\n"
            "        assert c.post('/pets', json={'name': f'p{i}', 'kind': 'dog'}).status_code == 201\n"
            "    print(n / (time.perf_counter() - t))\n"
        )
        task = asyncio.create_task(probe())
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, mock.url, str(creates), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        rate = float(out)
        done.set()
        await task
    late.sort()
    return {"p50_ms": statistics.median(late), "p99_ms": late[int(len(late) * 0.99)], "max_ms": late[-1],
            "creates_per_s": rate}


async def _held(store: object, n: int) -> dict[str, float]:
    """How long each turn of the loop is held while ``store`` serves n puts and n gets."""
    import inspect

    turns: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0)
            turns.append((time.perf_counter() - t) * 1000)

    async def call(name: str, *args: object) -> object:
        fn = getattr(store, name)
        out = fn(*args)
        return await out if inspect.isawaitable(out) else out

    task = asyncio.create_task(probe())
    start = time.perf_counter()
    for i in range(n):
        await call("put", "ns", "/pets", str(1001 + i), {"id": 1001 + i, "name": f"p{i}", "kind": "dog"})
        await asyncio.sleep(0)
    for i in range(n):
        await call("get", "ns", "/pets", str(1001 + i))
        await asyncio.sleep(0)
    wall = time.perf_counter() - start
    done.set()
    await task
    turns.sort()
    return {"turn_p50_ms": statistics.median(turns), "turn_p99_ms": turns[int(len(turns) * 0.99)],
            "turn_max_ms": turns[-1], "ops_per_s": 2 * n / wall}


def _store_part(n: int, results: dict[str, object]) -> None:
    from mockforge.state.sqlite_store import SqliteStore
    from mockforge.state.store import MemoryStore

    with tempfile.TemporaryDirectory() as tmp:
        for name, make in (("memory", MemoryStore), ("sqlite", lambda: SqliteStore(f"{tmp}/held.db"))):
            store = make()
            for key, value in asyncio.run(_held(store, n)).items():
                results[f"held_{name}_{key}"] = value
            close = getattr(store, "close", None)
            if close is not None:
                close()


def main() -> dict[str, object]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pets", type=int, default=10_000)
    ap.add_argument("--lag-creates", type=int, default=2000)
    ap.add_argument("--parts", default="wrk,rss,sqlite,lag,store",
                    help="comma-separated: wrk, rss, sqlite, lag, store")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    results: dict[str, object] = {}
    if parts & {"wrk", "rss"}:
        _memory_parts(args, parts, results)
    if "sqlite" in parts:
        _sqlite_part(args, results)
    if "store" in parts:
        _store_part(2000, results)
    if "lag" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            for name, store in (("memory", "memory"), ("sqlite", f"sqlite:///{tmp}/lag.db")):
                for key, value in asyncio.run(_lag(store, args.lag_creates)).items():
                    results[f"loop_lag_{name}_{key}"] = value
    for key, value in results.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    return results


def _memory_parts(args: argparse.Namespace, parts: set[str], results: dict[str, object]) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server_process(mockforge_args("--spec", SPEC, "--http-port", str(port), "--state", "on"), base + "/pets/7") \
            as (proc, _):
        with httpx.Client(base_url=base) as c:
            c.get("/pets/7/owner")
            _create(c, 1)
        if have_wrk() and "wrk" in parts:
            runs: dict[str, list[float]] = {"stored": [], "generated": []}
            for _ in range(args.rounds):
                runs["stored"].append(wrk(base + "/pets/1001", seconds=args.seconds)["rps"])
                runs["generated"].append(wrk(base + "/pets/7/owner", seconds=args.seconds)["rps"])
            results.update(stored_rps=max(runs["stored"]), generated_rps=max(runs["generated"]),
                           stored_to_generated=max(runs["stored"]) / max(runs["generated"]))
        elif "wrk" in parts:
            print("wrk is not installed: skipping the throughput part")
        if "rss" not in parts:
            return
        with httpx.Client(base_url=base) as c:  # warm: what the load leaves behind is in both figures
            _create(c, 200)
            c.delete("/__mockforge/state/pets")
            empty = tree_rss(proc.pid)
            results["memory_create_rps"] = _create(c, args.pets)
        full = tree_rss(proc.pid)
        results.update(rss_empty_mb=empty / 2**20, rss_full_mb=full / 2**20,
                       rss_per_pets_mb=(full - empty) / 2**20, pets=args.pets)


def _sqlite_part(args: argparse.Namespace, results: dict[str, object]) -> None:
    """The SQLite store, and the memory store as the baseline of the same run (same requests)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, store in (("memory", "memory"), ("sqlite", f"sqlite:///{tmp}/state.db")):
            cfg = Path(tmp) / "mockforge.yaml"
            cfg.write_text(json.dumps({"http": {"specs": [str(Path(SPEC).resolve())], "port": (port := free_port()),
                                                "state": {"mode": "on", "store": store}}}))
            base = f"http://127.0.0.1:{port}"
            with server_process(mockforge_args("--config", str(cfg)), base + "/pets/7"), \
                    httpx.Client(base_url=base) as c:
                n = min(args.pets, 2000)
                results[f"{name}_store_create_rps"] = _create(c, n)
                results[f"{name}_store_read_rps"] = _read(c, n)
                if have_wrk():
                    results[f"{name}_store_read_wrk_rps"] = max(
                        wrk(base + "/pets/1001", seconds=args.seconds)["rps"] for _ in range(args.rounds)
                    )
    for kind in ("create", "read", "read_wrk"):
        if f"sqlite_store_{kind}_rps" in results:
            ratio = float(results[f"sqlite_store_{kind}_rps"]) / float(results[f"memory_store_{kind}_rps"])  # type: ignore[arg-type]
            results[f"sqlite_to_memory_{kind}"] = ratio


if __name__ == "__main__":
    main()
