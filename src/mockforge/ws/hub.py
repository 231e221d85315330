"""The WebSocket hub: the configured routes, the live connections, server push and the
``/__mockforge/ws/*`` admin endpoints. One hub serves the HTTP port and the WS port alike.

    hub = WebSocketHub(runtime)          # loads and checks every route's script and rules
    services.ws                          # the HTTP app hands it upgrades and ws/* admin calls
    await hub.send("/chat", text="hi")   # -> number of clients reached
    await hub.close_all()                # shutdown: close 1001, wait briefly, drop the rest

A route whose script or rules do not check out is reported in ``hub.problems`` (one line with the
file and line) and not served; the others are. ``websockets`` is imported on the first upgrade,
so a server that never sees one does not load it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import os
from typing import TYPE_CHECKING, Any

import orjson

from mockforge.core.model import Request, Response
from mockforge.core.request_log import now_rfc3339
from mockforge.core.responses import detail, error_response, json_response
from mockforge.errors import ConfigError
from mockforge.ws.model import CloseCode, Message
from mockforge.ws.rules import Rule, apply_rules, compile_rule
from mockforge.ws.script import Script, load_script, run_script

if TYPE_CHECKING:
    from mockforge.config import WsRouteConfig
    from mockforge.core.connection import UpgradedConnection
    from mockforge.core.shared_state import WsFanout
    from mockforge.runtime import Runtime
    from mockforge.ws.session import Session

log = logging.getLogger("mockforge.ws")

CLOSE_TIMEOUT_S = 3.0


class WsRoute:
    """A configured path and what answers on it (compiled once at start)."""

    __slots__ = ("mode", "path", "rules", "script", "source", "timeout_ms")

    def __init__(
        self,
        path: str,
        mode: str,
        *,
        script: Script | None = None,
        rules: tuple[Rule, ...] = (),
        timeout_ms: int | None = None,
    ) -> None:
        self.path = path
        self.mode = mode
        self.script = script
        self.rules = rules
        self.timeout_ms = timeout_ms
        self.source = f"ws:{mode}"

    def on_open(self, session: Session) -> None:
        if self.script is not None:
            session.keep_inbox()
            session.start_task(run_script(session, self.script, self.timeout_ms))

    def on_message(self, session: Session, message: Message) -> None:
        mode = self.mode
        if mode == "echo":
            session.send(message)
        elif mode == "json_echo":
            data: Any
            if message.kind == "binary":
                data = base64.b64encode(message.payload()).decode()
            else:
                parsed = message.json()
                data = message.text if parsed is None and message.text != "null" else parsed
            body: dict[str, Any] = {"type": "echo", "timestamp": now_rfc3339(), "data": data}
            if message.kind == "binary":
                body["encoding"] = "base64"
            session.send(Message.text_message(orjson.dumps(body).decode()))
        elif mode == "rules":
            apply_rules(self.rules, session, message)
        # script mode: the script reads the session's inbox


def compile_route(index: int, rc: WsRouteConfig, config_file: str | None) -> WsRoute:
    """Check one ``websocket.routes[i]``; raises ``ConfigError`` naming the file and place."""
    where = f"websocket.routes[{index}]"
    if not rc.path.startswith("/"):
        raise ConfigError(f"path {rc.path!r} must start with /", file=config_file, where=where)
    if rc.timeout_ms is not None and rc.timeout_ms < 0:
        raise ConfigError("timeout_ms must be >= 0", file=config_file, where=where)
    if rc.mode == "script":
        if not rc.script:
            raise ConfigError("mode script needs `script: <file.jsonl>`", file=config_file, where=where)
        return WsRoute(rc.path, rc.mode, script=load_script(rc.script), timeout_ms=rc.timeout_ms)
    if rc.mode == "rules":
        rules: list[Rule] = []
        for j, raw in enumerate(rc.rules):
            try:
                rules.append(compile_rule(raw))
            except ValueError as exc:
                raise ConfigError(str(exc), file=config_file, where=f"{where}.rules[{j}]") from None
        return WsRoute(rc.path, rc.mode, rules=tuple(rules), timeout_ms=rc.timeout_ms)
    return WsRoute(rc.path, rc.mode, timeout_ms=rc.timeout_ms)


class WebSocketHub:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        cfg = runtime.config.websocket
        self.max_connections = cfg.max_connections
        self.max_message_bytes = cfg.max_message_bytes
        self.idle_timeout_s = cfg.idle_timeout_ms / 1000
        self.send_queue_limit = max(1, cfg.send_queue_limit)
        self.send_queue_bytes = max(1, cfg.send_queue_bytes)
        #: Connections closed (1008) because their send queue passed a bound; for /stats.
        self.slow_readers_closed = 0
        #: Upgrades refused (503) at websocket.max_connections; for /stats.
        self.connections_refused = 0
        #: How long a peer has to answer our close frame before its socket is dropped.
        self.close_timeout_s = CLOSE_TIMEOUT_S
        #: One line per route that could not be loaded (file and line included); not served.
        self.problems: list[str] = []
        self._routes: dict[str, WsRoute] = {}
        for i, rc in enumerate(cfg.routes):
            try:
                route = compile_route(i, rc, runtime.config.source)
            except ConfigError as exc:
                problem = f"websocket route {rc.path} not served: {exc}"
                self.problems.append(problem)
                log.warning("%s", problem)
                continue
            if rc.path in self._routes:
                problem = f"websocket route {rc.path} is configured twice; the first one is served"
                self.problems.append(problem)
                log.warning("%s", problem)
                continue
            self._routes[rc.path] = route
        self._sessions: dict[str, Session] = {}
        self._by_path: dict[str, dict[str, Session]] = {}
        self._ids = itertools.count(1)
        self._prefix = os.urandom(3).hex()
        self._empty: asyncio.Event | None = None
        #: Pushes to connections held by other replicas (``core.shared_state``), else None.
        self.fanout: WsFanout | None = None

    # ---- routing and upgrade ---------------------------------------------------------
    def wants(self, path: str) -> bool:
        return path in self._routes

    @property
    def paths(self) -> list[str]:
        return list(self._routes)

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        """Take the connection (``None``) or refuse it with an HTTP response."""
        route = self._routes.get(request.path)
        if route is None:
            return error_response(404, "not_found", f"no WebSocket endpoint at {request.path}")
        if len(self._sessions) >= self.max_connections:
            self.connections_refused += 1
            return error_response(
                503,
                "too_many_connections",
                f"websocket.max_connections ({self.max_connections}) reached; try again later",
                headers=[("retry-after", "1")],
            )
        from websockets.datastructures import Headers as WsHeaders
        from websockets.http11 import Request as WsRequest
        from websockets.protocol import State
        from websockets.server import ServerProtocol

        from mockforge.ws.session import Session

        target = request.path + (f"?{request.raw_query}" if request.raw_query else "")
        # The head is already parsed (by httptools): start the protocol in OPEN so its parser
        # reads frames, and let accept() check the handshake and build the 101 answer.
        proto = ServerProtocol(max_size=self.max_message_bytes, state=State.OPEN)
        answer = proto.accept(WsRequest(target, WsHeaders(request.headers.items())))
        if answer.status_code != 101:
            reason = str(proto.handshake_exc or answer.reason_phrase)
            message = f"WebSocket handshake refused: {reason}"
            return error_response(answer.status_code, "bad_handshake", message)
        handshake = answer.serialize()
        ws_request = Request(
            protocol="ws",
            method="CONNECT",
            path=request.path,
            raw_query=request.raw_query,
            headers=request.headers,
            client=request.client,
            route=route.path,
        )
        session = Session(self, route, ws_request, conn, proto, f"{self._prefix}-{next(self._ids)}")
        self._sessions[session.id] = session
        self._by_path.setdefault(route.path, {})[session.id] = session
        self.runtime.metrics.ws_connections(1)
        session.open(handshake)
        return None

    def forget(self, session: Session) -> None:
        """Drop a closed session from the hub (its session calls this once, when it ends)."""
        if self._sessions.pop(session.id, None) is not None:
            self.runtime.metrics.ws_connections(-1)
        on_path = self._by_path.get(session.path)
        if on_path is not None:
            on_path.pop(session.id, None)
            if not on_path:
                del self._by_path[session.path]
        if not self._sessions and self._empty is not None:
            self._empty.set()

    # ---- push and listing ------------------------------------------------------------
    def sessions_on(self, path: str) -> list[Session]:
        return list(self._by_path.get(path, {}).values())

    async def send(
        self,
        path: str,
        *,
        text: str | None = None,
        binary: bytes | None = None,
        connection_id: str | None = None,
    ) -> int:
        """Send to every client on ``path`` (or only ``connection_id``); returns how many got it."""
        if (text is None) == (binary is None):
            raise ValueError("give exactly one of text or binary")
        message = Message.text_message(text) if text is not None else Message.binary_message(binary or b"")
        if connection_id is not None:
            one = self._by_path.get(path, {}).get(connection_id)
            targets = [one] if one is not None else []
        else:
            targets = self.sessions_on(path)
        return sum(1 for s in targets if s.send(message))

    def connections(self, path: str | None = None) -> list[dict[str, Any]]:
        sessions = self.sessions_on(path) if path is not None else list(self._sessions.values())
        return [s.describe() for s in sessions]

    async def close_all(self, timeout: float = 3.0) -> None:
        """Close every connection with 1001 and wait (up to ``timeout``) for the handshakes."""
        if not self._sessions:
            return
        self._empty = asyncio.Event()
        for session in list(self._sessions.values()):
            session.close(CloseCode.GOING_AWAY, "server shutting down")
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
        except TimeoutError:
            for session in list(self._sessions.values()):
                session.conn.abort()
            try:  # connection_lost runs on the next loop turns
                await asyncio.wait_for(self._empty.wait(), 1.0)
            except TimeoutError:
                log.warning("%d websocket connections did not close", len(self._sessions))

    # ---- admin API (/__mockforge/ws/...) ---------------------------------------------
    async def admin(self, request: Request, subpath: str) -> Response | None:
        if subpath == "ws/send":
            if request.method != "POST":
                return error_response(405, "method_not_allowed", "use POST /__mockforge/ws/send")
            return await self._admin_send(request)
        if subpath == "ws/connections":
            if request.method != "GET":
                return error_response(405, "method_not_allowed", "use GET /__mockforge/ws/connections")
            wanted = request.query.get("path")
            path = wanted[0] if wanted else None
            conns = self.connections(path)
            routes = [{"path": r.path, "mode": r.mode} for r in self._routes.values()]
            return json_response({"connections": conns, "count": len(conns), "routes": routes})
        return None

    async def _admin_send(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            return error_response(400, "bad_request", "expected a JSON object {path, text | binary_base64}")
        problems = []
        path = body.get("path")
        if not isinstance(path, str):
            problems.append(detail("body.path", "required: the WebSocket path, e.g. /ws"))
        text, b64 = body.get("text"), body.get("binary_base64")
        binary: bytes | None = None
        if (text is None) == (b64 is None):
            problems.append(detail("body.text", "give exactly one of text or binary_base64"))
        elif text is not None and not isinstance(text, str):
            problems.append(detail("body.text", "must be a string"))
        elif b64 is not None:
            try:
                binary = base64.b64decode(b64, validate=True) if isinstance(b64, str) else None
            except binascii.Error:
                binary = None
            if binary is None:
                problems.append(detail("body.binary_base64", "must be base64 text"))
        conn_id = body.get("connection_id")
        if conn_id is not None and not isinstance(conn_id, str):
            problems.append(detail("body.connection_id", "must be a string"))
        if problems:
            return error_response(400, "bad_request", "invalid ws/send request", problems)
        assert isinstance(path, str)
        if path not in self._routes:
            return error_response(404, "not_found", f"no WebSocket route at {path}")
        local = conn_id is None or conn_id in self._by_path.get(path, {})
        if not local and self.fanout is None:
            return error_response(404, "not_found", f"no connection {conn_id} on {path}")
        sent = await self.send(path, text=text, binary=binary, connection_id=conn_id) if local else 0
        if self.fanout is None or (conn_id is not None and local):
            return json_response({"sent": sent})
        from mockforge.core.shared_state import SharedUnavailable

        try:
            replicas = await self.fanout.publish_ws(path, text, binary, conn_id)
        except SharedUnavailable as exc:  # this replica's connections got it; the others cannot
            return json_response({"sent": sent, "replicas": 0, "scope": f"this replica only: {exc.reason}"})
        # ``sent`` counts this replica's connections; the other replicas send to theirs
        return json_response({"sent": sent, "replicas": replicas})

    async def deliver(self, path: str, text: str | None, binary: bytes | None, connection_id: str | None) -> int:
        """A push published by another replica: sent to this replica's connections on ``path``."""
        if path not in self._routes or (text is None) == (binary is None):
            return 0
        if connection_id is not None and connection_id not in self._by_path.get(path, {}):
            return 0
        return await self.send(path, text=text, binary=binary, connection_id=connection_id)
