"""Prometheus metrics: counted in plain Python on the hot path, exported by prometheus_client
only when someone scrapes.

    metrics = attach_metrics(runtime)        # always on: GET /__mockforge/metrics
    metrics.in_flight("http", +1)            # what the request log does not carry
    metrics.fixture_event("hits")
    metrics.render()                         # -> Response, text format 0.0.4

Why not prometheus_client's ``Counter``/``Histogram`` objects: importing the library costs
megabytes the idle HTTP server (target: under 45 MB) should not pay, and a histogram child costs
~3.9 KB (reference/python-stack.md section 6). Here a series is one dict entry keyed by a label
tuple (an ``int`` for a counter; for a histogram a list of 13 bucket counts, ``+Inf`` and the
sum), so counting is a dict lookup and an increment. prometheus_client is imported at the first
scrape (or when the separate metrics listener starts) and only builds the exposition text, from
a custom collector plus its process collector (RSS, CPU, open fds, start time).

Measured here with ``python benchmarks/metrics_cost.py`` (Linux, CPython 3.11, prometheus_client 0.26;
docs/METRICS.md has the details): the first scrape of an idle HTTP-only server, which imports
prometheus_client, adds +2.6 MB RSS (29.1 -> 31.7 MB in that process); 10,000 distinct label
sets (a request counter and a duration histogram each, so 20,000 series) add +4.6 MB, where
prometheus_client's own Counter + Histogram (same buckets) take +52 MB, and take 1.4 s to scrape (15.6 MB of text);
``on_entry`` costs ~0.8 microseconds per request. Importing this module costs ~0.07 MB.

Label sets stay bounded: HTTP routes are the route template (``request.route``), the kind of
what answered (``stub``, ``fixture``, ``proxy``, ``plugin``) when no template is known, or
``unmatched``; gRPC routes are the method (``pkg.Service/Method``, only methods the protos
define reach the log); WebSocket routes are the configured path. As a last guard a family holds
at most ``MAX_SERIES`` label sets; past it new sets are counted under ``route="overflow"``.

``errors_total{kind}`` (derived from log entries unless reported with ``error()``):

    unmatched    HTTP 404/405 answered by mockforge itself: no stub, fixture or route matched
    validation   HTTP 4xx from mockforge on a matched route (request validation refused it)
    bad_request  other 4xx from mockforge (body too large, ...); gRPC INVALID_ARGUMENT or
                 RESOURCE_EXHAUSTED on a malformed/oversized message; WS close 1002/1007/1009
    internal     HTTP 5xx from mockforge itself; gRPC non-OK not chosen by a stub; WS close 1011
    mocked       an error the mock was told to give: HTTP 5xx from a stub, spec or fault,
                 gRPC non-OK status from a stub
    cancelled    gRPC CANCELLED; WS connection dropped without a close frame (1006)
    backpressure WS closed with 1008 (send queue full: the client reads too slowly)

Everything runs on the server's event loop; the counters take no lock.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from mockforge.core.model import LogEntry, Response

if TYPE_CHECKING:
    from mockforge.core.request_log import RequestLog

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds (seconds) of the duration histogram; ``+Inf`` is implicit.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_INF = len(BUCKETS)  # index of the +Inf bucket
_SUM = _INF + 1  # index of the sum in a histogram row

#: Most label sets one family keeps; later new sets are folded into ``route="overflow"``.
MAX_SERIES = 5000

FIXTURE_EVENTS = ("hits", "misses", "writes", "skipped_writes")
PLUGIN_OUTCOMES = ("ok", "failed", "busy", "disabled")

_WS_DIRECTIONS = {"MESSAGE_IN": "in", "MESSAGE_OUT": "out"}
_WS_CLOSE_ERRORS = {
    1002: "bad_request",
    1006: "cancelled",
    1007: "bad_request",
    1008: "backpressure",
    1009: "bad_request",
    1011: "internal",
}
_GRPC_OWN_ERRORS = {1: "cancelled", 3: "bad_request", 8: "bad_request"}

_Key4 = tuple[str, str, str, int]


def _unrouted(matched: str) -> str:
    """The route label of an HTTP entry without a route template."""
    if not matched or matched == "mockforge":
        return "unmatched"
    return matched.partition(":")[0]


def http_error_kind(status: int, matched: str, route: str | None) -> str | None:
    """``errors_total`` kind for an HTTP exchange, or None when it is not an error."""
    if status >= 500:
        return "internal" if matched == "mockforge" else "mocked"
    if status >= 400 and matched == "mockforge":
        if status == 405 or (status == 404 and route is None):
            return "unmatched"  # (a 404 on a route is validation: a path parameter refused)
        return "validation" if route is not None else "bad_request"
    return None


def grpc_error_kind(code: int, matched: str) -> str | None:
    if code == 0:
        return None
    if matched.startswith("stub:"):
        return "mocked"
    return _GRPC_OWN_ERRORS.get(code, "internal")


class Metrics:
    """Counters for every family; fed by the request log and by explicit calls.

    Subscribes to the log's ``ExchangeLogged`` event when created; the runtime creates one.
    """

    def __init__(self, log: RequestLog) -> None:
        self.log = log
        log.logged.subscribe(self.on_entry)
        self.max_series = MAX_SERIES
        self.requests: dict[_Key4, int] = {}
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.grpc_calls: dict[tuple[str, str], int] = {}
        self.ws_messages = {"in": 0, "out": 0}
        self.errors: dict[tuple[str, str], int] = {}
        self.plugin_calls: dict[tuple[str, str], int] = {}
        #: (operation, kind) -> drift findings (bounded like every family by ``max_series``).
        self.drift_findings: dict[tuple[str, str], int] = {}
        self.fixtures = dict.fromkeys(FIXTURE_EVENTS, 0)
        self.in_flight_by_protocol: dict[str, int] = {}
        self.ws_active = 0
        #: Requests per protocol since start (WebSocket: handshakes), not bounded by the log.
        self.by_protocol: dict[str, int] = {}
        self._registry: Any = None
        #: The shared store's counters (``core.shared_state``), None when state is not shared.
        self.shared: Callable[[], dict[str, Any]] | None = None

    # ---- fed by the request log ----------------------------------------------------------
    def on_entry(self, entry: LogEntry) -> None:
        """Count one log entry (a ``RequestLog`` listener: called for every exchange)."""
        protocol = entry.protocol
        status = entry.status
        if protocol == "ws":
            method = entry.method
            direction = _WS_DIRECTIONS.get(method)
            if direction is not None:
                self.ws_messages[direction] += 1
                return
            if method == "CLOSE":
                kind = _WS_CLOSE_ERRORS.get(status)
                if kind is not None:
                    self.error("ws", kind)
                return
            route = entry.route or "unmatched"
        elif protocol == "grpc":
            method = "POST"
            route = entry.method
            self._bump2(self.grpc_calls, (route, entry.status_text))
            kind = grpc_error_kind(status, entry.matched)
            if kind is not None:
                self.error(protocol, kind)
            self._observe(protocol, route, entry.duration_ms)
        else:
            method = entry.method
            route = entry.route or _unrouted(entry.matched)
            kind = http_error_kind(status, entry.matched, entry.route)
            if kind is not None:
                self.error(protocol, kind)
            self._observe(protocol, route, entry.duration_ms)
        by = self.by_protocol
        by[protocol] = by.get(protocol, 0) + 1
        key = (protocol, method, route, status)
        requests = self.requests
        if key in requests:
            requests[key] += 1
        elif len(requests) < self.max_series:
            requests[key] = 1
        else:
            key = (protocol, method, "overflow", status)
            requests[key] = requests.get(key, 0) + 1

    def _observe(self, protocol: str, route: str, duration_ms: float) -> None:
        seconds = duration_ms / 1000
        key = (protocol, route)
        row = self.durations.get(key)
        if row is None:
            if len(self.durations) >= self.max_series:
                key = (protocol, "overflow")
                row = self.durations.get(key)
            if row is None:
                row = self.durations[key] = [0.0] * (_SUM + 1)
        row[bisect_left(BUCKETS, seconds)] += 1
        row[_SUM] += seconds

    def _bump2(self, family: dict[tuple[str, str], int], key: tuple[str, str]) -> None:
        """Add one to ``key``; a full family counts new keys under ``("overflow", key[1])``."""
        if key in family:
            family[key] += 1
        elif len(family) < self.max_series:
            family[key] = 1
        else:
            overflow = ("overflow", key[1])
            family[overflow] = family.get(overflow, 0) + 1

    # ---- explicit events -----------------------------------------------------------------
    def in_flight(self, protocol: str, delta: int) -> None:
        """``+1`` when a request starts being answered, ``-1`` when its answer is sent."""
        gauge = self.in_flight_by_protocol
        gauge[protocol] = gauge.get(protocol, 0) + delta

    def ws_connections(self, delta: int) -> None:
        """``+1`` when a WebSocket handshake is accepted, ``-1`` when the connection is gone."""
        self.ws_active += delta

    def plugin_call(self, plugin: str, outcome: str) -> None:
        """One plugin call; ``outcome`` is one of ``PLUGIN_OUTCOMES``."""
        if outcome not in PLUGIN_OUTCOMES:
            raise ValueError(f"plugin outcome must be one of {', '.join(PLUGIN_OUTCOMES)}, not {outcome!r}")
        self._bump2(self.plugin_calls, (plugin, outcome))

    def fixture_event(self, kind: str) -> None:
        """One fixture ``hits``, ``misses``, ``writes`` or ``skipped_writes``."""
        try:
            self.fixtures[kind] += 1
        except KeyError:
            raise ValueError(f"fixture event must be one of {', '.join(FIXTURE_EVENTS)}, not {kind!r}") from None

    def drift_finding(self, operation: str, kind: str) -> None:
        """One drift finding (``operation`` a spec operation key or ``undocumented``)."""
        self._bump2(self.drift_findings, (operation, kind))

    def error(self, protocol: str, kind: str) -> None:
        """Count an error the log cannot show (a transport fault, a failed fixture write...)."""
        key = (protocol, kind)
        errors = self.errors
        errors[key] = errors.get(key, 0) + 1

    # ---- reading -------------------------------------------------------------------------
    def totals(self) -> dict[str, Any]:
        """Aggregates for ``GET /__mockforge/stats`` (since start, not bounded by the log)."""
        errors: dict[str, int] = {}
        for (protocol, _), n in self.errors.items():
            errors[protocol] = errors.get(protocol, 0) + n
        return {
            "requests_by_protocol": dict(self.by_protocol),
            "errors_by_protocol": errors,
            "ws_messages": dict(self.ws_messages),
            "ws_connections_active": self.ws_active,
            "in_flight": {p: n for p, n in self.in_flight_by_protocol.items() if n},
        }

    def series_count(self) -> int:
        """Label sets held across all families (what a scrape exports, minus process metrics)."""
        return (
            len(self.requests)
            + len(self.durations)
            + len(self.grpc_calls)
            + len(self.errors)
            + len(self.plugin_calls)
            + len(self.drift_findings)
            + len(self.in_flight_by_protocol)
        )

    def render(self) -> Response:
        """The exposition text (imports prometheus_client on the first call)."""
        from prometheus_client import generate_latest

        body = generate_latest(self.registry())
        return Response(status=200, headers=[("content-type", CONTENT_TYPE)], body=body, source="admin")

    def registry(self) -> Any:
        """The ``CollectorRegistry`` holding our collector and the process collector."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry, ProcessCollector

            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Collector(self))
            ProcessCollector(registry=registry)
            self._registry = registry
        return self._registry

    def families(self) -> Iterator[Any]:
        """prometheus_client metric families built from the counters (at scrape time)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "mockforge_requests",
            "Requests answered (WebSocket: handshakes).",
            labels=("protocol", "method", "route", "status"),
        )
        for (protocol, method, route, status), n in list(self.requests.items()):
            requests.add_metric((protocol, method, route, str(status)), n)
        yield requests

        durations = HistogramMetricFamily(
            "mockforge_request_duration_seconds",
            "Time to answer a request (gRPC: whole call).",
            labels=("protocol", "route"),
        )
        bounds = [repr(b) for b in BUCKETS] + ["+Inf"]
        for (protocol, route), row in list(self.durations.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip(bounds, row[: _INF + 1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            durations.add_metric((protocol, route), buckets, row[_SUM])
        yield durations

        in_flight = GaugeMetricFamily(
            "mockforge_requests_in_flight", "Requests being answered now.", labels=("protocol",)
        )
        for protocol, n in list(self.in_flight_by_protocol.items()):
            in_flight.add_metric((protocol,), n)
        yield in_flight

        yield _counter(
            "mockforge_errors", "Errors by protocol and kind (see docs/METRICS.md).", ("protocol", "kind"), self.errors
        )
        yield GaugeMetricFamily("mockforge_ws_connections_active", "Open WebSocket connections.", value=self.ws_active)
        ws = CounterMetricFamily("mockforge_ws_messages", "WebSocket messages.", labels=("direction",))
        for direction, n in self.ws_messages.items():
            ws.add_metric((direction,), n)
        yield ws
        yield _counter(
            "mockforge_grpc_calls", "gRPC calls by method and status code.", ("method", "code"), self.grpc_calls
        )
        yield _counter("mockforge_plugin_calls", "Plugin calls by outcome.", ("plugin", "outcome"), self.plugin_calls)
        yield _counter(
            "mockforge_drift_findings",
            "Drift findings by operation and kind (docs/DRIFT.md).",
            ("operation", "kind"),
            self.drift_findings,
        )

        log = self.log
        yield GaugeMetricFamily("mockforge_request_log_entries", "Entries in the request log.", value=len(log))
        yield CounterMetricFamily(
            "mockforge_request_log_evicted", "Entries evicted from the full request log.", value=log.evicted
        )
        for kind in FIXTURE_EVENTS:
            yield CounterMetricFamily(
                f"mockforge_fixture_{kind}", f"Fixture {kind.replace('_', ' ')}.", value=self.fixtures[kind]
            )
        if self.shared is not None:
            shared = self.shared()
            ship = shared["log"]
            yield CounterMetricFamily("mockforge_shared_log_written", "Log entries written to Redis.",
                                      value=ship["written"])
            yield CounterMetricFamily("mockforge_shared_log_dropped",
                                      "Log entries and reports dropped: the buffer for Redis was full.",
                                      value=ship["dropped"])
            yield GaugeMetricFamily("mockforge_shared_log_pending", "Log entries waiting for Redis.",
                                    value=ship["pending"])
            yield GaugeMetricFamily("mockforge_shared_state_degraded", "1 while Redis is unreachable.",
                                    value=1 if shared["degraded"] else 0)


def _counter(name: str, doc: str, labels: tuple[str, str], family: dict[tuple[str, str], int]) -> Any:
    from prometheus_client.core import CounterMetricFamily

    out = CounterMetricFamily(name, doc, labels=labels)
    for key, n in list(family.items()):
        out.add_metric(key, n)
    return out


class _Collector:
    """prometheus_client's Collector interface over ``Metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        return self.metrics.families()


class _HasMetrics(Protocol):
    @property
    def metrics(self) -> Metrics: ...


def attach_metrics(runtime: _HasMetrics) -> Metrics:
    """The runtime's metrics (created with it and fed by its request log)."""
    return runtime.metrics
