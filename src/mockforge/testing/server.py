"""``MockServer``: mockforge in-process, for test suites.

    with MockServer(spec="petstore.yaml") as mock:
        mock.stub("GET", "/pets/7", json={"id": 7})
        httpx.get(mock.url + "/pets/7")
        mock.verify("GET", "/pets/7", times=1)

    async with MockServer(spec="petstore.yaml") as mock:   # on the caller's event loop
        ...

Sync use runs the server on its own event loop in a daemon thread; async use runs it on the
caller's loop. Every listener binds port 0 unless told otherwise. Stubs, verification and the log
go through the same objects as the admin API (no second implementation).
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from mockforge.config import Config, build_config, read_config_file
from mockforge.server import Server

_live: weakref.WeakSet[MockServer] = weakref.WeakSet()


def _stop_all_at_exit() -> None:
    for server in list(_live):
        try:
            server.stop()
        except Exception:  # interpreter is exiting; nothing useful to report
            pass


atexit.register(_stop_all_at_exit)


def make_config(
    *,
    config: Mapping[str, Any] | str | Path | None = None,
    spec: str | Path | list[str | Path] | None = None,
    protos: str | Path | None = None,
    stubs: list[dict[str, Any]] | str | Path | None = None,
    seed: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """A config for tests: the given file or dict, the keyword arguments, every port 0."""
    file: str | None = None
    data: dict[str, Any]
    if isinstance(config, str | Path):
        file = str(config)
        data = read_config_file(file)
    else:
        data = dict(config or {})
    overrides: dict[str, Any] = {"http.port": 0, "http.host": "127.0.0.1"}
    http = data.get("http") if isinstance(data.get("http"), dict) else {}
    assert isinstance(http, dict)
    if spec is not None:
        specs = spec if isinstance(spec, list) else [spec]
        overrides["http.specs"] = [str(Path(s).resolve()) for s in specs]
    if protos is not None:
        overrides["grpc.proto_dir"] = str(Path(protos).resolve())
    if seed is not None:
        overrides["core.seed"] = seed
    if isinstance(stubs, list):
        overrides["http.routes"] = [*http.get("routes", []), *stubs]
    elif stubs is not None:
        overrides["http.stubs_dir"] = str(Path(stubs).resolve())
    ws = data.get("websocket") if isinstance(data.get("websocket"), dict) else {}
    assert isinstance(ws, dict)
    if ws.get("enabled") or ws.get("port") is not None:
        overrides["websocket.port"] = 0
    overrides["grpc.port"] = 0
    admin = data.get("admin") if isinstance(data.get("admin"), dict) else {}
    assert isinstance(admin, dict)
    if admin.get("enabled") or admin.get("port") is not None:
        overrides["admin.port"] = 0
    metrics = (data.get("observability") or {}).get("metrics") if isinstance(data.get("observability"), dict) else None
    if isinstance(metrics, dict) and (metrics.get("enabled") or metrics.get("port") is not None):
        overrides["observability.metrics.port"] = 0
    return build_config(data, file=file, env=env if env is not None else {}, overrides=overrides)


class MockServer:
    def __init__(
        self,
        config: Mapping[str, Any] | str | Path | None = None,
        *,
        spec: str | Path | list[str | Path] | None = None,
        protos: str | Path | None = None,
        stubs: list[dict[str, Any]] | str | Path | None = None,
        seed: int | None = None,
    ) -> None:
        # Bad config or spec raises here or in start(), before any test uses the server.
        self.config = make_config(config=config, spec=spec, protos=protos, stubs=stubs, seed=seed)
        self.server = Server(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._owns_loop = False
        self._running = False

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> MockServer:
        if self._running:
            return self
        started: Future[None] = Future()

        def run() -> None:
            import uvloop

            loop = uvloop.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(None)
            try:
                loop.run_until_complete(self.server.wait_stopped())
            finally:
                loop.close()

        self._owns_loop = True
        self._thread = threading.Thread(target=run, name="mockforge-server", daemon=True)
        self._thread.start()
        started.result()
        self._running = True
        _live.add(self)
        return self

    def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        _live.discard(self)
        if self._owns_loop and self._loop is not None and self._thread is not None:
            fut = asyncio.run_coroutine_threadsafe(self.server.stop(timeout=2.0), self._loop)
            try:
                fut.result(timeout=10)
            except Exception:
                pass
            self._thread.join(timeout=10)

    async def astart(self) -> MockServer:
        if not self._running:
            await self.server.start()
            self._loop = asyncio.get_running_loop()
            self._running = True
            _live.add(self)
        return self

    async def astop(self) -> None:
        if self._running:
            self._running = False
            _live.discard(self)
            await self.server.stop(timeout=2.0)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> MockServer:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    # ---- addresses ----------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        return dict(self.server.ports)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.ports['http']}"

    @property
    def admin_url(self) -> str:
        port = self.server.ports.get("admin")
        base = f"http://127.0.0.1:{port}" if port else self.url
        return base + "/__mockforge"

    @property
    def ws_url(self) -> str:
        port = self.server.ports.get("ws", self.server.ports["http"])
        return f"ws://127.0.0.1:{port}"

    @property
    def grpc_target(self) -> str:
        port = self.server.ports.get("grpc")
        if port is None:
            raise RuntimeError("gRPC is not configured for this MockServer (pass protos=...)")
        return f"127.0.0.1:{port}"

    @property
    def runtime(self) -> Any:
        return self.server.runtime
