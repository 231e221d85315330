"""The bounded request log: a ring buffer of ``LogEntry`` shared by every protocol.

Entries are ``msgspec.Struct(gc=False)`` (not tracked by the cyclic GC), header names are
interned and body excerpts capped, which keeps an entry near 1 KB (docs/REQUEST_LOG.md has the
measured figure). When full, the oldest entry is evicted and counted.

    log = RequestLog(max_entries=1000)
    log.append(entry)
    log.query(method="GET", path="/pets/*", limit=10)   # newest first
"""

from __future__ import annotations

import fnmatch
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from itertools import count
from typing import Any
from urllib.parse import parse_qs

from mockforge.core.model import LogEntry, Request, Response
from mockforge.core.regex import compile_user_regex

#: Header values never stored in the log or in fixtures.
ALWAYS_REDACTED = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey"}
)
REDACTED = "<redacted>"
#: Headers whose values repeat across requests; their values are stored once (bounded).
_REPEATING = frozenset(
    {"host", "user-agent", "accept", "accept-encoding", "accept-language", "connection", "content-type",
     "origin", "referer", "cache-control", "pragma", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-dest"}
)
_SHARED_LIMIT = 4096
#: The query of every entry without one (shared; entries are read-only).
_NO_QUERY: dict[str, list[str]] = {}


_stamp_ms = -1
_stamp_second = -1
_stamp_prefix = ""
_stamp = ""


def now_rfc3339() -> str:
    """UTC now as ``2026-01-02T03:04:05.678Z``; formatted at most once per millisecond."""
    global _stamp_ms, _stamp_second, _stamp_prefix, _stamp
    ms = int(time.time() * 1000)
    if ms != _stamp_ms:
        second = ms // 1000
        if second != _stamp_second:
            _stamp_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            _stamp_second = second
        _stamp = f"{_stamp_prefix}.{ms % 1000:03d}Z"
        _stamp_ms = ms
    return _stamp


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp ('Z' or an offset); raises ValueError."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


_PHRASES = {s.value: s.phrase for s in HTTPStatus}


def status_text(status: int) -> str:
    return _PHRASES.get(status, "")


def excerpt(body: bytes, limit: int) -> tuple[str, bool]:
    """The first ``limit`` bytes of a body as text, and whether it was cut."""
    if len(body) <= limit:
        return body.decode("utf-8", "replace"), False
    return body[:limit].decode("utf-8", "ignore"), True


def header_bytes(items: Iterable[tuple[str, str]]) -> int:
    """Bytes of names and values (what ``core.max_logged_header_bytes`` counts)."""
    size = 0
    for k, v in items:
        size += len(k) + len(v)
    return size


def cut_headers(items: Iterable[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """The headers that fit in ``limit`` bytes of names and values, in order; the one that
    crosses the limit keeps the start of its value (when its name fits), the rest are dropped.
    Values are copied (slices), so the entry does not keep a large original alive."""
    out: list[tuple[str, str]] = []
    left = limit
    for k, v in items:
        need = len(k) + len(v)
        if need <= left:
            out.append((k, v))
            left -= need
            continue
        if len(k) < left:
            out.append((k, v[: left - len(k)]))
        break
    return out


def _format_ts(at: float) -> str:
    ms = int(at * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class PendingEntry:
    """An HTTP exchange recorded cheaply and turned into a ``LogEntry`` on first read.

    In a busy ring buffer most entries are evicted before anything reads them, so the work of
    building one (header dict, redaction, query parsing, text excerpts, timestamp text) is only
    done for entries someone looks at. It keeps only what the entry needs: body excerpts are cut
    to ``max_logged_body_bytes`` here, and headers past ``max_logged_header_bytes`` are cut
    (``headers_cut``; the entry then says ``truncated``). Listeners (metrics) read the same
    attribute names as on a ``LogEntry``.
    """

    __slots__ = (
        "at",
        "body",
        "client",
        "client_cert",
        "duration_ms",
        "header_items",
        "headers_cut",
        "id",
        "matched",
        "method",
        "path",
        "protocol",
        "raw_query",
        "response_bytes",
        "response_head",
        "route",
        "status",
        "truncated",
    )

    def __init__(self, entry_id: str, request: Request, response: Response, duration_ms: float,
                 response_bytes: int, limit: int, header_limit: int = 8192) -> None:
        self.id = entry_id
        self.at = time.time()
        self.protocol = request.protocol
        self.method = request.method
        self.path = request.path
        self.route = request.route
        self.raw_query = request.raw_query
        items = request.headers.raw_items()
        size = 0
        for k, v in items:  # inline header_bytes(): this runs for every HTTP request
            size += len(k) + len(v)
        self.headers_cut = size > header_limit
        self.header_items = cut_headers(items, header_limit) if self.headers_cut else items
        self.status = response.status
        self.duration_ms = duration_ms
        self.client = request.client
        self.client_cert = request.client_cert
        self.response_bytes = response_bytes
        body = request.body
        self.truncated = len(body) > limit
        self.body = body[:limit] if self.truncated else body
        rbody = response.body
        # a small body is kept by reference (static answers are one shared object); a large one
        # is cut, so an entry never holds more than a few times the excerpt size
        self.response_head = rbody[:limit] if len(rbody) > 4 * limit else rbody
        self.matched = response.source

    @property
    def status_text(self) -> str:
        return _PHRASES.get(self.status, "")


class RequestLog:
    """Ring buffer of the last ``max_entries`` exchanges; thread-safe for appends and reads."""

    def __init__(
        self,
        max_entries: int,
        *,
        max_body_bytes: int = 256,
        max_header_bytes: int = 8192,
        redact: Iterable[str] = (),
    ) -> None:
        self.max_entries = max_entries
        self.max_body_bytes = max_body_bytes
        #: Bytes of header names and values kept per entry (``core.max_logged_header_bytes``).
        self.max_header_bytes = max_header_bytes
        #: Entries whose headers were cut since start (a counter for /__mockforge/stats).
        self.headers_truncated = 0
        self._redact = frozenset(h.lower() for h in redact) | ALWAYS_REDACTED
        self._entries: deque[LogEntry | PendingEntry] = deque(maxlen=max_entries if max_entries > 0 else 0)
        self._lock = threading.Lock()
        self._ids = count(1)
        self.evicted = 0
        self.total = 0
        #: Called with each appended entry (metrics, WS/gRPC counters); must be cheap.
        #: Listeners get a ``LogEntry`` or a ``PendingEntry`` (same attribute names, fewer fields:
        #: protocol, method, path, route, status, status_text, duration_ms, matched).
        self.listeners: list[Callable[[Any], None]] = []
        self._shared: dict[str, str] = {}
        self._dirty = False
        #: id(response body) -> (body, its excerpt); holds at most 256 bodies (static answers)
        self._excerpts: dict[int, tuple[bytes, str]] = {}

    # ---- writing ---------------------------------------------------------------
    def add_redacted_headers(self, names: Iterable[str]) -> None:
        self._redact = self._redact | frozenset(n.lower() for n in names)

    def next_id(self) -> str:
        return str(next(self._ids))

    def redact_headers(self, items: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        redact = self._redact
        shared = self._shared
        for k, v in items:
            if k in redact:
                v = REDACTED
            elif k in _REPEATING:
                # the same few values arrive on every request: keep one copy of each
                v = shared.setdefault(v, v) if len(shared) < _SHARED_LIMIT else shared.get(v, v)
            out[k] = f"{out[k]}, {v}" if k in out and v != REDACTED else v
        return out

    def entry_for(
        self,
        request: Request,
        response: Response,
        duration_ms: float,
        *,
        response_bytes: int | None = None,
        status: int | None = None,
        matched: str = "",
    ) -> LogEntry:
        limit = self.max_body_bytes
        raw = request.body
        if not raw:
            body, cut = "", False
        else:
            body, cut = excerpt(raw, limit)
        rbody = response.body
        if not rbody:
            resp_excerpt = ""
        else:
            # static answers are the same bytes object every time: decode their excerpt once
            key = id(rbody)
            hit = self._excerpts.get(key)
            if hit is not None and hit[0] is rbody:
                resp_excerpt = hit[1]
            else:
                resp_excerpt = excerpt(rbody, limit)[0]
                if len(self._excerpts) >= 256:
                    self._excerpts.clear()
                self._excerpts[key] = (rbody, resp_excerpt)
        code = response.status if status is None else status
        items = request.headers.raw_items()
        headers_cut = header_bytes(items) > self.max_header_bytes
        if headers_cut:
            items = cut_headers(items, self.max_header_bytes)
            self.headers_truncated += 1
        return LogEntry(
            id=str(next(self._ids)),
            timestamp=now_rfc3339(),
            protocol=request.protocol,
            method=request.method,
            path=request.path,
            route=request.route,
            query=request.query if request.raw_query else _NO_QUERY,
            headers=self.redact_headers(items),
            status=code,
            status_text=status_text(code) if request.protocol != "grpc" else "",
            duration_ms=int(duration_ms * 1000 + 0.5) / 1000,
            client=request.client,
            response_bytes=len(response.body) if response_bytes is None else response_bytes,
            body_excerpt=body,
            body_truncated=cut,
            matched=matched or response.source,
            response_excerpt=resp_excerpt,
            truncated=cut or headers_cut,
            client_cert=request.client_cert.to_dict() if request.client_cert is not None else None,
        )

    def record(self, request: Request, response: Response, duration_ms: float, response_bytes: int) -> None:
        """Log an HTTP exchange (the hot path): the entry is built when first read."""
        entry = PendingEntry(str(next(self._ids)), request, response, duration_ms, response_bytes,
                             self.max_body_bytes, self.max_header_bytes)
        if entry.headers_cut:
            self.headers_truncated += 1
        self._dirty = True
        self.append(entry)

    def _materialize(self, p: PendingEntry) -> LogEntry:
        body, _ = excerpt(p.body, self.max_body_bytes) if p.body else ("", False)
        resp, _ = excerpt(p.response_head, self.max_body_bytes) if p.response_head else ("", False)
        query = parse_qs(p.raw_query, keep_blank_values=True) if p.raw_query else _NO_QUERY
        return LogEntry(
            id=p.id,
            timestamp=_format_ts(p.at),
            protocol=p.protocol,
            method=p.method,
            path=p.path,
            route=p.route,
            query=query,
            headers=self.redact_headers(p.header_items),
            status=p.status,
            status_text=p.status_text,
            duration_ms=int(p.duration_ms * 1000 + 0.5) / 1000,
            client=p.client,
            response_bytes=p.response_bytes,
            body_excerpt=body,
            body_truncated=p.truncated,
            matched=p.matched,
            response_excerpt=resp,
            truncated=p.truncated or p.headers_cut,
            client_cert=p.client_cert.to_dict() if p.client_cert is not None else None,
        )

    def _settle(self) -> None:
        """Turn pending entries into ``LogEntry`` (call with the lock held)."""
        if self._dirty:
            entries = self._entries
            for i, e in enumerate(entries):
                if type(e) is PendingEntry:
                    entries[i] = self._materialize(e)
            self._dirty = False

    def append(self, entry: LogEntry | PendingEntry) -> None:
        if self.max_entries <= 0:
            self.evicted += 1
            self.total += 1
            for fn in self.listeners:
                fn(entry)
            return
        with self._lock:
            if len(self._entries) == self.max_entries:
                self.evicted += 1
            self._entries.append(entry)
            self.total += 1
        for fn in self.listeners:
            fn(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def remove_after(self, entry_id: int) -> None:
        """Drop entries with a numeric id above ``entry_id`` (per-test isolation)."""
        with self._lock:
            kept = [e for e in self._entries if int(e.id) <= entry_id]
            self._entries.clear()
            self._entries.extend(kept)

    def last_id(self) -> int:
        with self._lock:
            return int(self._entries[-1].id) if self._entries else 0

    # ---- reading ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def snapshot(self) -> list[LogEntry]:
        """All entries, oldest first."""
        with self._lock:
            self._settle()
            return list(self._entries)  # type: ignore[arg-type]  # settled: every item is a LogEntry

    def query(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_regex: str | None = None,
        status: int | None = None,
        since: datetime | None = None,
        protocol: str | None = None,
        limit: int | None = 100,
    ) -> list[LogEntry]:
        """Entries matching every given filter, newest first; the limit applies last."""
        # a user regex: RE2, linear in the path (``GET /__mockforge/logs?path_regex=``)
        rx = compile_user_regex(path_regex, where="query.path_regex") if path_regex else None
        glob = re.compile(fnmatch.translate(path)) if path else None
        meth = method.upper() if method else None
        out: list[LogEntry] = []
        for e in reversed(self.snapshot()):
            if meth and e.method != meth:
                continue
            if protocol and e.protocol != protocol:
                continue
            if status is not None and e.status != status:
                continue
            if glob and not glob.match(e.path):
                continue
            if rx and not rx.test(e.path):
                continue
            if since and parse_rfc3339(e.timestamp) < since:
                continue
            out.append(e)
            if limit is not None and len(out) >= limit:
                break
        return out
