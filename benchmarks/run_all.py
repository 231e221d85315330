"""Every benchmark, one after another: what `make bench` runs.

    python benchmarks/run_all.py
    python benchmarks/run_all.py --list          # what would run

Runs each script below as its own subprocess (so one's imports and memory never colour the next),
streams its output, and goes on past a missing or failing one. Exits non-zero at the end when any
failed. Optional scripts (owned by other issues) are skipped with a note when absent.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: (script, required, time cap in seconds)
BENCHMARKS = [
    ("http_bench.py", True, 900),
    ("request_log_bytes.py", True, 300),
    ("bench_stubs.py", True, 900),
    ("stubs_http_bench.py", True, 900),
    ("fixtures_bench.py", True, 900),
    ("large_specs.py", True, 1800),
    ("conformance_report.py", True, 1800),
    ("pytest_plugin_bench.py", True, 900),
    ("plugin_overhead.py", True, 300),
    ("tls_bench.py", True, 600),
    ("drift_bench.py", True, 900),
    ("state_bench.py", True, 900),
    ("state_corpus.py", True, 900),
    ("workers_bench.py", True, 900),
    ("shared_state_bench.py", True, 900),
    ("bodies_report.py", True, 900),
    ("ui_pages.py", True, 600),
    ("ui_feed.py", True, 900),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="print the scripts and exit")
    args = p.parse_args()
    results: list[tuple[str, str, float]] = []
    for name, required, cap in BENCHMARKS:
        path = HERE / name
        if args.list:
            print(f"{name:<24} {'present' if path.exists() else 'absent'}{'' if required else ' (optional)'}")
            continue
        print(f"\n===== {name} =====", flush=True)
        if not path.exists():
            status = "MISSING" if required else "skipped (absent)"
            print(f"{name}: not found", flush=True)
            results.append((name, status, 0.0))
            continue
        started = time.perf_counter()
        try:
            rc = subprocess.run([sys.executable, str(path)], cwd=ROOT, timeout=cap).returncode
            status = "ok" if rc == 0 else f"FAILED (exit {rc})"
        except subprocess.TimeoutExpired:
            status = f"FAILED (over {cap} s)"
        results.append((name, status, time.perf_counter() - started))
    if args.list:
        return 0
    print("\n===== summary =====")
    for name, status, seconds in results:
        print(f"{name:<24} {status:<20} {seconds:7.1f} s")
    failed = [r for r in results if r[1].startswith(("FAILED", "MISSING"))]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
