"""The live state of one running mock: config, request log, metrics, readiness, bound ports and
what listeners attach as they bind. Listeners and the admin API read it; nothing here imports a
protocol library or an adapter. The per-protocol services are not here: they are the typed
``services.Services`` record the server builds from the config (a service gets what it needs at
construction, so no lookup by name is left).

    rt = Runtime(config)
    rt.log.append(entry)
    rt.metrics.in_flight("http", 1)
    rt.ports["http"]            # filled as listeners bind
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from mockforge.config import Config
from mockforge.core.files import FileRoots
from mockforge.core.limits import DocumentLimits, set_request_json_depth
from mockforge.core.request_log import RequestLog
from mockforge.metrics import Metrics
from mockforge.version import __version__

if TYPE_CHECKING:
    from mockforge.ui.feed import LiveFeed
    from mockforge.ui.series import RateSeries


class Counters(Protocol):
    """A listener's refusal counters (``http.protocol.ServerState``), read by ``/stats``."""

    def counters(self) -> dict[str, int]: ...


class Runtime:
    def __init__(self, config: Config, worker_index: int = 1) -> None:
        self.config = config
        self.version = __version__
        #: Folders stubs, fixtures and plugins may read files from, and the read cap (core/files.py).
        self.files = FileRoots.from_config(config)
        self.log = RequestLog(
            config.core.max_request_logs,
            max_body_bytes=config.core.max_logged_body_bytes,
            max_header_bytes=config.core.max_logged_header_bytes,
            redact=config.core.log_redact_headers,
        )
        #: Bounds for specs and stub files read while running (core.max_document_depth, ...).
        self.document_limits = DocumentLimits.of(config.core)
        set_request_json_depth(config.http.max_json_depth)
        self.started_monotonic = time.monotonic()
        self.started_at = datetime.now(UTC)
        #: listener name ("http", "ws", "grpc", "admin", "metrics") -> bound port
        self.ports: dict[str, int] = {}
        #: True once everything configured has loaded and every listener is bound
        self.ready = False
        #: Always on (GET /__mockforge/metrics); counts every log entry, prometheus_client loads
        #: at the first scrape.
        self.metrics = Metrics(self.log)
        if config.observability.log_requests:  # off: no subscriber, nothing per exchange
            import sys

            from mockforge.core.console_log import ConsoleLog

            self.log.logged.subscribe(ConsoleLog(sys.stderr).on_entry)
        # ---- attached late, as listeners bind (typed homes, read by /__mockforge/stats) ----
        #: HTTP listener name -> its shared state (what the wire limits refused)
        self.wire_counters: dict[str, Counters] = {}
        #: Admin requests refused, by reason; one dict shared by every listener's admin guard
        #: (filled by ``http.admin_guard.new_refusal_counts`` on first use).
        self.admin_refused: dict[str, int] = {}
        #: Hooks run on reset (per-test isolation, POST /__mockforge/reset).
        self.reset_hooks: list[Callable[[], None]] = []
        #: Request/error rate samples for the console's Overview (``ui/series.py``); created by
        #: the first ``GET /__mockforge/stats/series``, stopped by ``Server.stop``.
        self.rate_series: RateSeries | None = None
        #: The console's live feed (``ui/feed.py``), made by the first ``GET /__mockforge/events``;
        #: ``Server.stop`` closes it so open streams end.
        self.feed: LiveFeed | None = None
        #: ``workers`` in /health: the count configured, alive and restarted (kept current by the
        #: supervisor through ``mockforge.workers.child``), and this worker's index and pid.
        count = config.worker_count()
        self.workers: dict[str, int] = {
            "configured": count, "alive": 1, "restarts": 0, "index": worker_index, "pid": os.getpid(),
        }
        if count > 1 and config.core.independent_workers:
            self.log.scope = f"worker {worker_index} of {count}"
        #: Why serving is degraded now (the shared store is unreachable), None when it is not;
        #: set by the shared store (docs/SHARED_STATE.md), read by ``/health/ready``.
        self.degraded: Callable[[], str | None] = lambda: None

    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started_monotonic, 3)

    def health(self) -> dict[str, Any]:
        out = {
            "status": "ok" if self.ready else "starting",
            "version": self.version,
            "uptime_s": self.uptime_s(),
            "workers": dict(self.workers),
        }
        degraded = self.degraded()
        if degraded is not None:
            out["status"] = "degraded" if self.ready else out["status"]
            out["degraded"] = degraded
        return out
