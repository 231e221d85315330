"""Replay throughput and server RSS with 100, 10,000 and 100,000 fixtures on disk, in one run.

The fixtures are written straight to a temp folder with the store's own writer (spread over 1,000
path folders, one query value each), growing one folder from 100 to 100,000 so the three points
share everything but the count. For each point a ``mockforge serve --fixtures-mode replay_strict``
process is started; RSS is taken after a warm-up of 500 requests to random fixtures, during and
after a wrk run whose Lua script asks for a random fixture on every request (so most requests open
a file never read before). Ratios are against the 100-fixture point; the target is RSS at 100,000
within 5 MB of RSS at 100 (replay reads one file per request and caches nothing by default).

    .venv/bin/python benchmarks/fixtures_bench.py [--seconds 5] [--connections 50] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _util import PeakSampler, free_port, have_wrk, mb, mockforge_args, server_process, tree_rss, wrk

from mockforge.recording.fingerprint import FingerprintRules
from mockforge.recording.store import build_fixture, write_fixture_file

SIZES = (100, 10_000, 100_000)
PATHS = 1000
RULES = FingerprintRules()
TARGET_MB = 5.0


def target(i: int) -> tuple[str, str]:
    return f"/items/{i % PATHS}", f"id={i}"


def generate(root: Path, start: int, stop: int) -> float:
    began = time.perf_counter()
    for i in range(start, stop):
        path, query = target(i)
        fixture = build_fixture(
            method="GET", path=path, raw_query=query,
            request_headers=[("accept", "application/json")], request_body=b"",
            status=200, response_headers=[("content-type", "application/json")],
            response_body=b'{"id": %d, "name": "item %d", "tags": ["a", "b"], "price": 12.5}' % (i, i),
            rules=RULES,
        )
        write_fixture_file(root, fixture, fsync=False)
    return time.perf_counter() - began


def lua_script(folder: Path, n: int) -> str:
    script = folder / f"random_{n}.lua"
    script.write_text(
        f"""
math.randomseed(os.time())
request = function()
  local i = math.random(0, {n - 1})
  return wrk.format("GET", "/items/" .. (i % {PATHS}) .. "?id=" .. i)
end
"""
    )
    return str(script)


def measure(root: Path, n: int, seconds: int, connections: int, scripts: Path) -> dict[str, float]:
    port = free_port()
    args = mockforge_args("--http-port", str(port), "--fixtures-mode", "replay_strict", "--fixtures-dir", str(root))
    base = f"http://127.0.0.1:{port}"
    with server_process(args, base + "/health") as (proc, _):
        rng = random.Random(n)
        with httpx.Client(base_url=base) as client:
            for _ in range(500):
                path, query = target(rng.randrange(n))
                r = client.get(f"{path}?{query}")
                if r.status_code != 200:
                    raise SystemExit(f"warm-up request {path}?{query} answered {r.status_code}: {r.text}")
        idle = tree_rss(proc.pid)
        with PeakSampler(proc.pid) as sampler:
            result = wrk(base + "/", seconds=seconds, connections=connections, script=lua_script(scripts, n))
        after = tree_rss(proc.pid)
    return {"rps": result["rps"], "errors": result["errors"], "p99_ms": result.get("p99_ms", 0.0),
            "idle": idle, "peak": sampler.peak, "after": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--keep", metavar="DIR", help="Write the fixtures here and keep them.")
    args = parser.parse_args()
    if not have_wrk():
        raise SystemExit("wrk is not installed (Debian package 'wrk')")
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mockforge-fixtures-bench-"))
    root = tmp / "fixtures"
    results: dict[int, dict[str, float]] = {}
    try:
        have = 0
        for n in SIZES:
            took = generate(root, have, n)
            print(f"generated {n - have} fixtures in {took:.1f}s ({n} on disk)", flush=True)
            have = n
            results[n] = measure(root, n, args.seconds, args.connections, tmp)
            r = results[n]
            print(f"  {n:>7} fixtures: {r['rps']:>8.0f} req/s  p99 {r['p99_ms']:.2f} ms  errors {r['errors']:.0f}  "
                  f"RSS idle {mb(r['idle'])}, peak {mb(r['peak'])}, after {mb(r['after'])}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    base = results[SIZES[0]]
    print("\nfixtures   req/s  ratio   RSS idle  delta     RSS after  delta     peak")
    ok = True
    for n in SIZES:
        r = results[n]
        d_idle = (r["idle"] - base["idle"]) / 1024 / 1024
        d_after = (r["after"] - base["after"]) / 1024 / 1024
        print(f"{n:>8} {r['rps']:>7.0f}  {r['rps'] / base['rps']:>5.2f}   {mb(r['idle']):>8}  {d_idle:+5.1f} MB  "
              f"{mb(r['after']):>8}  {d_after:+5.1f} MB  {mb(r['peak'])}")
        ok = ok and abs(d_idle) <= TARGET_MB and abs(d_after) <= TARGET_MB
    print(f"\nRSS at {SIZES[-1]:,} fixtures within {TARGET_MB:.0f} MB of RSS at {SIZES[0]}: {'yes' if ok else 'NO'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
