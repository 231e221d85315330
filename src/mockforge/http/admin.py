"""The admin API under ``/__mockforge/``, on the HTTP port and on the admin listener.

This module answers the core endpoints (logs, routes, server info, spec, reset, stats, metrics)
and hands every other subpath to the service that owns it: stubs and verification
(``admin_stubs``), ``ws/``, ``grpc/``, ``plugins``, ``fixtures``. Every request reaching
``AdminApi.handle`` has passed ``admin_guard.AdminGuard.check`` (Host, Origin, token, and a JSON
or YAML content type on any body), so no handler here or in a service checks those again.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import msgspec

from mockforge.config import bounds, masked
from mockforge.core.model import Request, Response
from mockforge.core.request_log import parse_rfc3339
from mockforge.core.responses import detail, error_response, json_response

if TYPE_CHECKING:
    from mockforge.http.app import HttpMockApp
    from mockforge.runtime import Runtime

PREFIX = "/__mockforge/"


def _first(request: Request, name: str) -> str | None:
    values = request.query.get(name)
    return values[0] if values else None


class AdminApi:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def handle(self, request: Request, app: HttpMockApp) -> Response:
        sub = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
        sub = sub.rstrip("/")
        method = request.method
        rt = self.runtime
        if sub == "logs":
            if method == "GET":
                return self._logs(request)
            if method == "DELETE":
                rt.log.clear()
                return json_response({"cleared": True})
        elif sub == "routes" and method == "GET":
            return self._routes(app)
        elif sub == "server-info" and method == "GET":
            return self._server_info()
        elif sub == "openapi.json" and method == "GET":
            return await self._openapi(app)
        elif sub == "reset" and method == "POST":
            for hook in rt.reset_hooks:
                hook()
            rt.log.clear()
            return json_response({"reset": True})
        elif sub == "logs.har" and method == "GET":
            from mockforge.recording.har import export_har

            host = f"{rt.config.http.host}:{rt.ports.get('http')}"
            return json_response(export_har(rt.log.snapshot(), default_host=host, version=rt.version))
        elif sub == "stats" and method == "GET":
            return json_response(self.stats())
        elif sub == "metrics" and method == "GET":
            metrics = rt.services.get("metrics")
            if metrics is not None:
                result: Response = metrics.render()
                return result
        # subpaths owned by services
        handler_owner = self._owner(sub)
        if handler_owner is not None:
            answered: Response | None = await handler_owner(request, sub)
            if answered is not None:
                return answered
        return error_response(404, "not_found", f"no admin endpoint {method} {request.path}")

    def _owner(self, sub: str) -> Any:
        services = self.runtime.services
        head = sub.split("/", 1)[0]
        if head == "ws" and "ws" in services:
            return services["ws"].admin
        if head == "grpc" and "grpc" in services:
            return services["grpc"].admin
        if head == "plugins" and "plugins" in services:
            return services["plugins"].admin
        if head in ("fixtures", "logs.har") and "fixtures_admin" in services:
            return services["fixtures_admin"]
        if "stubs_admin" in services:
            return services["stubs_admin"]
        return None

    # ---- endpoints --------------------------------------------------------------------
    def _logs(self, request: Request) -> Response:
        rt = self.runtime
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
        entries = rt.log.query(
            method=_first(request, "method"),
            path=_first(request, "path"),
            path_regex=path_regex,
            status=status,
            since=since,
            protocol=_first(request, "protocol"),
            limit=limit,
        )
        return json_response({"entries": msgspec.to_builtins(entries), "evicted": rt.log.evicted})

    def _routes(self, app: HttpMockApp) -> Response:
        spec = app.spec
        routes = spec.routes_info() if spec is not None else []
        stubs = self.runtime.services.get("stubs")
        stub_routes = stubs.routes_info() if stubs is not None and hasattr(stubs, "routes_info") else []
        return json_response({"routes": routes, "stubs": stub_routes})

    async def _openapi(self, app: HttpMockApp) -> Response:
        spec = app.spec
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
                "ready": rt.ready,
                "config": masked(rt.config),
            }
        )

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
        metrics = rt.services.get("metrics")
        # since start, from the metrics counters (the log forgets what it evicts)
        since_start: dict[str, Any] = metrics.totals() if metrics is not None else {}
        return {
            "uptime_s": rt.uptime_s(),
            "requests_total": rt.log.total,
            "requests_by_protocol": since_start.get("requests_by_protocol", {}),
            "errors_by_protocol": since_start.get("errors_by_protocol", {}),
            "ws_connections_active": since_start.get("ws_connections_active", 0),
            "ws_messages": since_start.get("ws_messages", {"in": 0, "out": 0}),
            "requests_in_log_by_protocol": counts,
            "log": {"entries": len(rt.log), "capacity": rt.log.max_entries, "evicted": rt.log.evicted},
            "rss_bytes": rss,
            "bounds": bounds(cfg),
            "refused": self._refused(),
        }

    def _refused(self) -> dict[str, Any]:
        """What the bounds refused or cut since start, per surface (docs/SECURITY.md)."""
        services = self.runtime.services
        out: dict[str, Any] = {
            "http": {name: state.counters() for name, state in services.get("http_listeners", {}).items()},
            "admin": dict(services.get("admin_refused", {})),
            "log": {"headers_truncated": self.runtime.log.headers_truncated},
        }
        stubs = services.get("stubs")
        if stubs is not None:
            out["near_misses"] = {"capped": stubs.store.near_misses_capped,
                                  "scored_off_loop": stubs.store.near_misses_off_loop}
        hub = services.get("ws")
        if hub is not None:
            out["websocket"] = {"connections_refused": hub.connections_refused,
                                "slow_readers_closed": hub.slow_readers_closed}
        grpc = services.get("grpc")
        if grpc is not None:
            out["grpc"] = {"connections_refused": grpc.connections_refused}
        return out
