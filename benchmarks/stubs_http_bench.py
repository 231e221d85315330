"""Stub routing stays flat over a real socket: requests/s on one stub route with 1, 100 and
10,000 stubs loaded (issue 3). Target: the 10,000-stub figure at least 0.8 of the 1-stub one.

    python benchmarks/stubs_http_bench.py [--seconds 3] [--rounds 3]

Each size gets its own ``mockforge serve --config FILE`` process, started one after another;
the stubs are one JSON file in a stubs folder. Stubs have mostly distinct paths: half path
templates ``/svc<i>/items/{id}`` with a query matcher, half exact paths, and one in a hundred
sharing ``/shared/items/{id}`` with a distinct query value (so some trie nodes hold several
stubs). The request hits a template stub in the middle of the set. Once all servers answer,
wrk rounds are interleaved across them and the best round of each is kept, so a burst of load
from elsewhere on a shared machine hits every figure alike. ``in_process_finds`` compares with
``bench_stubs.py`` (the store alone, no socket).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import httpx
from _util import free_port, have_wrk, mockforge_args, server_process, wrk

SIZES = (1, 100, 10_000)
TARGET = 0.8


def stubs_for(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 100 == 99:
            request: dict[str, Any] = {"method": "GET", "path": "/shared/items/{id}", "query": {"v": str(i)}}
        elif i % 2 == 0:
            request = {"method": "GET", "path": f"/svc{i}/items/{{id}}", "query": {"kind": "dog"}}
        else:
            request = {"method": "GET", "path": f"/exact/{i}/items/7"}
        out.append({"id": f"s{i}", "request": request, "response": {"body": {"i": i}}})
    return out


def target_path(n: int) -> str:
    i = (n // 2) - ((n // 2) % 2)  # an even index: a template stub in the middle
    return f"/svc{i}/items/42?kind=dog"


def write_config(folder: Path, n: int) -> Path:
    stubs = folder / f"stubs-{n}"
    stubs.mkdir()
    (stubs / "stubs.json").write_text(json.dumps(stubs_for(n)))
    config = folder / f"mockforge-{n}.yaml"
    # JSON is YAML: the config names the stubs folder; the request log stays on (the default)
    config.write_text(json.dumps({"http": {"stubs_dir": str(stubs)}}))
    return config


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=50)
    args = ap.parse_args()
    if not have_wrk():
        print("wrk is not installed (apt-get install wrk): skipping")
        return {}
    runs: dict[int, list[dict[str, float]]] = {n: [] for n in SIZES}
    startup: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="mockforge-stubs-bench-") as tmp, contextlib.ExitStack() as stack:
        urls: dict[int, str] = {}
        for n in SIZES:
            port = free_port()
            cmd = mockforge_args("--config", str(write_config(Path(tmp), n)), "--http-port", str(port))
            url = f"http://127.0.0.1:{port}{target_path(n)}"
            _, startup[n] = stack.enter_context(server_process(cmd, url))
            answer = httpx.get(url, timeout=10)
            if answer.status_code != 200 or answer.json() != {"i": int(target_path(n).split("/")[1][3:])}:
                raise SystemExit(f"{n} stubs: the benchmark request was not answered by its stub: {answer.text}")
            urls[n] = url
        for n in SIZES:  # warm-up
            wrk(urls[n], seconds=1, connections=args.connections)
        for _ in range(args.rounds):
            for n in SIZES:
                runs[n].append(wrk(urls[n], seconds=args.seconds, connections=args.connections))
    best = {n: max(runs[n], key=lambda r: r["rps"]) for n in SIZES}
    base = best[SIZES[0]]["rps"]
    results: dict[str, Any] = {}
    print(f"{'stubs':>7} {'req/s':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7} {'start s':>8}")
    for n in SIZES:
        r = best[n]
        ratio = r["rps"] / base
        results[f"rps_{n}"] = r["rps"]
        results[f"ratio_{n}"] = ratio
        results[f"errors_{n}"] = sum(x["errors"] for x in runs[n])
        results[f"start_to_first_answer_s_{n}"] = startup[n]
        print(f"{n:>7} {r['rps']:>9.0f} {ratio:>6.2f} {r.get('p50_ms', 0):>7.2f} {r.get('p99_ms', 0):>7.2f} "
              f"{results[f'errors_{n}']:>7.0f} {startup[n]:>8.2f}")
    flat = results[f"ratio_{SIZES[-1]}"]
    results["flat"] = flat >= TARGET
    print(f"10,000 stubs vs 1 stub: {flat:.2f} (target >= {TARGET}: {'met' if flat >= TARGET else 'MISSED'})")
    print(f"100 stubs vs 1 stub:    {results['ratio_100']:.2f}")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
