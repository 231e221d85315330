"""``MockServer``: mockforge in-process, for test suites.

    with MockServer(spec="petstore.yaml") as mock:
        mock.stub("GET", "/pets/7", json={"id": 7})
        httpx.get(mock.url + "/pets/7")
        mock.verify("GET", "/pets/7", times=1)

    async with MockServer(spec="petstore.yaml") as mock:   # on the caller's event loop
        ...

Sync use runs the server on its own uvloop loop in a daemon thread; async use runs it on the
caller's loop. Every listener binds port 0. Stubs, verification and the log go through the same
objects as the admin API (``server.services.stubs``, ``runtime.log``, ``core.verification``),
so there is no second implementation. The stub, scenario and log stores take locks, so the test
thread edits them directly; what is not thread-safe (gRPC stubs) or must see the loop idle
(verification right after an answer) is run on the server's loop.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec

from mockforge.config import Config, build_config, read_config_file
from mockforge.core.scenarios import STARTED
from mockforge.core.stubs import SOURCE_API, Stub, parse_stub
from mockforge.core.verification import verify as verify_log
from mockforge.server import Server

if TYPE_CHECKING:
    from mockforge.grpc.service import GrpcService
    from mockforge.http.stubbing import StubService
    from mockforge.testing.state import StateHandle

T = TypeVar("T")
#: Seconds to wait for the server loop before giving up on a call into it.
_LOOP_TIMEOUT = 10.0
#: Logged requests listed in a failed verification's message.
_SHOWN_REQUESTS = 10

_live: weakref.WeakSet[MockServer] = weakref.WeakSet()


def _stop_all_at_exit() -> None:
    for server in list(_live):
        try:
            server.stop()
        except Exception:  # interpreter is exiting; nothing useful to report
            pass


atexit.register(_stop_all_at_exit)


def _user_cache_dir() -> str:
    """Where compiled protos and parsed large specs are cached across test runs (content-keyed,
    so sharing it between projects is safe); the CLI's default is ``./.mockforge-cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(base) / "mockforge")


def make_config(
    *,
    config: Mapping[str, Any] | str | Path | None = None,
    spec: str | Path | list[str | Path] | None = None,
    protos: str | Path | None = None,
    stubs: list[dict[str, Any]] | str | Path | None = None,
    seed: int | None = None,
    env: Mapping[str, str] | None = None,
    tls: bool = False,
) -> Config:
    """A config for tests: the given file or dict, the keyword arguments, every port 0.
    ``ConfigError`` (with the file and key) when it is wrong, as ``mockforge serve`` reports it."""
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
    overrides.update(_tls_overrides(data, tls))
    if seed is not None:
        overrides["core.seed"] = seed
    if isinstance(stubs, list):
        overrides["http.routes"] = [*http.get("routes", []), *stubs]
    elif stubs is not None:
        overrides["http.stubs_dir"] = str(Path(stubs).resolve())
    core = data.get("core") if isinstance(data.get("core"), dict) else {}
    assert isinstance(core, dict)
    if "cache_dir" not in core:
        overrides["core.cache_dir"] = _user_cache_dir()
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


class StubHandle:
    """A stub added through ``MockServer.stub``/``add_stub``; ``remove()`` takes it out again.
    Also a context manager that removes the stub on exit."""

    __slots__ = ("_server", "id")

    def __init__(self, server: MockServer, stub_id: str) -> None:
        self._server = server
        self.id = stub_id

    def remove(self) -> bool:
        """Remove the stub; False when it was already gone (removed, reset or rolled back)."""
        return self._server._stub_service().store.remove(self.id)

    @property
    def definition(self) -> dict[str, Any] | None:
        """The stub as ``GET /__mockforge/stubs/{id}`` shows it, or None once removed."""
        stub = self._server._stub_service().store.get(self.id)
        return None if stub is None else stub.to_dict()

    def __enter__(self) -> StubHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"StubHandle(id={self.id!r})"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """What ``MockServer.rollback`` returns to (read-only; take one with ``checkpoint()``)."""

    log_id: int
    stubs: Mapping[str, Stub]
    scenarios: Mapping[str, str]
    fault: Any
    grpc_stubs: Mapping[str, Any]


def _pattern(
    method: str | None, path: Any, query: Any, headers: Any, json: Any
) -> dict[str, Any]:
    """The keyword arguments of ``verify`` as the MATCHER of ``POST /__mockforge/verify``."""
    pattern: dict[str, Any] = {"method": method or "ANY", "path": path}
    if query:
        pattern["query"] = dict(query)
    if headers:
        pattern["headers"] = dict(headers)
    if json is not None:
        pattern["body"] = {"equals_json": json}
    return pattern


def _counts(times: int | None, at_least: int | None, at_most: int | None) -> list[dict[str, int]]:
    if times is not None:
        if at_least is not None or at_most is not None:
            raise TypeError("verify() takes times=, or at_least=/at_most=, not both")
        return [{"exactly": times}]
    counts = []
    if at_least is not None:
        counts.append({"at_least": at_least})
    if at_most is not None:
        counts.append({"at_most": at_most})
    return counts or [{"at_least": 1}]


def _json(value: Any) -> str:
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return repr(value)


def _describe(pattern: Mapping[str, Any]) -> str:
    path = pattern["path"]
    if not isinstance(path, str):
        path = " ".join(f"{kind} {text!r}" for kind, text in dict(path).items())
    text = f"{pattern['method']} {path}"
    if pattern.get("query"):
        text += " with query " + ", ".join(f"{k}={_json(v)}" for k, v in pattern["query"].items())
    if pattern.get("headers"):
        text += " with headers " + ", ".join(f"{k}: {_json(v)}" for k, v in pattern["headers"].items())
    if "body" in pattern:
        text += f" with JSON body {_json(pattern['body']['equals_json'])}"
    return text


def _plural(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


def failure_message(pattern: Mapping[str, Any], result: Mapping[str, Any], entries: list[Any]) -> str:
    """The text of a failed ``verify``: what was expected, what came, and the closest requests::

        expected GET /pets/7 exactly 1 time, but it was received 0 times
        Closest logged requests:
          1. #1 GET /pets/8 (distance 0.15)
             - path: expected "/pets/7", got "/pets/8"
        Logged requests (1): #1 GET /pets/8 -> 404
    """
    ((kind, n),) = result["expected"].items()
    wanted = kind.replace("_", " ")
    lines = [
        f"expected {_describe(pattern)} {wanted} {_plural(int(n))}, "
        f"but it was received {_plural(result['count'])}"
    ]
    near = result.get("near_misses") or []
    if near:
        lines.append("Closest logged requests:")
        for i, miss in enumerate(near, 1):
            lines.append(f"  {i}. #{miss['entry']} {miss['method']} {miss['path']} (distance {miss['distance']:.2f})")
            lines.extend(f"     - {diff}" for diff in miss["diffs"])
    elif result["count"] > int(n) and result.get("matched"):
        lines.append("Matching requests: " + ", ".join(f"#{i}" for i in result["matched"]))
    if entries:
        shown = ", ".join(f"#{e.id} {e.method} {e.path} -> {e.status}" for e in entries[-_SHOWN_REQUESTS:])
        more = f" (last {_SHOWN_REQUESTS})" if len(entries) > _SHOWN_REQUESTS else ""
        lines.append(f"Logged requests ({len(entries)}){more}: {shown}")
    else:
        lines.append("No request was logged.")
    if result.get("note"):
        lines.append(f"Note: {result['note']}")
    return "\n".join(lines)


def _tls_overrides(data: Mapping[str, Any], tls: bool) -> dict[str, Any]:
    """``tls=True``: HTTPS (and gRPC over TLS) from the local CA; a second TLS port binds 0 too."""
    out: dict[str, Any] = {}
    for part in ("http", "grpc"):
        section = data.get(part)
        given = section.get("tls") if isinstance(section, dict) else None
        if not isinstance(given, dict):
            given = {}
        if tls and not given.get("cert"):
            out[f"{part}.tls.auto"] = True
        if part == "http" and given.get("port") is not None:
            out["http.tls.port"] = 0
    return out


class MockServer:
    """A mockforge server inside the test process.

        mock = MockServer(spec="examples/petstore.yaml", seed=1)   # ConfigError here
        mock.start()                                               # SpecError, ProtoError here
        mock.url, mock.ws_url, mock.grpc_target, mock.admin_url
        mock.stop()                                                # twice is fine

    ``config`` is a dict in the config file's shape or a path to a config file; ``spec`` one or
    more OpenAPI documents; ``protos`` a folder of ``.proto`` files (starts gRPC); ``stubs`` a
    list of stubs or a folder of stub files; ``seed`` makes generated data repeatable.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | str | Path | None = None,
        *,
        spec: str | Path | list[str | Path] | None = None,
        protos: str | Path | None = None,
        stubs: list[dict[str, Any]] | str | Path | None = None,
        seed: int | None = None,
        tls: bool = False,
    ) -> None:
        # Bad config raises here and a bad spec or proto in start(), before any test uses them.
        self.config = make_config(config=config, spec=spec, protos=protos, stubs=stubs, seed=seed, tls=tls)
        self.server = Server(self.config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._owns_loop = False
        self._running = False
        self._used = False
        self._config_fault: Any = None
        #: The state namespace of ``state()`` and ``state_headers`` (the pytest fixtures set one).
        self.namespace = "default"

    # ---- lifecycle ----------------------------------------------------------------------
    def _begin(self) -> bool:
        if self._running:
            return False
        if self._used:
            raise RuntimeError("a stopped MockServer cannot be started again; create a new one")
        self._used = True
        return True

    def _started(self) -> None:
        self._running = True
        self._config_fault = self._stub_service().fault_policy.fault
        _live.add(self)

    def start(self) -> MockServer:
        """Start on a new event loop in a daemon thread; returns once every listener is bound."""
        if not self._begin():
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
        self._started()
        return self

    def stop(self) -> None:
        """Stop gracefully and wait for the thread; harmless when already stopped."""
        if not self._running:
            return
        self._running = False
        _live.discard(self)
        if self._owns_loop and self._loop is not None and self._thread is not None:
            try:
                fut = asyncio.run_coroutine_threadsafe(self.server.stop(timeout=2.0), self._loop)
                fut.result(timeout=_LOOP_TIMEOUT)
            except Exception:  # the loop is already gone: nothing left to stop
                pass
            self._thread.join(timeout=_LOOP_TIMEOUT)

    async def astart(self) -> MockServer:
        """Start on the running event loop (``async with`` calls this)."""
        if self._begin():
            await self.server.start()
            self._loop = asyncio.get_running_loop()
            self._started()
        return self

    async def astop(self) -> None:
        if self._running:
            self._running = False
            _live.discard(self)
            await self.server.stop(timeout=2.0)

    @property
    def running(self) -> bool:
        return self._running

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> MockServer:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._running else "stopped" if self._used else "not started"
        return f"MockServer({state})"

    # ---- addresses ----------------------------------------------------------------------
    @property
    def ports(self) -> dict[str, int]:
        return dict(self.server.ports)

    @property
    def url(self) -> str:
        """``https://`` when HTTP has TLS (the TLS port when ``http.tls.port`` adds one)."""
        ports = self.server.ports
        if "https" in ports:
            return f"https://127.0.0.1:{ports['https']}"
        scheme = "https" if self.config.http.tls.enabled else "http"
        return f"{scheme}://127.0.0.1:{ports['http']}"

    @property
    def ca_path(self) -> str:
        """The PEM CA certificate clients must trust (the local CA, or the configured ``client_ca``
        is not it: this is the CA that signed the *server* certificate when ``tls.auto``)."""
        setup = self.server.tls
        path = setup.ca_path if setup is not None else None
        if path is None:
            raise RuntimeError("this MockServer has no local-CA TLS (pass tls=True)")
        return str(path)

    def ssl_context(self, cert: str | Path | None = None, key: str | Path | None = None,
                    *, alpn: list[str] | None = None) -> Any:
        """An ``ssl.SSLContext`` for clients: trusts ``ca_path``, shows ``cert``/``key`` when given."""
        from mockforge.tls.context import client_context

        return client_context(self.ca_path, cert=cert, key=key, alpn=alpn)

    def issue_client_cert(self, name: str, out_dir: str | Path) -> tuple[str, str]:
        """A client certificate (CN ``name``) and key signed by the local CA, for mutual TLS tests."""
        from mockforge.tls.ca import LocalCA

        cert, key = LocalCA.open(self.config.core.cache_dir).issue_client(name, out_dir)
        return str(cert), str(key)

    @property
    def admin_url(self) -> str:
        port = self.server.ports.get("admin")
        base = f"http://127.0.0.1:{port}" if port else self.url
        return base + "/__mockforge"

    @property
    def ws_url(self) -> str:
        port = self.server.ports.get("ws", self.server.ports["http"])
        return f"{'wss' if self.config.http.tls.enabled else 'ws'}://127.0.0.1:{port}"

    @property
    def grpc_target(self) -> str:
        port = self.server.ports.get("grpc")
        if port is None:
            raise RuntimeError("gRPC is not configured for this MockServer (pass protos=...)")
        return f"127.0.0.1:{port}"

    @property
    def runtime(self) -> Any:
        return self.server.runtime

    # ---- running code on the server loop ------------------------------------------------
    def _threaded(self) -> asyncio.AbstractEventLoop | None:
        """The server loop when calls must hop onto it (sync use, from another thread)."""
        loop = self._loop
        if not (self._owns_loop and self._running and loop is not None and not loop.is_closed()):
            return None
        return None if threading.current_thread() is self._thread else loop

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server loop after what it is doing now (an answer written but not
        yet logged finishes first), and return its result."""
        loop = self._threaded()
        if loop is None:
            return fn()

        async def call() -> T:
            # A few turns of the loop let an exchange whose answer the client already read
            # reach the log (the listener logs right after writing).
            for _ in range(3):
                await asyncio.sleep(0)
            return fn()

        try:
            fut = asyncio.run_coroutine_threadsafe(call(), loop)
        except RuntimeError:  # the loop closed meanwhile
            return fn()
        return fut.result(timeout=_LOOP_TIMEOUT)

    def _await_on_loop(self, make: Callable[[], Coroutine[Any, Any, T]], *, suspends: bool) -> T:
        """``_on_loop`` for a coroutine: run ``make()`` on the server loop and return its result.
        Called on the loop itself (``async with MockServer``), only a coroutine that never
        suspends can finish synchronously (``suspends=False``, e.g. the memory state store);
        else a ``RuntimeError`` says to use the async call instead."""
        loop = self._threaded()
        if loop is None:
            if suspends:
                raise RuntimeError("this store answers off the event loop: use the `await ...` form of the call")
            coro = make()
            try:
                coro.send(None)
            except StopIteration as done:
                return cast(T, done.value)
            coro.close()
            raise RuntimeError("the call suspended: use the `await ...` form of the call")

        async def call() -> T:
            for _ in range(3):  # as in _on_loop: an answered exchange reaches the log first
                await asyncio.sleep(0)
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=_LOOP_TIMEOUT)

    def _grpc(self) -> GrpcService | None:
        services = self.server.services
        return services.grpc if services is not None else None

    def state(self, resource: str, namespace: str | None = None) -> StateHandle:
        """Seed, read and clear a stored resource (``http.state.mode`` on or strict)."""
        from mockforge.testing.state import StateHandle

        services = self.server.services
        svc = services.state if services is not None else None
        if svc is None:
            raise RuntimeError("state is off or the server is not started: set http.state.mode to on or strict")
        return StateHandle(svc, resource, namespace or self.namespace, self._await_on_loop)

    @property
    def state_headers(self) -> dict[str, str]:
        """The namespace header of this server's namespace, for a client to send."""
        return {self.config.http.state.namespace_header: self.namespace}

    def _stub_service(self) -> StubService:
        services = self.server.services
        svc: StubService | None = services.stubs if services is not None else None
        if svc is None:
            raise RuntimeError("the MockServer is not started: use `with MockServer(...)` or call start()")
        return svc

    # ---- stubs ----------------------------------------------------------------------------
    def stub(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay_ms: int = 0,
        times: int | None = None,
    ) -> StubHandle:
        """Answer ``method path`` (``ANY`` for every method; ``/pets/{id}`` templates) with
        ``status`` and a JSON (``json=``) or text (``text=``) body; ``times`` limits the answers."""
        response: dict[str, Any] = {"status": status}
        if headers:
            response["headers"] = dict(headers)
        if json is not None:
            response["body"] = json
        if text is not None:
            response["body_text"] = text
        if delay_ms:
            response["delay_ms"] = delay_ms
        data: dict[str, Any] = {"request": {"method": method, "path": path}, "response": response}
        if times is not None:
            data["times"] = times
        return self.add_stub(data)

    def add_stub(self, definition: Mapping[str, Any]) -> StubHandle:
        """Add a stub in the full shape of ``POST /__mockforge/stubs`` (matchers, scenario,
        priority, fault...); ``StubError`` names the field when it is wrong."""
        service = self._stub_service()
        stub = parse_stub(definition, "", SOURCE_API, files=service.files)
        stored = service.store.add(stub)
        return StubHandle(self, stored.id)

    def stubs(self) -> list[dict[str, Any]]:
        """Every stub, in the order they are tried (as ``GET /__mockforge/stubs`` lists them)."""
        return [s.to_dict() for s in self._stub_service().store.list()]

    # ---- the log and verification ---------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        """Logged requests, oldest first; ``path`` may be a glob (``/pets/*``)."""
        log = self.runtime.log
        entries = self._on_loop(lambda: log.query(method=method, path=path, limit=None))
        return [msgspec.to_builtins(e) for e in reversed(entries)]

    def verify(
        self,
        method: str | None,
        path: Any,
        *,
        times: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """Assert that requests like this were received (at least once unless a count is given).

        ``path`` is a path, a template (``/pets/{id}``) or ``{"glob": ...}``/``{"regex": ...}``;
        ``query`` and ``headers`` values are a string (equals) or a MATCHER; ``json`` must equal
        the body. Raises ``AssertionError`` with the closest logged requests when it fails;
        returns the verification result otherwise.
        """
        __tracebackhide__ = True
        pattern = _pattern(method, path, query, headers, json)
        counts = _counts(times, at_least, at_most)
        log = self.runtime.log

        def check() -> tuple[list[dict[str, Any]], list[Any]]:
            return [verify_log(log, pattern, count) for count in counts], log.snapshot()

        results, entries = self._on_loop(check)
        for result in results:
            if not result["ok"]:
                raise AssertionError(failure_message(pattern, result, entries))
        return results[0]

    # ---- state: reset, faults, per-test isolation ------------------------------------------
    def reset(self) -> None:
        """Remove the stubs added through the API, put scenarios back to ``Started``, clear the
        log (what ``POST /__mockforge/reset`` does) and restore the configured global fault."""
        rt = self.runtime
        policy = self._stub_service().fault_policy

        def run() -> None:
            for hook in rt.reset_hooks:
                hook()
            rt.log.clear()
            policy.fault = self._config_fault

        self._on_loop(run)

    def fault(self, spec: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Set the global fault (``PUT /__mockforge/faults``): ``fault(status=503, rate=0.5)``,
        ``fault({"transport": "reset"})``; ``fault(None)`` clears it. ``ConfigError`` when wrong."""
        policy = self._stub_service().fault_policy
        if spec is None and not fields:
            policy.clear_global()
        else:
            policy.set_global({**(spec or {}), **fields})

    def checkpoint(self) -> Checkpoint:
        """Remember the stubs, scenario states, global fault and log position, for ``rollback``."""
        svc = self._stub_service()
        rt = self.runtime

        def take() -> Checkpoint:
            grpc = self._grpc()
            return Checkpoint(
                log_id=rt.log.last_id(),
                stubs={s.id: s for s in svc.store.list()},
                scenarios=svc.scenario_store.list(),
                fault=svc.fault_policy.fault,
                grpc_stubs={s.id: s for s in grpc.stubs.all()} if grpc is not None else {},
            )

        return self._on_loop(take)

    def rollback(self, mark: Checkpoint) -> None:
        """Undo what happened since ``mark``: stubs added through the API are removed and those
        removed or replaced come back, scenarios return to their states, the global fault is
        restored, and log entries after the mark are dropped (with the near-miss reports).
        Stubs reloaded from files in between are left as they are."""
        svc = self._stub_service()
        rt = self.runtime

        def run() -> None:
            store = svc.store
            current = {s.id: s for s in store.list()}
            for stub_id, stub in current.items():
                if stub.source == SOURCE_API and mark.stubs.get(stub_id) is not stub:
                    store.remove(stub_id)
            for stub_id, stub in mark.stubs.items():
                now = store.get(stub_id)
                if now is None or (now is not stub and now.source == SOURCE_API):
                    store.add(stub)
            scenarios = svc.scenario_store
            for name, state in scenarios.list().items():
                wanted = mark.scenarios.get(name, STARTED)
                if state != wanted:
                    scenarios.set(name, wanted)
            svc.fault_policy.fault = mark.fault
            store.clear_reports()
            rt.log.remove_after(mark.log_id)
            grpc = self._grpc()
            if grpc is not None:
                for stub_id, gstub in {s.id: s for s in grpc.stubs.all()}.items():
                    if mark.grpc_stubs.get(stub_id) is not gstub:
                        grpc.stubs.remove(stub_id)
                for stub_id, gstub in mark.grpc_stubs.items():
                    if grpc.stubs.get(stub_id) is not gstub:
                        grpc.stubs.add(gstub)

        self._on_loop(run)
