"""The HTTP stub store: finding the stub that answers a request, and explaining near misses.

The model is ``core/stub_model.py`` (one immutable ``Stub`` for every protocol) and reading stub
files is ``core/stub_parsing.py``; both are re-exported here, so ``from mockforge.core.stubs
import parse_stub, Stub`` keeps working.

Why hand-written: the store must stay flat in the number of stubs, which a list scan is not. The
store indexes stubs by method and path segments in a small trie (literal segments, plus one
branch for a ``{param}`` segment), so finding the stub for ``GET /pets/7`` among 10,000 stubs with
distinct paths looks at a handful of candidates; stubs with a glob, a regex or no path sit in a
fallback list that every request scans.

Order: the lowest ``priority`` wins (default 5), ties go to the newest stub. ``times`` and
scenario transitions are consumed under the store's lock, so racing requests cannot both use the
last answer or the same transition.

    store = InMemoryStubStore()
    store.add(parse_stub({"request": {"method": "GET", "path": "/pets/{id}"},
                          "response": {"status": 200, "body": {"id": "{{request.path.id}}"}}},
                         where="", source="api"))
    match = store.find(request)           # StubMatch | None
    if match:
        response = match.build_response(request, expand=True)
    else:
        details = store.report_miss(request)   # near misses, also kept for GET /near-misses
"""

from __future__ import annotations

import builtins
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, KeysView
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from mockforge.core.files import FileRoots
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits
from mockforge.core.matching import MatchResult, MatchSubject, quote
from mockforge.core.model import Request
from mockforge.core.request_log import now_rfc3339
from mockforge.core.scenarios import ScenarioStates, ScenarioStore
from mockforge.core.stub_model import (
    DEFAULT_PRIORITY,
    SOURCE_API,
    SOURCE_CONFIG,
    NearMiss,
    ResponseDefinition,
    ScenarioRule,
    Stub,
    StubMatch,
)
from mockforge.core.stub_parsing import (
    STUB_FILE_SUFFIXES,
    load_file,
    parse_config_routes,
    parse_stub,
    parse_stubs,
    stub_files,
)
from mockforge.errors import StubError

__all__ = [
    "DEFAULT_PRIORITY",
    "NEAR_MISS_OFFLOOP_COST",
    "SOURCE_API",
    "SOURCE_CONFIG",
    "STUB_FILE_SUFFIXES",
    "InMemoryStubStore",
    "NearMiss",
    "ResponseDefinition",
    "ScenarioRule",
    "Stub",
    "StubMatch",
    "StubStore",
    "load_file",
    "near_miss_details",
    "near_miss_report",
    "parse_config_routes",
    "parse_stub",
    "parse_stubs",
    "stub_files",
]

#: Stores larger than this compute near misses only over stubs sharing the first path segment.
_NEAR_MISS_SCAN_ALL = 500
#: Cost (candidates x characters compared) above which near-miss scoring leaves the event loop:
#: about 1 ms of difflib on the dev box. Decided from the request's size, never by timing.
NEAR_MISS_OFFLOOP_COST = 8192
#: The largest distance of a stub a request "almost matched" when another step answered it (a
#: different method on the same path is about 0.23, one query parameter or header off about
#: 0.07, a wholly different path over 0.6): only those are reported for answered requests.
ANSWERED_NEAR_MISS = 0.3


# --------------------------------------------------------------------------- the store


class StubStore(Protocol):
    """Stub state behind one small interface, so that a shared (Redis) store can replace it."""

    @property
    def scenarios(self) -> ScenarioStates: ...

    def add(self, stub: Stub) -> Stub: ...

    def add_all(self, stubs: Iterable[Stub]) -> builtins.list[Stub]: ...

    def replace(self, stub_id: str, stub: Stub) -> Stub | None: ...

    def remove(self, stub_id: str) -> bool: ...

    def get(self, stub_id: str) -> Stub | None: ...

    def list(self) -> builtins.list[Stub]: ...

    def remove_api_stubs(self) -> int: ...

    def replace_source(self, source: str, stubs: Iterable[Stub]) -> builtins.list[Stub]: ...

    def find(self, request: Request | MatchSubject) -> StubMatch | None: ...

    def peek(self, request: Request | MatchSubject) -> StubMatch | None: ...

    def near_misses(self, request: Request | MatchSubject, limit: int = 3) -> builtins.list[NearMiss]: ...

    def report_miss(self, request: Request, limit: int = 3) -> builtins.list[NearMiss]: ...

    def report_answered(self, request: Request, answered_by: str, limit: int = 3) -> builtins.list[NearMiss]: ...

    def unmatched(self) -> builtins.list[dict[str, Any]]: ...

    def near_miss_log(self) -> builtins.list[dict[str, Any]]: ...

    def clear_reports(self) -> None: ...

    def hits(self) -> dict[str, int]: ...


class _Node:
    __slots__ = ("literal", "param", "stubs")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.stubs: builtins.list[Stub] = []


def _subject(request: Request | MatchSubject) -> MatchSubject:
    return request if isinstance(request, MatchSubject) else MatchSubject.from_request(request)


def _order(stub: Stub) -> tuple[int, int]:
    return (stub.priority, -stub.index)


class InMemoryStubStore:
    """The in-process ``StubStore``; thread-safe (one lock around index changes and consumption)."""

    def __init__(
        self,
        scenarios: ScenarioStates | None = None,
        *,
        max_unmatched: int = 1000,
        max_near_misses: int = 100,
        max_near_miss_stubs: int = 200,
        max_near_miss_input: int = 4096,
    ) -> None:
        self.scenarios: ScenarioStates = scenarios if scenarios is not None else ScenarioStore()
        self._lock = threading.RLock()
        self._stubs: dict[str, Stub] = {}
        self._served: dict[str, int] = {}
        #: Requests each stub answered since it was stored (kept when it is edited); one per stub.
        self._hits: dict[str, int] = {}
        self._roots: dict[str, _Node] = {}
        self._fallback: builtins.list[Stub] = []
        self._by_first: dict[str, builtins.list[Stub]] = {}
        self._counter = itertools.count(1)
        self._unmatched: deque[dict[str, Any]] = deque(maxlen=max(0, max_unmatched))
        self._near_log: deque[dict[str, Any]] = deque(maxlen=max(0, max_near_misses))
        #: Candidate patterns evaluated by ``find`` since start (tests prove lookups stay flat).
        self.evaluations = 0
        #: Told of each miss report as it is kept (``kind``, report): the shared store copies them.
        self.on_report: Callable[[str, dict[str, Any]], None] | None = None
        #: Stubs scored at most per near-miss report, and characters of each request part compared
        #: (``core.max_near_miss_stubs``, ``core.max_near_miss_input_bytes``).
        self.max_near_miss_stubs = max(0, max_near_miss_stubs)
        self.max_near_miss_input = max(1, max_near_miss_input)
        #: Near-miss reports scored off the event loop (their cost estimate was over 1 ms).
        self.near_misses_off_loop = 0
        #: Near-miss reports that left stubs unscored (more candidates than max_near_miss_stubs).
        self.near_misses_capped = 0

    # ---- index -----------------------------------------------------------------------
    def _node_for(self, stub: Stub, create: bool) -> _Node | None:
        path = stub.request.path
        if path is None or path.segments is None:
            return None
        node = self._roots.get(stub.request.method_key)
        if node is None:
            if not create:
                return None
            node = self._roots[stub.request.method_key] = _Node()
        for seg in path.segments:
            if seg is None:
                if node.param is None:
                    if not create:
                        return None
                    node.param = _Node()
                node = node.param
            else:
                nxt = node.literal.get(seg)
                if nxt is None:
                    if not create:
                        return None
                    nxt = node.literal[seg] = _Node()
                node = nxt
        return node

    @staticmethod
    def _first_key(stub: Stub) -> str:
        segs = stub.request.path.segments if stub.request.path is not None else None
        if segs is None or len(segs) < 2 or segs[1] is None:
            return ""
        return segs[1]

    def _index(self, stub: Stub) -> None:
        node = self._node_for(stub, create=True)
        (node.stubs if node is not None else self._fallback).append(stub)
        self._by_first.setdefault(self._first_key(stub), []).append(stub)

    def _unindex(self, stub: Stub) -> None:
        node = self._node_for(stub, create=False)
        bucket = node.stubs if node is not None else self._fallback
        if stub in bucket:
            bucket.remove(stub)
        first = self._by_first.get(self._first_key(stub))
        if first is not None and stub in first:
            first.remove(stub)

    def _candidates(self, subject: MatchSubject) -> builtins.list[Stub]:
        segments = subject.path.split("/")
        found: builtins.list[Stub] = []
        for key in (subject.method, "*"):
            root = self._roots.get(key)
            if root is None:
                continue
            stack: builtins.list[tuple[_Node, int]] = [(root, 0)]
            while stack:
                node, depth = stack.pop()
                if depth == len(segments):
                    found.extend(node.stubs)
                    continue
                nxt = node.literal.get(segments[depth])
                if nxt is not None:
                    stack.append((nxt, depth + 1))
                if node.param is not None and segments[depth]:
                    stack.append((node.param, depth + 1))
        found.extend(self._fallback)
        found.sort(key=_order)
        return found

    # ---- editing -----------------------------------------------------------------------
    def _put(self, stub: Stub) -> Stub:
        stub = replace(stub, index=next(self._counter))
        old = self._stubs.get(stub.id)
        if old is not None:
            self._unindex(old)
        self._stubs[stub.id] = stub
        self._served.pop(stub.id, None)
        self._index(stub)
        if stub.scenario is not None:
            self.scenarios.register(stub.scenario.name)
        return stub

    def _drop(self, stub_id: str) -> bool:
        old = self._stubs.pop(stub_id, None)
        if old is None:
            return False
        self._unindex(old)
        self._served.pop(stub_id, None)
        self._hits.pop(stub_id, None)
        return True

    def add(self, stub: Stub) -> Stub:
        """Store ``stub`` as the newest (a stub with the same id is replaced); returns it as stored."""
        with self._lock:
            return self._put(stub)

    def add_all(self, stubs: Iterable[Stub]) -> builtins.list[Stub]:
        """Store several stubs in one step (no request sees some of them without the others)."""
        with self._lock:
            return [self._put(s) for s in stubs]

    def replace(self, stub_id: str, stub: Stub) -> Stub | None:
        """Replace an existing stub (None when there is none); the new one keeps ``stub_id``."""
        with self._lock:
            if stub_id not in self._stubs:
                return None
            if stub.id != stub_id:
                stub = replace(stub, id=stub_id, spec={**stub.spec, "id": stub_id})
            return self._put(stub)

    def remove(self, stub_id: str) -> bool:
        with self._lock:
            return self._drop(stub_id)

    def get(self, stub_id: str) -> Stub | None:
        return self._stubs.get(stub_id)

    def list(self) -> builtins.list[Stub]:
        """All stubs in the order they are tried for one path (priority, then newest)."""
        with self._lock:
            return sorted(self._stubs.values(), key=_order)

    def __len__(self) -> int:
        return len(self._stubs)

    def ids(self) -> KeysView[str]:
        """The ids of the stubs loaded: a live view (its truth is a C-level check, cheap enough
        to ask on every request: ``SpecAnswerer`` does, to skip near-miss work while none is)."""
        return self._stubs.keys()

    def remove_api_stubs(self) -> int:
        """Drop the stubs added through the API; file and config stubs stay."""
        return self._remove_where(lambda s: s.source == SOURCE_API)

    def clear(self) -> None:
        self._remove_where(lambda s: True)

    def _remove_where(self, pred: Any) -> int:
        with self._lock:
            doomed = [s.id for s in self._stubs.values() if pred(s)]
            for stub_id in doomed:
                self._drop(stub_id)
            return len(doomed)

    def replace_source(self, source: str, stubs: Iterable[Stub]) -> builtins.list[Stub]:
        """Swap every stub of ``source`` (a file path or "config") for ``stubs`` in one step
        (hot reload of one file; pass ``[]`` for a deleted file)."""
        new = list(stubs)
        with self._lock:
            for stub_id in [s.id for s in self._stubs.values() if s.source == source]:
                self._drop(stub_id)
            return [self._put(s) for s in new]

    def load_dir(
        self, directory: str | Path, files: FileRoots | None = None, limits: DocumentLimits = DEFAULT_LIMITS
    ) -> tuple[builtins.list[Stub], builtins.list[str]]:
        """Load every stub file under ``directory``; a bad file is one problem line and loads
        nothing (a stub it loaded before stays), the other files load."""
        loaded: builtins.list[Stub] = []
        problems: builtins.list[str] = []
        for path in stub_files(directory):
            try:
                stubs = load_file(path, files, limits)
            except StubError as exc:
                problems.append(str(exc))
                continue
            loaded.extend(self.replace_source(str(path.resolve()), stubs))
        return loaded, problems

    # ---- matching ------------------------------------------------------------------------
    def _state_ok(self, stub: Stub) -> bool:
        rule = stub.scenario
        return (
            rule is None
            or rule.required_state is None
            or self.scenarios.state(rule.name) == rule.required_state
        )

    def _consume(self, stub: Stub) -> bool:
        """Take one answer of ``stub`` (times and scenario move) atomically; False if lost a race."""
        with self._lock:
            if self._stubs.get(stub.id) is not stub:
                return False
            served = self._served.get(stub.id, 0)
            if stub.times is not None and served >= stub.times:
                return False
            rule = stub.scenario
            if rule is not None and rule.new_state is not None:
                if not self.scenarios.try_transition(rule.name, rule.required_state, rule.new_state):
                    return False
            elif not self._state_ok(stub):
                return False
            if stub.times is not None:
                self._served[stub.id] = served + 1
            self._hits[stub.id] = self._hits.get(stub.id, 0) + 1
            return True

    def _available(self, stub: Stub) -> bool:
        """Whether ``stub`` may answer now: enabled, ``times`` left, its scenario state met."""
        if not stub.enabled:
            return False
        if stub.times is not None and self._served.get(stub.id, 0) >= stub.times:
            return False
        return self._state_ok(stub)

    def find(self, request: Request | MatchSubject) -> StubMatch | None:
        """The stub that answers ``request`` (consuming ``times`` and moving its scenario), or None."""
        if not self._stubs:
            return None
        subject = _subject(request)
        with self._lock:
            candidates = self._candidates(subject)
        for stub in candidates:
            if not self._available(stub):
                continue
            self.evaluations += 1
            if not stub.request.matches(subject):
                continue
            if self._consume(stub):
                return StubMatch(stub, stub.request.path_params(subject.path))
        return None

    def peek(self, request: Request | MatchSubject) -> StubMatch | None:
        """The stub ``find`` would choose now, consuming nothing: ``times``, scenario states, hit
        counts and the evaluation counter stay as they are (``POST /__mockforge/preview``)."""
        if not self._stubs:
            return None
        subject = _subject(request)
        with self._lock:
            candidates = self._candidates(subject)
        for stub in candidates:
            if not self._available(stub):
                continue
            if stub.request.matches(subject):
                return StubMatch(stub, stub.request.path_params(subject.path))
        return None

    def matching(self, request: Request | MatchSubject) -> Iterator[StubMatch]:
        """Every stub whose matcher accepts ``request``, best first, consuming nothing and without
        looking at ``times`` or scenario state: for a shared store that decides those itself."""
        if not self._stubs:
            return
        subject = _subject(request)
        with self._lock:
            candidates = self._candidates(subject)
        for stub in candidates:
            if not stub.enabled:
                continue
            self.evaluations += 1
            if stub.request.matches(subject):
                yield StubMatch(stub, stub.request.path_params(subject.path))

    def consume(self, stub: Stub) -> bool:
        """Take one answer of ``stub`` on this replica only (``find`` does this itself)."""
        return self._consume(stub)

    def _miss_of(self, stub: Stub, subject: MatchSubject) -> NearMiss:
        result: MatchResult = stub.request.match(subject)
        diffs = list(result.diffs)
        distance = result.distance
        rule = stub.scenario
        if rule is not None and rule.required_state is not None:
            state = self.scenarios.state(rule.name)
            if state != rule.required_state:
                expected = quote(rule.required_state)
                diffs.append(f"scenario {quote(rule.name)}: expected state {expected}, got {quote(state)}")
                distance = max(distance, 0.05)
        if not stub.enabled:
            diffs.append("enabled: the stub is disabled")
            distance = max(distance, 0.05)
        served = self._served.get(stub.id, 0)
        if stub.times is not None and served >= stub.times:
            diffs.append(f"times: already answered {served} of {stub.times} times")
            distance = max(distance, 0.05)
        return NearMiss(stub, distance, diffs)

    def _near_pool(self, subject: MatchSubject) -> builtins.list[Stub]:
        """The stubs a near-miss report scores: large stores only look at stubs sharing the
        request's first path segment, or with a glob/regex/no path; past ``max_near_miss_stubs``,
        stubs for the request's method (or any) come first, then the others, in store order."""
        with self._lock:
            if len(self._stubs) <= _NEAR_MISS_SCAN_ALL:
                pool = list(self._stubs.values())
            else:
                first = subject.path.split("/")[1] if subject.path.count("/") >= 1 else ""
                pool = [*self._by_first.get(first, []), *self._by_first.get("", [])]
        cap = self.max_near_miss_stubs
        if len(pool) > cap:
            self.near_misses_capped += 1
            method = subject.method
            same = sorted((s for s in pool if s.request.method in (None, method)), key=_order)
            if len(same) < cap:
                same += sorted((s for s in pool if s.request.method not in (None, method)), key=_order)
            pool = same[:cap]
        return pool

    def near_miss_cost(self, request: Request) -> int:
        """The cost estimate of ``near_misses``: candidates x characters compared (each request
        part counted up to ``max_near_miss_input``)."""
        cap = self.max_near_miss_input
        size = min(len(request.path), cap) + min(len(request.body), cap)
        size += sum(min(len(v), cap) for _, v in request.headers.raw_items())
        return min(len(self._stubs), self.max_near_miss_stubs) * size

    def near_misses(self, request: Request | MatchSubject, limit: int = 3) -> builtins.list[NearMiss]:
        """The ``limit`` stubs closest to ``request``, each with what did not match; at most
        ``max_near_miss_stubs`` are scored; each distance compares at most
        ``core.max_near_miss_input_bytes`` characters (``matching.similarity_distance``)."""
        subject = _subject(request)
        misses = [self._miss_of(stub, subject) for stub in self._near_pool(subject)]
        misses = [m for m in misses if m.diffs]
        misses.sort(key=lambda m: (m.distance, _order(m.stub)))
        return misses[:limit]

    def report_miss(self, request: Request, limit: int = 3) -> builtins.list[NearMiss]:
        """Record ``request`` as unmatched (``GET /__mockforge/unmatched``) and its near misses
        (``GET /__mockforge/near-misses``); returns the near misses for the 404 body."""
        misses = self.near_misses(request, limit)
        summary = {
            "timestamp": now_rfc3339(),
            "protocol": request.protocol,
            "method": request.method,
            "path": request.path,
            "query": request.query,
        }
        near = {"request": summary, "near_misses": [m.to_dict() for m in misses], "answered_by": None} if misses \
            else None
        with self._lock:
            self._unmatched.append(summary)
            if near is not None:
                self._near_log.append(near)
        hook = self.on_report
        if hook is not None:
            hook("unmatched", summary)
            if near is not None:
                hook("near-misses", near)
        return misses

    def report_answered(self, request: Request, answered_by: str, limit: int = 3) -> builtins.list[NearMiss]:
        """Record the stubs ``request`` almost matched (distance at most ``ANSWERED_NEAR_MISS``)
        although something else answered it (``answered_by``: ``"spec"``), for
        ``GET /__mockforge/near-misses``; not an unmatched request, since it was answered."""
        misses = [m for m in self.near_misses(request, limit) if m.distance <= ANSWERED_NEAR_MISS]
        if misses:
            summary = {
                "timestamp": now_rfc3339(),
                "protocol": request.protocol,
                "method": request.method,
                "path": request.path,
                "query": request.query,
            }
            entry = {"request": summary, "near_misses": [m.to_dict() for m in misses], "answered_by": answered_by}
            with self._lock:
                self._near_log.append(entry)
            hook = self.on_report
            if hook is not None:
                hook("near-misses", entry)
        return misses

    def unmatched(self) -> builtins.list[dict[str, Any]]:
        with self._lock:
            return list(self._unmatched)

    def near_miss_log(self) -> builtins.list[dict[str, Any]]:
        with self._lock:
            return list(self._near_log)

    def clear_reports(self) -> None:
        with self._lock:
            self._unmatched.clear()
            self._near_log.clear()

    def hits(self) -> dict[str, int]:
        """Stub id -> requests it answered since it was stored (ids that answered none are absent)."""
        with self._lock:
            return dict(self._hits)


def near_miss_details(misses: Iterable[NearMiss]) -> list[dict[str, str]]:
    """Near misses as ``error.details`` entries of the common error shape (one per diff)."""
    out: list[dict[str, str]] = []
    for m in misses:
        for diff in m.diffs:
            out.append({"location": f"stub:{m.stub.id}", "reason": diff})
    return out


def near_miss_report(request: Request | MatchSubject, misses: Iterable[NearMiss]) -> str:
    """A text report for logs and the CLI::

    No stub matched GET /pets/7?kind=cat
    Closest stubs:
      1. get-pet (GET /pets/{id}), distance 0.07
         - query.kind: expected equals "dog", got "cat"
    """
    subject = _subject(request)
    query = "&".join(f"{k}={v}" for k, vs in subject.query.items() for v in vs)
    lines = [f"No stub matched {subject.method} {subject.path}{'?' + query if query else ''}"]
    misses = list(misses)
    if not misses:
        lines.append("No stub is close.")
        return "\n".join(lines)
    lines.append("Closest stubs:")
    for i, m in enumerate(misses, 1):
        lines.append(f"  {i}. {m.stub.id} ({m.stub.request.describe()}), distance {m.distance:.2f}")
        lines.extend(f"     - {d}" for d in m.diffs)
    return "\n".join(lines)
