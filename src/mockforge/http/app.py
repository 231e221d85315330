"""What the HTTP port answers, top to bottom. This module keeps the wire concerns only:

    /__mockforge/* admin (own guard and CORS) -> CORS preflight -> health
    -> 426 for a plain GET on a WebSocket path
    -> the answer pipeline (``core/pipeline.py``: filters -> stubs -> fixtures -> spec -> 404)
    -> errors mapped to the common error shape

The wire itself (framing, transport faults) is ``protocol.py``; the admin API is ``admin.py``
and who may call it is ``admin_guard.py``. No pipeline step is handed this app. The permissive
``http.cors`` answers never apply to admin paths: their CORS comes only from ``admin.cors_origins``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from mockforge.core.connection import UpgradedConnection
from mockforge.core.limits import JsonTooDeep
from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, error_response, json_response
from mockforge.http.admin import AdminApi
from mockforge.http.admin_guard import AdminGuard, admin_open_on, new_refusal_counts

if TYPE_CHECKING:
    from mockforge.http.mock import SpecAnswerer
    from mockforge.runtime import Runtime
    from mockforge.services import Services

log = logging.getLogger("mockforge.http")

ADMIN_PREFIX = "/__mockforge/"
ADMIN_ROOT = ADMIN_PREFIX[:-1]
HEALTH_PATHS = {
    "/health": "health",
    "/healthz": "health",
    "/health/live": "live",
    "/livez": "live",
    "/health/ready": "ready",
    "/readyz": "ready",
}


def health_response(runtime: Runtime, kind: str) -> Response:
    body = runtime.health()
    if kind == "live":
        body["status"] = "ok"
        return json_response(body)
    if kind == "ready" and not runtime.ready:
        return json_response(body, 503)
    return json_response(body)


class HttpMockApp:
    """The app behind the HTTP port (and the admin listener, with ``admin_only``)."""

    def __init__(self, runtime: Runtime, services: Services, *, admin_only: bool = False) -> None:
        self.runtime = runtime
        self.services = services
        self.pipeline = services.pipeline
        self.ws = None if admin_only else services.ws
        self.admin_only = admin_only
        cfg = runtime.config
        self.max_body_bytes = cfg.http.max_body_bytes
        self.admin = AdminApi(runtime, services)
        self._metrics = None if admin_only else runtime.metrics
        host = cfg.admin.host if admin_only else cfg.http.host
        # The admin paths on a non-loopback HTTP host need a token (or admin.insecure), else are off.
        self.admin_open = admin_open_on(cfg, host, admin_only=admin_only)
        if not runtime.admin_refused:
            runtime.admin_refused.update(new_refusal_counts())
        self.admin_guard = AdminGuard(cfg, host, refused=runtime.admin_refused)
        cors = cfg.http.cors
        self.cors = cors.enabled and not admin_only
        self._cors_origins = set(cors.origins)
        self._cors_any = "*" in cors.origins
        self._cors_methods = ", ".join(cors.methods)
        self._cors_headers = ", ".join(cors.headers)
        self._cors_credentials = cors.credentials
        self._cors_max_age = str(cors.max_age_ms // 1000)

    @property
    def spec(self) -> SpecAnswerer | None:
        """The OpenAPI answerer in use (``services.spec``; hot reload replaces it there)."""
        return self.services.spec.current

    # ---- HttpApp protocol ------------------------------------------------------------
    def error_response(self, status: int, code: str, message: str) -> Response:
        return error_response(status, code, message)

    def wants_upgrade(self, request: Request) -> bool:
        if self.admin_only:
            return False
        hub = self.ws
        if hub is None:
            return False
        upgrade = (request.headers.get("upgrade") or "").lower()
        return upgrade == "websocket" and hub.wants(request.path)

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        hub = self.ws
        if hub is None:
            return error_response(404, "not_found", f"no WebSocket endpoint at {request.path}")
        return await hub.upgrade(request, conn)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        if response.source in ("admin", "health"):
            return
        path = request.path
        if path.startswith(ADMIN_PREFIX) or path == ADMIN_ROOT:
            # admin errors too (refusals, bad bodies, unknown admin paths): a hostile page could
            # otherwise fill the log with refused requests and push real traffic out
            return
        self.runtime.log.record(request, response, (time.perf_counter() - started) * 1000, sent)

    async def handle(self, request: Request) -> Response:
        metrics = self._metrics
        if metrics is not None:
            metrics.in_flight("http", 1)
        path = request.path
        admin = path.startswith(ADMIN_PREFIX) or path == ADMIN_ROOT
        try:
            resp = await (self._admin(request) if admin else self._dispatch(request))
        except asyncio.CancelledError:
            raise
        except JsonTooDeep as exc:  # from any JSON parse of the body (matching, validation, templates)
            resp = error_response(exc.status, exc.code, exc.message, [detail("body", exc.message)])
        except Exception:
            log.exception("error answering %s %s", request.method, request.path)
            resp = error_response(500, "internal_error", "mockforge failed to answer this request; see its log")
        finally:
            if metrics is not None:
                metrics.in_flight("http", -1)
        if resp.transport_fault and metrics is not None:
            metrics.error("http", "transport_fault")
        if self.cors and not admin:
            self._add_cors(request, resp)
        return resp

    # ---- dispatch ---------------------------------------------------------------------
    async def _dispatch(self, request: Request) -> Response:
        path = request.path
        if self.cors and request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            return self._preflight(request)
        kind = HEALTH_PATHS.get(path)
        if kind is not None and not self._spec_defines(path):
            resp = health_response(self.runtime, kind)
            resp.source = "health"
            return resp
        if self.admin_only:
            return error_response(404, "not_found", f"no admin endpoint at {path}")
        hub = self.ws
        if request.method == "GET" and hub is not None and hub.wants(path):
            return error_response(426, "upgrade_required", f"{path} is a WebSocket endpoint", None,
                                  [("upgrade", "websocket")])
        return await self.pipeline.answer(request)

    def _spec_defines(self, path: str) -> bool:
        """Whether the spec in use answers ``path`` itself (then a health path is the spec's)."""
        if self.admin_only:
            return False
        spec = self.services.spec.current
        return spec is not None and spec.defines(path)

    async def _admin(self, request: Request) -> Response:
        """An admin path: off, or guarded (Host, Origin, token, body type), then the admin API."""
        if not self.admin_open:
            return error_response(404, "not_found", "admin API is off on this port (set admin.token to enable it)")
        guard = self.admin_guard
        refused = guard.check(request, request.path[len(ADMIN_PREFIX):])
        if refused is not None:
            resp = refused
        else:
            resp = await self.admin.handle(request)
        guard.add_cors(request, resp)
        return resp

    # ---- CORS -------------------------------------------------------------------------
    def _allowed_origin(self, origin: str | None) -> str | None:
        if origin is None:
            return None
        if self._cors_any:
            return origin if self._cors_credentials else "*"
        return origin if origin in self._cors_origins else None

    def _preflight(self, request: Request) -> Response:
        headers: list[tuple[str, str]] = []
        allowed = self._allowed_origin(request.headers.get("origin"))
        if allowed is not None:
            req_headers = request.headers.get("access-control-request-headers")
            allow_headers = req_headers if (self._cors_headers == "*" and req_headers) else self._cors_headers
            headers += [
                ("access-control-allow-origin", allowed),
                ("access-control-allow-methods", self._cors_methods),
                ("access-control-allow-headers", allow_headers),
                ("access-control-max-age", self._cors_max_age),
                ("vary", "Origin"),
            ]
            if self._cors_credentials:
                headers.append(("access-control-allow-credentials", "true"))
        return Response(status=204, headers=headers, source="cors")

    def _add_cors(self, request: Request, resp: Response) -> None:
        if resp.source == "cors":
            return
        allowed = self._allowed_origin(request.headers.get("origin"))
        if allowed is None:
            return
        resp.headers.append(("access-control-allow-origin", allowed))
        if allowed != "*":
            resp.headers.append(("vary", "Origin"))
        if self._cors_credentials:
            resp.headers.append(("access-control-allow-credentials", "true"))
