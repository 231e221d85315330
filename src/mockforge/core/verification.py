"""Verification over the request log: "did my client send this, and how often, and in what order".

Why hand-written: it is a scan of our own ``RequestLog`` with our own ``RequestPattern`` (the same
MATCHER as stubs, so there is one model). The log keeps only a body excerpt: an entry whose body
was cut (``body_truncated``) never counts as a body match, and the answer's ``note`` says how many
were skipped so. When the log has evicted entries, ``evicted`` is non-zero and counts may be low.

    verify(log, {"method": "POST", "path": "/orders"}, {"exactly": 2})
    # {"ok": True, "count": 2, "expected": {"exactly": 2}, "matched": ["4", "9"], "evicted": 0}
    verify_sequence(log, [{"path": "/login"}, {"path": "/orders"}])
    # {"ok": False, "failed_step": 1, "matched": ["3"], "message": "step 1 (ANY /orders) ...", ...}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mockforge.core.matching import MatchResult, MatchSubject, RequestPattern
from mockforge.core.model import LogEntry
from mockforge.core.request_log import RequestLog
from mockforge.errors import StubError

MAX_MATCHED_IDS = 100
NEAR_MISS_LIMIT = 3


def compile_pattern(
    pattern: RequestPattern | Mapping[str, Any] | None, where: str = "request"
) -> RequestPattern:
    if isinstance(pattern, RequestPattern):
        return pattern
    return RequestPattern.compile(pattern or {}, where)


def parse_count(spec: Any, where: str = "count") -> tuple[str, int]:
    """``{"exactly": n} | {"at_least": n} | {"at_most": n} | {"never": true}`` -> (kind, n);
    None means at least 1. ``StubError`` names the field."""
    if spec is None:
        return "at_least", 1
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise StubError(
            "expected one of {exactly: n}, {at_least: n}, {at_most: n}, {never: true}", where=where
        )
    ((kind, value),) = spec.items()
    if kind == "never":
        if value is not True:
            raise StubError("'never' takes true", where=f"{where}.never")
        return "exactly", 0
    if kind not in ("exactly", "at_least", "at_most"):
        raise StubError(
            f"unknown count '{kind}' (known: exactly, at_least, at_most, never)", where=f"{where}.{kind}"
        )
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StubError(f"expected a whole number >= 0, got {value!r}", where=f"{where}.{kind}")
    return kind, value


def _count_ok(kind: str, n: int, count: int) -> bool:
    if kind == "exactly":
        return count == n
    if kind == "at_least":
        return count >= n
    return count <= n


def _truncated_note(skipped: int) -> str:
    return (
        f"{skipped} entries matched all but the body and were not counted: their logged body was truncated "
        "(raise core.max_logged_body_bytes to compare them)"
    )


def _evicted_note(evicted: int) -> str:
    return f"the log has evicted {evicted} entries (core.max_request_logs): counts may be low"


def _body_skipped(pattern: RequestPattern, subject: MatchSubject) -> bool:
    """True when only the (truncated) body kept an entry from matching."""
    if pattern.body is None or not subject.body_truncated:
        return False
    without_body = RequestPattern(
        pattern.spec, pattern.method, pattern.path, pattern.query, pattern.headers, None
    )
    return without_body.matches(subject)


def near_misses(
    entries: Sequence[LogEntry], pattern: RequestPattern, limit: int = NEAR_MISS_LIMIT
) -> list[dict[str, Any]]:
    """The logged requests closest to ``pattern``, each with what did not match."""
    scored: list[tuple[float, int, LogEntry, MatchResult]] = []
    for i, entry in enumerate(entries):
        result = pattern.match(MatchSubject.from_entry(entry))
        if not result.matched:
            scored.append((result.distance, -i, entry, result))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [
        {
            "entry": e.id,
            "method": e.method,
            "path": e.path,
            "distance": round(d, 3),
            "diffs": r.diffs,
        }
        for d, _, e, r in scored[:limit]
    ]


def verify(
    log: RequestLog, pattern: RequestPattern | Mapping[str, Any] | None, count_spec: Any = None
) -> dict[str, Any]:
    """How many logged requests match ``pattern`` against ``count_spec`` (default at least 1).
    A failed check for too few requests carries ``near_misses``."""
    compiled = compile_pattern(pattern)
    kind, n = parse_count(count_spec)
    entries = log.snapshot()
    matched: list[str] = []
    count = 0
    skipped = 0
    for entry in entries:
        subject = MatchSubject.from_entry(entry)
        if compiled.matches(subject):
            count += 1
            if len(matched) < MAX_MATCHED_IDS:
                matched.append(entry.id)
        elif _body_skipped(compiled, subject):
            skipped += 1
    ok = _count_ok(kind, n, count)
    expected = dict(count_spec) if isinstance(count_spec, Mapping) else {"at_least": 1}
    out: dict[str, Any] = {
        "ok": ok,
        "count": count,
        "expected": expected,
        "matched": matched,
        "evicted": log.evicted,
    }
    notes = []
    if skipped:
        out["truncated_skipped"] = skipped
        notes.append(_truncated_note(skipped))
    if log.evicted:
        notes.append(_evicted_note(log.evicted))
    if notes:
        out["note"] = "; ".join(notes)
    if not ok and kind != "at_most" and count < n:
        out["near_misses"] = near_misses(entries, compiled)
    return out


def verify_sequence(
    log: RequestLog, patterns: Sequence[RequestPattern | Mapping[str, Any]]
) -> dict[str, Any]:
    """Were requests matching ``patterns`` received in this order (other requests in between are
    fine)? ``matched`` holds the entry id found for each step; on failure ``failed_step`` is the
    0-based step not found after the previous one, with the closest entries after it."""
    compiled = [compile_pattern(p, f"requests[{i}]") for i, p in enumerate(patterns)]
    if not compiled:
        raise StubError("expected at least one request matcher", where="requests")
    entries = log.snapshot()
    matched: list[str] = []
    pos = 0
    skipped = 0
    out: dict[str, Any] = {"ok": True, "steps": len(compiled), "matched": matched, "evicted": log.evicted}
    for step, pattern in enumerate(compiled):
        found = None
        for i in range(pos, len(entries)):
            subject = MatchSubject.from_entry(entries[i])
            if pattern.matches(subject):
                found = i
                break
            if _body_skipped(pattern, subject):
                skipped += 1
        if found is None:
            after = f" after entry {matched[-1]}" if matched else ""
            out["ok"] = False
            out["failed_step"] = step
            out["message"] = f"step {step} ({pattern.describe()}) was not found{after}"
            out["near_misses"] = near_misses(entries[pos:], pattern)
            break
        matched.append(entries[found].id)
        pos = found + 1
    notes = []
    if skipped:
        notes.append(_truncated_note(skipped))
    if log.evicted:
        notes.append(_evicted_note(log.evicted))
    if notes:
        out["note"] = "; ".join(notes)
    return out
