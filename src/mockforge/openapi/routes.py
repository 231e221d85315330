"""Route table for spec operations: a segment trie compiled once, matched in O(path segments).

Hand-written because routers of web frameworks test routes one by one (O(routes)) and know
nothing of OpenAPI base paths. Each trie node holds literal children (a dict), segments that mix
text and parameters (``{name}.{ext}``, ``report-{year}``, one compiled regex each) and one
whole-segment parameter child. Literals are tried first, then mixed segments, then the parameter,
with backtracking when a branch dead-ends, so ``/pets/mine`` beats ``/pets/{id}`` and
``/pets/mine/toys`` still reaches ``/pets/{id}/toys``.

    table = RouteTable(model.operations)
    table.match("GET", "/v1/pets/42%20b")  # Matched(operation, {"id": "42 b"}, "/pets/{id}")
    table.match("DELETE", "/pets")          # MethodNotAllowed(["GET", "HEAD", "POST"], "/pets")
    table.match("GET", "/pest")             # NotFound(["GET /pets", ...])

A request matches with or without one of the operation's base paths. Path parameter values are
percent-decoded; a trailing slash is ignored; HEAD falls back to GET. The closest routes of a
``NotFound`` are computed only on a miss, by a small beam search over the same trie.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from mockforge.core.distance import common_affix
from mockforge.core.regex import UserRegex, compile_user_regex
from mockforge.openapi.model import Operation

_PARAM = re.compile(r"\{([^{}]*)\}")


#: Route answers remembered per (method, path) before the memo is dropped.
_MEMO_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Matched:
    operation: Operation
    #: Path parameter name -> percent-decoded value.
    params: dict[str, str]
    #: The operation's path template as written in the spec (without base path).
    template: str


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    #: Methods the path accepts, sorted (HEAD included when GET is).
    allow: list[str]
    template: str


@dataclass(frozen=True, slots=True)
class NotFound:
    #: Up to 3 "METHOD template" strings, closest first.
    closest: list[str]


MatchResult = Matched | MethodNotAllowed | NotFound


@dataclass(frozen=True, slots=True)
class _Route:
    operation: Operation
    names: tuple[str, ...]  # parameter names in capture order
    #: Query pairs fixed by the template itself (``/rest?method=photos.get``, seen in real specs).
    query: tuple[tuple[str, str], ...] = ()


class _Query:
    """The request's query pairs, parsed only if a route with a fixed query needs them."""

    __slots__ = ("_pairs", "raw")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self._pairs: set[tuple[str, str]] | None = None

    def has(self, wanted: tuple[tuple[str, str], ...]) -> bool:
        if self._pairs is None:
            self._pairs = set(parse_qsl(self.raw, keep_blank_values=True))
        return all(pair in self._pairs for pair in wanted)


class _Node:
    __slots__ = ("literals", "mixed", "param", "routes")

    def __init__(self) -> None:
        self.literals: dict[str, _Node] = {}
        self.mixed: list[tuple[str, re.Pattern[str] | UserRegex, _Node]] = []
        self.param: _Node | None = None
        self.routes: dict[str, list[_Route]] | None = None


def _segments(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


@functools.lru_cache(maxsize=4096)
def _compile_mixed(segment: str) -> tuple[str, re.Pattern[str] | UserRegex, tuple[str, ...]]:
    """``{name}.{ext}`` -> (shape key ``{}.{}``, regex, [name, ext]). Two parameters or more in one
    segment backtrack polynomially on ``re`` (``{a}.{b}.{c}.{d}-v`` against a segment of 4,000 dots
    takes hours), so those run on RE2; one parameter stays on ``re``, which is linear there."""
    names: list[str] = []
    pattern: list[str] = []
    shape: list[str] = []
    pos = 0
    for m in _PARAM.finditer(segment):
        text = unquote(segment[pos : m.start()])
        pattern.append(re.escape(text))
        shape.append(text)
        pattern.append("(.+)")
        shape.append("{}")
        names.append(m[1])
        pos = m.end()
    tail = unquote(segment[pos:])
    pattern.append(re.escape(tail))
    shape.append(tail)
    if len(names) > 1:
        rx = compile_user_regex("(?s)" + "".join(pattern), where=f"spec path segment {segment!r}")
        return "".join(shape), rx, tuple(names)
    return "".join(shape), re.compile("".join(pattern), re.DOTALL), tuple(names)


class RouteTable:
    """All spec routes, compiled once; ``match`` costs O(path segments) (see the module docstring)."""

    def __init__(self, operations: list[Operation]) -> None:
        self._memo: dict[tuple[str, str], MatchResult] = {}
        self._root = _Node()
        self._operations = list(operations)
        #: Trie nodes entered by the last ``match`` (a debug figure: bounded by the segments).
        self.last_visits = 0
        # prefixed forms first: a request carrying the base path means the prefixed route
        for op in self._operations:
            for base in op.base_paths:
                if base.strip("/"):
                    self._insert(op, _segments(base), prefix=True)
        for op in self._operations:
            self._insert(op, [], prefix=False)

    def templates(self) -> list[str]:
        """Every route as "METHOD template", in spec order."""
        return [f"{op.method} {op.path}" for op in self._operations]

    def _insert(self, op: Operation, base: list[str], *, prefix: bool) -> None:
        path, _, fixed_query = op.path.partition("?")
        node = self._root
        names: list[str] = []
        for i, seg in enumerate(base + _segments(path)):
            if i < len(base) or "{" not in seg:
                key = unquote(seg) if "%" in seg else seg
                child = node.literals.get(key)
                if child is None:
                    child = node.literals[key] = _Node()
                node = child
            elif seg.startswith("{") and seg.endswith("}") and seg.count("{") == 1:
                if node.param is None:
                    node.param = _Node()
                names.append(seg[1:-1])
                node = node.param
            else:
                shape, regex, group_names = _compile_mixed(seg)
                names.extend(group_names)
                for known, _, child in node.mixed:
                    if known == shape:
                        node = child
                        break
                else:
                    child = _Node()
                    node.mixed.append((shape, regex, child))
                    # longer literal text first: "{id}.json" is tried before "{id}"-like shapes
                    node.mixed.sort(key=lambda item: -len(item[0].replace("{}", "")))
                    node = child
        if node.routes is None:
            node.routes = {}
        route = _Route(op, tuple(names), tuple(parse_qsl(fixed_query, keep_blank_values=True)))
        same = node.routes.setdefault(op.method, [])
        if all(known.query != route.query for known in same):  # else the first operation wins
            same.append(route)
            same.sort(key=lambda r: -len(r.query))  # routes fixing a query are tried first

    def match(self, method: str, path: str) -> MatchResult:
        """Route one request path; a query string is only read for templates that fix one.

        Answers for paths seen before come from a bounded memo (paths repeat a lot in tests and
        load; the memo is dropped when full, so a client sending endless paths costs nothing)."""
        key = (method, path)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        result = self._match(method, path)
        if not isinstance(result, NotFound):
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = result
        return result

    def _match(self, method: str, path: str) -> MatchResult:
        path, _, raw_query = path.partition("?")
        raw = _segments(path)
        segments = [unquote(s) if "%" in s else s for s in raw]
        method = method.upper()
        self.last_visits = 0
        values: list[str] = []
        partial: list[_Node] = []
        route = self._search(self._root, segments, 0, method, _Query(raw_query), values, partial)
        if route is not None:
            return Matched(
                route.operation, dict(zip(route.names, values, strict=False)), route.operation.path
            )
        if partial and partial[0].routes:
            routes = partial[0].routes
            allow = set(routes)
            if "GET" in allow:
                allow.add("HEAD")
            return MethodNotAllowed(sorted(allow), next(iter(routes.values()))[0].operation.path)
        return NotFound(self._closest(method, segments))

    def _search(
        self,
        node: _Node,
        segs: list[str],
        i: int,
        method: str,
        query: _Query,
        values: list[str],
        partial: list[_Node],
    ) -> _Route | None:
        self.last_visits += 1
        if i == len(segs):
            routes = node.routes
            if routes:
                candidates = routes.get(method)
                if candidates is None and method == "HEAD":
                    candidates = routes.get("GET")
                if candidates is None:
                    if not partial:
                        partial.append(node)
                    return None
                for route in candidates:
                    if not route.query or query.has(route.query):
                        return route
            return None
        seg = segs[i]
        child = node.literals.get(seg)
        if child is not None:
            found = self._search(child, segs, i + 1, method, query, values, partial)
            if found is not None:
                return found
        if not seg:
            return None  # "//": an empty segment is no parameter value
        for _, regex, child in node.mixed:
            m = regex.fullmatch(seg)
            if m is not None:
                groups = m.groups()
                values.extend(groups)
                found = self._search(child, segs, i + 1, method, query, values, partial)
                if found is not None:
                    return found
                del values[len(values) - len(groups) :]
        if node.param is not None:
            values.append(seg)
            found = self._search(node.param, segs, i + 1, method, query, values, partial)
            if found is not None:
                return found
            values.pop()
        return None

    def _closest(self, method: str, segs: list[str]) -> list[str]:
        """Beam search over the trie: each request segment either meets a child (a literal costs
        0 if equal, 0.25 if equal but for case, 0.5 for a typo, 1 otherwise; a parameter 0) or is
        skipped for 1. Routes at the nodes reached, or up to two segments below them, are ranked
        by that cost (+1 per missing segment, +0.5 for another method). The work is bounded by
        segments x beam x fan-out, never by a scan of all routes."""
        tick = itertools.count()
        beam: list[tuple[float, int, _Node]] = [(0.0, 0, self._root)]
        for seg in segs:
            step: list[tuple[float, int, _Node]] = []
            for cost, _, node in beam:
                step.append((cost + 1.0, next(tick), node))
                for key, child in node.literals.items():
                    step.append((cost + _literal_cost(seg, key), next(tick), child))
                for _, regex, child in node.mixed:
                    step.append((cost + (0.0 if regex.fullmatch(seg) else 0.5), next(tick), child))
                if node.param is not None:
                    step.append((cost + (0.0 if seg else 1.0), next(tick), node.param))
            beam = heapq.nsmallest(_BEAM, step)
        scores: dict[str, float] = {}
        for cost, _, start in beam:
            layer = [start]
            for extra in range(3):
                for node in layer:
                    for kind, routes in (node.routes or {}).items():
                        penalty = 0.0 if kind == method else 0.5
                        for route in routes:
                            label = f"{kind} {route.operation.path}"
                            score = cost + extra + penalty
                            if score < scores.get(label, math.inf):
                                scores[label] = score
                layer = [child for node in layer for child in _children(node)][:_LAYER]
        ranked = sorted(scores.items(), key=lambda item: item[1])  # stable: trie order breaks ties
        return [label for label, _ in ranked[:3]]


#: Nodes kept per request segment, and per extra level, when looking for the closest routes.
_BEAM = 8
_LAYER = 64


def _children(node: _Node) -> list[_Node]:
    out = list(node.literals.values())
    out.extend(child for _, _, child in node.mixed)
    if node.param is not None:
        out.append(node.param)
    return out


def _literal_cost(seg: str, key: str) -> float:
    if seg == key:
        return 0.0
    if seg.lower() == key.lower():
        return 0.25
    if abs(len(seg) - len(key)) <= 2 and _typo(seg, key):
        return 0.5
    return 1.0


def _typo(a: str, b: str) -> bool:
    """True when the strings differ in one short region (what is left after their common prefix
    and suffix is at most 2 characters, 1 for short words): "pest"/"pets", "order"/"orders"."""
    p, q = common_affix(a, b)
    return max(len(a), len(b)) - p - q <= (1 if min(len(a), len(b)) < 4 else 2)
