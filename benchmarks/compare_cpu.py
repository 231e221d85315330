"""CPU time per request of the whole HTTP app (admin/CORS/health dispatch, pipeline, spec step,
request log) for two revisions, alternated, best of the rounds, and the ratio new/old.

    python benchmarks/compare_cpu.py --base main [--requests 20000 --rounds 5 --pairs 4]

``compare_revisions.py`` measures requests/s with wrk, which a shared machine (other engineers'
loads) swings by 30% either way; this measures process CPU time of ``HttpMockApp.handle`` on
examples/petstore.yaml without sockets, in fresh processes, alternating base and head, so a
regression of a few percent in the answer path shows. The base is read with ``git archive``
into a temporary folder (no worktree is created). Prints per path the best microseconds of each
revision, the ratio new/old, and a verdict (over 1.03 is flagged; never gating).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("/pets/7", "/pets/7/owner")

INNER = r"""
import asyncio, sys, time
from mockforge.core.model import Headers, Request
from mockforge.server import Server
from mockforge.testing.server import make_config

async def main() -> None:
    n, rounds = int(sys.argv[2]), int(sys.argv[3])
    srv = Server(make_config(spec=sys.argv[1], seed=1))
    await srv.start()
    try:
        for path in sys.argv[4:]:
            best = 1e9
            for _ in range(rounds):
                t = time.process_time()
                for _ in range(n):
                    req = Request(protocol="http", method="GET", path=path,
                                  headers=Headers([("host", "127.0.0.1"), ("accept", "*/*")]))
                    resp = await srv.app.handle(req)
                    srv.runtime.log.record(req, resp, 0.1)
                best = min(best, (time.process_time() - t) / n)
            assert resp.status == 200, (path, resp.status)
            print(path, best * 1e6)
    finally:
        await srv.stop()

asyncio.run(main())
"""


def measure(src: Path, args: argparse.Namespace) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    spec = str(ROOT / "examples" / "petstore.yaml")
    out = subprocess.run(
        [sys.executable, "-c", INNER, spec, str(args.requests), str(args.rounds), *PATHS],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    return {line.split()[0]: float(line.split()[1]) for line in out.splitlines() if line.startswith("/")}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="git revision to compare against")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=4, help="alternations of base and head")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mockforge-cpu-") as tmp:
        archive = Path(tmp) / "base.tar"
        with archive.open("wb") as fh:
            subprocess.run(["git", "archive", args.base, "src"], cwd=ROOT, stdout=fh, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        best: dict[str, dict[str, float]] = {"old": {}, "new": {}}
        for _ in range(args.pairs):
            for name, src in (("old", Path(tmp) / "src"), ("new", ROOT / "src")):
                for path, us in measure(src, args).items():
                    best[name][path] = min(best[name].get(path, 1e9), us)
    print(f"{'path':<16} {'old us':>8} {'new us':>8} {'new/old':>8}")
    for path in PATHS:
        old, new = best["old"][path], best["new"][path]
        flag = "  (over 3% slower)" if new / old > 1.03 else ""
        print(f"{path:<16} {old:>8.2f} {new:>8.2f} {new / old:>8.3f}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
