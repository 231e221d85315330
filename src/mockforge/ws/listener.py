"""The app behind the separate WebSocket port (``websocket.port``, default 3001).

It serves the hub's paths and nothing else: an upgrade on a configured path goes to the hub, a
plain GET there gets 426 (``upgrade: websocket``), anything else 404, all in the common error
shape. The wire is the same ``HttpListener`` as the HTTP port:

    listener = HttpListener(WsOnlyApp(hub), "127.0.0.1", 0)
    port = await listener.start()
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from mockforge.core.model import Request, Response
from mockforge.core.responses import error_response

if TYPE_CHECKING:
    from mockforge.core.connection import UpgradedConnection
    from mockforge.ws.hub import WebSocketHub

#: Handshake requests carry no body; anything larger is not a WebSocket client.
_MAX_BODY_BYTES = 64 * 1024


class WsOnlyApp:
    """``HttpApp`` for the WS-only listener."""

    def __init__(self, hub: WebSocketHub) -> None:
        self.hub = hub
        self.max_body_bytes = _MAX_BODY_BYTES

    def error_response(self, status: int, code: str, message: str) -> Response:
        return error_response(status, code, message)

    def wants_upgrade(self, request: Request) -> bool:
        upgrade = (request.headers.get("upgrade") or "").lower()
        return upgrade == "websocket" and self.hub.wants(request.path)

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        return await self.hub.upgrade(request, conn)

    async def handle(self, request: Request) -> Response:
        path = request.path
        if self.hub.wants(path):
            if request.method in ("GET", "HEAD"):
                return error_response(
                    426,
                    "upgrade_required",
                    f"{path} is a WebSocket endpoint: connect with a WebSocket client",
                    headers=[("upgrade", "websocket"), ("connection", "upgrade")],
                )
            return error_response(405, "method_not_allowed", f"{path} only accepts WebSocket upgrades (GET)")
        served = ", ".join(self.hub.paths) or "none"
        return error_response(404, "not_found", f"no WebSocket endpoint at {path} (served: {served})")

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        log = self.hub.runtime.log
        duration = (time.perf_counter() - started) * 1000
        log.record(request, response, duration, sent)
