"""One WebSocket connection: the ``websockets`` sans-I/O protocol driven over our own HTTP
listener's upgraded socket.

Why not the library's asyncio server: the HTTP port is our own httptools server (see
``http/protocol.py``), and WebSocket upgrades must be served on it as well as on the WS port.
The sans-I/O ``ServerProtocol`` gives the library's handshake checks and frame codec (ping/pong,
close handshake, ``max_size`` -> 1009, protocol errors -> 1002) without a second server or a
task per connection: bytes from ``conn.on_data`` go to ``receive_data()``, frames come out of
``events_received()`` and ``data_to_send()`` is written back. An idle connection holds no task,
only a timer.

Back-pressure: a message is written at once while the socket buffer is under its high-water mark;
past it, messages wait in a deque, emptied by a task that exists only while there is a backlog.
The deque is bounded twice: ``websocket.send_queue_limit`` messages and ``websocket.send_queue_bytes``
bytes, the bytes counting the socket's write buffer too (what the peer has not taken yet). Counting
messages alone let a slow reader of 1 MB echoes hold 256 MB. A client that passes either bound is
closed with 1008 and a reason (and dropped if it does not finish the close handshake), so memory
per connection stays near ``send_queue_bytes`` plus one message. Queued text is kept encoded, so
the count is exact; the check is two additions and a comparison per queued message.
The script inbox (messages a script has not waited for yet) keeps the newest messages within the
same two bounds.

Importing this module imports ``websockets``; the hub imports it on the first upgrade only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from mockforge.core.connection import UpgradedConnection
from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import now_rfc3339
from mockforge.ws.matchers import Matcher
from mockforge.ws.model import CloseCode, Message

if TYPE_CHECKING:
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.ws")

_NO_HEADERS = Headers()


class SessionHost(Protocol):
    """What a session reads from and reports to the hub that owns it. Typed here, not as
    ``WebSocketHub``, so that this module does not import the hub, which imports it (no import
    cycle, not even under TYPE_CHECKING)."""

    runtime: Runtime
    idle_timeout_s: float
    close_timeout_s: float
    send_queue_limit: int
    send_queue_bytes: int
    slow_readers_closed: int

    def forget(self, session: Session) -> None: ...

    def sessions_on(self, path: str) -> list[Session]: ...


class SessionRoute(Protocol):
    """The configured route a session serves (``hub.WsRoute``)."""

    path: str
    source: str

    def on_open(self, session: Session) -> None: ...

    def on_message(self, session: Session, message: Message) -> None: ...


class Session:
    """Read-only for callers except through ``send`` and ``close``; the hub owns its lifetime."""

    __slots__ = (
        "_abort_handle",
        "_backlog",
        "_backlog_bytes",
        "_flusher",
        "_fragments",
        "_fragments_text",
        "_gone",
        "_high_water",
        "_idle_handle",
        "_idle_s",
        "_inbox",
        "_inbox_bytes",
        "_inbox_event",
        "_last_activity",
        "_loop",
        "_tasks",
        "_timers",
        "client",
        "conn",
        "connected_at",
        "hub",
        "id",
        "messages_in",
        "messages_out",
        "path",
        "proto",
        "request",
        "route",
        "started",
    )

    def __init__(
        self,
        hub: SessionHost,
        route: SessionRoute,
        request: Request,
        conn: UpgradedConnection,
        proto: ServerProtocol,
        session_id: str,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.hub = hub
        self.route = route
        self.request = request
        self.conn = conn
        self.proto = proto
        self.id = session_id
        self.path = request.path
        self.client = request.client
        self.connected_at = now_rfc3339()
        self.started = self._loop.time()
        self.messages_in = 0
        self.messages_out = 0
        #: (is_text, encoded payload), created on the first backlog; its bytes in _backlog_bytes
        self._backlog: deque[tuple[bool, bytes]] | None = None
        self._backlog_bytes = 0
        self._flusher: asyncio.Task[None] | None = None
        self._fragments: bytearray | None = None
        self._fragments_text = False
        self._gone = False
        self._high_water = conn.write_high_water
        self._idle_s = hub.idle_timeout_s
        self._idle_handle: asyncio.TimerHandle | None = None
        self._abort_handle: asyncio.TimerHandle | None = None
        #: (message, its size in bytes) not yet taken by ``wait_for_message``; bytes in _inbox_bytes
        self._inbox: deque[tuple[Message, int]] | None = None
        self._inbox_bytes = 0
        self._inbox_event: asyncio.Event | None = None
        self._last_activity = self.started
        self._tasks: set[asyncio.Task[None]] | None = None
        self._timers: set[asyncio.TimerHandle] | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def open(self, handshake: bytes) -> None:
        """Send the 101 answer, start listening, and start the route's behaviour."""
        conn = self.conn
        conn.on_data = self._on_data
        conn.on_close = self._on_close
        conn.write(handshake)
        self._log("CONNECT", b"", status=101, headers=self.request.headers)
        if self._idle_s > 0:
            self._idle_handle = self._loop.call_later(self._idle_s, self._idle_check)
        self.route.on_open(self)
        if conn.initial_data:
            self._on_data(conn.initial_data)

    @property
    def is_open(self) -> bool:
        return self.proto.state is State.OPEN and not self._gone

    def close(self, code: int, reason: str = "") -> None:
        """Start the closing handshake; the socket is dropped if the peer does not answer."""
        if self.proto.state is not State.OPEN or self._gone:
            return
        self._backlog = None
        self._backlog_bytes = 0
        self.proto.send_close(code, reason)
        self._write_pending()
        self._expect_close()

    def start_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("websocket behaviour on %s failed", self.path, exc_info=task.exception())
            self.close(CloseCode.INTERNAL_ERROR, "mock failed; see the mockforge log")

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run ``fn()`` after ``delay_s`` unless the connection closes first."""

        timers = self._timers
        if timers is None:
            timers = self._timers = set()

        def fire() -> None:
            timers.discard(handle)
            fn()

        handle = self._loop.call_later(delay_s, fire)
        timers.add(handle)

    def _expect_close(self) -> None:
        if self._abort_handle is None and not self._gone:
            self._abort_handle = self._loop.call_later(self.hub.close_timeout_s, self.conn.abort)

    def _on_close(self) -> None:
        if self._gone:
            return
        self._gone = True
        for handle in (self._idle_handle, self._abort_handle, *(self._timers or ())):
            if handle is not None:
                handle.cancel()
        self._timers = None
        for task in list(self._tasks or ()):
            task.cancel()
        if self._flusher is not None:
            self._flusher.cancel()
        if self._inbox_event is not None:
            self._inbox_event.set()
        self._backlog = None
        self._backlog_bytes = 0
        proto = self.proto
        frame = proto.close_sent or proto.close_rcvd
        code = frame.code if frame is not None else int(CloseCode.ABNORMAL)
        duration = (self._loop.time() - self.started) * 1000
        reason = frame.reason.encode() if frame is not None else b""
        self._log("CLOSE", reason, status=code, duration_ms=duration)
        self.hub.forget(self)

    # ---- receiving -------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        proto = self.proto
        proto.receive_data(data)
        events = proto.events_received()
        self._write_pending()
        for frame in events:
            if not isinstance(frame, Frame):
                continue
            op = frame.opcode
            if op is Opcode.TEXT or op is Opcode.BINARY:
                if frame.fin:
                    self._on_message(op is Opcode.TEXT, bytes(frame.data))
                else:
                    self._fragments = bytearray(frame.data)
                    self._fragments_text = op is Opcode.TEXT
            elif op is Opcode.CONT and self._fragments is not None:
                self._fragments += frame.data
                if frame.fin:
                    data_, self._fragments = bytes(self._fragments), None
                    self._on_message(self._fragments_text, data_)
            else:
                self._last_activity = self._loop.time()
        if proto.close_expected():
            self._expect_close()

    def _on_message(self, is_text: bool, payload: bytes) -> None:
        if not self.is_open:
            return
        if is_text:
            try:
                message = Message("text", payload.decode("utf-8"))
            except UnicodeDecodeError:
                self.proto.fail(CloseCode.INVALID_DATA, "text frame is not valid UTF-8")
                self._write_pending()
                self._expect_close()
                return
        else:
            message = Message("binary", payload)
        self.messages_in += 1
        self._last_activity = self._loop.time()
        self._log("MESSAGE_IN", payload)
        if self._inbox is not None:
            inbox = self._inbox
            inbox.append((message, len(payload)))
            self._inbox_bytes += len(payload)
            hub = self.hub
            while len(inbox) > hub.send_queue_limit or (self._inbox_bytes > hub.send_queue_bytes and len(inbox) > 1):
                self._inbox_bytes -= inbox.popleft()[1]  # nobody is reading: keep the newest
            if self._inbox_event is not None:
                self._inbox_event.set()
        self.route.on_message(self, message)

    def keep_inbox(self) -> None:
        """Buffer incoming messages for ``wait_for_message`` (script mode)."""
        if self._inbox is None:
            self._inbox = deque()
            self._inbox_event = asyncio.Event()

    async def wait_for_message(self, matcher: Matcher | None, timeout_s: float | None) -> Message | None:
        """The next buffered message that ``matcher`` accepts (others are dropped), or ``None``
        on timeout or close."""
        self.keep_inbox()
        inbox, event = self._inbox, self._inbox_event
        assert inbox is not None and event is not None
        deadline = None if timeout_s is None else self._loop.time() + timeout_s
        while True:
            while inbox:
                message, size = inbox.popleft()
                self._inbox_bytes -= size
                if matcher is None or matcher(message):
                    return message
            if not self.is_open:
                return None
            event.clear()
            if deadline is None:
                await event.wait()
                continue
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                if not inbox:
                    return None

    # ---- sending ---------------------------------------------------------------------
    def send(self, message: Message) -> bool:
        """Queue one message; False when the connection is closing or was just closed for
        reading too slowly."""
        if self.proto.state is not State.OPEN or self._gone:
            return False
        data = message.data
        is_text = isinstance(data, str)
        payload = data.encode() if isinstance(data, str) else data
        backlog = self._backlog
        conn = self.conn
        if backlog or conn.write_buffer_size() > self._high_water:
            if backlog is None:
                backlog = self._backlog = deque()
            hub = self.hub
            pending = self._backlog_bytes + len(payload) + conn.write_buffer_size()
            if len(backlog) >= hub.send_queue_limit or pending > hub.send_queue_bytes:
                what = "messages" if len(backlog) >= hub.send_queue_limit else "bytes"
                log.warning(
                    "closing %s on %s: send queue full of %s (client reads too slowly)", self.id, self.path, what
                )
                hub.slow_readers_closed += 1
                self.close(CloseCode.POLICY_VIOLATION, f"send queue full ({what}): client reads too slowly")
                # a client that does not read will not read our close frame either: stop taking its
                # bytes too, so a flooding slow reader costs no more parsing until the close timeout
                # drops it
                with contextlib.suppress(AttributeError, RuntimeError):
                    conn.pause_reading()
                return False
            backlog.append((is_text, payload))
            self._backlog_bytes += len(payload)
            if self._flusher is None:
                self._flusher = self._loop.create_task(self._flush_backlog())
            return True
        self._emit(is_text, payload)
        return True

    def _emit(self, is_text: bool, payload: bytes) -> None:
        if is_text:
            self.proto.send_text(payload)
        else:
            self.proto.send_binary(payload)
        self._write_pending()
        self.messages_out += 1
        self._last_activity = self._loop.time()
        self._log("MESSAGE_OUT", payload)

    async def _flush_backlog(self) -> None:
        conn = self.conn
        try:
            while self._backlog and self.proto.state is State.OPEN:
                before = len(self._backlog)
                await conn.drain()
                while self._backlog and conn.write_buffer_size() <= self._high_water:
                    if self.proto.state is not State.OPEN:
                        return
                    is_text, payload = self._backlog.popleft()
                    self._backlog_bytes -= len(payload)
                    self._emit(is_text, payload)
                if self._backlog is not None and len(self._backlog) == before and not conn.closed:
                    # drain() returned but the buffer is still full: give the loop a turn
                    await asyncio.sleep(0.005)
        finally:
            self._flusher = None

    def _write_pending(self) -> None:
        conn = self.conn
        for chunk in self.proto.data_to_send():
            if chunk:
                conn.write(chunk)
            else:  # end of stream: the server closes TCP once the close handshake is done
                conn.close()

    # ---- idle, logging, listing ------------------------------------------------------
    def _idle_check(self) -> None:
        self._idle_handle = None
        remaining = self._last_activity + self._idle_s - self._loop.time()
        if remaining > 0.001:
            self._idle_handle = self._loop.call_later(remaining, self._idle_check)
            return
        self.close(CloseCode.GOING_AWAY, "idle timeout")

    def _log(
        self,
        method: str,
        body: bytes,
        *,
        status: int = 0,
        duration_ms: float = 0.0,
        headers: Headers = _NO_HEADERS,
    ) -> None:
        req = self.request
        entry_req = Request(
            protocol="ws",
            method=method,
            path=req.path,
            raw_query=req.raw_query if method == "CONNECT" else "",
            headers=headers,
            body=body,
            client=req.client,
            route=self.route.path,
        )
        rlog = self.hub.runtime.log
        resp = Response(status=status, source=self.route.source)
        rlog.record(entry_req, resp, duration_ms, 0, status=status)

    def describe(self) -> dict[str, object]:
        return {
            "id": self.id,
            "path": self.path,
            "client": self.client,
            "connected_at": self.connected_at,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
        }
