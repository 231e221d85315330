"""gRPC stubs: the gRPC stub format, translated into the core stub model, and a store per method.

A gRPC stub is a core ``Stub`` (``core/stub_model.py``) whose request is a core
``RequestPattern``: the path is ``/pkg.Service/Method``, ``request.metadata`` are header matchers
and ``request.fields`` a JSONPath body check, all from the one operator table
(``core/matchers.py``). Only the response is gRPC's own (``GrpcResponse``), checked against the
method's protobuf descriptor when the stub is added. The file and admin format stay as
docs/GRPC.md describes them; this module only translates it.

    stub = parse_stub({"service": "pkg.Books", "method": "GetBook",
                       "request": {"fields": {"$.name": {"contains": "shelves/1"}}},
                       "response": {"message": {"title": "Echo {{request.body.name}}"}}}, methods)
    store.add(stub); store.find("/pkg.Books/GetBook", body_json, metadata)

Response kinds: ``message`` (one reply; on a server stream ``repeat`` times, default
``grpc.stream_count``), ``messages`` (these replies in order), ``error`` (``{code, message}``).
``repeat`` and ``interval_ms`` may be templates. Templates also see ``stream.index`` (0-based reply
index), ``stream.number`` (1-based) and ``stream.received`` (request messages read so far).
Lower ``priority`` wins (default 5), then the earlier stub. Unary and server-stream calls match
their one request; client streams match the last message read; bidi streams match (and answer)
each message as it arrives. Field paths are JSONPath over the request as JSON with proto field
names (``$.shelf.name`` or ``shelf.name``); a field matcher sees the first value found.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mockforge.core.matching import (
    BodyMatcher,
    JsonPathCheck,
    MatchSubject,
    PathMatcher,
    RequestPattern,
    ValueMatcher,
    compile_value_matcher,
    parse_json_path,
)
from mockforge.core.stub_model import DEFAULT_PRIORITY, Stub
from mockforge.core.templating import CompiledValue, compile_value, has_tokens
from mockforge.errors import StubError

#: gRPC status names -> numbers (the wire values, fixed by the gRPC spec).
STATUS_CODES: dict[str, int] = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13,
    "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}
STATUS_NAMES: dict[int, str] = {v: k for k, v in STATUS_CODES.items()}


@dataclass(slots=True)
class MethodInfo:
    """One served method: ``path`` is ``/pkg.Service/Method``; the classes are runtime messages."""

    service: str
    name: str
    input_type: Any
    output_type: Any
    client_streaming: bool
    server_streaming: bool

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def full_name(self) -> str:
        return f"{self.service}/{self.name}"


@dataclass(frozen=True, slots=True)
class GrpcResponse:
    """What a gRPC stub says to answer (declared); the call renders it per reply.

    ``messages`` are proto-JSON templates; ``single`` is True for ``message`` (repeatable on a
    server stream), False for ``messages``. ``error_code`` non-zero answers that status instead.
    ``headers`` and ``trailers`` are the stub's response metadata (its ``metadata`` and
    ``trailers`` keys)."""

    messages: tuple[CompiledValue, ...] = ()
    single: bool = True
    repeat: CompiledValue | None = None
    interval_ms: CompiledValue | None = None
    error_code: int = 0
    error_message: CompiledValue | None = None
    error_details: Any = None
    headers: Mapping[str, CompiledValue] = field(default_factory=dict)
    trailers: Mapping[str, CompiledValue] = field(default_factory=dict)
    delay_ms: int = 0


#: A gRPC stub: the core stub model with a gRPC response definition.
GrpcStub = Stub[GrpcResponse]


# --------------------------------------------------------------------------- parsing


def _need(cond: bool, msg: str, where: str) -> None:
    if not cond:
        raise StubError(msg, where=where)


def parse_stub(data: Any, methods: dict[str, MethodInfo], *, where: str = "stub") -> GrpcStub:
    """Validate a stub definition against the served methods; raises ``StubError`` naming the key."""
    _need(isinstance(data, dict), "a stub must be a mapping", where)
    service, method = data.get("service"), data.get("method")
    _need(isinstance(service, str) and bool(service), "'service' (pkg.Service) is required", where)
    _need(isinstance(method, str) and bool(method), "'method' is required", where)
    info = methods.get(f"/{service}/{method}")
    if info is None:
        raise StubError(f"no served method {service}/{method}", where=f"{where}.method")
    stub_id = data.get("id") or str(uuid.uuid4())
    _need(isinstance(stub_id, str), "'id' must be a string", f"{where}.id")
    priority = data.get("priority", DEFAULT_PRIORITY)
    ok = isinstance(priority, int) and not isinstance(priority, bool)
    _need(ok, "expected an integer", f"{where}.priority")
    delay = data.get("delay_ms", 0)
    _need(isinstance(delay, int) and delay >= 0, "expected an integer >= 0", f"{where}.delay_ms")
    pattern = _request_pattern(data.get("request") or {}, info, f"{where}.request")
    response = _parse_response(data.get("response"), info, f"{where}.response")
    response = replace(
        response,
        headers=_text_map(data.get("metadata"), f"{where}.metadata"),
        trailers=_text_map(data.get("trailers"), f"{where}.trailers"),
        delay_ms=delay,
    )
    return Stub(id=stub_id, request=pattern, response=response, priority=priority, spec={**data, "id": stub_id})


def _request_pattern(req: Any, info: MethodInfo, where: str) -> RequestPattern:
    """``{fields: {JSONPath: MATCHER}, metadata: {name: MATCHER}}`` as a core request pattern."""
    _need(isinstance(req, dict), "expected a mapping", where)
    fields, metadata = req.get("fields") or {}, req.get("metadata") or {}
    _need(isinstance(fields, dict), "expected a mapping of JSONPath -> MATCHER", f"{where}.fields")
    _need(isinstance(metadata, dict), "expected a mapping of name -> MATCHER", f"{where}.metadata")
    pairs: list[tuple[Any, ValueMatcher]] = []
    for path, spec in fields.items():
        at = f"{where}.fields.{path}"
        text = str(path)
        try:
            expr = parse_json_path(text if text.startswith("$") else f"$.{text}")
        except ValueError as exc:
            raise StubError(f"bad JSONPath: {exc}", where=at) from None
        pairs.append((expr, compile_value_matcher(spec, at)))
    headers = [
        (str(key).lower(), compile_value_matcher(spec, f"{where}.metadata.{key}")) for key, spec in metadata.items()
    ]
    body = BodyMatcher([JsonPathCheck(pairs, first_only=True)]) if pairs else None
    return RequestPattern(req, None, PathMatcher.compile(info.path, where), [], headers, body)


def _text_map(value: Any, where: str) -> dict[str, CompiledValue]:
    if value is None:
        return {}
    _need(isinstance(value, dict), "expected a mapping of name -> text", where)
    return {str(k).lower(): compile_value(str(v)) for k, v in value.items()}


def _parse_response(resp: Any, info: MethodInfo, where: str) -> GrpcResponse:
    if resp is None:
        resp = {"message": {}}
    _need(isinstance(resp, dict), "expected a mapping", where)
    kinds = [k for k in ("message", "messages", "error") if k in resp]
    _need(len(kinds) == 1, "give exactly one of message, messages, error", where)
    if "error" in resp:
        err = resp["error"]
        _need(isinstance(err, dict), "expected {code, message}", f"{where}.error")
        code = err.get("code", "UNKNOWN")
        if isinstance(code, str):
            code = STATUS_CODES.get(code.upper())
        _need(code in STATUS_NAMES and code != 0, "unknown or OK status code", f"{where}.error.code")
        return GrpcResponse(
            error_code=code,
            error_message=compile_value(str(err.get("message", ""))),
            error_details=err.get("details"),
        )
    messages: list[CompiledValue] = []
    if "messages" in resp:
        items = resp["messages"]
        _need(isinstance(items, list) and bool(items), "expected a non-empty list", f"{where}.messages")
        _need(info.server_streaming or len(items) == 1,
              f"{info.full_name} answers with one message; use 'message'", f"{where}.messages")
        for i, item in enumerate(items):
            check_message(item, info.output_type.DESCRIPTOR, f"{where}.messages[{i}]")
            messages.append(compile_value(item))
    else:
        check_message(resp["message"], info.output_type.DESCRIPTOR, f"{where}.message")
        messages.append(compile_value(resp["message"]))
    counts: dict[str, CompiledValue] = {}
    for key in ("repeat", "interval_ms"):
        if key in resp:
            value = resp[key]
            ok = (isinstance(value, int) and value >= 0) or (isinstance(value, str) and has_tokens(value))
            _need(ok, "expected an integer >= 0 or a template", f"{where}.{key}")
            counts[key] = compile_value(value)
    return GrpcResponse(
        messages=tuple(messages),
        single="messages" not in resp,
        repeat=counts.get("repeat"),
        interval_ms=counts.get("interval_ms"),
    )


# --------------------------------------------------------------------------- descriptor checks

_INTS = {
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64",
}
_WKT_PREFIX = "google.protobuf."


def _templated(value: Any) -> bool:
    return isinstance(value, str) and has_tokens(value)


def check_message(value: Any, desc: Any, where: str) -> None:
    """Raise ``StubError`` at the first key of ``value`` that does not fit message ``desc``."""
    from mockforge.grpc.datagen import _type_names

    _check_message(value, desc, where, _type_names())


def _check_message(value: Any, desc: Any, where: str, types: dict[int, str]) -> None:
    if _templated(value):
        return
    if desc.full_name.startswith(_WKT_PREFIX) and desc.full_name != "google.protobuf.Empty":
        _check_wkt(value, desc, where)
        return
    _need(isinstance(value, dict), f"expected an object for {desc.full_name}", where)
    by_json = {f.json_name: f for f in desc.fields}
    for key, item in value.items():
        fd = desc.fields_by_name.get(key) or by_json.get(key)
        if fd is None:
            raise StubError(f"{desc.full_name} has no field '{key}'", where=f"{where}.{key}")
        _check_field(item, fd, f"{where}.{key}", types)


def _check_field(value: Any, fd: Any, where: str, types: dict[int, str]) -> None:
    if value is None or _templated(value):
        return
    kind = types[fd.type]
    if fd.is_repeated:
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            _need(isinstance(value, dict), "expected an object (map)", where)
            vfd = mt.fields_by_name["value"]
            for k, v in value.items():
                _check_single(v, vfd, f"{where}.{k}", types[vfd.type], types)
            return
        _need(isinstance(value, list), "expected a list (repeated field)", where)
        for i, v in enumerate(value):
            _check_single(v, fd, f"{where}[{i}]", kind, types)
        return
    _check_single(value, fd, where, kind, types)


def _check_single(value: Any, fd: Any, where: str, kind: str, types: dict[int, str]) -> None:
    if _templated(value):
        return
    if kind in ("message", "group"):
        _check_message(value, fd.message_type, where, types)
        return
    if kind == "enum":
        if fd.enum_type.full_name == "google.protobuf.NullValue" and value is None:
            return
        names = {v.name for v in fd.enum_type.values}
        numbers = {v.number for v in fd.enum_type.values}
        ok = (isinstance(value, str) and value in names) or (isinstance(value, int) and value in numbers)
        _need(ok, f"expected one of {', '.join(sorted(names))}", where)
        return
    ok = True
    if kind == "string":
        ok = isinstance(value, str)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind in _INTS:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()
        )
        if ok and kind.startswith(("uint", "fixed")):
            ok = int(value) >= 0
    elif kind in ("double", "float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok and isinstance(value, str):
            ok = _is_float(value)
    elif kind == "bytes":
        ok = isinstance(value, str) and _is_base64(value)
    _need(ok, f"expected {kind}, got {type(value).__name__} {value!r}"[:200], where)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_base64(text: str) -> bool:
    try:
        alt = b"-_" if "-" in text or "_" in text else None
        base64.b64decode(text + "=" * (-len(text) % 4), altchars=alt)
    except ValueError:
        return False
    return True


def _check_wkt(value: Any, desc: Any, where: str) -> None:
    """Well-known types have their own JSON forms: let protobuf's parser judge them."""
    if _contains_tokens(value):
        return
    from google.protobuf import json_format, message_factory

    try:
        json_format.ParseDict(value, message_factory.GetMessageClass(desc)())
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise StubError(f"not a valid {desc.full_name}: {exc}", where=where) from None


def prune_unset(value: Any, desc: Any) -> Any:
    """Drop keys a template left empty ("" or null) where the field is not text: a token whose
    data was absent (an unset request field) then leaves the reply field unset, not invalid."""
    if not isinstance(value, dict) or desc.full_name.startswith(_WKT_PREFIX):
        return value
    out: dict[str, Any] = {}
    by_json = {f.json_name: f for f in desc.fields}
    for key, item in value.items():
        fd = desc.fields_by_name.get(key) or by_json.get(key)
        if fd is None:
            out[key] = item
            continue
        text_field = fd.type in (fd.TYPE_STRING, fd.TYPE_BYTES) and not fd.is_repeated
        if item is None or (item == "" and not text_field):
            continue
        mt = fd.message_type
        if mt is not None and not mt.GetOptions().map_entry:
            if fd.is_repeated and isinstance(item, list):
                item = [prune_unset(v, mt) for v in item]
            elif not fd.is_repeated:
                item = prune_unset(item, mt)
        out[key] = item
    return out


def _contains_tokens(value: Any) -> bool:
    if isinstance(value, str):
        return has_tokens(value)
    if isinstance(value, dict):
        return any(_contains_tokens(k) or _contains_tokens(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_tokens(v) for v in value)
    return False


# --------------------------------------------------------------------------- store


def _order(stub: GrpcStub) -> tuple[int, int]:
    return (stub.priority, stub.index)


class StubStore:
    """Stubs by method path, kept sorted by (priority, insertion order). Not thread-safe: the
    gRPC server and the admin API run on the same event loop."""

    def __init__(self) -> None:
        self._by_id: dict[str, GrpcStub] = {}
        self._by_path: dict[str, list[GrpcStub]] = {}
        self._order = 0

    def add(self, stub: GrpcStub) -> GrpcStub:
        """Store ``stub`` as the latest (a stub with the same id is replaced); returns it as stored."""
        self.remove(stub.id)
        self._order += 1
        stub = replace(stub, index=self._order)
        self._by_id[stub.id] = stub
        bucket = self._by_path.setdefault(_path(stub), [])
        bucket.append(stub)
        bucket.sort(key=_order)
        return stub

    def add_all(self, stubs: Iterable[GrpcStub]) -> list[GrpcStub]:
        return [self.add(stub) for stub in stubs]

    def remove(self, stub_id: str) -> bool:
        stub = self._by_id.pop(stub_id, None)
        if stub is None:
            return False
        path = _path(stub)
        bucket = self._by_path.get(path, [])
        bucket.remove(stub)
        if not bucket:
            self._by_path.pop(path, None)
        return True

    def clear(self) -> None:
        self._by_id.clear()
        self._by_path.clear()

    def get(self, stub_id: str) -> GrpcStub | None:
        return self._by_id.get(stub_id)

    def all(self) -> list[GrpcStub]:
        return sorted(self._by_id.values(), key=lambda s: (_path(s), s.priority, s.index))

    def has_stubs(self, path: str) -> bool:
        return path in self._by_path

    def count(self, path: str) -> int:
        """Stubs for one method path (``/pkg.Service/Method``)."""
        return len(self._by_path.get(path, ()))

    def find(self, path: str, body: Any, metadata: Mapping[str, str]) -> GrpcStub | None:
        """The first stub for ``path`` whose pattern matches the message ``body`` (proto-JSON) and
        the call's ``metadata``, or None."""
        bucket = self._by_path.get(path)
        if not bucket:
            return None
        subject = MatchSubject("POST", path, headers=metadata, json_value=body, json_parsed=True)
        for stub in bucket:
            if stub.request.matches(subject):
                return stub
        return None


def _path(stub: GrpcStub) -> str:
    assert stub.request.path is not None  # every gRPC pattern names its method
    return stub.request.path.text
