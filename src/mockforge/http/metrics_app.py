"""The app behind the separate metrics listener (``observability.metrics``): ``GET {path}``,
the health paths, 404 otherwise. Scrapes are not written to the request log.

It lives with the HTTP adapter (it is an ``HttpApp``), so ``metrics.py`` keeps only counting
and imports no adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mockforge.core.model import Request, Response
from mockforge.core.responses import error_response
from mockforge.http.app import HEALTH_PATHS, health_response

if TYPE_CHECKING:
    from mockforge.core.connection import UpgradedConnection
    from mockforge.runtime import Runtime


class MetricsApp:
    def __init__(self, runtime: Runtime, path: str = "/metrics") -> None:
        self.runtime = runtime
        self.path = path
        self.max_body_bytes = 64 * 1024
        self.metrics = runtime.metrics
        self.metrics.registry()  # the listener is on: pay the import now, not at the first scrape

    async def handle(self, request: Request) -> Response:
        path = request.path
        if path == self.path:
            if request.method not in ("GET", "HEAD"):
                return error_response(405, "method_not_allowed", f"use GET {self.path}", headers=[("allow", "GET")])
            return self.metrics.render()
        kind = HEALTH_PATHS.get(path)
        if kind is not None:
            return health_response(self.runtime, kind)
        return error_response(404, "not_found", f"nothing at {path} on the metrics listener (try GET {self.path})")

    def wants_upgrade(self, request: Request) -> bool:
        return False

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        return error_response(404, "not_found", "the metrics listener accepts no upgrades")

    def error_response(self, status: int, code: str, message: str) -> Response:
        return error_response(status, code, message)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        return None
