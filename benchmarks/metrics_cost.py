"""What the Prometheus metrics cost: idle RSS, the first scrape, many label sets, ``on_entry``.

    python benchmarks/metrics_cost.py

Moved here from ``mockforge/metrics.py``'s ``__main__``: the measurement has to start a whole
``Server``, and a ``metrics -> server`` import closed the ``server -> services -> metrics``
cycle. Same output as before; the figures are recorded in docs/METRICS.md.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time

import msgspec

from mockforge.config import build_config
from mockforge.core.model import Request, Response
from mockforge.metrics import Metrics
from mockforge.server import Server


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


async def _measure(series: int = 10_000) -> None:
    """Print what metrics cost (figures in docs/METRICS.md)."""
    server = Server(build_config({"http": {"port": 0, "host": "127.0.0.1"}}, env={}))
    await server.start()
    try:
        metrics: Metrics = server.runtime.metrics
        gc.collect()
        idle = _rss_mb()
        print(
            f"idle HTTP-only server: {idle:.1f} MB RSS, prometheus_client imported: "
            f"{'prometheus_client' in sys.modules}"
        )
        metrics.render()
        gc.collect()
        scraped = _rss_mb()
        print(f"after the first scrape (imports prometheus_client): {scraped:.1f} MB (+{scraped - idle:.1f} MB)")
        metrics.max_series = series * 2
        log = server.runtime.log
        template = log.entry_for(Request(protocol="http", method="GET", path="/"), Response(), 3.0)
        entries = [msgspec.structs.replace(template, route=f"/r{i}/{{id}}") for i in range(series)]
        gc.collect()
        before = _rss_mb()
        for entry in entries:
            metrics.on_entry(entry)
        gc.collect()
        grown = _rss_mb() - before
        started = time.perf_counter()
        text = metrics.render().body
        took = time.perf_counter() - started
        print(
            f"{series:,} label sets (requests_total + duration histogram): +{grown:.1f} MB, "
            f"{metrics.series_count():,} series, scrape {took:.2f} s, {len(text) / 1e6:.1f} MB of text"
        )
        n = 200_000
        started = time.perf_counter()
        for _ in range(n):
            metrics.on_entry(template)
        print(f"on_entry: {(time.perf_counter() - started) / n * 1e6:.2f} microseconds per request")
    finally:
        await server.stop(0.5)


if __name__ == "__main__":
    asyncio.run(_measure())
