"""The Overview's rate sampler (``ui/series.py``): a bounded ring, rates from counter deltas,
driven by an injected clock so nothing here waits."""

from __future__ import annotations

import asyncio
from typing import Any

from mockforge.ui.series import RateSeries


class Counters:
    def __init__(self) -> None:
        self.requests = 0
        self.errors = 0

    def totals(self) -> dict[str, Any]:
        return {"requests_by_protocol": {"http": self.requests, "grpc": 0},
                "errors_by_protocol": {"http": self.errors}}


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make(capacity: int = 90) -> tuple[RateSeries, Counters, Clock]:
    counters, clock = Counters(), Clock()
    series = RateSeries(counters.totals, rss=lambda: 4096, clock=clock, wall=lambda: 1_800_000_000.0 + clock.t,
                        capacity=capacity)
    return series, counters, clock


def test_rates_are_counter_deltas_over_the_time_between_samples() -> None:
    series, counters, clock = make()
    series.sample()
    counters.requests, counters.errors = 200, 20
    clock.t += 10
    series.sample()
    counters.requests, counters.errors = 250, 20
    clock.t += 10
    series.sample()
    points = series.snapshot()["points"]
    assert [p["requests"] for p in points] == [0, 200, 250]
    assert points[0]["request_rate"] is None
    assert (points[1]["request_rate"], points[1]["error_rate"]) == (20.0, 2.0)
    assert (points[2]["request_rate"], points[2]["error_rate"]) == (5.0, 0.0)
    assert points[1]["rss_bytes"] == 4096
    assert points[0]["at"].endswith("Z")


def test_the_ring_keeps_the_last_capacity_samples_only() -> None:
    series, counters, clock = make(capacity=5)
    for i in range(12):
        counters.requests = i * 10
        clock.t += 10
        series.sample()
    assert len(series.samples) == 5
    assert [s.requests for s in series.samples] == [70, 80, 90, 100, 110]


def test_a_partial_point_covers_the_time_since_the_last_sample() -> None:
    series, counters, clock = make()
    series.sample()
    counters.requests = 30
    clock.t += 0.5  # under a second: no partial point yet
    assert len(series.snapshot()["points"]) == 1
    clock.t += 2.5
    points = series.snapshot()["points"]
    assert points[-1]["partial"] is True
    assert points[-1]["request_rate"] == 10.0
    assert len(series.samples) == 1  # reading stores nothing


def test_a_counter_going_down_gives_no_rate() -> None:
    series, counters, clock = make()
    counters.requests = 50
    series.sample()
    counters.requests = 10
    clock.t += 10
    series.sample()
    assert series.snapshot()["points"][1]["request_rate"] is None


def test_start_samples_once_and_arms_one_timer_that_stop_cancels() -> None:
    series, _, _ = make()
    loop = asyncio.new_event_loop()
    try:
        series.start(loop)
        series.start(loop)  # idempotent: still one sample and one timer
        assert series.running and len(series.samples) == 1
        series._tick()  # what the timer does when it fires
        assert len(series.samples) == 2 and series.running
        series.stop()
        assert not series.running
    finally:
        loop.close()
