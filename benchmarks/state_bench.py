"""Stateful mocks: the cost of a stored answer, memory per stored resource, the SQLite store rate.

    python benchmarks/state_bench.py [--seconds 5] [--rounds 3] [--pets 10000]

1. One server on examples/petstore.yaml with ``--state on``: GET of a stored pet (``/pets/1001``,
   read from the store and rendered through the response schema) against the schema-generated
   route (``/pets/7/owner``) of the same server, interleaved wrk rounds, best of each; the ratio
   is the figure (target >= 0.8).
2. RSS of that server after the load with no pet stored, then after ``--pets`` creates (10,000: the default
   ``http.state.max_resources``); the difference in MB (target < 15 MB).
3. The same creates and reads over HTTP (one keep-alive client) with
   ``http.state.store: sqlite:///...``: creates/s and reads/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from _util import free_port, have_wrk, mockforge_args, server_process, tree_rss, wrk

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


def main() -> dict[str, object]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pets", type=int, default=10_000)
    args = ap.parse_args()
    results: dict[str, object] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server_process(mockforge_args("--spec", SPEC, "--http-port", str(port), "--state", "on"), base + "/pets/7") \
            as (proc, _):
        with httpx.Client(base_url=base) as c:
            c.get("/pets/7/owner")
            _create(c, 1)
        if have_wrk():
            runs: dict[str, list[float]] = {"stored": [], "generated": []}
            for _ in range(args.rounds):
                runs["stored"].append(wrk(base + "/pets/1001", seconds=args.seconds)["rps"])
                runs["generated"].append(wrk(base + "/pets/7/owner", seconds=args.seconds)["rps"])
            results.update(stored_rps=max(runs["stored"]), generated_rps=max(runs["generated"]),
                           stored_to_generated=max(runs["stored"]) / max(runs["generated"]))
        else:
            print("wrk is not installed: skipping the throughput part")
        with httpx.Client(base_url=base) as c:  # warm: what the load leaves behind is in both figures
            _create(c, 200)
            c.delete("/__mockforge/state/pets")
            empty = tree_rss(proc.pid)
            results["memory_create_rps"] = _create(c, args.pets)
        full = tree_rss(proc.pid)
        results.update(rss_empty_mb=empty / 2**20, rss_full_mb=full / 2**20,
                       rss_per_pets_mb=(full - empty) / 2**20, pets=args.pets)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "mockforge.yaml"
        cfg.write_text(json.dumps({"http": {"specs": [str(Path(SPEC).resolve())], "port": (port := free_port()),
                                            "state": {"mode": "on", "store": f"sqlite:///{tmp}/state.db"}}}))
        base = f"http://127.0.0.1:{port}"
        with server_process(mockforge_args("--config", str(cfg)), base + "/pets/7"), httpx.Client(base_url=base) as c:
            n = min(args.pets, 2000)
            results["sqlite_create_rps"] = _create(c, n)
            results["sqlite_read_rps"] = _read(c, n)
    for key, value in results.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    return results


if __name__ == "__main__":
    main()
