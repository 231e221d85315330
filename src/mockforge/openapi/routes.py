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

Operations told apart by something other than the path (documents converted from AWS, RPC-style
APIs) write it into the path key, and several operations then share one path and method:

* ``/rest?method=flickr.photos.get``: query pairs after ``?`` must all be in the request;
* ``/#X-Amz-Target=Service_20150623.CreateThing``: after ``#``, ``Name=Value`` pairs (joined by
  ``&``) must each be a request header ``Name`` equal to ``Value``; a query pair ``Name=Value`` is
  accepted too (``#Action=Describe`` is written both ways);
* ``/things/{id}#resourceType``: a fragment name without ``=`` is a query key that must be present.

Routes with more of these conditions are tried first; an operation without any is the fallback
at that path. A request that reaches such a path but meets none of them gets a ``NotFound``
whose ``closest`` names the operations there (with what each expects). Answers that depended on
a header are not memoised (the memo is keyed by method and target only).
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
from mockforge.core.model import Headers
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
    #: ``#Name=Value`` pairs: a header ``Name`` (or a query pair) equal to ``Value``.
    header: tuple[tuple[str, str], ...] = ()
    #: ``#name``: query keys that must be present.
    keys: tuple[str, ...] = ()
    #: No condition beyond the path: the first such route at a node answers at once.
    plain: bool = True

    @property
    def conditions(self) -> tuple[object, ...]:
        return (self.query, self.header, self.keys)

    def accepts(self, query: _Query, headers: Headers | None) -> bool:
        if self.query and not query.has(self.query):
            return False
        for key in self.keys:
            if not query.has_key(key):
                return False
        for name, value in self.header:
            found = headers.get_all(name) if headers is not None else []
            if all(v.strip() != value for v in found) and not query.has(((name, value),)):
                return False
        return True

    def closeness(self, headers: Headers | None) -> int:
        """How much of the expected header values the request's own values share (ranking)."""
        score = 0
        for name, value in self.header:
            for got in headers.get_all(name) if headers is not None else []:
                p, q = common_affix(got.strip(), value)
                score = max(score, p + q)
        return score


def split_key(path_key: str) -> tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """A spec path key -> (path, fixed query pairs, ``#`` header pairs, ``#`` query keys).

    ``"/#X-Amz-Target=S.Op"`` -> ``("/", (), (("X-Amz-Target", "S.Op"),), ())``;
    ``"/things/{id}#resourceType"`` -> ``("/things/{id}", (), (), ("resourceType",))``."""
    path, _, fragment = path_key.partition("#")
    path, _, fixed_query = path.partition("?")
    header: list[tuple[str, str]] = []
    keys: list[str] = []
    for part in fragment.split("&") if fragment else ():
        name, sep, value = part.partition("=")
        name = unquote(name).strip()
        if not name:
            continue
        if sep:
            header.append((name, unquote(value).strip()))
        else:
            keys.append(name)
    return path, tuple(parse_qsl(fixed_query, keep_blank_values=True)), tuple(header), tuple(keys)


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

    def has_key(self, key: str) -> bool:
        if self._pairs is None:
            self._pairs = set(parse_qsl(self.raw, keep_blank_values=True))
        return any(k == key for k, _ in self._pairs)


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
        #: The last ``match`` tried a route told apart by a header (``#Name=Value``): its answer
        #: depends on more than the memo's key, so it is not memoised.
        self._header_seen = False
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
        path, fixed_query, header, keys = split_key(op.path)
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
        plain = not (fixed_query or header or keys)
        route = _Route(op, tuple(names), fixed_query, header, keys, plain)
        same = node.routes.setdefault(op.method, [])
        if all(known.conditions != route.conditions for known in same):  # else the first one wins
            same.append(route)
            # routes with more conditions are tried first (stable: spec order among equals)
            same.sort(key=lambda r: -(len(r.query) + len(r.header) + len(r.keys)))

    def match(self, method: str, path: str, headers: Headers | None = None) -> MatchResult:
        """Route one request target (path and query); a query string is only read for templates
        that fix one, ``headers`` only for templates told apart by a header (``#Name=Value``).

        Answers for paths seen before come from a bounded memo (paths repeat a lot in tests and
        load; the memo is dropped when full, so a client sending endless paths costs nothing)."""
        key = (method, path)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        self._header_seen = False
        result = self._match(method, path, headers)
        if not isinstance(result, NotFound) and not self._header_seen:
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[key] = result
        return result

    def _match(self, method: str, path: str, headers: Headers | None) -> MatchResult:
        path, _, raw_query = path.partition("?")
        raw = _segments(path)
        segments = [unquote(s) if "%" in s else s for s in raw]
        method = method.upper()
        self.last_visits = 0
        values: list[str] = []
        partial: list[_Node] = []
        refused: list[list[_Route]] = []
        route = self._search(
            self._root, segments, 0, method, _Query(raw_query), values, partial, headers, refused
        )
        if route is not None:
            return Matched(
                route.operation, dict(zip(route.names, values, strict=False)), route.operation.path
            )
        if refused:
            # the path and method are known, but no operation there accepts what the request
            # carries: name the operations there, closest expected header value first
            ranked = sorted(refused[0], key=lambda r: -r.closeness(headers))
            return NotFound([f"{r.operation.method} {r.operation.path}" for r in ranked[:3]])
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
        headers: Headers | None = None,
        refused: list[list[_Route]] | None = None,
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
                    if route.plain:
                        return route
                    if route.header:
                        self._header_seen = True
                    if route.accepts(query, headers):
                        return route
                if refused is not None and not refused:
                    refused.append(candidates)
            return None
        seg = segs[i]
        child = node.literals.get(seg)
        if child is not None:
            found = self._search(child, segs, i + 1, method, query, values, partial, headers, refused)
            if found is not None:
                return found
        if not seg:
            return None  # "//": an empty segment is no parameter value
        for _, regex, child in node.mixed:
            m = regex.fullmatch(seg)
            if m is not None:
                groups = m.groups()
                values.extend(groups)
                found = self._search(child, segs, i + 1, method, query, values, partial, headers, refused)
                if found is not None:
                    return found
                del values[len(values) - len(groups) :]
        if node.param is not None:
            values.append(seg)
            found = self._search(node.param, segs, i + 1, method, query, values, partial, headers, refused)
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
