"""Workers (issue 18): throughput of ``--workers 2`` as a ratio of ``--workers 1``, and RSS.

    python benchmarks/workers_bench.py [--seconds 5] [--rounds 3] [--json FILE]

Every mode in ``MODES`` is started at once on its own port (all idle but the one under load), then
wrk runs against each in turn, round after round, and the best round of each is kept, so a burst
of load from elsewhere on a shared machine hits every mode alike. The load generator (wrk) runs on
the same cores as the server: on a 2-core machine two workers and wrk compete for two cores, so
the ratio is a floor for what two workers give on a machine where the load comes from elsewhere.

Prints per mode: requests/s, ratio to the first mode (the baseline), p50/p99 latency, idle RSS of
the whole process tree and of each process (supervisor and workers). Timing verdicts are printed,
never gating. To add a mode (for example shared state on Redis), append a ``Mode`` to ``MODES``
with the flags (and environment) it needs, and ``workers`` set to how many workers /health must
report alive before the load starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psutil
from _util import ROOT, free_port, have_wrk, mb, mockforge_args, tree_rss, wrk

SPEC = "examples/petstore.yaml"
PATH = "/pets/7"


@dataclass
class Mode:
    name: str
    args: list[str]
    workers: int
    env: dict[str, str] = field(default_factory=dict)


#: The first mode is the baseline every ratio is against.
MODES: list[Mode] = [
    Mode("--workers 1", ["--workers", "1"], 1),
    Mode("--workers 2 --independent-workers", ["--workers", "2", "--independent-workers"], 2),
]


def _wait_alive(url: str, workers: int, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {err}")
        with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
            if httpx.get(f"{url}/health", timeout=2.0).json()["workers"]["alive"] >= workers:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{url}: {workers} workers not alive within {timeout} s")


@contextlib.contextmanager
def started(mode: Mode) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(mockforge_args("--spec", SPEC, "--http-port", str(port), *mode.args), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **mode.env})
    try:
        _wait_alive(url, mode.workers, proc)
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def rss_by_process(pid: int) -> dict[str, int]:
    root = psutil.Process(pid)
    out = {}
    children = root.children()
    out["supervisor" if children else "server"] = root.memory_info().rss
    for i, child in enumerate(sorted(children, key=lambda c: c.pid), 1):
        out[f"worker {i}"] = child.memory_info().rss
    return out


def main() -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    results: dict[str, object] = {"cpus": os.cpu_count(), "path": PATH, "connections": args.connections,
                                  "load_generator": "wrk -t1 on the same machine", "modes": {}}
    with contextlib.ExitStack() as stack:
        servers = {m.name: stack.enter_context(started(m)) for m in MODES}
        for _, url in servers.values():  # one request of each kind first: idle means warmed up
            for _ in range(4):
                httpx.get(f"{url}{PATH}", headers={"connection": "close"})
        time.sleep(1.0)  # let the first answers' garbage settle before reading idle RSS
        idle = {name: (tree_rss(proc.pid), rss_by_process(proc.pid)) for name, (proc, _) in servers.items()}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        if have_wrk():
            for _ in range(args.rounds):
                for name, (_, url) in servers.items():
                    runs[name].append(wrk(f"{url}{PATH}", seconds=args.seconds, connections=args.connections))
        else:
            print("wrk is not installed (apt-get install wrk): throughput skipped, memory only")
    base_name = MODES[0].name
    base = max(runs[base_name], key=lambda r: r["rps"]) if runs[base_name] else None
    modes: dict[str, object] = {}
    for mode in MODES:
        total, per = idle[mode.name]
        row: dict[str, object] = {"idle_rss_mb": total / 2**20,
                                  "idle_rss_by_process_mb": {k: v / 2**20 for k, v in per.items()}}
        line = f"{mode.name:<36} idle RSS {mb(total)} (" + ", ".join(f"{k} {mb(v)}" for k, v in per.items()) + ")"
        if runs[mode.name] and base is not None:
            best = max(runs[mode.name], key=lambda r: r["rps"])
            row.update(best)
            row["ratio"] = best["rps"] / base["rps"]
            line += (f"\n{'':<36} {best['rps']:9.0f} req/s  ratio {row['ratio']:.2f}"
                     f"  p50 {best.get('p50_ms', 0):.2f} ms  p99 {best.get('p99_ms', 0):.2f} ms"
                     f"  errors {best['errors']:.0f}")
        modes[mode.name] = row
        print(line)
    results["modes"] = modes
    two = modes.get(MODES[1].name)
    if isinstance(two, dict) and "ratio" in two:
        print(f"verdict: --workers 2 serves {two['ratio']:.2f}x the requests/s of --workers 1 on {os.cpu_count()} "
              f"cores shared with the load generator (> 1.0 means the second worker helps)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
