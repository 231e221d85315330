"""``GET /__mockforge/events``: the request log as a Server-Sent Events stream (the console's
live Traffic page), built on ``core/events.py``'s ``ExchangeLogged``.

    feed = LiveFeed(runtime.log, max_streams=8, queue_size=256)
    resp = feed.response()        # 200 text/event-stream, or 503 when max_streams are open

Bounds: at most ``admin.max_event_streams`` streams at once (a 503 past that) and, per stream, a
queue of ``admin.event_queue_size`` entries. A reader slower than the traffic loses the oldest
entries, never memory: the queue keeps the newest ones and the stream says how many it dropped
(``event: dropped`` with ``{"dropped": n}``), so the page can say so. The queue holds references
to log entries (settled into their read form only when sent), so a busy stream costs a few kB.

Cost when nobody listens: none. The feed subscribes to the log only while a stream is open and
unsubscribes when the last one ends; this module is imported by the first ``/events`` request.

Each stream sends a comment line every ``HEARTBEAT_S`` seconds when idle (proxies keep it open,
and a closed client is noticed at the next write), and ends when the server stops
(``close``, called by ``Server.stop``) or the client goes away.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

import msgspec
import orjson

from mockforge.core.model import LogEntry, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.responses import error_response

#: Seconds between heartbeat comments on an idle stream.
HEARTBEAT_S = 15.0
#: Sent first: the client's reconnect delay (ms) and a comment that flushes the headers.
encode = msgspec.json.Encoder().encode
PREAMBLE = b"retry: 2000\n: mockforge live feed\n\n"


class Listener:
    """One open stream: a bounded queue of entries not sent yet and a count of those dropped."""

    __slots__ = ("closed", "dropped", "queue", "wake")

    def __init__(self, size: int) -> None:
        self.queue: deque[LogEntry] = deque(maxlen=size)
        self.dropped = 0
        self.closed = False
        self.wake = asyncio.Event()

    def push(self, entry: LogEntry) -> None:
        queue = self.queue
        if len(queue) == queue.maxlen:
            self.dropped += 1  # the deque drops its oldest entry on append
        queue.append(entry)
        self.wake.set()


class LiveFeed:
    """The streams following one request log (one per server, on ``Runtime.feed``)."""

    def __init__(self, log: RequestLog, *, max_streams: int, queue_size: int,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.log = log
        self.max_streams = max_streams
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.listeners: set[Listener] = set()
        #: Streams refused because ``max_streams`` were open, and entries dropped for slow
        #: readers, since start (``GET /__mockforge/stats`` shows them under ``refused.events``).
        self.refused = 0
        self.dropped = 0
        self.closed = False

    # ---- the log side ---------------------------------------------------------------------
    def _on_entry(self, entry: LogEntry) -> None:
        for listener in self.listeners:
            listener.push(entry)

    def _open(self) -> Listener | None:
        if self.closed or len(self.listeners) >= self.max_streams:
            return None
        listener = Listener(self.queue_size)
        if not self.listeners:
            self.log.logged.subscribe(self._on_entry)
        self.listeners.add(listener)
        return listener

    def _release(self, listener: Listener) -> None:
        listener.closed = True
        if listener in self.listeners:
            self.listeners.discard(listener)
            if not self.listeners:
                subscribers = self.log.logged.subscribers
                if self._on_entry in subscribers:
                    subscribers.remove(self._on_entry)

    def close(self) -> None:
        """End every stream (the server is stopping) and refuse new ones."""
        self.closed = True
        for listener in list(self.listeners):
            listener.closed = True
            listener.wake.set()

    # ---- the HTTP side --------------------------------------------------------------------
    def response(self) -> Response:
        if self.closed or len(self.listeners) >= self.max_streams:
            self.refused += 1
            message = ("the server is stopping" if self.closed else
                       f"{self.max_streams} live feeds are open already (admin.max_event_streams)")
            return error_response(503, "too_many_streams", message)
        headers = [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("x-content-type-options", "nosniff"),
            ("x-accel-buffering", "no"),
        ]
        return Response(status=200, headers=headers, stream=self._stream(), source="admin")

    async def _stream(self) -> AsyncIterator[bytes]:
        # The stream registers when the wire layer starts sending it, so an answer never sent (the
        # client left first) holds no slot; two racing for the last slot: the later one ends at once.
        listener = self._open()
        if listener is None:
            return
        try:
            yield PREAMBLE
            while not listener.closed:
                if not listener.queue:
                    listener.wake.clear()
                    try:
                        await asyncio.wait_for(listener.wake.wait(), self.heartbeat_s)
                    except TimeoutError:
                        yield b": heartbeat\n\n"
                        continue
                    if listener.closed:
                        break
                yield self._take(listener)
        finally:
            self._release(listener)

    def _take(self, listener: Listener) -> bytes:
        """What is queued, as SSE events (a ``dropped`` event first when entries were lost)."""
        out = bytearray()
        if listener.dropped:
            self.dropped += listener.dropped
            out += b"event: dropped\ndata: " + orjson.dumps({"dropped": listener.dropped}) + b"\n\n"
            listener.dropped = 0
        queue = listener.queue
        while queue:
            entry = self.log.settled(queue.popleft())
            out += b"event: entry\nid: " + entry.id.encode() + b"\ndata: " + encode(entry) + b"\n\n"
        return bytes(out)
