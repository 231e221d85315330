"""The records that flow through the pipeline: one ``Request`` and one ``Response`` for every
protocol, and the ``LogEntry`` that the request log, verification, fixtures and plugins share.

    req = Request(protocol="http", method="GET", path="/pets/7", raw_query="limit=2",
                  headers=Headers([("accept", "application/json")]), body=b"", client="127.0.0.1:5000")
    req.query            # {"limit": ["2"]}
    req.headers.get("Accept")
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import msgspec

from mockforge.core.limits import decode_request_json

if TYPE_CHECKING:
    from mockforge.core.client_cert import ClientCert

_intern = sys.intern


class Headers:
    """Case-insensitive multi-valued headers; names are kept lower case (and interned).

    ``Headers([("Content-Type", "text/plain")]).get("content-type") == "text/plain"``
    """

    __slots__ = ("_first", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = (), *, lowered: bool = False) -> None:
        # ``lowered``: the caller already gives lower-case interned names (the HTTP wire layer)
        if lowered and isinstance(items, list):
            self._items: list[tuple[str, str]] = items
        else:
            self._items = [(_intern(k.lower()), v) for k, v in items]
        first: dict[str, str] = {}
        for k, v in self._items:
            first.setdefault(k, v)
        self._first = first

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self._first.get(name)
        if value is None:
            value = self._first.get(name.lower())
        return default if value is None else value

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._items if k == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def raw_items(self) -> list[tuple[str, str]]:
        """The stored pairs themselves (no copy): for readers that keep them, such as the log."""
        return self._items

    def add(self, name: str, value: str) -> None:
        name = _intern(name.lower())
        self._items.append((name, value))
        self._first.setdefault(name, value)

    def set(self, name: str, value: str) -> None:
        name = _intern(name.lower())
        self._items = [(k, v) for k, v in self._items if k != name]
        self._items.append((name, value))
        self._first[name] = value

    def remove(self, name: str) -> None:
        name = name.lower()
        self._items = [(k, v) for k, v in self._items if k != name]
        self._first.pop(name, None)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def to_dict(self) -> dict[str, str]:
        """One value per name (repeated names joined with ", ")."""
        out: dict[str, str] = {}
        for k, v in self._items:
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(slots=True)
class Request:
    """A request as the core sees it, whatever the protocol.

    For gRPC ``method`` is ``pkg.Service/Method`` and ``body`` the request message as JSON;
    for WebSocket ``method`` is ``CONNECT``/``MESSAGE``/``CLOSE``. Adapters fill ``path_params``
    and ``route`` once routing has matched.
    """

    protocol: str
    method: str
    path: str
    raw_query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    client: str = ""
    path_params: dict[str, str] = field(default_factory=dict)
    route: str | None = None
    #: The verified client certificate of a mutual-TLS connection (mockforge.core.client_cert).
    client_cert: ClientCert | None = None
    #: What a stateful answer changed ("create /pets/1001 in default"), for the log entry.
    state_changes: list[str] | None = None
    _query: dict[str, list[str]] | None = None
    _json: Any = None
    _json_parsed: bool = False

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self.raw_query, keep_blank_values=True) if self.raw_query else {}
        return self._query

    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is empty or not JSON (parsed once).
        ``JsonTooDeep`` (every call) when it nests deeper than ``http.max_json_depth``: the HTTP
        adapter answers that 400."""
        if not self._json_parsed:
            if self.body:
                try:
                    self._json = decode_request_json(self.body)
                except msgspec.DecodeError:
                    self._json = None
            self._json_parsed = True
        return self._json

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


#: Transport faults a listener must perform for real on the wire.
TRANSPORT_FAULTS = ("reset", "close", "truncate", "malformed", "dribble")


@dataclass(slots=True)
class Response:
    """What goes back on the wire. ``stream`` (when set) is sent instead of ``body``;
    ``transport_fault`` asks the adapter to misbehave on the wire (see ``core/faults.py``)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    transport_fault: str | None = None
    dribble_ms: int = 0
    #: What answered: "stub:<id>", "fixture:<id>", "spec", "plugin:<id>", "admin", "proxy", ...
    source: str = ""
    #: Drift findings on a proxied answer (``mockforge.drift``), copied to the log entry.
    drift: list[dict[str, Any]] | None = None
    #: Why the request was refused (``{"location", "reason"}`` each), copied to the log entry.
    problems: list[dict[str, str]] | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


class LogEntry(msgspec.Struct, gc=False):
    """One served exchange, the same shape for every protocol (the request log's entry).

    ``RequestLog.capture`` builds it with positional arguments (about 0.15 microseconds against
    1 for keywords, on every request): keep the field order when adding a field."""

    id: str
    timestamp: str
    protocol: str
    method: str
    path: str
    route: str | None
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int
    status_text: str
    duration_ms: float
    client: str
    response_bytes: int
    body_excerpt: str
    body_truncated: bool
    #: Which stub/fixture/route answered, e.g. "stub:get-pet-7" (empty when nothing matched).
    matched: str = ""
    response_excerpt: str = ""
    #: The entry lost data: the body excerpt was cut (``body_truncated``) or the headers were cut
    #: to ``core.max_logged_header_bytes``.
    truncated: bool = False
    #: Subject, SANs, issuer and fingerprint of the client certificate (mutual TLS), else None.
    client_cert: dict[str, Any] | None = None
    #: Drift findings on a proxied answer (``http.drift.mode``), else None.
    drift: list[dict[str, Any]] | None = None
    #: What the state step changed (docs/STATE.md), else None.
    state: list[str] | None = None
    #: Why the request was refused: validation problems, ``{"location", "reason"}`` each, else None.
    problems: list[dict[str, str]] | None = None
