"""The admin API under ``/__mockforge/``, on the HTTP port and on the admin listener.

This module answers the core endpoints (logs, routes, server info, spec, reset, stats, metrics, the
live feed ``events``, the console under ``ui/``)
and holds the route table (``AdminRoutes``: method and subpath, or a first segment -> handler)
that every service contributes rows to (``Services.admin_routes``): stubs and verification
(``admin_stubs.routes``), the answer preview (``admin_preview.routes``), ``ws/``, ``grpc/``,
``plugins``, ``fixtures``. Every request reaching
``AdminApi.handle`` has passed ``admin_guard.AdminGuard.check`` (Host, Origin, token, and a JSON
or YAML content type on any body), so no handler here or in a service checks those again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from mockforge.config import bounds, masked
from mockforge.core.model import Request, Response
from mockforge.core.request_log import parse_rfc3339
from mockforge.core.responses import detail, error_response, json_response
from mockforge.core.shared_state import SharedUnavailable
from mockforge.http.admin_guard import admin_open_on
from mockforge.http.admin_preview import routes as preview_routes
from mockforge.http.admin_routes import AdminHandler, AdminRoute, AdminRoutes
from mockforge.http.admin_stubs import shared_log, unavailable

if TYPE_CHECKING:
    from mockforge.runtime import Runtime
    from mockforge.services import Services

PREFIX = "/__mockforge/"

def _first(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


class AdminApi:
    """The core endpoints, and the table that sends every admin request to its handler."""

    def __init__(self, runtime: Runtime, services: Services) -> None:
        self.runtime = runtime
        self.services = services
        self.routes = AdminRoutes([*self._core_routes(), *preview_routes(services), *services.admin_routes()])

    def _core_routes(self) -> list[AdminRoute]:
        def sync(fn: Callable[[Request], Response]) -> AdminHandler:
            async def handler(request: Request, sub: str) -> Response | None:
                return fn(request)

            return handler

        exact = AdminRoute.exact
        return [
            exact("GET", "logs", lambda r, _s: self._logs(r)),
            exact("DELETE", "logs", lambda r, _s: self._clear_logs(r)),
            exact("GET", "routes", sync(self._routes)),
            exact("GET", "server-info", sync(lambda _: self._server_info())),
            exact("GET", "openapi.json", lambda _r, _s: self._openapi()),
            exact("POST", "reset", lambda r, _s: self._reset(r)),
            exact("GET", "logs.har", lambda r, _s: self._har(r)),
            exact("GET", "stats", sync(lambda _: json_response(self.stats()))),
            exact("GET", "stats/series", sync(lambda _: self._series())),
            exact("GET", "metrics", sync(lambda _: self.runtime.metrics.render())),
            exact("GET", "events", lambda _r, _s: self._events()),
            AdminRoute.prefix("ui", self._ui),
        ]

    # ---- the console (mockforge.ui, imported by its first request) ----------------------
    async def _ui(self, request: Request, sub: str) -> Response | None:
        from mockforge.ui import serving

        return await serving.answer(request, sub)

    async def _events(self) -> Response:
        from mockforge.ui.feed import LiveFeed

        rt = self.runtime
        if rt.feed is None:
            admin = rt.config.admin
            rt.feed = LiveFeed(rt.log, max_streams=admin.max_event_streams, queue_size=admin.event_queue_size)
        return rt.feed.response()

    async def handle(self, request: Request) -> Response:
        sub = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
        sub = sub.rstrip("/")
        handler = self.routes.find(request.method, sub)
        if handler is not None:
            answered = await handler(request, sub)
            if answered is not None:
                return answered
        return error_response(404, "not_found", f"no admin endpoint {request.method} {request.path}")

    async def _clear_logs(self, request: Request) -> Response:
        shared = self.services.shared
        if shared is not None:
            try:
                await shared.clear_log()
            except SharedUnavailable as exc:
                return unavailable(exc)
        self.runtime.log.clear()
        return json_response({"cleared": True})

    async def _reset(self, request: Request) -> Response:
        rt = self.runtime
        shared = self.services.shared
        if shared is not None:  # the shared part first: when Redis refuses, nothing is reset
            try:
                await shared.reset()
            except SharedUnavailable as exc:
                return unavailable(exc)
        for hook in rt.reset_hooks:
            hook()
        rt.log.clear()
        return json_response({"reset": True})

    async def _har(self, request: Request) -> Response:
        from mockforge.recording.har import export_har

        rt = self.runtime
        log, _ = await shared_log(self.services.stubs)  # every replica's exchanges when shared
        host = f"{rt.config.http.host}:{rt.ports.get('http')}"
        return json_response(export_har(log.snapshot(), default_host=host, version=rt.version))

    # ---- endpoints --------------------------------------------------------------------
    async def _logs(self, request: Request) -> Response:
        problems = []
        status = since = None
        limit = 100
        try:
            raw = _first(request, "status")
            status = int(raw) if raw else None
        except ValueError:
            problems.append(detail("query.status", "expected an integer"))
        try:
            raw = _first(request, "limit")
            limit = int(raw) if raw else 100
            if limit < 0:
                raise ValueError
        except ValueError:
            problems.append(detail("query.limit", "expected an integer >= 0"))
        try:
            raw = _first(request, "since")
            since = parse_rfc3339(raw) if raw else None
        except ValueError:
            problems.append(detail("query.since", "expected an RFC 3339 timestamp"))
        path_regex = _first(request, "path_regex")
        if path_regex:
            from mockforge.core.regex import RegexError, compile_user_regex

            try:
                compile_user_regex(path_regex, where="query.path_regex")
            except RegexError as exc:
                problems.append(detail("query.path_regex", exc.reason))
        if problems:
            return error_response(400, "bad_request", "invalid log filter", problems)
        log, scope = await shared_log(self.services.stubs)
        entries = log.query(
            method=_first(request, "method"),
            path=_first(request, "path"),
            path_regex=path_regex,
            status=status,
            since=since,
            protocol=_first(request, "protocol"),
            limit=limit,
        )
        out: dict[str, Any] = {"entries": msgspec.to_builtins(entries), "evicted": log.evicted}
        if scope is not None:
            out["scope"] = scope
        return json_response(out)

    def _routes(self, request: Request) -> Response:
        spec = self.services.spec.current
        routes = spec.routes_info() if spec is not None else []
        return json_response({"routes": routes, "stubs": self.services.stubs.routes_info()})

    async def _openapi(self) -> Response:
        spec = self.services.spec.current
        if spec is None:
            return error_response(404, "no_spec", "no OpenAPI document is loaded")
        from mockforge.openapi.loader import combined_document

        # the files are read again (raw documents are not kept): not on the event loop
        return json_response(await asyncio.to_thread(combined_document, spec.model))

    def _server_info(self) -> Response:
        rt = self.runtime
        return json_response(
            {
                "version": rt.version,
                "uptime_s": rt.uptime_s(),
                "started_at": rt.started_at.isoformat().replace("+00:00", "Z"),
                "pid": os.getpid(),
                "ports": rt.ports,
                "listeners": self._listeners(),
                "features": self._features(),
                "ready": rt.ready,
                "config": masked(rt.config),
            }
        )

    def _series(self) -> Response:
        """Request and error rates of the last 15 minutes (``ui/series.py``); the sampler starts
        on the first call, so a server nobody watches samples nothing."""
        rt = self.runtime
        series = rt.rate_series
        if series is None:
            from mockforge.ui.series import RateSeries

            series = rt.rate_series = RateSeries(rt.metrics.totals)
            series.start(asyncio.get_running_loop())
        return json_response(series.snapshot())

    def _features(self) -> dict[str, bool]:
        """Which optional services run, so a client (the console) knows which endpoints exist."""
        s = self.services
        return {
            "spec": s.spec.current is not None,
            "websocket": s.ws is not None,
            "grpc": s.grpc is not None,
            "plugins": s.plugins is not None,
            "fixtures": s.fixtures is not None,
            "state": s.state is not None,
            "drift": s.drift is not None,
        }

    def _listeners(self) -> list[dict[str, Any]]:
        """Each bound listener: name, address, port and what it serves."""
        rt = self.runtime
        cfg = rt.config
        services = self.services
        http_serves = ["http"]
        if services.ws is not None:
            http_serves.append("websocket")
        if admin_open_on(cfg, cfg.http.host, admin_only=False):
            http_serves.append("admin")
        hosts = {
            "http": (cfg.http.host, http_serves),
            "https": (cfg.http.host, http_serves),
            "ws": (cfg.websocket.host or cfg.http.host, ["websocket"]),
            "grpc": (cfg.grpc.host or cfg.http.host, ["grpc"]),
            "admin": (cfg.admin.host, ["admin"]),
            "metrics": (cfg.observability.metrics.host, ["metrics"]),
        }
        out = []
        for name, port in rt.ports.items():
            host, serves = hosts.get(name, (cfg.http.host, [name]))
            out.append({"name": name, "host": host, "port": port, "serves": serves})
        return out

    def stats(self) -> dict[str, Any]:
        rt = self.runtime
        counts: dict[str, int] = {}
        for e in rt.log.snapshot():
            counts[e.protocol] = counts.get(e.protocol, 0) + 1
        rss = 0
        try:
            with open("/proc/self/statm") as fh:
                rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        cfg = rt.config
        # since start, from the metrics counters (the log forgets what it evicts)
        since_start: dict[str, Any] = rt.metrics.totals()
        by_protocol: dict[str, int] = since_start.get("requests_by_protocol", {})
        return {
            "uptime_s": rt.uptime_s(),
            # the sum of requests_by_protocol (and of since_reset until a reset): WebSocket
            # messages are in ws_messages, every log entry in log_entries_total
            "requests_total": sum(by_protocol.values()),
            "requests_by_protocol": by_protocol,
            "log_entries_total": rt.log.total,
            "errors_by_protocol": since_start.get("errors_by_protocol", {}),
            "ws_connections_active": since_start.get("ws_connections_active", 0),
            "ws_messages": since_start.get("ws_messages", {"in": 0, "out": 0}),
            "requests_in_log_by_protocol": counts,
            "log": {"entries": len(rt.log), "capacity": rt.log.max_entries, "evicted": rt.log.evicted},
            "rss_bytes": rss,
            "since_reset": self.services.tally.snapshot(),
            "bounds": bounds(cfg),
            "refused": self._refused(),
            **({"shared_state": self.services.shared.stats()} if self.services.shared is not None else {}),
        }

    def _refused(self) -> dict[str, Any]:
        """What the bounds refused or cut since start, per surface (docs/SECURITY.md)."""
        rt = self.runtime
        services = self.services
        out: dict[str, Any] = {
            "http": {name: state.counters() for name, state in rt.wire_counters.items()},
            "admin": dict(rt.admin_refused),
            "log": {"headers_truncated": rt.log.headers_truncated},
        }
        feed = rt.feed
        if feed is not None:  # the live feed, once someone opened it (mockforge.ui.feed)
            out["events"] = {"streams_open": len(feed.listeners), "streams_refused": feed.refused,
                             "entries_dropped": feed.dropped}
        store = services.stubs.store
        out["near_misses"] = {"capped": store.near_misses_capped, "scored_off_loop": store.near_misses_off_loop}
        hub = services.ws
        if hub is not None:
            out["websocket"] = {"connections_refused": hub.connections_refused,
                                "slow_readers_closed": hub.slow_readers_closed}
        grpc = services.grpc
        if grpc is not None:
            out["grpc"] = {"connections_refused": grpc.connections_refused}
        callbacks = services.spec.callbacks
        if callbacks is not None:
            out["callbacks"] = callbacks.counters()
        return out
