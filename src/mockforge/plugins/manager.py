"""``PluginManager``: loads the configured plugins and turns core objects into ABI calls and back.

Why hand-written: this is mockforge's own plugin host (issue 7). It imports no wasmtime itself;
``plugins/runtime.py`` does, on the first load, so constructing a manager with no plugins costs
nothing.

    pm = PluginManager(runtime)
    pm.load_configured()                        # plugins.dirs + plugins.load
    resp = await pm.generate_response("echo-wat", request, "GET /pets/{id}")
    denied = await pm.filter_request(request, route)      # None = allowed
    pm.call_template("text-tools", "upper", ["abc"])      # -> "ABC"

A failing call (trap, fuel, timeout, memory, bad output, a header with CR/LF/NUL, even an
unexpected host error) becomes a 500 in the common error shape naming the plugin and the reason,
and is counted; after ``plugins.max_failures`` consecutive failures the plugin is disabled (503)
until ``reload(id)``. More than ``max_concurrent`` calls at once get a 503. Calls run on a small
thread pool so the event loop waits, it does not block; a response whose templates call plugin
functions is built on that pool too (``build_off_loop``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec
import orjson

from mockforge.core.model import Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.responses import detail, error_response, json_response
from mockforge.errors import PluginError
from mockforge.plugins.manifest import Manifest, discover, load_manifest

if TYPE_CHECKING:
    from mockforge.plugins.runtime import Sandbox
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.plugins")

_MAX_WORKERS = 16
T = TypeVar("T")
#: An HTTP header name (RFC 9110 token) and a value without CR, LF, NUL or other controls but tab.
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class PluginCallError(Exception):
    """A call could not be served; ``status`` is 500 (failed) or 503 (busy, disabled)."""

    def __init__(self, plugin_id: str, reason: str, status: int = 500, code: str = "plugin_failed") -> None:
        super().__init__(f"plugin '{plugin_id}' {reason}")
        self.plugin_id = plugin_id
        self.reason = reason
        self.status = status
        self.code = code

    def response(self) -> Response:
        return error_response(
            self.status, self.code, str(self), [detail(f"plugin.{self.plugin_id}", self.reason)]
        )


class Plugin:
    """One loaded plugin and its counters (``state``: ready, disabled)."""

    def __init__(self, manifest: Manifest, sandbox: Sandbox) -> None:
        self.manifest = manifest
        self.sandbox = sandbox
        self.state = "ready"
        self.calls = 0
        self.failures = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self._slots = threading.BoundedSemaphore(manifest.capabilities.max_concurrent)
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.manifest.id

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.manifest.summary(),
            "state": self.state,
            "calls": self.calls,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "limits": msgspec.to_builtins(self.manifest.capabilities),
        }
        if self.last_error:
            out["last_error"] = self.last_error
        return out

    def enter(self) -> None:
        """Take a call slot or raise a 503 ``PluginCallError``."""
        if self.state != "ready":
            raise PluginCallError(
                self.id,
                f"is disabled after {self.consecutive_failures} consecutive failures "
                f"(last: {self.last_error}); reload it",
                503,
                "plugin_disabled",
            )
        if not self._slots.acquire(blocking=False):
            n = self.manifest.capabilities.max_concurrent
            raise PluginCallError(
                self.id, f"is busy ({n} calls running, max_concurrent {n})", 503, "plugin_busy"
            )

    def leave(self, failure: str | None, max_failures: int) -> None:
        self._slots.release()
        with self._lock:
            self.calls += 1
            if failure is None:
                self.consecutive_failures = 0
                return
            self.failures += 1
            self.consecutive_failures += 1
            self.last_error = failure
            if max_failures > 0 and self.consecutive_failures >= max_failures and self.state == "ready":
                self.state = "disabled"
                log.error(
                    "plugin %s disabled after %d consecutive failures: %s", self.id, max_failures, failure
                )

    def run(self, entry: str, payload: bytes, max_failures: int, convert: Callable[[Any], T]) -> T:
        """Call ``entry`` (slot already taken), decode the JSON output and ``convert`` it (which
        raises ``CallFailure`` on a bad shape); raises ``PluginCallError``."""
        from mockforge.plugins.runtime import CallFailure

        failure: str | None = None
        try:
            raw = self.sandbox.call(entry, payload)
            try:
                out = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                raise CallFailure(f"returned invalid JSON ({len(raw)} bytes)") from None
            return convert(out)
        except CallFailure as exc:
            failure = exc.reason
            log.warning("plugin %s %s failed: %s", self.id, entry, failure)
            raise PluginCallError(self.id, f"failed: {failure}") from None
        except Exception as exc:  # a host-side surprise is still this plugin's failed call
            failure = f"host error: {type(exc).__name__}: {exc}".splitlines()[0][:200]
            log.exception("plugin %s %s failed in the host", self.id, entry)
            raise PluginCallError(self.id, f"failed: {failure}") from None
        finally:
            self.leave(failure, max_failures)


class PluginManager:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config = runtime.config.plugins
        self.cache_dir: str | None = runtime.config.core.cache_dir or None
        self.plugins: dict[str, Plugin] = {}
        #: Plugins that did not load (``on_error: skip``): manifest file -> error line.
        self.load_errors: dict[str, str] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        # Shapes the request-log entry handed to plugins (ids here are not the log's ids).
        self._shaper = RequestLog(0, max_body_bytes=0)

    # ---- loading ---------------------------------------------------------------------
    def load_configured(self) -> list[str]:
        """Load ``plugins.dirs`` and ``plugins.load``; returns the ids loaded.

        ``on_error: fail`` raises the first ``PluginError``; ``skip`` logs it and goes on.
        """
        loaded: list[str] = []
        for path in discover(self.config.dirs, self.config.load):
            try:
                loaded.append(self.load(path).id)
            except PluginError as exc:
                if self.config.on_error == "fail":
                    raise
                self.load_errors[str(path)] = str(exc)
                log.warning("plugin skipped: %s", exc)
        for pid in [*self.config.filters, *self.config.routes.values()]:
            if pid not in self.plugins:
                msg = f"plugin '{pid}' is referenced in plugins.filters/routes but not loaded"
                if self.config.on_error == "fail":
                    raise PluginError(msg, file=self.runtime.config.source, where="plugins")
                log.warning(msg)
        return loaded

    def load(self, path: str | Path) -> Plugin:
        """Load one plugin (folder or manifest); raises ``PluginError``."""
        from mockforge.plugins.runtime import Sandbox

        manifest = load_manifest(path, self.runtime.files)
        existing = self.plugins.get(manifest.id)
        if existing is not None and existing.manifest.file != manifest.file:
            raise PluginError(
                f"duplicate plugin id '{manifest.id}' (also in {existing.manifest.file})",
                file=manifest.file,
                where="id",
            )
        plugin = Plugin(manifest, Sandbox(manifest, cache_dir=self.cache_dir))
        self.plugins[manifest.id] = plugin
        self._register_templates(plugin)
        log.info("plugin %s %s loaded (%s)", manifest.id, manifest.version, ", ".join(manifest.kinds))
        return plugin

    def reload(self, plugin_id: str) -> Plugin:
        """Re-read the manifest and module of a loaded plugin; counters and state start afresh."""
        old = self.get(plugin_id)
        if old is None:
            raise KeyError(plugin_id)
        self._unregister_templates(old)
        del self.plugins[plugin_id]
        try:
            new = self.load(old.manifest.file)
        except PluginError:
            self.plugins[plugin_id] = old
            self._register_templates(old)
            raise
        old.sandbox.close()
        return new

    def get(self, plugin_id: str) -> Plugin | None:
        return self.plugins.get(plugin_id)

    def plugin_for_route(self, method: str, route: str) -> str | None:
        """The plugin ``plugins.routes`` assigns to ``"METHOD /template"``, if any."""
        return self.config.routes.get(f"{method.upper()} {route}")

    def close(self) -> None:
        for p in self.plugins.values():
            self._unregister_templates(p)
            p.sandbox.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def aclose(self) -> None:
        """Called by the server on stop: template functions go, the pool stops taking calls."""
        self.close()

    # ---- calls -------------------------------------------------------------------------
    def request_input(self, request: Request, route: str | None) -> dict[str, Any]:
        """The request-log entry shape with the full body (``body``), unredacted headers and
        ``path_params``; response fields are empty because no response exists yet."""
        entry: dict[str, Any] = msgspec.to_builtins(self._shaper.entry_for(request, Response(status=0), 0.0))
        entry["id"] = ""
        entry["route"] = route if route is not None else request.route
        entry["headers"] = request.headers.to_dict()
        text = request.body.decode("utf-8", "replace")
        entry["body_excerpt"] = text
        entry["body_truncated"] = False
        entry["body"] = text
        entry["path_params"] = dict(request.path_params)
        return entry

    async def generate_response(self, plugin_id: str, request: Request, route: str | None) -> Response:
        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            return error_response(500, "plugin_not_found", f"plugin '{plugin_id}' is not loaded")
        payload = {
            "request": self.request_input(request, route),
            "route": route,
            "config": plugin.manifest.config,
        }
        try:
            return await self._call(plugin, "generate_response", payload, partial(_response_from, plugin.id))
        except PluginCallError as exc:
            return exc.response()

    async def filter_request(self, request: Request, route: str | None) -> Response | None:
        """Run ``plugins.filters`` in order; the first denial (or failure) is the answer."""
        if not self.config.filters:
            return None
        entry = self.request_input(request, route)
        for pid in self.config.filters:
            plugin = self.plugins.get(pid)
            if plugin is None:
                return error_response(500, "plugin_not_found", f"plugin '{pid}' is not loaded")
            try:
                payload = {"request": entry, "route": route, "config": plugin.manifest.config}
                denied = await self._call(
                    plugin, "filter_request", payload, partial(_filter_result, plugin.id)
                )
                if denied is not None:
                    return denied
            except PluginCallError as exc:
                return exc.response()
        return None

    def call_template(self, plugin_id: str, name: str, args: list[Any]) -> Any:
        """Call a template function synchronously (on the caller's thread, bounded by the
        plugin's timeout); raises ``PluginCallError``."""
        plugin = self.plugins.get(plugin_id)
        if plugin is None:
            raise PluginCallError(plugin_id, "is not loaded", 500, "plugin_not_found")
        payload = orjson.dumps({"name": name, "args": args, "config": plugin.manifest.config})
        try:
            plugin.enter()
            result = plugin.run("template_function", payload, self.config.max_failures, _template_value)
        except PluginCallError as exc:
            self._count(plugin_id, exc)
            raise
        self._count(plugin_id, None)
        return result

    async def build_off_loop(self, build: Callable[[], Response]) -> Response:
        """Run ``build`` (a response whose templates call plugin functions) on the plugin pool,
        so the event loop never waits on a plugin; a failed call answers ``plugin_failed``."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool(), build)
        except PluginCallError as exc:
            return exc.response()

    async def _call(
        self, plugin: Plugin, entry: str, payload: dict[str, Any], convert: Callable[[Any], T]
    ) -> T:
        data = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
        try:
            plugin.enter()
        except PluginCallError as exc:
            self._count(plugin.id, exc)
            raise
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                self._pool(), plugin.run, entry, data, self.config.max_failures, convert
            )
        except RuntimeError:  # executor shut down: the slot was taken but run() never ran
            plugin.leave(None, 0)
            raise
        except PluginCallError as exc:
            self._count(plugin.id, exc)
            raise
        self._count(plugin.id, None)
        return result

    def _count(self, plugin_id: str, failure: PluginCallError | None) -> None:
        """Report one call to the metrics: ok, failed, busy or disabled."""
        metrics = self.runtime.metrics
        if failure is None:
            outcome = "ok"
        else:
            outcome = {"plugin_busy": "busy", "plugin_disabled": "disabled"}.get(failure.code, "failed")
        metrics.plugin_call(plugin_id, outcome)

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(_MAX_WORKERS, thread_name_prefix="mockforge-plugin")
        return self._executor

    # ---- templates -----------------------------------------------------------------------
    def _register_templates(self, plugin: Plugin) -> None:
        if "template" not in plugin.manifest.kinds:
            return
        from mockforge.core import templating

        for fn in plugin.manifest.functions:
            templating.register_function(f"plugin.{plugin.id}.{fn}", self._template_fn(plugin.id, fn))

    def _unregister_templates(self, plugin: Plugin) -> None:
        if "template" not in plugin.manifest.kinds:
            return
        from mockforge.core import templating

        for fn in plugin.manifest.functions:
            templating.unregister_function(f"plugin.{plugin.id}.{fn}")

    def _template_fn(self, plugin_id: str, name: str) -> Any:
        def call(args: list[str]) -> Any:
            return self.call_template(plugin_id, name, list(args))

        return call

    # ---- admin ---------------------------------------------------------------------------
    async def admin(self, request: Request, subpath: str) -> Response | None:
        """``GET plugins`` and ``POST plugins/{id}/reload`` (``subpath`` follows ``/__mockforge/``)."""
        parts = subpath.strip("/").split("/")
        if parts[0] != "plugins":
            return None
        if len(parts) == 1:
            if request.method != "GET":
                return error_response(405, "method_not_allowed", "use GET", headers=[("allow", "GET")])
            return json_response({"plugins": self.list(),
                                  "max_failures": self.runtime.config.plugins.max_failures})
        if len(parts) == 3 and parts[2] == "reload":
            if request.method != "POST":
                return error_response(405, "method_not_allowed", "use POST", headers=[("allow", "POST")])
            pid = parts[1]
            if pid not in self.plugins:
                return error_response(404, "not_found", f"no plugin '{pid}'")
            try:
                plugin = await asyncio.to_thread(self.reload, pid)
            except PluginError as exc:
                return error_response(422, "plugin_invalid", str(exc))
            return json_response({"plugin": plugin.info()})
        return error_response(404, "not_found", f"no admin endpoint /__mockforge/{subpath}")

    # Last in the class: the name shadows the builtin for annotations below it.
    def list(self) -> list[dict[str, Any]]:
        """``{id, name, version, kinds, state, calls, failures}`` per loaded plugin."""
        return [p.info() for p in self.plugins.values()]


def _bad(reason: str) -> Exception:
    from mockforge.plugins.runtime import CallFailure

    return CallFailure(reason)


def _template_value(out: Any) -> Any:
    if not isinstance(out, dict) or "value" not in out:
        raise _bad("template output needs a 'value'")
    return out["value"]


def _filter_result(plugin_id: str, out: Any) -> Response | None:
    if not isinstance(out, dict) or not isinstance(out.get("allow"), bool):
        raise _bad("filter output needs a boolean 'allow'")
    if out["allow"]:
        return None
    return _response_from(plugin_id, {"status": 403, **out})


def _response_from(plugin_id: str, out: Any) -> Response:
    """Build a ``Response`` from ``{status, headers, body | body_text | body_base64}``."""
    if not isinstance(out, dict):
        raise _bad("output must be a JSON object")
    status = out.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _bad(f"invalid status {status!r}")
    headers: list[tuple[str, str]] = []
    raw_headers = out.get("headers") or {}
    items = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
    try:
        for k, v in items:
            headers.append((str(k).lower(), str(v)))
    except (TypeError, ValueError):
        raise _bad("headers must be an object or a list of [name, value]") from None
    for k, v in headers:
        # refused whole, never written: CR/LF would split the response (issue 12, item 5)
        if not _HEADER_NAME_RE.fullmatch(k):
            raise _bad(f"invalid header name {k[:64]!r}")
        if _BAD_VALUE_RE.search(v):
            raise _bad(f"header {k!r} has a control character (CR, LF, NUL...) in its value")
    given = [k for k in ("body", "body_text", "body_base64") if k in out]
    if len(given) > 1:
        raise _bad(f"give one of body, body_text, body_base64 (got {', '.join(given)})")
    body = b""
    ctype = None
    if given == ["body"]:
        body, ctype = orjson.dumps(out["body"]), "application/json"
    elif given == ["body_text"]:
        if not isinstance(out["body_text"], str):
            raise _bad("body_text must be a string")
        body, ctype = out["body_text"].encode(), "text/plain; charset=utf-8"
    elif given == ["body_base64"]:
        try:
            body = base64.b64decode(out["body_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise _bad("body_base64 is not valid base64") from None
        ctype = "application/octet-stream"
    if ctype and not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", ctype))
    return Response(status=status, headers=headers, body=body, source=f"plugin:{plugin_id}")
