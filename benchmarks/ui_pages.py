"""The cost of what the console's Overview and Spec pages ask the server for (issue 19).

    python benchmarks/ui_pages.py [--requests 2000]

A ``mockforge serve --admin-port 0`` child on examples/petstore.yaml (benchmarks/_server.py):

1. idle RSS (settled), then after the Overview's first round of calls (server-info, stats,
   stats/series: the last one starts the rate sampler), then after 100 answer previews and the
   operation list: what opening these pages costs, paid only once someone opens them;
2. time per answer preview against time per real request of the same kind (``GET /pets/7``),
   both over one keep-alive client in the same run: the ratio is printed;
3. ``GET /spec/operations`` on the two large specs of the corpus (first call and again).

Verdicts are printed, never gating (CI shares 2 cores).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import EXAMPLES, Mockforge
from _util import CORPUS as SHARED

MB = 1024 * 1024
CORPUS = SHARED / "openapi" / "large"


def _per_call(fn: object, n: int) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    n = args.requests
    with Mockforge("--spec", str(EXAMPLES / "petstore.yaml"), "--http-port", "0", "--admin-port", "0") as mf:
        admin = f"http://127.0.0.1:{mf.ports['admin']}/__mockforge/"
        idle = mf.settled_rss()
        with httpx.Client(base_url=admin, timeout=30) as a, httpx.Client(base_url=mf.url(), timeout=30) as h:
            for path in ("server-info", "stats", "stats/series"):
                a.get(path).raise_for_status()
            overview = mf.settled_rss()
            body = {"method": "GET", "path": "/pets/7"}
            for _ in range(100):
                a.post("preview", json=body).raise_for_status()
            a.get("spec/operations").raise_for_status()
            pages = mf.settled_rss()
            print(f"idle RSS                      {idle / MB:7.1f} MB")
            print(f"after the Overview's calls    {overview / MB:7.1f} MB  (+{(overview - idle) / MB:.2f} MB)")
            print(f"after 100 previews + op list  {pages / MB:7.1f} MB  (+{(pages - idle) / MB:.2f} MB)")
            for _ in range(200):  # warm both paths
                h.get("/pets/7")
                a.post("preview", json=body)
            real = _per_call(lambda: h.get("/pets/7"), n)
            total = a.get("stats").json()["requests_total"]
            preview = _per_call(lambda: a.post("preview", json=body), n)
            logged = a.get("stats").json()["requests_total"] - total
            print(f"GET /pets/7                   {real * 1e6:7.0f} us per request ({n} requests)")
            print(f"POST preview of GET /pets/7   {preview * 1e6:7.0f} us per preview ({n} previews)")
            print(f"ratio preview / real request  {preview / real:7.2f}")
            print(f"requests logged by previews   {logged:7d}")
    for spec in sorted(CORPUS.glob("*.json")):
        with Mockforge("--spec", str(spec), "--http-port", "0", "--admin-port", "0") as mf:
            admin = f"http://127.0.0.1:{mf.ports['admin']}/__mockforge/"
            with httpx.Client(base_url=admin, timeout=120) as a:
                started = time.perf_counter()
                count = len(a.get("spec/operations").json()["operations"])
                first = time.perf_counter() - started
                again = _per_call(lambda: a.get("spec/operations"), 5)
            print(f"spec/operations {spec.name:24} {count:4d} operations: first {first * 1000:.0f} ms, "
                  f"then {again * 1000:.0f} ms")


if __name__ == "__main__":
    main()
