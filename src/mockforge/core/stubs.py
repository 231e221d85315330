"""Stubs: "for this request, answer that", from config, stub files and the admin API; one model.

Why hand-written: the stub shape is ours (issue 3), and the store must stay flat in the number of
stubs, which a list scan is not. A ``Stub`` is immutable and compiled once when added (matchers,
templates, fault); edits replace it. The store indexes stubs by method and path segments in a
small trie (literal segments, plus one branch for a ``{param}`` segment), so finding the stub for
``GET /pets/7`` among 10,000 stubs with distinct paths looks at a handful of candidates; stubs
with a glob, a regex or no path sit in a fallback list that every request scans.

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

import base64
import binascii
import builtins
import itertools
import mimetypes
import threading
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import msgspec
import orjson
import yaml

from mockforge.core.faults import FaultSpec, parse_fault
from mockforge.core.files import FileAccessError, FileRoots, FileTooLarge
from mockforge.core.headers import name_problem, value_problem
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits, LimitError, check_utf8, decode_document
from mockforge.core.matching import MatchResult, MatchSubject, RequestPattern, quote
from mockforge.core.model import Request, Response
from mockforge.core.request_log import now_rfc3339
from mockforge.core.responses import encode_json, error_response
from mockforge.core.scenarios import ScenarioStates, ScenarioStore
from mockforge.core.templating import (
    CompiledValue,
    Template,
    TemplateContext,
    compile_template,
    compile_value,
)
from mockforge.errors import StubError

DEFAULT_PRIORITY = 5
SOURCE_API = "api"
SOURCE_CONFIG = "config"
STUB_FILE_SUFFIXES = (".yaml", ".yml", ".json")

_STUB_KEYS = ("id", "name", "priority", "request", "response", "scenario", "times", "validate", "metadata")
_RESPONSE_KEYS = (
    "status",
    "headers",
    "body",
    "body_text",
    "body_base64",
    "body_file",
    "delay_ms",
    "fault",
    "plugin",
)
_BODY_KINDS = ("body", "body_text", "body_base64", "body_file")
_YAML_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Stores larger than this compute near misses only over stubs sharing the first path segment.
_NEAR_MISS_SCAN_ALL = 500
#: Cost (candidates x characters compared) above which near-miss scoring leaves the event loop:
#: about 1 ms of difflib on the dev box. Decided from the request's size, never by timing.
NEAR_MISS_OFFLOOP_COST = 8192


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class ScenarioRule:
    """``required_state``: the stub answers only in that state; ``new_state``: then moves there."""

    name: str
    required_state: str | None = None
    new_state: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseDefinition:
    """What a stub says to answer (declared); ``build`` turns it into the ``Response`` sent."""

    status: int = 200
    headers: tuple[tuple[str, Template], ...] = ()
    json_body: CompiledValue | None = None
    text_body: Template | None = None
    raw_body: bytes | None = None
    body_file: str | None = None
    #: The roots and read cap ``body_file`` was checked against (checked again on every read).
    files: FileRoots | None = None
    delay_ms: int = 0
    fault: FaultSpec | None = None
    plugin: str | None = None
    plugin_params: Mapping[str, Any] = field(default_factory=dict)

    def build(
        self, request: Request, path_params: Mapping[str, str], *, expand: bool, source: str
    ) -> Response:
        """Render the answer. With ``expand`` templates are rendered (``http.response_template_expand``),
        otherwise sent as written. ``body_file`` is read now, so edits show without a reload: this
        blocks on the disk, so the HTTP step calls it off the event loop for such stubs."""
        ctx = TemplateContext(request, dict(path_params)) if expand else None
        ctype: str | None = None
        body = b""
        if self.json_body is not None:
            value = self.json_body.render(ctx) if ctx is not None else self.json_body.value
            body, ctype = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), "application/json"
        elif self.text_body is not None:
            text = self.text_body.render(ctx) if ctx is not None else self.text_body.text
            body, ctype = text.encode(), "text/plain; charset=utf-8"
        elif self.raw_body is not None:
            body, ctype = self.raw_body, "application/octet-stream"
        elif self.body_file is not None:
            try:
                body = (self.files or FileRoots.default()).read(self.body_file, what="body_file")
            except FileAccessError as exc:
                code = "stub_body_file_too_large" if isinstance(exc, FileTooLarge) else "stub_body_file"
                resp = error_response(500, code, exc.message)
                resp.source = source
                return resp
            ctype = mimetypes.guess_type(self.body_file)[0] or "application/octet-stream"
        headers = [(name, tpl.render(ctx) if ctx is not None else tpl.text) for name, tpl in self.headers]
        if ctype is not None and not any(name.lower() == "content-type" for name, _ in headers):
            headers.insert(0, ("content-type", ctype))
        return Response(status=self.status, headers=headers, body=body, source=source)


@dataclass(frozen=True, slots=True)
class Stub:
    """One immutable stub. ``spec`` is the definition as given (with ``id``), for listing;
    ``index`` is the insertion order the store assigns (newer is higher)."""

    id: str
    request: RequestPattern
    response: ResponseDefinition
    priority: int = DEFAULT_PRIORITY
    scenario: ScenarioRule | None = None
    times: int | None = None
    validate: bool = False
    source: str = SOURCE_API
    index: int = 0
    spec: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Stable key order, defaults omitted (so that files written from it diff cleanly)."""
        out: dict[str, Any] = {"id": self.id}
        for key in _STUB_KEYS[1:]:
            if key in self.spec and self.spec[key] is not None:
                out[key] = self.spec[key]
        out["priority"] = self.priority
        out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class StubMatch:
    stub: Stub
    path_params: dict[str, str]

    def build_response(self, request: Request, *, expand: bool) -> Response:
        return self.stub.response.build(
            request, self.path_params, expand=expand, source=f"stub:{self.stub.id}"
        )


@dataclass(frozen=True, slots=True)
class NearMiss:
    stub: Stub
    distance: float
    diffs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stub": self.stub.id,
            "request": self.stub.request.describe(),
            "distance": round(self.distance, 3),
            "diffs": self.diffs,
        }


# --------------------------------------------------------------------------- parsing


def _fail(message: str, where: str, file: str | None) -> StubError:
    return StubError(message, file=file, where=where or None)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _parse_response(
    spec: Any, where: str, file: str | None, base: Path | None, files: FileRoots | None, label: str = ""
) -> ResponseDefinition:
    if spec is None:
        return ResponseDefinition()
    if not isinstance(spec, Mapping):
        raise _fail("'response' must be a mapping", where, file)
    for key in spec:
        if key not in _RESPONSE_KEYS:
            raise _fail(f"unknown key '{key}' (known: {', '.join(_RESPONSE_KEYS)})", _join(where, key), file)
    status = spec.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _fail(f"expected an HTTP status from 100 to 599, got {status!r}", _join(where, "status"), file)
    headers: list[tuple[str, Template]] = []
    raw_headers = spec.get("headers") or {}
    if not isinstance(raw_headers, Mapping):
        raise _fail("'headers' must be a mapping of name -> value", _join(where, "headers"), file)
    for name, value in raw_headers.items():
        for item in value if isinstance(value, list) else [value]:
            headers.append(
                (str(name), compile_template(item if isinstance(item, str) else quote(item).strip('"')))
            )
    given = [k for k in _BODY_KINDS if spec.get(k) is not None]
    if len(given) > 1:
        raise _fail(f"give one of {', '.join(_BODY_KINDS)}, not {' and '.join(given)}", where, file)
    kwargs: dict[str, Any] = {}
    if "body" in given:
        kwargs["json_body"] = compile_value(spec["body"])
    elif "body_text" in given:
        if not isinstance(spec["body_text"], str):
            raise _fail("'body_text' takes a string", _join(where, "body_text"), file)
        kwargs["text_body"] = compile_template(spec["body_text"])
    elif "body_base64" in given:
        try:
            kwargs["raw_body"] = base64.b64decode(str(spec["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise _fail("'body_base64' is not valid base64", _join(where, "body_base64"), file) from None
    elif "body_file" in given:
        if not isinstance(spec["body_file"], str) or not spec["body_file"]:
            raise _fail("'body_file' takes a file path", _join(where, "body_file"), file)
        roots = files or FileRoots.default()
        try:
            kwargs["body_file"] = roots.check(spec["body_file"], base=base, what="body_file")
        except FileAccessError as exc:
            raise _fail(f"{label}{exc.message}", _join(where, "body_file"), file) from None
        kwargs["files"] = roots
    delay = spec.get("delay_ms", 0) or 0
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise _fail(f"expected whole milliseconds >= 0, got {delay!r}", _join(where, "delay_ms"), file)
    try:
        fault = parse_fault(spec.get("fault"), _join(where, "fault"), StubError)
    except StubError as exc:
        raise _fail(exc.message, exc.where or "", file) from None
    plugin = spec.get("plugin")
    params: dict[str, Any] = {}
    if isinstance(plugin, Mapping):
        params = {k: v for k, v in plugin.items() if k != "id"}
        plugin = plugin.get("id")
    if plugin is not None and not isinstance(plugin, str):
        raise _fail("'plugin' takes a plugin id or {id: ..., ...}", _join(where, "plugin"), file)
    return ResponseDefinition(
        status=status,
        headers=tuple(headers),
        delay_ms=delay,
        fault=fault,
        plugin=plugin,
        plugin_params=params,
        **kwargs,
    )


def _check_headers(response: ResponseDefinition, stub_id: str, where: str, file: str | None) -> None:
    """Refuse a header that could forge others (core/headers.py); a templated value is checked
    for its literal text here and cleaned on the wire for what the template brings in."""
    for name, tpl in response.headers:
        problem = name_problem(name)
        if problem is None and (bad := value_problem(tpl.text)) is not None:
            problem = f"header {name!r} value {bad}"
        if problem is not None:
            raise _fail(f"stub '{stub_id}': {problem}", _join(where, name), file)


def _parse_scenario(spec: Any, where: str, file: str | None) -> ScenarioRule | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise _fail("'scenario' must be {name, required_state, new_state}", where, file)
    for key in spec:
        if key not in ("name", "required_state", "new_state"):
            raise _fail(
                f"unknown key '{key}' (known: name, required_state, new_state)", _join(where, key), file
            )
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("a scenario needs a 'name'", _join(where, "name"), file)
    states = []
    for key in ("required_state", "new_state"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            raise _fail(f"'{key}' takes a state name", _join(where, key), file)
        states.append(value)
    return ScenarioRule(name, states[0], states[1])


def parse_stub(
    data: Any,
    where: str = "",
    source: str = SOURCE_API,
    *,
    default_id: str | None = None,
    files: FileRoots | None = None,
) -> Stub:
    """Validate and compile one stub definition; ``StubError`` names the file (when ``source`` is
    a file path) and the field, e.g. ``stubs/pets.yaml at [1].request.query.kind: invalid regex``.

    ``files`` are the folders a ``body_file`` may name (``FileRoots.default()``, the current
    directory, when not given); a relative ``body_file`` is relative to the stub file, else to the
    current directory."""
    file = None if source in (SOURCE_API, SOURCE_CONFIG) else source
    base = Path(file).resolve().parent if file else None
    if not isinstance(data, Mapping):
        raise _fail("a stub must be a mapping with 'request' and 'response'", where, file)
    for key in data:
        if key not in _STUB_KEYS:
            raise _fail(f"unknown key '{key}' (known: {', '.join(_STUB_KEYS)})", _join(where, str(key)), file)
    stub_id = data.get("id")
    if stub_id is None:
        stub_id = default_id or str(uuid.uuid4())
    elif not isinstance(stub_id, str | int) or isinstance(stub_id, bool) or not str(stub_id):
        raise _fail("'id' takes a non-empty string", _join(where, "id"), file)
    stub_id = str(stub_id)
    priority = data.get("priority", DEFAULT_PRIORITY)
    if priority is None:
        priority = DEFAULT_PRIORITY
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise _fail(f"expected a whole number, got {priority!r}", _join(where, "priority"), file)
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise _fail(f"expected a whole number >= 1 or null, got {times!r}", _join(where, "times"), file)
    validate = data.get("validate", False)
    if not isinstance(validate, bool):
        raise _fail("'validate' must be true or false", _join(where, "validate"), file)
    try:
        pattern = RequestPattern.compile(data.get("request"), _join(where, "request"))
    except StubError as exc:
        raise _fail(exc.message, exc.where or "", file) from None
    label = f"stub '{stub_id}': " if data.get("id") is not None else ""
    response = _parse_response(data.get("response"), _join(where, "response"), file, base, files, label)
    _check_headers(response, stub_id, _join(where, "response.headers"), file)
    scenario = _parse_scenario(data.get("scenario"), _join(where, "scenario"), file)
    spec = {k: data[k] for k in _STUB_KEYS if k in data}
    spec["id"] = stub_id
    stub = Stub(
        id=stub_id,
        request=pattern,
        response=response,
        priority=priority,
        scenario=scenario,
        times=times,
        validate=validate,
        source=source,
        spec=spec,
    )
    _check_serialises(stub, where, file)
    return stub


def _check_serialises(stub: Stub, where: str, file: str | None) -> None:
    """A stored stub must list: ``GET /__mockforge/stubs`` serialises every stub with the admin
    API's encoder, so a stub it cannot encode (an int past 64 bits, nesting past 254, a lone
    surrogate, bytes from a YAML tag) is refused here, naming the top-level key."""
    out = stub.to_dict()
    try:
        encode_json(out)
    except TypeError as exc:
        bad = where
        for key, value in out.items():
            try:
                encode_json(value)
            except TypeError:
                bad = _join(where, key)
                break
        raise _fail(f"cannot be stored: it does not serialise as JSON ({exc})", bad, file) from None


def parse_stubs(
    data: Any, source: str, *, where: str = "", default_ids: str | None = None, files: FileRoots | None = None
) -> list[Stub]:
    """One stub or a list of them, all or nothing (the first error raises)."""
    if isinstance(data, list):
        return [
            parse_stub(
                item,
                f"{where}[{i}]",
                source,
                default_id=f"{default_ids}-{i + 1}" if default_ids else None,
                files=files,
            )
            for i, item in enumerate(data)
        ]
    return [parse_stub(data, where, source, default_id=default_ids, files=files)]


def load_file(
    path: str | Path, files: FileRoots | None = None, limits: DocumentLimits = DEFAULT_LIMITS
) -> list[Stub]:
    """The stubs of one ``.yaml``/``.yml``/``.json`` file (one stub or a list); ``StubError`` with
    the file and the line (syntax) or field (content). Stubs without an id get ``<file stem>[-n]``.
    ``limits`` bounds nesting depth and YAML alias expansion (a bad file loads nothing)."""
    p = Path(path).resolve()
    file = str(p)  # the stubs' source: absolute, so a watcher's path finds the same stubs
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise StubError(f"cannot read stub file: {exc.strerror}", file=file) from None
    try:
        data = decode_document(raw, as_json=p.suffix.lower() == ".json", limits=limits, loader=_YAML_LOADER)
    except LimitError as exc:
        raise StubError(exc.message, file=file, where=exc.where) from None
    except msgspec.DecodeError as exc:
        _raise_if_not_utf8(raw, file)
        raise StubError(f"not valid JSON: {exc}", file=file) from None
    except yaml.YAMLError as exc:
        _raise_if_not_utf8(raw, file)
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise StubError(f"not valid YAML: {reason}", file=file, where=where) from None
    if data is None:
        return []
    return parse_stubs(data, file, default_ids=p.stem, files=files)


def _raise_if_not_utf8(raw: bytes, file: str) -> None:
    """A ``StubError`` naming the byte offset when ``raw`` is not UTF-8 (error path only)."""
    try:
        check_utf8(raw)
    except LimitError as exc:
        raise StubError(exc.message, file=file) from None


def stub_files(directory: str | Path) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in STUB_FILE_SUFFIXES and p.is_file())


def parse_config_routes(
    routes: Iterable[Any], where: str = "http.routes", files: FileRoots | None = None
) -> tuple[list[Stub], list[str]]:
    """Stubs of ``http.routes``; a bad route is one problem line and is skipped, the rest load."""
    stubs: list[Stub] = []
    problems: list[str] = []
    for i, item in enumerate(routes):
        try:
            stubs.append(
                parse_stub(item, f"{where}[{i}]", SOURCE_CONFIG, default_id=f"route-{i + 1}", files=files)
            )
        except StubError as exc:
            problems.append(str(exc))
    return stubs, problems


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

    def near_misses(self, request: Request | MatchSubject, limit: int = 3) -> builtins.list[NearMiss]: ...

    def report_miss(self, request: Request, limit: int = 3) -> builtins.list[NearMiss]: ...

    def unmatched(self) -> builtins.list[dict[str, Any]]: ...

    def near_miss_log(self) -> builtins.list[dict[str, Any]]: ...

    def clear_reports(self) -> None: ...


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
        self._roots: dict[str, _Node] = {}
        self._fallback: builtins.list[Stub] = []
        self._by_first: dict[str, builtins.list[Stub]] = {}
        self._counter = itertools.count(1)
        self._unmatched: deque[dict[str, Any]] = deque(maxlen=max(0, max_unmatched))
        self._near_log: deque[dict[str, Any]] = deque(maxlen=max(0, max_near_misses))
        #: Candidate patterns evaluated by ``find`` since start (tests prove lookups stay flat).
        self.evaluations = 0
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
            return True

    def find(self, request: Request | MatchSubject) -> StubMatch | None:
        """The stub that answers ``request`` (consuming ``times`` and moving its scenario), or None."""
        if not self._stubs:
            return None
        subject = _subject(request)
        with self._lock:
            candidates = self._candidates(subject)
        for stub in candidates:
            if stub.times is not None and self._served.get(stub.id, 0) >= stub.times:
                continue
            if not self._state_ok(stub):
                continue
            self.evaluations += 1
            if not stub.request.matches(subject):
                continue
            if self._consume(stub):
                return StubMatch(stub, stub.request.path_params(subject.path))
        return None

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
        with self._lock:
            self._unmatched.append(summary)
            if misses:
                self._near_log.append({"request": summary, "near_misses": [m.to_dict() for m in misses]})
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
