"""Per-call overhead of a trivial WASM ``generate_response`` against the same route without a
plugin (plugins issue), in one run.

    python benchmarks/plugin_overhead.py [--requests 3000]

One server, two stub routes that differ only in the answer: ``/plain`` answers a static body,
``/wasm`` asks the example ``echo-wat`` plugin. Requests alternate between them on one
keep-alive connection, so both see the same machine load; prints the median latency of each
and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plugins = Path(tmp) / "plugins"
        shutil.copytree(ROOT / "examples" / "plugins" / "echo-wat", plugins / "echo-wat")
        config = {
            "plugins": {"dirs": [str(plugins)]},
            "core": {"cache_dir": str(Path(tmp) / "cache")},
            "http": {"routes": [
                {"id": "plain", "request": {"method": "GET", "path": "/plain"},
                 "response": {"body": {"method": "GET", "path": "/plain"}}},
                {"id": "wasm", "request": {"method": "GET", "path": "/wasm"}, "response": {"plugin": "echo-wat"}},
            ]},
        }
        with MockServer(config=config) as server, httpx.Client(base_url=server.url) as client:
            for path in ("/plain", "/wasm"):
                assert client.get(path).status_code == 200, path
            times: dict[str, list[float]] = {"/plain": [], "/wasm": []}
            for _ in range(args.requests):
                for path in ("/plain", "/wasm"):
                    t = time.perf_counter()
                    r = client.get(path)
                    times[path].append(time.perf_counter() - t)
                    assert r.status_code == 200
    plain = statistics.median(times["/plain"]) * 1e6
    wasm = statistics.median(times["/wasm"]) * 1e6
    print(f"route without plugin  median {plain:8.0f} us per request")
    print(f"route with echo-wat   median {wasm:8.0f} us per request")
    print(f"plugin overhead       {wasm - plain:8.0f} us per call; ratio {wasm / plain:.2f}")


if __name__ == "__main__":
    main()
