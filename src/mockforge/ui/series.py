"""Request and error rates for the console's Overview charts: a small ring of counter samples.

    series = RateSeries(metrics.totals, rss=read_rss)   # created on the first series request
    series.start(loop)          # one sample now, then one every ``interval_s`` (loop.call_later)
    series.snapshot()           # {"interval_s", "capacity", "points": [...]} for the admin API
    series.stop()               # Server.stop

Nothing exists before the first ``GET /__mockforge/stats/series``: no timer, no ring. After that
one timer handle re-arms itself every 10 s and the ring holds at most 90 samples (15 minutes);
both numbers are fixed (the window the issue asks for), not driven by traffic, so they are
constants rather than config keys. Each sample is four numbers read from the metrics counters
(``Metrics.totals``: since start, not bounded by the log) and ``/proc/self/statm``.

Why hand-written: a rate is the difference of two counter samples over their time apart; a
time-series library would hold far more than 90 tuples to answer that.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["CAPACITY", "INTERVAL_S", "RateSeries", "Sample", "read_rss"]

#: Seconds between samples.
INTERVAL_S = 10.0
#: Samples kept: 90 x 10 s = the last 15 minutes.
CAPACITY = 90


def read_rss() -> int:
    """Resident set size in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True, slots=True)
class Sample:
    """Counters at one instant: ``t`` on the monotonic clock, ``wall`` in Unix seconds."""

    t: float
    wall: float
    requests: int
    errors: int
    rss: int


def _total(counts: Any) -> int:
    return sum(int(v) for v in counts.values()) if isinstance(counts, dict) else 0


class RateSeries:
    """The ring of samples and the timer that fills it.

    ``totals``: ``Metrics.totals`` (reads ``requests_by_protocol`` and ``errors_by_protocol``);
    ``rss``: the memory reader; ``clock``/``wall``: injectable for tests (monotonic and Unix time).
    """

    def __init__(
        self,
        totals: Callable[[], dict[str, Any]],
        *,
        rss: Callable[[], int] = read_rss,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        interval_s: float = INTERVAL_S,
        capacity: int = CAPACITY,
    ) -> None:
        self._totals = totals
        self._rss = rss
        self._clock = clock
        self._wall = wall
        self.interval_s = interval_s
        self.capacity = capacity
        self.samples: deque[Sample] = deque(maxlen=capacity)
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- sampling ----------------------------------------------------------------------
    def read(self) -> Sample:
        """The counters now (not stored)."""
        totals = self._totals()
        return Sample(
            t=self._clock(),
            wall=self._wall(),
            requests=_total(totals.get("requests_by_protocol")),
            errors=_total(totals.get("errors_by_protocol")),
            rss=self._rss(),
        )

    def sample(self) -> Sample:
        """Take one sample into the ring (the oldest falls out past ``capacity``)."""
        s = self.read()
        self.samples.append(s)
        return s

    # ---- the timer -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._timer is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sample now and every ``interval_s`` on ``loop`` (idempotent)."""
        if self._timer is not None:
            return
        self._loop = loop
        self.sample()
        self._timer = loop.call_later(self.interval_s, self._tick)

    def _tick(self) -> None:
        self.sample()
        if self._loop is not None and self._timer is not None:
            self._timer = self._loop.call_later(self.interval_s, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- reading ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Every stored sample as a point (rates over the time since the previous sample), plus a
        ``partial`` point from the last sample to now when at least a second has passed."""
        points: list[dict[str, Any]] = []
        prev: Sample | None = None
        samples = list(self.samples)
        now = self.read()
        if samples and now.t - samples[-1].t >= 1.0:
            samples.append(now)
            partial_at = len(samples) - 1
        else:
            partial_at = -1
        for i, s in enumerate(samples):
            point: dict[str, Any] = {
                "at": datetime.fromtimestamp(s.wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "requests": s.requests,
                "errors": s.errors,
                "rss_bytes": s.rss,
                "request_rate": None,
                "error_rate": None,
            }
            if prev is not None and s.t > prev.t:
                span = s.t - prev.t
                # a counter only goes down when the process restarted its metrics: no rate then
                if s.requests >= prev.requests and s.errors >= prev.errors:
                    point["request_rate"] = round((s.requests - prev.requests) / span, 3)
                    point["error_rate"] = round((s.errors - prev.errors) / span, 3)
            if i == partial_at:
                point["partial"] = True
            points.append(point)
            prev = s
        return {
            "interval_s": self.interval_s,
            "capacity": self.capacity,
            "window_s": self.interval_s * self.capacity,
            "points": points,
            "now": {"requests": now.requests, "errors": now.errors, "rss_bytes": now.rss},
        }
