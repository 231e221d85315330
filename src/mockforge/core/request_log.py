"""The bounded request log: a ring buffer of ``LogEntry`` shared by every protocol.

One entry type, one builder: ``capture`` keeps what an exchange needs cheaply (the entry's
text fields are filled on first read, ``_settle``), for HTTP, WebSocket and gRPC alike.
Entries are ``msgspec.Struct(gc=False)`` (not tracked by the cyclic GC), header names are
interned and body excerpts capped, which keeps an entry near 1.5 KB (docs/REQUEST_LOG.md has
the measured figure). When full, the oldest entry is evicted and counted.

    log = RequestLog(max_entries=1000)
    log.record(request, response, duration_ms, response_bytes)
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

from mockforge.core.events import ExchangeLogged
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


_last_ts: tuple[int, str] = (-1, "")


def _format_ts(at: float) -> str:
    """``at`` as RFC 3339 text; entries of the same millisecond (settled in order) share one
    string, as entries stamped with ``now_rfc3339`` did."""
    global _last_ts
    ms = int(at * 1000)
    if _last_ts[0] == ms:
        return _last_ts[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    _last_ts = (ms, text)
    return text


def _unsettled(entry: LogEntry) -> bool:
    """True while an entry still holds what ``capture`` kept (its timestamp is a number)."""
    stamp: Any = entry.timestamp
    return type(stamp) is float


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
        self._entries: deque[LogEntry] = deque(maxlen=max_entries if max_entries > 0 else 0)
        self._lock = threading.Lock()
        self._ids = count(1)
        self.evicted = 0
        self.total = 0
        #: What this log covers when it is not every request the mock answered: ``worker 1 of 2``
        #: with independent workers (docs/SCALING.md); logs and verification answers say it.
        self.scope: str | None = None
        #: Published with each appended entry (metrics subscribe; ``core/events.py``).
        self.logged = ExchangeLogged()
        #: The subscribers of ``logged`` (the same list).
        self.listeners: list[Callable[[LogEntry], None]] = self.logged.subscribers
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

    def capture(
        self,
        request: Request,
        response: Response,
        duration_ms: float,
        *,
        response_bytes: int | None = None,
        status: int | None = None,
        status_text: str | None = None,
        matched: str = "",
    ) -> LogEntry:
        """The one builder of a log entry, for every protocol; cheap, because in a busy ring
        buffer most entries are evicted before anything reads them.

        The entry is lazy: the fields listeners read (protocol, method, path, route, status,
        status_text, duration_ms, matched, truncated) are final, while ``timestamp`` (the time
        as a number), ``query`` (the raw query text), ``headers`` (the header pairs, cut to
        ``max_logged_header_bytes``), ``body_excerpt`` and ``response_excerpt`` (the bytes, cut
        to ``max_logged_body_bytes``) hold what ``_settle`` turns into text on first read, so
        redaction, query parsing and decoding are only done for entries someone looks at.
        ``status``/``status_text``/``matched`` override what the response says (gRPC codes).
        """
        limit = self.max_body_bytes
        items = request.headers.raw_items()
        size = 0
        for k, v in items:  # inline header_bytes(): this runs for every HTTP request
            size += len(k) + len(v)
        headers_cut = size > self.max_header_bytes
        if headers_cut:
            items = cut_headers(items, self.max_header_bytes)
            self.headers_truncated += 1
        body = request.body
        cut = len(body) > limit
        rbody = response.body
        code = response.status if status is None else status
        if status_text is None:
            status_text = _PHRASES.get(code, "") if request.protocol != "grpc" else ""
        raw: Any = time.time()  # settled into text on first read
        # positional, in the field order of ``LogEntry`` (keywords cost 1 microsecond more)
        return LogEntry(
            str(next(self._ids)),  # id
            raw,  # timestamp: the time as a number, text once settled
            request.protocol,
            request.method,
            request.path,
            request.route,
            request.raw_query,  # type: ignore[arg-type]  # query: the raw text, parsed once settled
            items,  # type: ignore[arg-type]  # headers: the pairs, redacted into a dict once settled
            code,  # status
            status_text,
            int(duration_ms * 1000 + 0.5) / 1000,  # duration_ms
            request.client,
            len(rbody) if response_bytes is None else response_bytes,
            # body_excerpt: the bytes, decoded once settled; one byte past the limit is kept, so
            # the excerpt knows it was cut (and drops a character split at the cut)
            body[:limit + 1] if cut else body,  # type: ignore[arg-type]
            cut,  # body_truncated
            matched or response.source,
            # response_excerpt: a small body is kept by reference (static answers are one shared
            # object); a large one is cut, so an entry never holds more than a few times the limit
            rbody[:limit + 1] if len(rbody) > 4 * limit else rbody,  # type: ignore[arg-type]
            cut or headers_cut,  # truncated
            None if request.client_cert is None else request.client_cert.to_dict(),  # client_cert (mTLS)
            response.drift,  # drift findings (mockforge.drift)
            request.state_changes,  # state: what the state step changed
            response.problems,  # problems: why the request was refused
        )

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
        """A settled entry (``capture`` then ``_settle``), for callers that read it at once."""
        entry = self.capture(request, response, duration_ms, response_bytes=response_bytes, status=status,
                             matched=matched)
        self._settle_entry(entry)
        return entry

    def record(
        self,
        request: Request,
        response: Response,
        duration_ms: float,
        response_bytes: int | None = None,
        *,
        status: int | None = None,
        status_text: str | None = None,
        matched: str = "",
    ) -> None:
        """Log one exchange (any protocol): captured now, settled when first read."""
        self.append(self.capture(request, response, duration_ms, response_bytes=response_bytes, status=status,
                                 status_text=status_text, matched=matched))

    def _excerpt_of(self, rbody: bytes) -> str:
        """A response excerpt; static answers are the same bytes object every time, so theirs
        is decoded once and shared (at most 256 bodies held)."""
        key = id(rbody)
        hit = self._excerpts.get(key)
        if hit is not None and hit[0] is rbody:
            return hit[1]
        text = excerpt(rbody, self.max_body_bytes)[0]
        if len(self._excerpts) >= 256:
            self._excerpts.clear()
        self._excerpts[key] = (rbody, text)
        return text

    @classmethod
    def view(cls, entries: Iterable[LogEntry], *, max_entries: int, evicted: int, total: int) -> RequestLog:
        """A log over settled ``entries`` (oldest first) read from elsewhere (the shared log of
        every replica, ``core/shared_state.py``), for queries and verification."""
        out = cls(max_entries)
        out._entries.extend(entries)
        out.evicted = evicted
        out.total = total
        return out

    def settle(self, entry: LogEntry) -> None:
        """Give ``entry`` its read form now (text timestamp, parsed query, redacted headers)."""
        self._settle_entry(entry)

    def _settle_entry(self, e: LogEntry) -> None:
        """Turn what ``capture`` kept into the entry's read form, in place."""
        if not _unsettled(e):
            return
        raw: Any = e
        e.timestamp = _format_ts(raw.timestamp)
        query: str = raw.query
        e.query = parse_qs(query, keep_blank_values=True) if query else _NO_QUERY
        e.headers = self.redact_headers(raw.headers)
        body: bytes = raw.body_excerpt
        e.body_excerpt = excerpt(body, self.max_body_bytes)[0] if body else ""
        rbody: bytes = raw.response_excerpt
        e.response_excerpt = self._excerpt_of(rbody) if rbody else ""

    def settled(self, entry: LogEntry) -> LogEntry:
        """``entry`` in its read form (settled in place, under the lock), for readers that get
        entries one by one from ``logged`` (the console's live feed)."""
        if _unsettled(entry):
            with self._lock:
                self._settle_entry(entry)
        return entry

    def _settle(self) -> None:
        """Settle the entries not read yet (call with the lock held)."""
        if self._dirty:
            for e in self._entries:
                if _unsettled(e):
                    self._settle_entry(e)
            self._dirty = False

    def append(self, entry: LogEntry) -> None:
        """Add an entry (from ``capture`` or ``entry_for``) and tell the listeners."""
        self._dirty = True
        if self.max_entries <= 0:
            self.evicted += 1
            self.total += 1
            self.logged.publish(entry)
            return
        with self._lock:
            if len(self._entries) == self.max_entries:
                self.evicted += 1
            self._entries.append(entry)
            self.total += 1
        for fn in self.listeners:  # ExchangeLogged.publish, inlined: this runs for every exchange
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
            return list(self._entries)

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
