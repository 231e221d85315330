"""``Server``: turns a ``Config`` into running listeners on one asyncio loop, and stops them.

    server = Server(load_config("examples/mockforge.yaml"))
    await server.start()          # raises ConfigError / SpecError / ProtoError / ListenError
                                  # (ConfigError too for an admin listener off loopback without a token)
    server.ports                  # {"http": 3000, "ws": 3001, "grpc": 50051, "admin": 9080}
    await server.stop()

Only HTTP always starts. WebSocket (own port), gRPC, admin and metrics listeners start when
configured, and their libraries are imported only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mockforge.config import Config
from mockforge.errors import ListenError
from mockforge.http.admin_guard import check_exposure
from mockforge.http.app import HEALTH_PATHS, HttpMockApp
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import ServerState
from mockforge.http.wire_limits import WireLimits
from mockforge.runtime import Runtime
from mockforge.services import Services, build_services

if TYPE_CHECKING:
    from mockforge.openapi.model import ApiModel

if TYPE_CHECKING:
    from mockforge.http.mock import SpecAnswerer
    from mockforge.openapi.model import ApiModel

log = logging.getLogger("mockforge")


#: Listener name -> the socket a worker serves it on (``mockforge.workers.sockets``), or None to bind.
SocketSource = Callable[[str], socket.socket | None]


class Server:
    def __init__(self, config: Config, *, sockets: SocketSource | None = None, worker_index: int = 1) -> None:
        self.config = config
        self.runtime = Runtime(config, worker_index)
        #: With workers: where each shared listener's socket comes from (None: bind as configured).
        self._sockets = sockets
        self.app: HttpMockApp | None = None
        #: What this server runs (typed; built by ``start``).
        self.services: Services | None = None
        self._listeners: list[tuple[str, HttpListener]] = []
        #: The bounds every HTTP listener puts on its clients, decided once (docs/CONFIG.md).
        self.wire_limits = WireLimits.from_config(config.http, HEALTH_PATHS)
        self._grpc_stopped = False
        self._watch_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._started = False
        self.tls: Any = None  # mockforge.tls.serving.TlsSetup when a listener has TLS

    @property
    def ports(self) -> dict[str, int]:
        return self.runtime.ports

    # ---- start ------------------------------------------------------------------------
    async def start(self) -> None:
        cfg = self.config
        rt = self.runtime
        check_exposure(cfg)  # an admin surface off loopback without a token: refuse or warn
        if cfg.http.tls.enabled or cfg.grpc.tls.enabled:  # bad cert files: ConfigError before any bind
            from mockforge.tls.serving import TlsSetup

            self.tls = TlsSetup.create(cfg)
        services = self.services = await build_services(rt, self._load_spec())
        self.app = HttpMockApp(rt, services)
        try:
            tls = self.tls.http if self.tls is not None else None
            second = cfg.http.tls.port is not None  # http.tls.port: a second, TLS-only listener
            await self._listen("http", self.app, cfg.http.host, cfg.http.port, None if second else tls)
            if tls is not None and second:
                await self._listen("https", self.app, cfg.http.host, cfg.http.tls.port or 0, tls)
            ws_port = cfg.ws_listener_port()
            if ws_port is not None and services.ws is not None:
                from mockforge.ws.listener import WsOnlyApp

                await self._listen("ws", WsOnlyApp(services.ws), cfg.websocket.host or cfg.http.host, ws_port,
                                   None if second else tls)
            if services.grpc is not None:
                host = cfg.grpc.host or cfg.http.host
                try:
                    grpc_tls = self.tls.grpc.context if self.tls and self.tls.grpc else None
                    rt.ports["grpc"] = await services.grpc.start(host, cfg.grpc_listener_port(), ssl=grpc_tls,
                                                                 sock=self._socket("grpc"))
                except OSError as exc:
                    raise self._listen_error("grpc", host, cfg.grpc_listener_port(), exc) from None
            admin_port = cfg.admin_listener_port()
            if admin_port is not None:
                await self._listen("admin", HttpMockApp(rt, services, admin_only=True), cfg.admin.host, admin_port)
            metrics_port = cfg.metrics_listener_port()
            if metrics_port is not None:
                from mockforge.http.metrics_app import MetricsApp

                m = cfg.observability.metrics
                await self._listen("metrics", MetricsApp(rt, m.path), m.host, metrics_port)
            if cfg.http.watch:
                from mockforge.watch import start_watching

                self._watch_task = start_watching(self)
                if self.tls is not None:
                    self.tls.start_watching()
        except BaseException:  # a half-started server closes what it opened
            await self.stop(timeout=0.5)
            raise
        rt.ready = True
        self._started = True

    def _load_spec(self) -> ApiModel | None:
        cfg = self.config
        if not cfg.http.specs:
            return None

        model = self.load_spec_model()
        for warning in model.warnings:
            log.warning("%s", warning)
        return model

    # ---- reload (watch.py) --------------------------------------------------------------
    def load_spec_model(self) -> ApiModel:
        """Read the configured specs into a fresh model with the same bounds as at start
        (document limits, file roots); raises ``SpecError``. Blocking: run it in a thread once
        the server is up. Serving it is ``reload_spec``'s job."""
        from mockforge.openapi.loader import load_specs

        cfg = self.config
        return load_specs(
            list(cfg.http.specs), cache_dir=cfg.core.cache_dir, limits=self.runtime.document_limits,
            roots=self.runtime.files,
        )

    @property
    def spec(self) -> SpecAnswerer | None:
        """The spec answerer every listener serves now (None without a spec)."""
        return self.services.spec.current if self.services is not None else None

    def reload_spec(self, model: ApiModel) -> SpecAnswerer:
        """Serve ``model`` from now on and return its answerer. Building the answerer may raise;
        then nothing was swapped and the previous spec keeps serving."""
        if self.services is None:
            raise RuntimeError("the server is not started")
        answerer = self.services.spec.answerer(model)
        self.services.spec.replace(answerer)  # every listener reads the spec from the services
        if self.services.drift is not None:  # proxied answers are judged by the new spec too
            self.services.drift.reload(model)
        return answerer

    def wire_states(self) -> dict[str, ServerState]:
        """Listener name -> its shared state, whose counters (``ServerState.counters()``) say
        what the wire limits refused. Also in ``runtime.wire_counters``."""
        return {name: listener.state for name, listener in self._listeners}

    async def _listen(self, name: str, app: Any, host: str, port: int, tls: Any = None) -> None:
        listener = HttpListener(app, host, port, self.wire_limits, tls, self.config.http.tls.mode)
        try:
            bound = await listener.start(self._socket(name))
        except OSError as exc:
            raise self._listen_error(name, host, port, exc) from None
        self._listeners.append((name, listener))
        self.runtime.ports[name] = bound
        self.runtime.wire_counters[name] = listener.state

    def _socket(self, name: str) -> socket.socket | None:
        return self._sockets(name) if self._sockets is not None else None

    @staticmethod
    def _listen_error(name: str, host: str, port: int, exc: OSError) -> ListenError:
        if exc.errno == errno.EADDRINUSE:
            return ListenError(f"port {port} on {host} is already in use", where=f"{name} listener")
        return ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", where=f"{name} listener")

    # ---- stop -------------------------------------------------------------------------
    async def stop(self, timeout: float | None = None) -> None:
        """Stop gracefully: in-flight requests finish within ``timeout`` (http.graceful_timeout_ms)."""
        if timeout is None:
            timeout = self.config.http.graceful_timeout_ms / 1000
        rt = self.runtime
        rt.ready = False
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        if self.tls is not None:
            await self.tls.stop_watching()
        services = self.services
        hub = services.ws if services is not None else None
        if hub is not None:
            try:
                await hub.close_all()
            except Exception:  # closing must go on whatever a connection does
                log.exception("closing WebSocket connections failed")
        await asyncio.gather(*(lst.stop(timeout) for _, lst in self._listeners), return_exceptions=True)
        self._listeners.clear()
        if services is not None:
            if services.grpc is not None and not self._grpc_stopped:
                self._grpc_stopped = True
                try:
                    await services.grpc.stop(timeout)
                except Exception:
                    log.exception("stopping gRPC failed")
            await services.aclose()
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    def describe(self) -> list[str]:
        """One line per bound listener, for the CLI's start message."""
        cfg = self.config
        lines = []
        names = {
            "http": ("HTTP", cfg.http.host),
            "https": ("HTTPS", cfg.http.host),
            "ws": ("WebSocket", cfg.websocket.host or cfg.http.host),
            "grpc": ("gRPC", cfg.grpc.host or cfg.http.host),
            "admin": ("admin API", cfg.admin.host),
            "metrics": ("metrics", cfg.observability.metrics.host),
        }
        for key, port in self.runtime.ports.items():
            label, host = names.get(key, (key, cfg.http.host))
            scheme = "ws" if key == "ws" else "http"
            if key == "https" or (key in ("http", "ws") and self.tls and self.tls.http and cfg.http.tls.port is None):
                scheme = "https" if key != "ws" else "wss"
            lines.append(f"{label:<10} {scheme}://{host}:{port}" if key != "grpc" else f"{label:<10} {host}:{port}")
        if self.tls is not None and self.tls.ca_path:
            lines.append(f"{'CA':<10} {self.tls.ca_path} (trust it: docs/TLS.md)")
        return lines
