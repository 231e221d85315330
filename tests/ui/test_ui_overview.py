"""The Overview page in a real browser: uptime, listeners, rate charts drawn from the server's
sampler (started by the first series request), memory and bounds, after real HTTP traffic."""

from __future__ import annotations

import time

import httpx
from ui_harness import Console, wait_for


def test_overview_shows_listeners_rates_memory_and_bounds(console: Console, http: httpx.Client,
                                                         admin: httpx.Client) -> None:
    admin.get("stats/series").raise_for_status()  # starts the sampler: the first sample is taken now
    for _ in range(20):
        assert http.get("/pets").status_code == 200
    assert http.get("/no-such-path").status_code == 404

    def partial_rate() -> bool:
        points = admin.get("stats/series").json()["points"]
        return bool(points and points[-1].get("partial") and points[-1]["request_rate"])

    wait_for(partial_rate, "a second to pass since the first sample (a rate needs two readings)")
    started = time.perf_counter()
    console.open("overview")
    print(f"\nOverview: load to mounted {(time.perf_counter() - started) * 1000:.0f} ms")  # printed, never gating
    assert int(console.text_of('[data-test="overview-requests"]')) >= 21
    assert int(console.text_of('[data-test="overview-errors"]')) >= 1
    assert console.text_of('[data-test="overview-uptime"]').endswith("s")
    assert console.text_of('[data-test="overview-rss"]').endswith("MB")
    rows = {r.get_attribute("data-name"): r.text for r in console.find_all('[data-test="listener-row"]')}
    server = console.server
    assert f"127.0.0.1:{server.ports['http']}" in rows["http"] and "admin" in rows["http"]
    assert f"127.0.0.1:{server.ports['admin']}" in rows["admin"]
    chart = console.test_id("chart-requests")
    assert int(chart.get_attribute("data-points")) >= 1
    assert console.find_all('[data-test="chart-requests"] polyline')
    assert console.find_all('[data-test="chart-errors"]') and console.find_all('[data-test="chart-rss"] polyline')
    bounds = [r.text for r in console.find_all('[data-test="bound-row"]')]
    assert any(b.startswith("core.max_request_logs") for b in bounds) and len(bounds) >= 20
    assert console.severe_logs() == []
    console.shot("overview", keep=True)


def test_overview_refreshes_without_reload(console: Console, http: httpx.Client) -> None:
    console.open("overview")
    before = int(console.text_of('[data-test="overview-requests"]'))
    for _ in range(5):
        http.get("/pets")
    wait_for(lambda: int(console.text_of('[data-test="overview-requests"]')) >= before + 5,
             "the overview to refresh its counters (every 5 s)")
