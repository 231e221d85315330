"""The bounds one HTTP listener puts on its clients before any of them is trusted (issue 12).

What is bounded, and how (``http/protocol.py`` applies them; defaults in ``config.HttpConfig``):

- head size: the request line plus headers may take ``max_header_bytes`` (431), counted while
  the head arrives, so an unfinished head costs at most the limit plus one socket read; at most
  ``max_headers`` header lines (431); a request target over ``max_request_line_bytes`` is 414;
- time: a head must be complete ``header_timeout_s`` after its first byte (and a new connection
  must start one within it), a body ``body_timeout_s`` after its head; a late one gets 408 and
  the connection closes. An idle keep-alive connection closes after ``keepalive_timeout_s``, and
  so does one whose client reads nothing of an answer for that long (an endless stream such as
  the console's live feed would otherwise hold its slot forever);
- connections: ``max_connections`` per listener. One more is kept as a reserved slot that
  answers only the health paths (so a probe still gets through when the listener is full); every
  other connection past the limit gets 503 and is closed without being read;
- bodies: a ``Content-Length`` over the app's ``max_body_bytes`` is answered 413 at once (no
  ``100 Continue``, the body is never read); a chunked body gets 413 when its total passes it.

Costs: all of it is O(1) per request. Each connection owns one timer handle, re-armed lazily: a
phase change only stores a new deadline, and the handle, which always fires no later than the
current deadline, re-arms itself when it fires early. It fires at most every ``tick_s`` seconds
(the shortest timeout), so a busy keep-alive connection creates no timer per request. A refused
connection is answered, half-closed and drained for ``linger_s`` seconds (reading and dropping
its bytes), so the client reads the answer instead of a reset, and no byte is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mockforge.config import HttpConfig

#: Longest a refused connection is drained before it is closed.
MAX_LINGER_S = 2.0


@dataclass(frozen=True, slots=True)
class WireLimits:
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_request_line_bytes: int = 8 * 1024
    header_timeout_s: float = 10.0
    keepalive_timeout_s: float = 60.0
    body_timeout_s: float = 30.0
    max_connections: int = 1024
    #: Paths the reserved slot answers when the listener is full (the others get 503).
    health_paths: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, http: HttpConfig, health_paths: Iterable[str] = ()) -> WireLimits:
        return cls(
            max_header_bytes=http.max_header_bytes,
            max_headers=http.max_headers,
            max_request_line_bytes=http.max_request_line_bytes,
            header_timeout_s=http.header_timeout_ms / 1000,
            keepalive_timeout_s=http.keepalive_timeout_ms / 1000,
            body_timeout_s=http.body_timeout_ms / 1000,
            max_connections=http.max_connections,
            health_paths=frozenset(health_paths),
        )

    @property
    def tick_s(self) -> float:
        """The shortest timeout: how often, at most, a connection's timer fires."""
        return min(self.header_timeout_s, self.keepalive_timeout_s, self.body_timeout_s)

    @property
    def linger_s(self) -> float:
        return min(MAX_LINGER_S, self.header_timeout_s)
