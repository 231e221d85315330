"""HTTP/1.1 on an asyncio protocol, parsed by httptools (the C parser uvicorn uses).

Why not an off-the-shelf server: the fault issue needs real transport faults (a connection reset,
an EOF with no answer, a body shorter than its Content-Length, bytes that are not HTTP, a body
dribbled over time). ASGI and RSGI servers (uvicorn, granian) hide the socket, and aiohttp exposes
it but costs +15 MB idle against +0.2 MB for httptools (measured in docs/ARCHITECTURE.md). This
module owns only the wire: framing, keep-alive, pipelining (answered in order), body limits,
``Expect: 100-continue``, back-pressure, upgrades and graceful shutdown. What to answer is decided
by the ``HttpApp`` it is given.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from typing import Protocol

import httptools

from mockforge.core.client_cert import ClientCert
from mockforge.core.client_cert import from_transport as client_cert_of
from mockforge.core.connection import UpgradedConnection
from mockforge.core.headers import clean_header
from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import status_text
from mockforge.http.upgraded import UpgradedSocket
from mockforge.http.wire_limits import WireLimits
from mockforge.tls.plain import tls_on_plain_port

log = logging.getLogger("mockforge.http")

_HIGH_WATER = 64 * 1024
_MAX_PIPELINE = 16
_NAME_CACHE = 1024
_VALUE_CACHE = 4096
_VALUE_CACHE_MAX_LEN = 256
#: Values never kept in the shared cache (secrets, and values unique to each request).
_UNSHARED = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "content-length",
                       "x-request-id", "traceparent", "tracestate"})


def _describe(req: object) -> str:
    """``GET /path`` for logs, or what stands for a request that was never parsed."""
    if isinstance(req, Request):
        return f"{req.method} {req.path[:200]}"
    return "a refused request"


class HttpApp(Protocol):
    max_body_bytes: int

    async def handle(self, request: Request) -> Response: ...

    def wants_upgrade(self, request: Request) -> bool: ...

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        """Take over the connection (return None) or refuse with an HTTP response."""
        ...

    def error_response(self, status: int, code: str, message: str) -> Response: ...

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None: ...


class PlainApp:
    """An ``HttpApp`` that only answers requests: no upgrades, no logging. Subclass and define
    ``handle`` (upstreams in tests, the benchmark's hello world)."""

    max_body_bytes = 10 * 1024 * 1024

    async def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def wants_upgrade(self, request: Request) -> bool:
        return False

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        return None

    def error_response(self, status: int, code: str, message: str) -> Response:
        from mockforge.core.responses import error_response

        return error_response(status, code, message)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        return None


class ServerState:
    """What all connections of one listener share: the live connections, the drain flag, the
    limits (``WireLimits``) and the counters of what the limits refused (public, for stats)."""

    def __init__(self, limits: WireLimits | None = None) -> None:
        self.limits = limits or WireLimits()
        #: a TLS listener: connections read their client certificate (set once by the listener)
        self.tls = False
        #: a TLS listener's own counters (handshakes, failures, plain clients): shown with these
        self.tls_counters: Callable[[], dict[str, int]] | None = None
        self.connections: set[HttpProtocol] = set()
        #: the connection in the reserved slot (health checks only), when one is open
        self.reserved: HttpProtocol | None = None
        #: refused connections still being drained (closed at stop)
        self.refusing: set[HttpProtocol] = set()
        self.closing = False
        #: raw header name -> lower-case interned name; raw value -> decoded value (bounded)
        self.names: dict[bytes, str] = {}
        self.values: dict[bytes, str] = {}
        #: response header names already known to be tokens (bounded)
        self.clean_names: set[str] = set()
        self._date = ""
        self._date_at = 0.0
        self._warned_at = 0.0
        # ---- counters (read by the admin stats) ----------------------------------------
        #: connections answered 503 past ``max_connections`` (reserved slot included)
        self.connections_refused = 0
        #: requests answered 431 (head bytes or header count over the limit)
        self.headers_too_large = 0
        #: requests answered 414 (request target over the limit)
        self.uri_too_long = 0
        #: connections closed for a head or body not complete in time (408 written)
        self.request_timeouts = 0
        #: idle connections closed (keep-alive past its timeout, or new and silent past the header one)
        self.idle_closed = 0
        #: requests answered 413 (body over ``max_body_bytes``, never read)
        self.bodies_too_large = 0
        #: response headers cleaned (bad characters removed) or dropped (name not a token)
        self.headers_cleaned = 0
        #: connections cut because the client read nothing of an answer for ``keepalive_timeout_s``
        self.stalled_writes_cut = 0

    def counters(self) -> dict[str, int]:
        return {
            "connections_open": len(self.connections),
            "connections_refused": self.connections_refused,
            "headers_too_large": self.headers_too_large,
            "uri_too_long": self.uri_too_long,
            "request_timeouts": self.request_timeouts,
            "idle_closed": self.idle_closed,
            "bodies_too_large": self.bodies_too_large,
            "headers_cleaned": self.headers_cleaned,
            "stalled_writes_cut": self.stalled_writes_cut,
            **(self.tls_counters() if self.tls_counters is not None else {}),
        }

    def date(self) -> str:
        now = time.time()
        if now - self._date_at >= 1.0:
            self._date = formatdate(now, usegmt=True)
            self._date_at = now
        return self._date

    def clean_header(self, name: object, value: object, where: str) -> tuple[str, str] | None:
        """A header that failed the fast check, made safe (core/headers.py), counted and warned
        about (at most once a second, so input cannot flood the log)."""
        safe = clean_header(name, value)
        if safe is not None and safe[1] == (value if isinstance(value, str) else str(value)):
            if len(self.clean_names) < _NAME_CACHE:
                self.clean_names.add(safe[0])
            return safe
        self.headers_cleaned += 1
        now = time.monotonic()
        if now - self._warned_at >= 1.0:
            self._warned_at = now
            what = "dropped (the name is not a token)" if safe is None else "written without its control characters"
            log.warning("response header %r of %s %s (%d so far)", str(name)[:100], where, what, self.headers_cleaned)
        return safe


class _Refused(Exception):
    """Raised from a parser callback to stop parsing; the answer is already queued."""


class _Pending:
    __slots__ = ("expect_continue", "headers", "keep_alive", "method", "parts", "refusal", "size", "upgrade", "url")

    def __init__(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.parts: list[bytes] = []
        self.size = 0
        self.method = ""
        self.keep_alive = True
        self.upgrade = False
        self.expect_continue = False
        #: (status, code, message) when the request is answered by the wire layer and closed
        self.refusal: tuple[int, str, str] | None = None


# Phases of a connection's timer (see wire_limits.py): what the deadline is waiting for.
_NONE = 0  # an answer is being made, or the connection was upgraded: no deadline
_IDLE = 1  # waiting for the first byte of a request (keep-alive, or a new connection)
_HEAD = 2  # a request has begun: waiting for the end of its headers
_BODY = 3  # waiting for the end of its body
_LINGER = 4  # refused: answered and half-closed, input is dropped until the deadline


class HttpProtocol(asyncio.Protocol):
    def __init__(self, app: HttpApp, state: ServerState) -> None:
        self.app = app
        self.state = state
        self.limits = state.limits
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.client = ""
        self.client_cert: ClientCert | None = None
        self._loop = asyncio.get_running_loop()
        self._cur: _Pending | None = None
        self._queue: deque[tuple[Request | None, _Pending]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._busy = False
        self._paused_reading = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._upgraded: UpgradedSocket | None = None
        self._closed = False
        self._header_name = b""
        # limits: the timer, the head being counted, refusal state
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._phase = _NONE
        self._deadline = 0.0
        self._head_bytes = 0  # bytes of the unfinished head (a lower bound while it arrives)
        self._head_exact = 0  # bytes of the head as the parser hands them over
        self._head_first = False  # the head began in the chunk being parsed
        self._nheaders = 0
        self._completed = 0  # requests parsed on this connection
        self._refused = False  # answered by the wire layer: input is dropped from now on
        self._lingering = False
        self._reserved = False  # in the reserved slot: health paths only, one request

    # ---- asyncio.Protocol ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = f"{peer[0]}:{peer[1]}"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        state = self.state
        if len(state.connections) - (state.reserved is not None) >= self.limits.max_connections:
            if state.reserved is not None or state.closing:
                state.connections_refused += 1
                state.refusing.add(self)
                self._refuse_connection()
                return
            state.reserved = self
            self._reserved = True
        state.connections.add(self)
        if state.tls:  # decided per listener: read the client certificate once per connection
            self.client_cert = client_cert_of(transport)
        self._set_deadline(_IDLE, self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        state = self.state
        state.connections.discard(self)
        state.refusing.discard(self)
        if state.reserved is self:
            state.reserved = None
        self._can_write.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._upgraded and self._upgraded.on_close:
            self._upgraded.on_close()
        if self._worker and not self._worker.done() and not self._busy:
            self._worker.cancel()

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            if self._upgraded.on_data:
                self._upgraded.on_data(data)
            return
        if self._refused:
            return  # answered already: drop what the client still sends
        if self._phase == _HEAD:
            self._head_bytes += len(data)  # the head began in an earlier read: all of this is head
        completed = self._completed
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            self._start_upgrade(data[offset:])
        except httptools.HttpParserError as exc:
            if not self._completed and data[:1] == b"\x16":  # a TLS ClientHello on a plain port
                tls_on_plain_port(self.transport, self.client)
                return
            if not self._refused:
                self._bad_request(f"malformed HTTP request: {exc}")
            return
        if self._phase == _HEAD:
            if self._head_first and completed == self._completed:
                # the head began in this read and no request ended before it: all of it is head
                self._head_bytes = len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._too_large_head()
        self._head_first = False

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def drain(self) -> None:
        await self._can_write.wait()

    # ---- httptools callbacks -------------------------------------------------------
    def on_message_begin(self) -> None:
        self._cur = _Pending()
        self._head_bytes = self._head_exact = self._nheaders = 0
        self._head_first = True
        self._set_deadline(_HEAD, self.limits.header_timeout_s)

    def on_url(self, url: bytes) -> None:
        cur = self._cur
        assert cur is not None
        cur.url += url
        if self._head_first:
            self._head_bytes += len(url)
        self._head_exact += len(url)
        if len(cur.url) > self.limits.max_request_line_bytes:
            self.state.uri_too_long += 1
            limit = self.limits.max_request_line_bytes
            self._refuse(414, "uri_too_long", f"the request target exceeds http.max_request_line_bytes ({limit})")
            raise _Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self._cur is not None
        size = len(name) + len(value) + 4
        if self._head_first:
            self._head_bytes += size
        self._head_exact += size
        self._nheaders += 1
        if self._nheaders > self.limits.max_headers:
            self.state.headers_too_large += 1
            self._refuse(431, "headers_too_large",
                         f"more than http.max_headers ({self.limits.max_headers}) header lines")
            raise _Refused
        # Header names, and the values that repeat from request to request (Host, Accept,
        # User-Agent...), are decoded once and shared: less work per request, and the request
        # log keeps one copy of each instead of one per entry. Both caches are bounded.
        state = self.state
        key = state.names.get(name)
        if key is None:
            key = sys.intern(name.decode("latin-1").lower())
            if len(state.names) < _NAME_CACHE:
                state.names[name] = key
        text = state.values.get(value)
        if text is None:
            text = value.decode("latin-1")
            if len(value) <= _VALUE_CACHE_MAX_LEN and key not in _UNSHARED and len(state.values) < _VALUE_CACHE:
                state.values[value] = text
        self._cur.headers.append((key, text))

    def on_headers_complete(self) -> None:
        cur = self._cur
        assert cur is not None
        if self._head_exact > self.limits.max_header_bytes:
            self._too_large_head()
            raise _Refused
        cur.method = self.parser.get_method().decode("ascii", "replace")
        cur.keep_alive = bool(self.parser.should_keep_alive())
        cur.upgrade = bool(self.parser.should_upgrade())
        limit = self.app.max_body_bytes
        too_large = False
        for k, v in cur.headers:
            if k == "content-length":
                try:
                    too_large = too_large or int(v) > limit
                except ValueError:
                    pass
            elif k == "expect" and v.lower() == "100-continue":
                cur.expect_continue = True
        if self._reserved:
            self._serve_reserved(cur)
        if too_large:
            self._body_too_large(cur)
            raise _Refused
        self._set_deadline(_BODY, self.limits.body_timeout_s)
        if cur.expect_continue and not self._queue and not self._busy:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        cur = self._cur
        assert cur is not None
        cur.size += len(body)
        if cur.size > self.app.max_body_bytes:
            cur.parts.clear()
            self._body_too_large(cur)
            raise _Refused
        cur.parts.append(body)

    def on_message_complete(self) -> None:
        cur = self._cur
        assert cur is not None
        self._cur = None
        self._phase = _NONE
        self._completed += 1
        req = self._make_request(cur)
        if req is None:
            return
        if cur.upgrade:
            # handled in data_received's HttpParserUpgrade branch
            self._queue.append((req, cur))
            return
        self._queue.append((req, cur))
        if len(self._queue) > _MAX_PIPELINE and not self._paused_reading:
            self.transport.pause_reading()
            self._paused_reading = True
        if self._worker is None or self._worker.done():
            self._worker = self._loop.create_task(self._run())

    # ---- limits -----------------------------------------------------------------------
    def _set_deadline(self, phase: int, timeout_s: float) -> None:
        """Enter ``phase``, to end within ``timeout_s``. O(1): a timer is created only when the
        connection has none; one that fires early re-arms itself (see wire_limits.py)."""
        now = self._loop.time()
        self._phase = phase
        deadline = self._deadline = now + timeout_s
        timer = self._timer
        if timer is None or self._timer_at > deadline:  # the latter only for a linger shorter than a tick
            if timer is not None:
                timer.cancel()
            self._timer_at = now + min(timeout_s, self.limits.tick_s)
            self._timer = self._loop.call_at(self._timer_at, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        phase = self._phase
        if self._closed or phase == _NONE:
            return
        now = self._loop.time()
        if now < self._deadline:
            self._timer_at = min(self._deadline, now + self.limits.tick_s)
            self._timer = self._loop.call_at(self._timer_at, self._on_timer)
            return
        if phase == _IDLE:
            if self.idle:
                self.state.idle_closed += 1
                self.transport.close()
        elif phase == _LINGER:
            self.transport.close()
        elif self._paused_reading:
            # the head or body waits behind answers we have not written: not the client's delay
            self._set_deadline(phase, self.limits.tick_s)
        else:
            self.state.request_timeouts += 1
            what = "headers" if phase == _HEAD else "body"
            limit = "header_timeout_ms" if phase == _HEAD else "body_timeout_ms"
            self._refuse(408, "request_timeout", f"the request {what} did not arrive within http.{limit}")

    def _too_large_head(self) -> None:
        self.state.headers_too_large += 1
        self._refuse(431, "headers_too_large",
                     f"the request head exceeds http.max_header_bytes ({self.limits.max_header_bytes})")

    def _body_too_large(self, cur: _Pending) -> None:
        self.state.bodies_too_large += 1
        cur.parts.clear()
        req = self._make_request(cur)
        if self._refused:  # the target itself was invalid: 400 is queued
            return
        self._refuse(413, "payload_too_large",
                     f"request body exceeds http.max_body_bytes ({self.app.max_body_bytes})", req)

    def _serve_reserved(self, cur: _Pending) -> None:
        """The reserved slot answers one request, and only on a health path."""
        path = cur.url.partition(b"?")[0].decode("latin-1")
        if path not in self.limits.health_paths:
            self.state.connections_refused += 1
            self._refuse(503, "too_many_connections", self._busy_message())
            raise _Refused
        cur.keep_alive = False

    def _busy_message(self) -> str:
        return f"too many connections (http.max_connections is {self.limits.max_connections}); try again later"

    def _refuse(self, status: int, code: str, message: str, req: Request | None = None) -> None:
        """Answer ``status`` after what is already queued, then half-close and drain: from now
        on the connection reads nothing more into memory."""
        self._refused = True
        self._cur = None
        self._phase = _NONE
        pending = _Pending()
        pending.keep_alive = False
        pending.refusal = (status, code, message)
        self._queue.append((req, pending))
        if self._paused_reading:
            self.transport.resume_reading()
            self._paused_reading = False
        if self._worker is None or self._worker.done():
            self._worker = self._loop.create_task(self._run())

    def _refuse_connection(self) -> None:
        """Past the connection limit: 503 before reading anything, then drain and close."""
        self._refused = True
        resp = self.app.error_response(503, "too_many_connections", self._busy_message())
        head = self._head(resp, keep_alive=False, length=len(resp.body), where="a refused connection")
        self.transport.write(bytes(head) + resp.body)
        self._linger()

    def _linger(self) -> None:
        """Half-close after the answer and drop input for a moment, so the client reads the
        answer rather than a reset (closing with unread input resets the connection)."""
        if self.transport.is_closing():
            return
        self._refused = self._lingering = True
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._set_deadline(_LINGER, self.limits.linger_s)

    # ---- request processing --------------------------------------------------------
    def _make_request(self, cur: _Pending) -> Request | None:
        try:
            parsed = httptools.parse_url(cur.url)
        except httptools.HttpParserInvalidURLError:
            self._bad_request("invalid request target")
            return None
        path = (parsed.path or b"/").decode("latin-1")
        query = (parsed.query or b"").decode("latin-1")
        body = b"".join(cur.parts) if len(cur.parts) != 1 else cur.parts[0]
        return Request(
            protocol="http",
            method=cur.method,
            path=path,
            raw_query=query,
            headers=Headers(cur.headers, lowered=True),
            body=body,
            client=self.client,
            client_cert=self.client_cert,
        )

    async def _run(self) -> None:
        while self._queue and not self._closed:
            req, cur = self._queue.popleft()
            if self._paused_reading and len(self._queue) <= _MAX_PIPELINE // 2:
                self.transport.resume_reading()
                self._paused_reading = False
            self._busy = True
            try:
                keep = await self._serve(req, cur)
            except Exception:  # a bug of ours must not take the server down
                log.exception("unhandled error while answering %s", _describe(req))
                keep = False
                if not self.transport.is_closing():
                    resp = self.app.error_response(500, "internal_error", "internal error in mockforge")
                    await self._write_response(req, resp, keep_alive=False)
            finally:
                self._busy = False
            if not keep:
                self._queue.clear()
                if not self.transport.is_closing() and not self._lingering:
                    self.transport.close()
                return
            if self.state.closing:
                self.transport.close()
                return
        self._arm_idle()

    async def _serve(self, req: Request | None, cur: _Pending) -> bool:
        started = time.perf_counter()
        # An exchange is logged before its answer is written, so a client that has its answer can
        # rely on the log (verification); only streamed bodies, whose size is known at the end,
        # are logged after.
        if cur.refusal is not None or req is None:
            status, code, message = cur.refusal or (400, "bad_request", "malformed HTTP request")
            resp = self.app.error_response(status, code, message)
            if req is not None:
                self.app.log_exchange(req, resp, started, len(resp.body))
            await self._write_response(req, resp, keep_alive=False)
            self._linger()
            return False
        resp = await self.app.handle(req)
        keep_alive = cur.keep_alive and not self.state.closing
        if resp.transport_fault:
            self.app.log_exchange(req, resp, started, 0)
            await self._transport_fault(req, resp)
            return False
        if resp.stream is None:
            head_only = req.method == "HEAD" or resp.status in (204, 304) or resp.status < 200
            self.app.log_exchange(req, resp, started, 0 if head_only else len(resp.body))
            await self._write_response(req, resp, keep_alive=keep_alive)
        else:
            sent = await self._write_response(req, resp, keep_alive=keep_alive)
            self.app.log_exchange(req, resp, started, sent)
        return keep_alive

    def _head(self, resp: Response, *, keep_alive: bool, length: int | None, where: object = None) -> bytearray:
        out = bytearray(b"HTTP/1.1 %d %s\r\n" % (resp.status, status_text(resp.status).encode() or b"Unknown"))
        has_date = False
        clean_names = self.state.clean_names
        for k, v in resp.headers:
            # Never write what input could have put in a header (core/headers.py): a name seen
            # clean before and a printable value pass as they are; anything else is cleaned.
            if k not in clean_names or type(v) is not str or not v.isprintable():
                safe = self.state.clean_header(k, v, where if isinstance(where, str) else _describe(where))
                if safe is None:
                    continue
                k, v = safe
            lk = k.lower()
            if lk in ("content-length", "transfer-encoding", "connection"):
                continue
            if lk == "date":
                has_date = True
            out += f"{k}: {v}\r\n".encode("latin-1", "replace")
        if not has_date:
            out += b"date: " + self.state.date().encode() + b"\r\n"
        if length is None:
            out += b"transfer-encoding: chunked\r\n"
        elif resp.status >= 200 and resp.status not in (204, 304):
            out += b"content-length: %d\r\n" % length
        if not keep_alive:
            out += b"connection: close\r\n"
        out += b"\r\n"
        return out

    async def _write_response(self, req: Request | None, resp: Response, *, keep_alive: bool) -> int:
        if self.transport.is_closing():
            return 0
        head_only = (req is not None and req.method == "HEAD") or resp.status in (204, 304) or resp.status < 200
        if resp.stream is not None and not head_only:
            self.transport.write(bytes(self._head(resp, keep_alive=keep_alive, length=None, where=req)))
            sent = 0
            try:
                async for chunk in resp.stream:
                    if not chunk:
                        continue
                    if self.transport.is_closing():
                        break
                    self.transport.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                    sent += len(chunk)
                    if not await self._writable():
                        return sent
            except Exception as exc:  # upstream broke mid-stream: the client sees a cut body
                log.warning("stream for %s failed: %s", _describe(req), exc)
                self.transport.abort()
                return sent
            finally:  # an endless stream left early (client gone): let it clean up now
                aclose = getattr(resp.stream, "aclose", None)
                if aclose is not None:
                    await aclose()
            if not self.transport.is_closing():
                self.transport.write(b"0\r\n\r\n")
            return sent
        body = resp.body
        head = self._head(resp, keep_alive=keep_alive, length=len(body), where=req)
        if head_only:
            self.transport.write(bytes(head))
            return 0
        if len(body) < 16384:
            head += body
            self.transport.write(bytes(head))
        else:
            self.transport.write(bytes(head))
            self.transport.write(body)
        await self._writable()
        return len(body)

    async def _writable(self) -> bool:
        """Wait until the client has read the answer below the write buffer's high-water mark.
        A client that reads nothing for ``keepalive_timeout_s`` is cut (False): an endless stream
        (the console's live feed) or a large body must not hold a slot and its buffer forever."""
        if self._can_write.is_set():
            return True
        try:
            await asyncio.wait_for(self._can_write.wait(), self.limits.keepalive_timeout_s)
        except TimeoutError:
            self.state.stalled_writes_cut += 1
            self.transport.abort()
            return False
        return True

    async def _transport_fault(self, req: Request, resp: Response) -> None:
        """Misbehave on the wire for real (see docs/FAULTS.md)."""
        kind = resp.transport_fault
        t = self.transport
        if kind == "reset":
            sock = t.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            t.abort()
        elif kind == "close":
            t.close()
        elif kind == "malformed":
            t.write(b"\x00\x13MOCKFORGE-GARBAGE\xff\xfe not http at all\r\n\r\n")
            t.close()
        elif kind == "truncate":
            body = resp.body or b'{"truncated": "this body is cut before its declared length"}'
            head = self._head(resp, keep_alive=False, length=len(body), where=req)
            t.write(bytes(head) + body[: max(1, len(body) // 2)])
            t.close()
        elif kind == "dribble":
            body = resp.body
            t.write(bytes(self._head(resp, keep_alive=False, length=len(body), where=req)))
            chunks = max(1, min(len(body), 10))
            step = max(1, -(-len(body) // chunks))
            pause = max(0, resp.dribble_ms) / 1000 / chunks
            for i in range(0, len(body), step):
                if t.is_closing():
                    return
                t.write(body[i : i + step])
                await asyncio.sleep(pause)
            t.close()
        else:
            t.close()

    # ---- upgrades, errors, idle ---------------------------------------------------
    def _start_upgrade(self, rest: bytes) -> None:
        if not self._queue:
            self._bad_request("upgrade without a complete request")
            return
        req, cur = self._queue.pop()
        if req is None or not self.app.wants_upgrade(req):
            # not an upgrade we serve: answer it as a plain request and close
            cur.keep_alive = False
            self._queue.append((req, cur))
            if self._worker is None or self._worker.done():
                self._worker = self._loop.create_task(self._run())
            return
        conn = UpgradedSocket(self.transport, self.drain, self.client, rest)
        self._upgraded = conn
        self._phase = _NONE
        self._loop.create_task(self._do_upgrade(req, conn))

    async def _do_upgrade(self, req: Request, conn: UpgradedConnection) -> None:
        started = time.perf_counter()
        try:
            refusal = await self.app.upgrade(req, conn)
        except Exception:
            log.exception("upgrade of %s failed", req.path)
            refusal = self.app.error_response(500, "internal_error", "upgrade failed")
        if refusal is not None:
            self._upgraded = None
            sent = await self._write_response(req, refusal, keep_alive=False)
            self.app.log_exchange(req, refusal, started, sent)
            self.transport.close()

    def _bad_request(self, message: str) -> None:
        """400 in order (after what is queued), then close."""
        if not self._refused:
            self._refuse(400, "bad_request", message)

    def _arm_idle(self) -> None:
        if self._closed or self._upgraded is not None or self._refused:
            return
        if self.state.closing:
            self.transport.close()
            return
        if self._cur is None:
            self._set_deadline(_IDLE, self.limits.keepalive_timeout_s)

    @property
    def idle(self) -> bool:
        return not self._busy and not self._queue and self._cur is None and self._upgraded is None

    def shutdown(self) -> None:
        """Close now when idle; otherwise close after the in-flight answer."""
        if self.idle:
            self.transport.close()
