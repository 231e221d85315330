"""Metrics counted from log entries and explicit events, rendered in the Prometheus text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockforge.config import build_config
from mockforge.core.model import Request, Response
from mockforge.metrics import (
    CONTENT_TYPE,
    FIXTURE_EVENTS,
    Metrics,
    attach_metrics,
    grpc_error_kind,
    http_error_kind,
)
from mockforge.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "examples" / "plugins"
LIMITS = Path(__file__).resolve().parent / "plugins_wat"

FAMILIES = {
    "mockforge_requests": "counter",
    "mockforge_request_duration_seconds": "histogram",
    "mockforge_requests_in_flight": "gauge",
    "mockforge_errors": "counter",
    "mockforge_ws_connections_active": "gauge",
    "mockforge_ws_messages": "counter",
    "mockforge_grpc_calls": "counter",
    "mockforge_plugin_calls": "counter",
    "mockforge_request_log_entries": "gauge",
    "mockforge_request_log_evicted": "counter",
    "mockforge_fixture_hits": "counter",
    "mockforge_fixture_misses": "counter",
    "mockforge_fixture_writes": "counter",
    "mockforge_fixture_skipped_writes": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
}


def scrape(metrics: Metrics) -> dict[str, Any]:
    """Family name -> family, parsed back from the rendered text."""
    from prometheus_client.parser import text_string_to_metric_families

    resp = metrics.render()
    assert resp.status == 200
    assert resp.header("content-type") == CONTENT_TYPE
    return {f.name: f for f in text_string_to_metric_families(resp.body.decode())}


def values(families: dict[str, Any], sample_name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Sorted label pairs -> value, for every sample called ``sample_name``."""
    out = {}
    for family in families.values():
        for s in family.samples:
            if s.name == sample_name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def make_runtime(**core: Any) -> Runtime:
    return Runtime(build_config({"core": core}, env={}))


def log_http(
    rt: Runtime,
    method: str,
    path: str,
    status: int,
    *,
    route: str | None = None,
    source: str = "spec",
    duration_ms: float = 2.0,
) -> None:
    request = Request(protocol="http", method=method, path=path, route=route)
    rt.log.append(rt.log.entry_for(request, Response(status=status, source=source), duration_ms))


def log_grpc(rt: Runtime, method: str, code: int, name: str, source: str = "generated") -> None:
    request = Request(protocol="grpc", method=method, path=f"/{method}")
    entry = rt.log.entry_for(request, Response(status=code, source=source), 1.5, status=code)
    entry.status_text = name
    rt.log.append(entry)


def log_ws(rt: Runtime, method: str, status: int = 0) -> None:
    request = Request(protocol="ws", method=method, path="/ws", route="/ws")
    rt.log.append(rt.log.entry_for(request, Response(status=status, source="ws:echo"), 0.0, status=status))


def test_every_family_is_exported_before_any_traffic() -> None:
    families = scrape(attach_metrics(make_runtime()))
    assert {name: families[name].type for name in FAMILIES} == FAMILIES
    assert values(families, "process_resident_memory_bytes")[()] > 1_000_000
    assert values(families, "mockforge_requests_total") == {}
    assert values(families, "mockforge_ws_messages_total") == {(("direction", "in"),): 0, (("direction", "out"),): 0}


def test_http_requests_are_labelled_by_route_template_never_by_path() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    for pet in ("1", "2", "3"):
        log_http(rt, "GET", f"/pets/{pet}", 200, route="/pets/{id}")
    log_http(rt, "GET", "/nothing/here", 404, source="mockforge")
    log_http(rt, "GET", "/other/thing", 404, source="mockforge")
    log_http(rt, "GET", "/stubbed/7", 200, source="stub:abc-123")
    log_http(rt, "GET", "/replayed", 200, source="fixture:f1")
    got = values(scrape(metrics), "mockforge_requests_total")
    assert got == {
        (("method", "GET"), ("protocol", "http"), ("route", "/pets/{id}"), ("status", "200")): 3,
        (("method", "GET"), ("protocol", "http"), ("route", "unmatched"), ("status", "404")): 2,
        (("method", "GET"), ("protocol", "http"), ("route", "stub"), ("status", "200")): 1,
        (("method", "GET"), ("protocol", "http"), ("route", "fixture"), ("status", "200")): 1,
    }
    assert metrics.by_protocol == {"http": 7}


def test_duration_histogram_has_buckets_from_1ms_to_10s_and_is_cumulative() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    for ms in (0.5, 1.0, 3.0, 700.0, 20_000.0):
        log_http(rt, "GET", "/pets", 200, route="/pets", duration_ms=ms)
    families = scrape(metrics)
    buckets = {dict(k)["le"]: v for k, v in values(families, "mockforge_request_duration_seconds_bucket").items()}
    assert buckets == {
        "0.001": 2, "0.0025": 2, "0.005": 3, "0.01": 3, "0.025": 3, "0.05": 3, "0.1": 3, "0.25": 3, "0.5": 3,
        "1.0": 4, "2.5": 4, "5.0": 4, "10.0": 4, "+Inf": 5,
    }  # fmt: skip
    key = (("protocol", "http"), ("route", "/pets"))
    assert values(families, "mockforge_request_duration_seconds_count") == {key: 5}
    assert values(families, "mockforge_request_duration_seconds_sum")[key] == pytest.approx(20.7045)


@pytest.mark.parametrize(
    ("status", "matched", "route", "kind"),
    [
        (200, "spec", "/pets", None),
        (404, "stub:x", None, None),  # a stub may answer 404 on purpose
        (404, "mockforge", None, "unmatched"),
        (405, "mockforge", "/pets", "unmatched"),
        (400, "mockforge", "/pets", "validation"),
        (422, "mockforge", "/pets", "validation"),
        (404, "mockforge", "/pets/{id}", "validation"),  # the documented 404 for a bad path parameter
        (413, "mockforge", None, "bad_request"),
        (500, "mockforge", None, "internal"),
        (503, "stub:down", None, "mocked"),
        (500, "spec", "/pets", "mocked"),
    ],
)
def test_http_error_kinds(status: int, matched: str, route: str | None, kind: str | None) -> None:
    assert http_error_kind(status, matched, route) == kind


@pytest.mark.parametrize(
    ("code", "matched", "kind"),
    [(0, "generated", None), (5, "stub:nf", "mocked"), (1, "generated", "cancelled"),
     (3, "generated", "bad_request"), (13, "generated", "internal")],
)  # fmt: skip
def test_grpc_error_kinds(code: int, matched: str, kind: str | None) -> None:
    assert grpc_error_kind(code, matched) == kind


def test_grpc_calls_are_counted_by_method_and_status_name() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    log_grpc(rt, "pkg.Svc/Get", 0, "OK")
    log_grpc(rt, "pkg.Svc/Get", 0, "OK")
    log_grpc(rt, "pkg.Svc/Get", 5, "NOT_FOUND", source="stub:missing")
    log_grpc(rt, "pkg.Svc/Put", 13, "INTERNAL")
    families = scrape(metrics)
    assert values(families, "mockforge_grpc_calls_total") == {
        (("code", "OK"), ("method", "pkg.Svc/Get")): 2,
        (("code", "NOT_FOUND"), ("method", "pkg.Svc/Get")): 1,
        (("code", "INTERNAL"), ("method", "pkg.Svc/Put")): 1,
    }
    requests = values(families, "mockforge_requests_total")
    assert requests[(("method", "POST"), ("protocol", "grpc"), ("route", "pkg.Svc/Get"), ("status", "0"))] == 2
    assert values(families, "mockforge_errors_total") == {
        (("kind", "mocked"), ("protocol", "grpc")): 1,
        (("kind", "internal"), ("protocol", "grpc")): 1,
    }


def test_ws_counts_handshakes_messages_and_abnormal_closes() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    metrics.ws_connections(1)
    log_ws(rt, "CONNECT", 101)
    for method in ("MESSAGE_IN", "MESSAGE_OUT", "MESSAGE_OUT"):
        log_ws(rt, method)
    log_ws(rt, "CLOSE", 1000)
    log_ws(rt, "CLOSE", 1006)
    log_ws(rt, "CLOSE", 1008)
    families = scrape(metrics)
    assert values(families, "mockforge_ws_messages_total") == {(("direction", "in"),): 1, (("direction", "out"),): 2}
    assert values(families, "mockforge_requests_total") == {
        (("method", "CONNECT"), ("protocol", "ws"), ("route", "/ws"), ("status", "101")): 1
    }
    assert values(families, "mockforge_errors_total") == {
        (("kind", "cancelled"), ("protocol", "ws")): 1,
        (("kind", "backpressure"), ("protocol", "ws")): 1,
    }
    assert values(families, "mockforge_ws_connections_active") == {(): 1}
    assert values(families, "mockforge_request_duration_seconds_count") == {}  # no durations for ws


def test_explicit_events_in_flight_fixtures_plugins_and_errors() -> None:
    metrics = attach_metrics(make_runtime())
    metrics.in_flight("http", 1)
    metrics.in_flight("http", 1)
    metrics.in_flight("http", -1)
    metrics.in_flight("grpc", 1)
    for kind in ("hits", "hits", "misses", "writes", "skipped_writes"):
        metrics.fixture_event(kind)
    metrics.plugin_call("echo", "ok")
    metrics.plugin_call("echo", "failed")
    metrics.error("http", "transport_fault")
    families = scrape(metrics)
    assert values(families, "mockforge_requests_in_flight") == {(("protocol", "http"),): 1, (("protocol", "grpc"),): 1}
    fixtures = {kind: values(families, f"mockforge_fixture_{kind}_total")[()] for kind in FIXTURE_EVENTS}
    assert fixtures == {"hits": 2, "misses": 1, "writes": 1, "skipped_writes": 1}
    assert values(families, "mockforge_plugin_calls_total") == {
        (("outcome", "ok"), ("plugin", "echo")): 1,
        (("outcome", "failed"), ("plugin", "echo")): 1,
    }
    assert values(families, "mockforge_errors_total") == {(("kind", "transport_fault"), ("protocol", "http")): 1}
    with pytest.raises(ValueError, match="fixture event must be one of hits, misses"):
        metrics.fixture_event("hit")
    with pytest.raises(ValueError, match="plugin outcome must be one of"):
        metrics.plugin_call("echo", "exploded")


def test_log_gauges_are_read_from_the_log_at_scrape_time() -> None:
    rt = make_runtime(max_request_logs=2)
    metrics = attach_metrics(rt)
    for i in range(5):
        log_http(rt, "GET", f"/p/{i}", 200, route="/p/{i}")
    families = scrape(metrics)
    assert values(families, "mockforge_request_log_entries") == {(): 2}
    assert values(families, "mockforge_request_log_evicted_total") == {(): 3}
    rt.log.clear()
    assert values(scrape(metrics), "mockforge_request_log_entries") == {(): 0}
    assert metrics.by_protocol == {"http": 5}  # counters outlive the log


def test_a_full_family_folds_new_label_sets_into_overflow() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    metrics.max_series = 3
    for i in range(10):
        log_http(rt, "GET", f"/r/{i}", 200, route=f"/r{i}")
    assert len(metrics.requests) == 4  # three routes and the overflow series
    assert metrics.requests[("http", "GET", "overflow", 200)] == 7
    assert ("http", "overflow") in metrics.durations
    assert sum(sum(row[:-1]) for row in metrics.durations.values()) == 10  # bucket counts, without the sums


def test_attach_metrics_publishes_the_service_and_listens_to_the_log() -> None:
    rt = make_runtime()
    metrics = attach_metrics(rt)
    assert rt.metrics is metrics
    assert metrics.on_entry in rt.log.listeners
    log_http(rt, "DELETE", "/pets/1", 204, route="/pets/{id}")
    assert metrics.requests == {("http", "DELETE", "/pets/{id}", 204): 1}
    assert metrics.totals()["requests_by_protocol"] == {"http": 1}


async def test_plugin_manager_reports_ok_failed_and_disabled_calls(tmp_path: Path) -> None:
    from mockforge.plugins.manager import PluginManager

    data = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(PLUGINS / "echo-wat"), str(LIMITS / "trap")], "max_failures": 2},
    }
    rt = Runtime(build_config(data, env={}))
    metrics = attach_metrics(rt)
    pm = PluginManager(rt)
    pm.load_configured()
    try:
        request = Request(protocol="http", method="GET", path="/x")
        assert (await pm.generate_response("echo-wat", request, None)).status == 200
        statuses = [(await pm.generate_response("trap", request, None)).status for _ in range(3)]
        assert statuses == [500, 500, 503]
    finally:
        pm.close()
    assert metrics.plugin_calls == {("echo-wat", "ok"): 1, ("trap", "failed"): 2, ("trap", "disabled"): 1}
