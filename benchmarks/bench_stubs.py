"""In-process throughput of ``InMemoryStubStore.find`` with 1, 100 and 10,000 stubs loaded.

Stubs have distinct paths (half templates ``/svc<i>/items/{id}`` with a query matcher, half
exact paths), as the issue's benchmark asks. Glob, regex and pathless stubs are left out: they
sit in a fallback list every request scans, so their cost grows with their number by design.
The figure is finds per second for a request that hits a stub, best of several rounds; the
ratios against the 1-stub figure show whether lookups stay flat (target: at least 0.8).
The wrk figure over a real socket is added by ``make bench`` elsewhere.

    .venv/bin/python benchmarks/bench_stubs.py [--rounds 5] [--finds 20000]
"""

from __future__ import annotations

import argparse
import time

from mockforge.core.model import Request
from mockforge.core.stubs import InMemoryStubStore, parse_stub

SIZES = (1, 100, 10_000)


def build(n: int) -> InMemoryStubStore:
    store = InMemoryStubStore()
    stubs = []
    for i in range(n):
        if i % 2 == 0:
            spec = {"method": "GET", "path": f"/svc{i}/items/{{id}}", "query": {"kind": "dog"}}
        else:
            spec = {"method": "GET", "path": f"/exact/{i}/items/7"}
        stubs.append(parse_stub({"id": f"s{i}", "request": spec, "response": {"body": {"i": i}}}, "", "api"))
    store.add_all(stubs)
    return store


def target(n: int) -> Request:
    i = (n // 2) - ((n // 2) % 2)  # an even index: a template stub in the middle
    return Request(protocol="http", method="GET", path=f"/svc{i}/items/42", raw_query="kind=dog")


def finds_per_second(store: InMemoryStubStore, request: Request, finds: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(finds):
            if store.find(request) is None:
                raise SystemExit("benchmark request did not match")
        best = max(best, finds / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--finds", type=int, default=20_000)
    args = parser.parse_args()
    results: dict[int, float] = {}
    for n in SIZES:
        store = build(n)
        results[n] = finds_per_second(store, target(n), args.finds, args.rounds)
    base = results[SIZES[0]]
    print(f"{'stubs':>8} {'finds/s':>12} {'ratio vs 1':>11}")
    for n in SIZES:
        print(f"{n:>8} {results[n]:>12,.0f} {results[n] / base:>11.2f}")
    ratio = results[SIZES[-1]] / base
    verdict = "ok" if ratio >= 0.8 else "BELOW the 0.8 target"
    print(f"flat lookup: 10,000-stub / 1-stub = {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    main()
