"""How far a request is from a stub: ``MatchResult`` and the bounded text distance behind it.

Every matcher answers with a distance, not a bool: 0.0 is an exact match, 1.0 nothing alike, and
``diffs`` say what did not match. Near misses are ranked by it and explained with the diffs, for
HTTP stubs, verification, gRPC stubs and WebSocket rules alike.

Cost bounds (why this module exists apart): a distance compares at most ``max_distance_input()``
characters of each side (``core.max_near_miss_input_bytes``, set once at start-up with
``set_max_distance_input``) and uses difflib only when both sides are short (``_DIFFLIB_CELLS``),
a linear prefix/suffix estimate otherwise, so scoring a near miss costs O(bound) however large the
request is. A yes/no match never comes here.

    similarity_distance("dog", "cat")   # 1.0
    combine([(10.0, EXACT), (1.0, miss('query.kind: expected equals "dog", got "cat"'))])
    # MatchResult(distance=0.0909..., diffs=['query.kind: expected equals "dog", got "cat"'])
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The smallest distance of a non-match, so a near miss is never mistaken for a match.
MIN_MISS = 0.05

@dataclass(slots=True)
class MatchResult:
    """Distance 0.0 is an exact match, 1.0 no match; ``diffs`` explain every mismatch."""

    distance: float
    diffs: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.distance == 0.0


EXACT = MatchResult(0.0)


def miss(diff: str, distance: float = 1.0) -> MatchResult:
    return MatchResult(min(1.0, max(MIN_MISS, distance)), [diff])


def combine(parts: Iterable[tuple[float, MatchResult]]) -> MatchResult:
    """Weighted mean of ``(weight, result)`` pairs; diffs concatenated in order."""
    total = 0.0
    acc = 0.0
    diffs: list[str] = []
    for weight, result in parts:
        total += weight
        acc += weight * result.distance
        diffs.extend(result.diffs)
    if total == 0.0 or acc == 0.0:
        return MatchResult(0.0, diffs) if diffs else EXACT
    return MatchResult(max(MIN_MISS, acc / total), diffs)


def quote(value: Any) -> str:
    """A value as it appears in a diff: JSON text (strings in double quotes)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


#: difflib is quadratic (a 4 KB pair of near-equal strings takes 1.6 s): above this many cells
#: (len(a) x len(b), about 1 ms in the worst case) a linear estimate is used instead.
_DIFFLIB_CELLS = 16 * 1024
_distance_input = 4096


def set_max_distance_input(chars: int) -> None:
    """Characters of each side a distance looks at (``core.max_near_miss_input_bytes``; set once
    at start-up)."""
    global _distance_input
    _distance_input = max(1, chars)


def max_distance_input() -> int:
    return _distance_input


def quote_bounded(value: str) -> str:
    """``quote(value)``, cut to ``max_distance_input()`` characters (the length is said)."""
    if len(value) <= _distance_input:
        return quote(value)
    return f"{quote(value[:_distance_input])} (first {_distance_input} of {len(value)} characters)"


def similarity_distance(expected: str, actual: str) -> float:
    """1 - the similarity ratio of two strings (0 when equal). Costs O(``max_distance_input()``):
    longer strings are cut, and long pairs get the share of their common prefix and suffix."""
    if expected == actual:
        return 0.0
    cap = _distance_input
    a = expected[:cap]
    b = actual[:cap]
    if a == b:  # the excerpts are alike, the strings are not
        return 1e-3
    if len(a) * len(b) <= _DIFFLIB_CELLS:
        return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    head, tail = common_affix(a, b)
    return max(1e-3, 1.0 - 2.0 * (head + tail) / (len(a) + len(b)))


def common_affix(a: str, b: str) -> tuple[int, int]:
    """The lengths of the common prefix and of the common suffix after it: ("pets", "pest") -> (2, 0)."""
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail

