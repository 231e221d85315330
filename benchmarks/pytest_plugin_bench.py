"""Embedding costs: MockServer start+stop, and a suite on ``mockforge_session`` vs ``mockforge``.

1. Start and stop a ``MockServer`` with examples/petstore.yaml ``--starts`` times in this process
   and print the median (the first start pays the imports, so it is shown apart), plus the cold
   figure of a fresh interpreter: ``import mockforge`` + first start + stop.
2. Write ``--tests`` tests (stub, GET with httpx, verify) into a temporary project whose ini sets
   ``mockforge_spec`` to the petstore example, then run pytest on it in a subprocess (as pytester's
   ``runpytest_subprocess`` does) three ways: plain tests without a server (the baseline),
   ``mockforge_session`` (one server), and ``mockforge`` (one server per test). The tests share
   one ``httpx.Client``. Wall times include interpreter start and collection; the ratios are
   against the baseline of the same run.

    .venv/bin/python benchmarks/pytest_plugin_bench.py [--tests 200] [--starts 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "petstore.yaml"

_BODIES = {
    "baseline": """
        def test_{n}():
            assert {n} + 1 > {n}
    """,
    "mockforge_session": """
        def test_{n}(mockforge_session):
            mockforge_session.stub("GET", "/items/{n}", json={{"n": {n}}})
            assert CLIENT.get(mockforge_session.url + "/items/{n}").json() == {{"n": {n}}}
            mockforge_session.verify("GET", "/items/{n}", times=1)
    """,
    "mockforge": """
        def test_{n}(mockforge):
            mockforge.stub("GET", "/items/{n}", json={{"n": {n}}})
            assert CLIENT.get(mockforge.url + "/items/{n}").json() == {{"n": {n}}}
            mockforge.verify("GET", "/items/{n}", times=1)
    """,
}

_COLD = """
import time
t0 = time.perf_counter()
from mockforge import MockServer
server = MockServer(spec={spec!r}).start()
t1 = time.perf_counter()
server.stop()
print(f"{{t1 - t0:.4f}} {{time.perf_counter() - t1:.4f}}")
"""


def start_stop(starts: int) -> tuple[float, float, float]:
    """(first start+stop, median start+stop, median start) in seconds, in this process."""
    from mockforge import MockServer

    totals: list[float] = []
    starts_only: list[float] = []
    for _ in range(starts + 1):
        t0 = time.perf_counter()
        server = MockServer(spec=SPEC).start()
        t1 = time.perf_counter()
        server.stop()
        totals.append(time.perf_counter() - t0)
        starts_only.append(t1 - t0)
    return totals[0], statistics.median(totals[1:]), statistics.median(starts_only[1:])


def cold_start() -> tuple[float, float]:
    """(import + construct + start, stop) in a fresh interpreter, in seconds."""
    out = subprocess.run(
        [sys.executable, "-c", _COLD.format(spec=str(SPEC))], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def write_suite(folder: Path, kind: str, count: int) -> None:
    folder.mkdir()
    (folder / "pytest.ini").write_text(f"[pytest]\nmockforge_spec = {SPEC}\n")
    body = textwrap.dedent(_BODIES[kind])
    tests = "".join(body.format(n=n) for n in range(count))
    # One client for the module: httpx.get() builds an SSL context per call (tens of ms).
    (folder / f"test_{kind}.py").write_text("import httpx\nCLIENT = httpx.Client()\n" + tests)


def run_suite(folder: Path, count: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or f"{count} passed" not in proc.stdout:
        raise SystemExit(f"suite in {folder} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--starts", type=int, default=20)
    args = parser.parse_args()

    first, median, median_start = start_stop(args.starts)
    cold, cold_stop = cold_start()
    print(f"MockServer(spec=examples/petstore.yaml), {args.starts} runs in one process:")
    print(f"  start+stop median {median * 1000:.1f} ms (start alone {median_start * 1000:.1f} ms)")
    print(f"  first start+stop in this process {first * 1000:.1f} ms (pays the imports)")
    print(f"  fresh interpreter: import + start {cold * 1000:.1f} ms, stop {cold_stop * 1000:.1f} ms")

    print(f"\npytest suites of {args.tests} tests (subprocess wall time, spec loaded by every server):")
    with tempfile.TemporaryDirectory() as tmp:
        walls = {}
        for kind in _BODIES:
            folder = Path(tmp) / kind
            write_suite(folder, kind, args.tests)
            walls[kind] = run_suite(folder, args.tests)
        base = walls["baseline"]
        for kind, wall in walls.items():
            extra = (wall - base) / args.tests * 1000
            print(f"  {kind:<18} {wall:6.2f} s  x{wall / base:4.2f} of baseline  (+{extra:.1f} ms per test)")
        print(f"  mockforge / mockforge_session: x{walls['mockforge'] / walls['mockforge_session']:.2f}")


if __name__ == "__main__":
    main()
