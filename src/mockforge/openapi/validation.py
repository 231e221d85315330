"""Request validation against an OpenAPI operation.

Why hand-written: OpenAPI validation libraries pull in a full spec model (tens of MB, see
DESIGN.md) and re-walk the spec per request. Here everything that can be decided from the spec is
decided once per operation (parameter shapes, media-type table, readOnly-stripped body schemas);
jsonschema-rs validators are compiled on first use and kept. A request then costs one pass over
its parameters plus one ``is_valid`` call per value (the error walk only runs for invalid values).

    validator = RequestValidator(model.defs)
    problems = validator.for_operation(op).validate(request, {"petId": "7"})
    # [Problem(location="query.limit", reason="expected integer, got 'abc'")]

Parameter strings are deserialised by ``style``/``explode`` (OpenAPI 3 "Style Values",
``openapi/styles.py``), then coerced to the schema's types (``schema/coerce.py``), then validated
(``schema/validate.py``), so ``?limit=5`` is the integer 5 for the schema. Schemas are read as
their authors meant them (``openapi/lenient.py``: ``oneOf`` as ``anyOf``, the discriminator
picks the branch), so overlapping branches do not refuse valid requests. Path parameter values
are taken as given by the router (already percent-decoded). This module keeps what is specific to
a request: the per-operation tables, headers and cookies, and body decoding (JSON, urlencoded
forms, multipart).

Locations are ``<in>.<name>`` plus the JSON pointer of the failing part in dots
(``query.ids.1``, ``header.x-rate``, ``body.items.0.name``); ``header.content-type`` reports an
undocumented media type (the HTTP layer chooses the status code).
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import msgspec

from mockforge.core.limits import decode_request_json
from mockforge.core.model import Request
from mockforge.openapi.lenient import lenient
from mockforge.openapi.model import MediaType, Operation, Parameter, Schema
from mockforge.openapi.styles import MISSING, from_form, label, matrix, request_cookies, simple
from mockforge.schema.coerce import ANY, CoerceError, Shape, coerce, scalar, shape_of
from mockforge.schema.defs import Defs
from mockforge.schema.validate import MAX_PROBLEMS, MAX_REASON, LazySchema, Problem, cut, strip_read_only

__all__ = ["MAX_PROBLEMS", "MAX_REASON", "OperationValidator", "Problem", "RequestValidator"]

#: Remembered validation answers per operation for bodyless requests (see ``validate``).
_MEMO_LIMIT = 1024
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


# --------------------------------------------------------------------------- operation


class _ParamCheck:
    __slots__ = (
        "content_json",
        "explode",
        "location",
        "name",
        "param",
        "required",
        "schema",
        "shape",
        "style",
    )

    def __init__(self, param: Parameter, defs: Defs, owner: RequestValidator) -> None:
        self.param = param
        self.name = param.name.lower() if param.location == "header" else param.name
        self.location = f"{param.location}.{self.name}"
        self.required = param.required or param.location == "path"
        self.style = param.style
        self.explode = param.explode
        ct = param.content_type
        self.content_json = ct is not None and _is_json(ct.split(";", 1)[0].strip().lower())
        schema = param.schema
        self.shape = shape_of(schema, defs) if schema is not None else ANY
        if schema is None:
            self.schema = None
        else:
            needed = {n: owner._request_def(n) for n in defs.closure(schema)}
            self.schema = LazySchema(lenient(schema, defs), needed)


#: JSON subtypes beyond ``json`` and ``*+json``: AWS's ``x-amz-json-1.1``, ``vnd.x-json``
#: (a ``json`` after a separator, optionally versioned; ``x-ndjson`` is not one JSON value).
_JSON_SUBTYPE = re.compile(r"(?:[\w.+-]*[-.+])?json(?:-[\d.]+)?")


def _is_json(media: str) -> bool:
    if media == "application/json" or media.endswith("+json") or media == "text/json":
        return True
    major, _, minor = media.partition("/")
    return major == "application" and "json" in minor and _JSON_SUBTYPE.fullmatch(minor) is not None


@dataclass(slots=True)
class _BodyCheck:
    media: str
    kind: str  # "json" | "form" | "multipart" | "other"
    schema: LazySchema | None
    shape: Shape
    encoding: dict[str, dict[str, Any]]


class OperationValidator:
    """Validates requests for one operation; built once by ``RequestValidator.for_operation``."""

    def __init__(self, op: Operation, owner: RequestValidator) -> None:
        defs = owner._defs
        self.operation = op
        params = [_ParamCheck(p, defs, owner) for p in op.parameters]
        self._path = [p for p in params if p.param.location == "path"]
        self._query = [p for p in params if p.param.location == "query"]
        # OpenAPI: header parameters named Accept, Content-Type or Authorization are ignored
        self._header = [p for p in params if p.param.location == "header" and p.name not in _IGNORED_HEADERS]
        self._cookie = [p for p in params if p.param.location == "cookie"]
        self._query_names = frozenset(p.name for p in self._query)
        self._cookie_names = frozenset(p.name for p in self._cookie)
        body = op.request_body
        self._body_required = bool(body and body.required)
        self._exact: dict[str, _BodyCheck] = {}
        self._ranges: dict[str, _BodyCheck] = {}
        self._any: _BodyCheck | None = None
        for key, media in body.content.items() if body else ():
            check = owner._body_check(key, media)
            major, _, minor = check.media.partition("/")
            if check.media == "*/*":
                self._any = check
            elif minor == "*":
                self._ranges[major] = check
            else:
                self._exact[check.media] = check
        self._documented = ", ".join(body.content) if body else ""
        checks = [*self._exact.values(), *self._ranges.values(), *([self._any] if self._any else [])]
        #: The documented JSON media type (a body of another JSON type is read by it).
        self._json = next((c for c in checks if c.kind == "json"), None)
        #: What a body without Content-Type is read as: the JSON media type, else the only one.
        self._untyped = self._json or (checks[0] if len(checks) == 1 else None)
        self._memo: dict[tuple[str, ...], tuple[Problem, ...]] = {}
        self._has_body = bool(body and body.content)

    def _media(self, media: str) -> _BodyCheck | None:
        check = self._exact.get(media)
        if check is not None:
            return check
        major, _, minor = media.partition("/")
        if minor.endswith("+json"):
            check = self._exact.get(f"{major}/json")
            if check is not None:
                return check
        check = self._ranges.get(major) or self._any
        if check is None and _is_json(media):
            # JSON sent as another JSON type (text/json, application/json for a documented
            # application/vnd.x+json): read it by the documented JSON media type
            check = self._json
        return check

    def validate(self, request: Request, path_params: dict[str, str]) -> list[Problem]:
        # A request without a body whose operation reads no headers or cookies is decided by its
        # path and query alone: remember those answers (bounded; the key is client-controlled).
        cacheable = not request.body and not self._header and not self._cookie and not self._body_required
        if cacheable:
            key = (request.path, request.raw_query, *path_params.values())
            hit = self._memo.get(key)
            if hit is not None:
                return list(hit)
        out = self._validate(request, path_params)
        if cacheable and len(self._memo) < _MEMO_LIMIT:
            self._memo[key] = tuple(out)
        return out

    def _validate(self, request: Request, path_params: dict[str, str]) -> list[Problem]:
        out: list[Problem] = []
        for p in self._path:
            text = path_params.get(p.param.name)
            if text is None:
                out.append(Problem(p.location, "required path parameter is missing"))
                continue
            self._check(p, self._read_path(p, text), out)
        if self._query:
            query = request.query
            for p in self._query:
                self._check(p, self._read_form(p, query, self._query_names), out, "query parameter")
        for p in self._header:
            values = request.headers.get_all(p.name)
            if not values:
                if p.required:
                    out.append(Problem(p.location, "required header is missing"))
                continue
            self._check(p, self._read_header(p, ", ".join(values)), out)
        if self._cookie:
            cookies = request_cookies(request)
            for p in self._cookie:
                self._check(p, self._read_form(p, cookies, self._cookie_names), out, "cookie")
        if self._has_body or self._body_required:
            self._check_body(request, out)
        return out[:MAX_PROBLEMS]

    # -- parameters

    def _read_path(self, p: _ParamCheck, text: str) -> Any:
        if p.content_json or p.param.content_type is not None:
            return _Raw(text)
        kind, path = p.shape.kind, p.location
        try:
            if p.style == "label":
                return label(text, kind, p.explode, path)
            if p.style == "matrix":
                return matrix(text, p.param.name, kind, p.explode, path)
            return simple(text, kind, p.explode, path)
        except CoerceError as exc:
            return exc

    def _read_header(self, p: _ParamCheck, text: str) -> Any:
        if p.param.content_type is not None:
            return _Raw(text)
        try:
            return simple(text.strip(), p.shape.kind, p.explode, p.location)
        except CoerceError as exc:
            return exc

    def _read_form(self, p: _ParamCheck, values: dict[str, list[str]], claimed: frozenset[str]) -> Any:
        if p.param.content_type is not None:
            found = values.get(p.name)
            return MISSING if found is None else _Raw(found[0])
        try:
            return from_form(values, p.name, p.style, p.explode, p.shape, claimed, p.location)
        except CoerceError as exc:
            return exc

    def _check(self, p: _ParamCheck, raw: Any, out: list[Problem], what: str = "") -> None:
        if raw is MISSING:
            if p.required:
                out.append(Problem(p.location, f"required {what} is missing"))
            return
        if isinstance(raw, CoerceError):
            out.append(Problem(raw.path or p.location, cut(raw.reason)))
            return
        if raw == "" and p.param.allow_empty_value:
            return
        if isinstance(raw, _Raw):
            if not p.content_json:
                value: Any = raw.text
            else:
                try:
                    value = decode_request_json(raw.text)
                except msgspec.DecodeError as exc:
                    out.append(Problem(p.location, cut(f"invalid JSON: {exc}")))
                    return
        else:
            shape = p.shape
            try:
                if type(raw) is str and shape.kind == "scalar":
                    value = scalar(raw, shape.types, p.location)
                else:
                    value = coerce(raw, shape, p.location)
            except CoerceError as exc:
                second = _loose_scalar(raw, shape) if type(raw) is str else _NO_READING
                if second is _NO_READING:
                    out.append(Problem(exc.path, cut(exc.reason)))
                    return
                value = second
        if p.schema is not None:
            p.schema.check(value, p.location, out)

    # -- body

    def _check_body(self, request: Request, out: list[Problem]) -> None:
        body = request.body
        if not body:
            if self._body_required:
                out.append(Problem("body", "request body is required"))
            return
        if not self._has_body:
            return
        header = request.headers.get("content-type")
        if not header:
            # no Content-Type: read the body as the documented JSON type (else the only one)
            untyped = self._untyped
            if untyped is None:
                return
            header = untyped.media
        media = header.split(";", 1)[0].strip().lower()
        check = self._media(media)
        if check is None:
            out.append(
                Problem(
                    "header.content-type",
                    cut(f"unsupported media type {media!r}; expected one of {self._documented}"),
                )
            )
            return
        if check.schema is None:
            return
        kind = check.kind
        if kind == "json" or (kind == "other" and _is_json(media)):
            value = request.json()
            if value is None:
                try:
                    # a UTF-8 byte order mark some clients write is not part of the JSON text
                    value = decode_request_json(body.removeprefix(b"\xef\xbb\xbf"))  # depth-bounded
                except msgspec.DecodeError as exc:
                    out.append(Problem("body", cut(f"invalid JSON: {exc}")))
                    return
        elif kind == "form":
            try:
                value = _decode_form(body, check)
            except CoerceError as exc:
                out.append(Problem(exc.path, cut(exc.reason)))
                return
        elif kind == "multipart":
            try:
                value = _decode_multipart(body, header, check)
            except CoerceError as exc:
                out.append(Problem(exc.path, cut(exc.reason)))
                return
        else:
            return
        if check.schema is not None:
            check.schema.check(value, "body", out)


_NO_READING: Any = object()
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def _loose_scalar(text: str, shape: Shape) -> Any:
    """A second reading of a scalar parameter the strict one refused, for what clients commonly
    send (a false 400 costs more than a missed one): surrounding spaces (``+5`` in a query is
    `` 5``), ``True``/``FALSE``/``1``/``0`` for a boolean, ``5.0`` for an integer. Returns
    ``_NO_READING`` when none applies."""
    if shape.kind != "scalar":
        return _NO_READING
    types = shape.types
    stripped = text.strip()
    if stripped != text:
        try:
            return scalar(stripped, types, "")
        except CoerceError:
            pass
    if "boolean" in types and stripped.lower() in _BOOLEANS:
        return _BOOLEANS[stripped.lower()]
    if "integer" in types:
        try:
            number = float(stripped)
        except ValueError:
            return _NO_READING
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
    return _NO_READING


class _Raw:
    """A parameter value to JSON-decode (``content``) rather than deserialise by style."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _decode_form(body: bytes, check: _BodyCheck) -> dict[str, Any]:
    """``application/x-www-form-urlencoded`` -> object, each property read by its ``encoding``."""
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    props = check.shape.props or {}
    out: dict[str, Any] = {}
    claimed: set[str] = set()
    for name, shape in props.items():
        enc = check.encoding.get(name) or {}
        ct = enc.get("contentType")
        path = f"body.{name}"
        if isinstance(ct, str) and _is_json(ct.split(";", 1)[0].strip().lower()):
            if name in values:
                claimed.add(name)
                out[name] = _json_field(values[name][0], path)
            continue
        style = enc.get("style") or "form"
        explode = enc.get("explode", style == "form")
        raw = from_form(values, name, style, bool(explode), shape, frozenset(), path)
        if raw is MISSING:
            continue
        claimed.add(name)
        if style == "deepObject":
            claimed.update(k for k in values if k.startswith(f"{name}["))
        out[name] = coerce(raw, shape, path)
    for name, vals in values.items():
        if name not in claimed and name not in out and not any(name.startswith(f"{p}[") for p in props):
            extra = check.shape.extra or ANY
            out[name] = coerce(vals if len(vals) > 1 else vals[0], extra, f"body.{name}")
    return out


def _json_field(text: str, path: str) -> Any:
    try:
        return decode_request_json(text)
    except msgspec.DecodeError as exc:
        raise CoerceError(path, f"invalid JSON: {exc}") from exc


_BODY_PARSER = email.parser.BytesParser(policy=email.policy.HTTP)


def _decode_multipart(body: bytes, content_type: str, check: _BodyCheck) -> dict[str, Any]:
    """``multipart/form-data`` -> object; file parts become ``str`` (latin-1: one char per byte)."""
    if "boundary=" not in content_type.lower():
        raise CoerceError("header.content-type", "multipart body without a boundary parameter")
    message = _BODY_PARSER.parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise CoerceError("body", "malformed multipart body")
    parts: dict[str, list[tuple[Any, bool]]] = {}
    props = check.shape.props or {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        parts.setdefault(name, []).append(_part_value(part, name, props.get(name), check))
    out: dict[str, Any] = {}
    for name, values in parts.items():
        shape = props.get(name) or check.shape.extra or ANY
        path = f"body.{name}"
        if shape.kind == "array":
            item = shape.items or ANY
            out[name] = [coerce(v, item, f"{path}.{i}") if text else v for i, (v, text) in enumerate(values)]
        else:
            value, text = values[0]
            out[name] = coerce(value, shape, path) if text else value
    return out


def _part_value(part: Message, name: str, shape: Shape | None, check: _BodyCheck) -> tuple[Any, bool]:
    """The part's value, and whether it is text to coerce by schema (not JSON, not a file)."""
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    enc = check.encoding.get(name) or {}
    declared = enc.get("contentType")
    media = part.get_content_type() if part.get("content-type") else ""
    if isinstance(declared, str) and not media:
        media = declared.split(",", 1)[0].split(";", 1)[0].strip().lower()
    if not media and shape is not None and shape.kind == "object":
        media = "application/json"
    if _is_json(media):
        return _json_field(data.decode("utf-8", "replace"), f"body.{name}"), False
    binary = part.get_filename() is not None or (shape is not None and shape.binary)
    if binary or (media and not media.startswith("text/")):
        return data.decode("latin-1"), False
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace"), True
    except LookupError:
        return data.decode("utf-8", "replace"), True


class RequestValidator:
    """Prepares and caches one ``OperationValidator`` per operation.

    validator = RequestValidator(model.defs)
    for problem in validator.for_operation(op).validate(request, path_params):
        print(problem.location, problem.reason)
    """

    def __init__(self, defs: dict[str, Schema]) -> None:
        self._defs = Defs(defs)
        self._ops: dict[int, tuple[Operation, OperationValidator]] = {}
        self._request_defs: dict[str, Schema] = {}

    def for_operation(self, op: Operation) -> OperationValidator:
        entry = self._ops.get(id(op))
        if entry is not None and entry[0] is op:
            return entry[1]
        prepared = OperationValidator(op, self)
        self._ops[id(op)] = (op, prepared)
        return prepared

    def _body_check(self, key: str, media: MediaType) -> _BodyCheck:
        name = key.split(";", 1)[0].strip().lower()
        if _is_json(name):
            kind = "json"
        elif name == "application/x-www-form-urlencoded":
            kind = "form"
        elif name == "multipart/form-data":
            kind = "multipart"
        else:
            kind = "other"
        schema = media.schema
        lazy = None
        if schema is not None:
            stripped = lenient(strip_read_only(schema, self._defs), self._defs)
            needed = {n: self._request_def(n) for n in self._defs.closure(schema)}
            lazy = LazySchema(stripped, needed)
        shape = shape_of(schema, self._defs) if schema is not None else Shape(("object",), props={})
        return _BodyCheck(name, kind, lazy, shape, media.encoding)

    def _request_def(self, name: str) -> Schema:
        found = self._request_defs.get(name)
        if found is None:
            found = self._request_defs[name] = lenient(
                strip_read_only(self._defs.defs[name], self._defs), self._defs, frozenset({name})
            )
        return found
