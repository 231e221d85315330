"""Recordings against a live backend: replay recorded requests and compare answers by structure.

Why structural: a byte-for-byte diff (Hoverfly's) drowns in timestamps and ids. Here an answer is
reduced to its status, its content type and, for JSON, the set of JSON paths with their types
(``$.items[*].name: string``; every array item folds into ``[*]``, so item shapes are compared
and lengths are not). Values are compared only with ``compare_values``, and then never at a path
the user ignores (``--ignore $.updatedAt``, a prefix: ``$.meta`` ignores everything under it) or
at a path whose value already differed between two recordings of the same request (method, path
and query): such a value is volatile by evidence.

Safety: only safe methods (GET, HEAD, OPTIONS) are replayed unless the caller allows writes; at
most ``max_requests`` are sent, at most ``rps`` per second; a header named in
``redact_headers`` (``core.request_log`` ALWAYS_REDACTED, ``core.log_redact_headers``,
``core.fixtures.redact``) or holding ``<redacted>`` is never sent from a recording; ``extra_headers``
(``--header``, e.g. auth for the live side) are added.

    differences = await diff_recordings(recordings, target, options)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from mockforge.core.request_log import REDACTED
from mockforge.drift.findings import Finding, cut
from mockforge.recording.store import FixtureFile, stored_query

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NEVER_SENT = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te",
                         "upgrade", "proxy-connection", "trailer"})
#: JSON paths collected per body at most (a huge answer stays cheap).
MAX_PATHS = 10_000
#: Nesting walked at most (deeper parts count as one ``deep`` path).
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class DiffOptions:
    rps: float = 5.0
    max_requests: int = 1000
    all_methods: bool = False
    compare_values: bool = False
    ignore: tuple[str, ...] = ()
    redact_headers: frozenset[str] = frozenset()
    extra_headers: tuple[tuple[str, str], ...] = ()


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_shape(value: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """JSON path -> type (array items under ``[*]``), and JSON path -> scalar value (first seen)."""
    types: dict[str, str] = {}
    values: dict[str, Any] = {}
    stack: list[tuple[str, Any, int]] = [("$", value, 0)]
    while stack and len(types) < MAX_PATHS:
        path, node, depth = stack.pop()
        kind = _type(node)
        seen = types.get(path)
        types[path] = kind if seen in (None, kind) else f"{seen}|{kind}" if kind not in seen.split("|") else seen
        if depth >= MAX_DEPTH:
            continue
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}", v, depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{path}[*]", v, depth + 1) for v in node)
        else:
            values.setdefault(path, node)
    return types, values


def _decode(body: bytes, content_type: str) -> Any:
    if "json" not in content_type:
        return None
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None


def _ignored(path: str, ignore: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in ignore)


def _base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class Recording:
    """One fixture and where it came from."""

    file: str
    fixture: FixtureFile
    volatile: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str]:
        req = self.fixture.request
        return req.method, req.path, stored_query(self.fixture)

    def content_type(self) -> str:
        return _base(next((v for k, v in self.fixture.response.headers if k.lower() == "content-type"), ""))


def mark_volatile(recordings: list[Recording]) -> None:
    """Paths whose value differs between recordings of the same request become volatile."""
    groups: dict[tuple[str, str, str], list[Recording]] = {}
    for r in recordings:
        groups.setdefault(r.key, []).append(r)
    for group in groups.values():
        if len(group) < 2:
            continue
        shapes = [json_shape(_decode(r.fixture.response_body(), r.content_type()))[1] for r in group]
        volatile = {p for p in set().union(*shapes) if len({repr(s.get(p)) for s in shapes}) > 1}
        for r in group:
            r.volatile = volatile


def compare(rec: Recording, status: int, content_type: str, body: bytes, options: DiffOptions) -> list[Finding]:
    """What differs between a recording and the live answer to the same request."""
    req = rec.fixture.request
    op = cut(f"{req.method} {req.path}")
    out: list[Finding] = []

    def add(kind: str, pointer: str, recorded: str, live: str) -> None:
        out.append(Finding(op, kind, pointer, cut(recorded), cut(live), rec.file, ""))

    if status != rec.fixture.response.status:
        add("diff_status", "/status", str(rec.fixture.response.status), str(status))
    recorded_ct, live_ct = rec.content_type(), _base(content_type)
    if recorded_ct != live_ct:
        add("diff_content_type", "/headers/content-type", recorded_ct or "absent", live_ct or "absent")
        return out
    old = _decode(rec.fixture.response_body(), recorded_ct)
    new = _decode(body, live_ct)
    if old is None or new is None:
        return out
    old_types, old_values = json_shape(old)
    new_types, new_values = json_shape(new)
    ignore = options.ignore
    for path in sorted(old_types.keys() | new_types.keys()):
        if _ignored(path, ignore):
            continue
        a, b = old_types.get(path), new_types.get(path)
        if a is None:
            add("diff_extra_path", path, "absent", b or "")
        elif b is None:
            add("diff_missing_path", path, a, "absent")
        elif a != b:
            add("diff_type", path, a, b)
        elif (options.compare_values and path in old_values and path not in rec.volatile
              and path in new_values and old_values[path] != new_values[path]):
            add("diff_value", path, repr(old_values[path]), repr(new_values[path]))
    return out


def headers_to_send(rec: Recording, options: DiffOptions) -> list[tuple[str, str]]:
    """The recorded request headers minus secrets and per-connection ones, plus ``extra_headers``."""
    skip = options.redact_headers | _NEVER_SENT | {k.lower() for k, _ in options.extra_headers}
    kept = [(k, v) for k, v in rec.fixture.request.headers if k.lower() not in skip and v != REDACTED]
    return kept + list(options.extra_headers)


async def diff_recordings(recordings: list[Recording], target: str, options: DiffOptions) -> tuple[list[Finding], int]:
    """Replay ``recordings`` against ``target``; the differences and the number of requests sent.
    Raises ``httpx.HTTPError`` when the target cannot be reached."""
    import httpx

    mark_volatile(recordings)
    todo = [r for r in recordings if options.all_methods or r.fixture.request.method in SAFE_METHODS]
    todo = todo[: options.max_requests]
    interval = 1.0 / options.rps if options.rps > 0 else 0.0
    findings: list[Finding] = []
    next_at = time.monotonic()
    async with httpx.AsyncClient(base_url=target.rstrip("/"), timeout=30, trust_env=False,
                                 follow_redirects=False) as client:
        client.headers = httpx.Headers()
        for rec in todo:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the rate limit on the target (--rps)
            next_at = max(next_at, time.monotonic()) + interval
            req = rec.fixture.request
            query = stored_query(rec.fixture)
            url = req.path + (f"?{query}" if query else "")
            r = await client.request(req.method, url, headers=headers_to_send(rec, options),
                                     content=rec.fixture.request_body() or None)
            findings += compare(rec, r.status_code, r.headers.get("content-type", ""), r.content, options)
    return findings, len(todo)
