"""Request validation against an OpenAPI operation.

Why hand-written: OpenAPI validation libraries pull in a full spec model (tens of MB, see
DESIGN.md) and re-walk the spec per request. Here everything that can be decided from the spec is
decided once per operation (parameter shapes, media-type table, readOnly-stripped body schemas);
jsonschema-rs validators are compiled on first use and kept. A request then costs one pass over
its parameters plus one ``is_valid`` call per value (the error walk only runs for invalid values).

    validator = RequestValidator(model.defs)
    problems = validator.for_operation(op).validate(request, {"petId": "7"})
    # [Problem(location="query.limit", reason="expected integer, got 'abc'")]

Parameter strings are deserialised by ``style``/``explode`` (OpenAPI 3 "Style Values"), then
coerced to the schema's types, then validated, so ``?limit=5`` is the integer 5 for the schema.
Path parameter values are taken as given by the router (already percent-decoded).

Locations are ``<in>.<name>`` plus the JSON pointer of the failing part in dots
(``query.ids.1``, ``header.x-rate``, ``body.items.0.name``); ``header.content-type`` reports an
undocumented media type (the HTTP layer chooses the status code).
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs

import jsonschema_rs
import msgspec

from mockforge.core.datagen import reachable_defs
from mockforge.core.limits import decode_request_json
from mockforge.core.model import Request
from mockforge.core.regex import schema_pattern_options
from mockforge.openapi.model import MediaType, Operation, Parameter, Schema

#: At most this many problems are reported per request (a huge invalid body stays cheap).
MAX_PROBLEMS = 20
#: Reasons longer than this are cut (jsonschema messages may quote whole instances).
MAX_REASON = 200
#: Remembered validation answers per operation for bodyless requests (see ``validate``).
_MEMO_LIMIT = 1024
_DEFS_PREFIX = "#/$defs/"
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUM_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_MAX_SHAPE_DEPTH = 4
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: where (``query.limit``) and why (one line)."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


class _CoerceError(Exception):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def _cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


# --------------------------------------------------------------------------- schema helpers


def _def_name(ref: str) -> str | None:
    if not ref.startswith(_DEFS_PREFIX):
        return None
    return ref[len(_DEFS_PREFIX) :].split("/", 1)[0].replace("~1", "/").replace("~0", "~")


class _Defs:
    """Lookups into the model's shared ``defs``: ``$ref`` resolution, types, closures."""

    def __init__(self, defs: dict[str, Schema]) -> None:
        self.defs = defs

    def resolve(self, schema: Any) -> Any:
        for _ in range(32):
            if not isinstance(schema, dict) or "$ref" not in schema:
                return schema
            name = _def_name(schema["$ref"])
            if name is None or name not in self.defs:
                return schema
            schema = self.defs[name]
        return schema

    def types(self, schema: Any, depth: int = 0) -> tuple[str, ...]:
        """The JSON types a schema admits, in schema order (``()`` when it does not say)."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > 8:
            return ()
        declared = schema.get("type")
        if isinstance(declared, str):
            return (declared,)
        if isinstance(declared, list):
            return tuple(t for t in declared if isinstance(t, str))
        out: list[str] = []
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or ():
                for t in self.types(sub, depth + 1):
                    if t not in out:
                        out.append(t)
        if not out:
            if "properties" in schema or "additionalProperties" in schema:
                out.append("object")
            elif "items" in schema or "prefixItems" in schema:
                out.append("array")
        return tuple(out)

    def properties(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """Declared properties, merged through ``allOf``/``anyOf``/``oneOf`` members."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > 8:
            return {}
        out: dict[str, Any] = {}
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or ():
                out.update(self.properties(sub, depth + 1))
        props = schema.get("properties")
        if isinstance(props, dict):
            out.update(props)
        return out

    def closure(self, schema: Any) -> dict[str, Schema]:
        """Every def reachable from ``schema`` (so a validator compiles only what it needs)."""
        return reachable_defs(self.defs, schema)


def _read_only_names(schema: Any, defs: _Defs) -> frozenset[str]:
    props = defs.properties(schema)
    return frozenset(
        name
        for name, prop in props.items()
        if isinstance(p := defs.resolve(prop), dict) and p.get("readOnly") is True
    )


def _strip_read_only(node: Any, defs: _Defs, inherited: frozenset[str] = frozenset()) -> Any:
    """A copy of ``node`` whose ``required`` lists leave out ``readOnly`` properties.

    ``{"required": ["id", "name"], "properties": {"id": {"readOnly": true}, ...}}`` becomes
    ``{"required": ["name"], ...}``; a ``required`` in one ``allOf`` member sees the properties
    of the others.
    """
    if isinstance(node, list):
        return [_strip_read_only(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    read_only = inherited
    if "properties" in node or "allOf" in node:
        read_only = read_only | _read_only_names(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "allOf" and isinstance(value, list):
            out[key] = [_strip_read_only(v, defs, read_only) for v in value]
        else:
            out[key] = _strip_read_only(value, defs)
    required = node.get("required")
    if isinstance(required, list) and read_only:
        keep = [name for name in required if name not in read_only]
        if keep:
            out["required"] = keep
        else:
            del out["required"]
    return out


# --------------------------------------------------------------------------- compiled schema


class _LazySchema:
    """A schema bundled with the defs it needs; the jsonschema-rs validator is built on first use."""

    __slots__ = ("_validator", "broken", "schema")

    def __init__(self, schema: Schema, defs: dict[str, Schema]) -> None:
        self.schema: Schema = {"$defs": defs, **schema} if defs else dict(schema)
        self._validator: Any = None
        self.broken: str | None = None

    def check(self, value: Any, prefix: str, out: list[Problem]) -> None:
        validator = self._validator
        if validator is None:
            if self.broken is not None:
                return
            try:
                validator = self._validator = jsonschema_rs.Draft202012Validator(
                    self.schema, validate_formats=True, pattern_options=schema_pattern_options()
                )
            except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
                # A schema the validator rejects (bad regex...) is not the request's fault.
                self.broken = _cut(str(exc))
                return
        if validator.is_valid(value):
            return
        for err in validator.iter_errors(value):
            if len(out) >= MAX_PROBLEMS:
                return
            location = prefix + "".join(f".{p}" for p in err.instance_path)
            kind = err.kind
            if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
                location = f"{location}.{kind.property}"
                reason = f"{kind.property!r} is a required property"
            else:
                reason = err.message
            out.append(Problem(location, _cut(reason)))


# --------------------------------------------------------------------------- coercion


@dataclass(slots=True)
class _Shape:
    """What a string-serialised value should become: types, item shape, property shapes."""

    types: tuple[str, ...]
    items: _Shape | None = None
    props: dict[str, _Shape] | None = None
    extra: _Shape | None = None
    binary: bool = False
    #: "array", "object" or "scalar" (decided once from ``types``)
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        types = self.types
        self.kind = "array" if "array" in types else "object" if "object" in types else "scalar"


_ANY = _Shape(())


def _shape(schema: Any, defs: _Defs, depth: int = 0) -> _Shape:
    resolved = defs.resolve(schema)
    if not isinstance(resolved, dict) or depth > _MAX_SHAPE_DEPTH:
        return _ANY
    shape = _Shape(defs.types(resolved), binary=resolved.get("format") in ("binary", "byte"))
    kind = shape.kind
    if kind == "array":
        items = resolved.get("items")
        shape.items = _shape(items, defs, depth + 1) if isinstance(items, dict) else _ANY
    elif kind == "object":
        shape.props = {k: _shape(v, defs, depth + 1) for k, v in defs.properties(resolved).items()}
        extra = resolved.get("additionalProperties")
        shape.extra = _shape(extra, defs, depth + 1) if isinstance(extra, dict) else _ANY
    return shape


def _expected(types: tuple[str, ...], text: str) -> str:
    return f"expected {' or '.join(types)}, got {text!r}"


def _scalar(text: str, types: tuple[str, ...], path: str) -> Any:
    if not types:
        return text
    if "integer" in types and _INT_RE.fullmatch(text):
        return int(text)
    if "number" in types and _NUM_RE.fullmatch(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "string" in types:
        return text
    if "null" in types and text in ("", "null"):
        return None
    raise _CoerceError(path, _expected(types, text))


def _coerce(raw: Any, shape: _Shape, path: str = "") -> Any:
    """Turn strings (and lists/dicts of strings) into the values ``shape`` asks for."""
    kind = shape.kind
    if isinstance(raw, list):
        if kind != "array":
            if len(raw) == 1:
                return _coerce(raw[0], shape, path)
            raise _CoerceError(path, f"expected {' or '.join(shape.types)}, got {len(raw)} values")
        item = shape.items or _ANY
        return [_coerce(v, item, f"{path}.{i}") for i, v in enumerate(raw)]
    if isinstance(raw, dict):
        if kind != "object":
            raise _CoerceError(path, f"expected {' or '.join(shape.types)}, got an object")
        props = shape.props or {}
        return {k: _coerce(v, props.get(k) or shape.extra or _ANY, f"{path}.{k}") for k, v in raw.items()}
    if not isinstance(raw, str):
        return raw
    if kind == "array":
        return [] if raw == "" else [_coerce(raw, shape.items or _ANY, f"{path}.0")]
    if kind == "object":
        if "string" in shape.types:
            return raw
        raise _CoerceError(path, _expected(shape.types, raw))
    return _scalar(raw, shape.types, path)


# --------------------------------------------------------------------------- deserialisation


def _pairs(items: list[str], path: str) -> dict[str, str]:
    """``["x", "1", "y", "2"]`` -> ``{"x": "1", "y": "2"}``."""
    if len(items) % 2:
        raise _CoerceError(path, f"expected key,value pairs, got {','.join(items)!r}")
    return dict(zip(items[::2], items[1::2], strict=True))


def _kv(items: list[str], path: str) -> dict[str, str]:
    """``["x=1", "y=2"]`` -> ``{"x": "1", "y": "2"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise _CoerceError(path, f"expected key=value, got {item!r}")
        out[key] = value
    return out


def _split(text: str, sep: str) -> list[str]:
    return [] if text == "" else text.split(sep)


def _simple(text: str, kind: str, explode: bool, path: str) -> Any:
    """``simple`` style (path and header): ``3,4,5``, ``a,1,b,2`` or ``a=1,b=2``."""
    if kind == "array":
        return [s.strip() for s in _split(text, ",")]
    if kind == "object":
        items = [s.strip() for s in _split(text, ",")]
        return _kv(items, path) if explode else _pairs(items, path)
    return text


def _label(text: str, kind: str, explode: bool, path: str) -> Any:
    """``label`` style: ``.5``, ``.3.4.5`` / ``.3,4,5``, ``.a=1.b=2`` / ``.a,1,b,2``."""
    if not text.startswith("."):
        raise _CoerceError(path, f"expected a label-style value starting with '.', got {text!r}")
    text = text[1:]
    if kind == "array":
        return _split(text, "." if explode else ",")
    if kind == "object":
        return _kv(_split(text, "."), path) if explode else _pairs(_split(text, ","), path)
    return text


def _matrix(text: str, name: str, kind: str, explode: bool, path: str) -> Any:
    """``matrix`` style: ``;id=5``, ``;id=3;id=4`` / ``;id=3,4``, ``;a=1;b=2`` / ``;id=a,1,b,2``."""
    if not text.startswith(";"):
        raise _CoerceError(path, f"expected a matrix-style value starting with ';', got {text!r}")
    items = text[1:].split(";")
    if kind == "object" and explode:
        return _kv(items, path)
    values = []
    for item in items:
        key, _, value = item.partition("=")
        if key != name:
            raise _CoerceError(path, f"expected ';{name}=...', got {text!r}")
        values.append(value)
    if kind == "array":
        return values if explode else _split(values[0], ",")
    if kind == "object":
        return _pairs(_split(values[0], ","), path)
    return values[0]


def _cookies(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for header in request.headers.get_all("cookie"):
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep:
                out.setdefault(key, []).append(value)
    return out


_MISSING: Any = object()


def _from_form(
    values: dict[str, list[str]],
    name: str,
    style: str,
    explode: bool,
    shape: _Shape,
    claimed: frozenset[str],
    path: str,
) -> Any:
    """Read one form-like value (query, cookie, urlencoded field); ``_MISSING`` when absent."""
    kind = shape.kind
    if style == "deepObject":
        prefix = f"{name}["
        obj: dict[str, Any] = {}
        for key, vals in values.items():
            if key.startswith(prefix) and key.endswith("]"):
                node = obj
                keys = key[len(prefix) : -1].split("][")
                for k in keys[:-1]:
                    child = node.setdefault(k, {})
                    if not isinstance(child, dict):
                        raise _CoerceError(path, f"conflicting keys for {key!r}")
                    node = child
                node[keys[-1]] = vals[0] if len(vals) == 1 else vals
        return obj if obj else _MISSING
    if kind == "object" and explode and style == "form":
        if shape.props:
            obj = {k: v[0] for k, v in values.items() if k in shape.props}
        else:
            obj = {k: v[0] for k, v in values.items() if k not in claimed}
        return obj if obj else _MISSING
    found = values.get(name)
    if found is None:
        return _MISSING
    if kind == "array":
        if explode:
            return [] if found == [""] else found
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return _split(found[0], sep)
    if kind == "object":
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return _pairs(_split(found[0], sep), path)
    return found[0]


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

    def __init__(self, param: Parameter, defs: _Defs) -> None:
        self.param = param
        self.name = param.name.lower() if param.location == "header" else param.name
        self.location = f"{param.location}.{self.name}"
        self.required = param.required or param.location == "path"
        self.style = param.style
        self.explode = param.explode
        ct = param.content_type
        self.content_json = ct is not None and _is_json(ct.split(";", 1)[0].strip().lower())
        schema = param.schema
        self.shape = _shape(schema, defs) if schema is not None else _ANY
        self.schema = _LazySchema(schema, defs.closure(schema)) if schema is not None else None


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json") or media == "text/json"


@dataclass(slots=True)
class _BodyCheck:
    media: str
    kind: str  # "json" | "form" | "multipart" | "other"
    schema: _LazySchema | None
    shape: _Shape
    encoding: dict[str, dict[str, Any]]


class OperationValidator:
    """Validates requests for one operation; built once by ``RequestValidator.for_operation``."""

    def __init__(self, op: Operation, owner: RequestValidator) -> None:
        defs = owner._defs
        self.operation = op
        params = [_ParamCheck(p, defs) for p in op.parameters]
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
        return self._ranges.get(major) or self._any

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
            cookies = _cookies(request)
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
                return _label(text, kind, p.explode, path)
            if p.style == "matrix":
                return _matrix(text, p.param.name, kind, p.explode, path)
            return _simple(text, kind, p.explode, path)
        except _CoerceError as exc:
            return exc

    def _read_header(self, p: _ParamCheck, text: str) -> Any:
        if p.param.content_type is not None:
            return _Raw(text)
        try:
            return _simple(text.strip(), p.shape.kind, p.explode, p.location)
        except _CoerceError as exc:
            return exc

    def _read_form(self, p: _ParamCheck, values: dict[str, list[str]], claimed: frozenset[str]) -> Any:
        if p.param.content_type is not None:
            found = values.get(p.name)
            return _MISSING if found is None else _Raw(found[0])
        try:
            return _from_form(values, p.name, p.style, p.explode, p.shape, claimed, p.location)
        except _CoerceError as exc:
            return exc

    def _check(self, p: _ParamCheck, raw: Any, out: list[Problem], what: str = "") -> None:
        if raw is _MISSING:
            if p.required:
                out.append(Problem(p.location, f"required {what} is missing"))
            return
        if isinstance(raw, _CoerceError):
            out.append(Problem(raw.path or p.location, _cut(raw.reason)))
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
                    out.append(Problem(p.location, _cut(f"invalid JSON: {exc}")))
                    return
        else:
            shape = p.shape
            try:
                if type(raw) is str and shape.kind == "scalar":
                    value = _scalar(raw, shape.types, p.location)
                else:
                    value = _coerce(raw, shape, p.location)
            except _CoerceError as exc:
                out.append(Problem(exc.path, _cut(exc.reason)))
                return
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
            out.append(
                Problem(
                    "header.content-type", _cut(f"missing Content-Type; expected one of {self._documented}")
                )
            )
            return
        media = header.split(";", 1)[0].strip().lower()
        check = self._media(media)
        if check is None:
            out.append(
                Problem(
                    "header.content-type",
                    _cut(f"unsupported media type {media!r}; expected one of {self._documented}"),
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
                    value = msgspec.json.decode(body)
                except msgspec.DecodeError as exc:
                    out.append(Problem("body", _cut(f"invalid JSON: {exc}")))
                    return
        elif kind == "form":
            try:
                value = _decode_form(body, check)
            except _CoerceError as exc:
                out.append(Problem(exc.path, _cut(exc.reason)))
                return
        elif kind == "multipart":
            try:
                value = _decode_multipart(body, header, check)
            except _CoerceError as exc:
                out.append(Problem(exc.path, _cut(exc.reason)))
                return
        else:
            return
        if check.schema is not None:
            check.schema.check(value, "body", out)


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
        raw = _from_form(values, name, style, bool(explode), shape, frozenset(), path)
        if raw is _MISSING:
            continue
        claimed.add(name)
        if style == "deepObject":
            claimed.update(k for k in values if k.startswith(f"{name}["))
        out[name] = _coerce(raw, shape, path)
    for name, vals in values.items():
        if name not in claimed and name not in out and not any(name.startswith(f"{p}[") for p in props):
            extra = check.shape.extra or _ANY
            out[name] = _coerce(vals if len(vals) > 1 else vals[0], extra, f"body.{name}")
    return out


def _json_field(text: str, path: str) -> Any:
    try:
        return decode_request_json(text)
    except msgspec.DecodeError as exc:
        raise _CoerceError(path, f"invalid JSON: {exc}") from exc


_BODY_PARSER = email.parser.BytesParser(policy=email.policy.HTTP)


def _decode_multipart(body: bytes, content_type: str, check: _BodyCheck) -> dict[str, Any]:
    """``multipart/form-data`` -> object; file parts become ``str`` (latin-1: one char per byte)."""
    if "boundary=" not in content_type.lower():
        raise _CoerceError("header.content-type", "multipart body without a boundary parameter")
    message = _BODY_PARSER.parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise _CoerceError("body", "malformed multipart body")
    parts: dict[str, list[tuple[Any, bool]]] = {}
    props = check.shape.props or {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        parts.setdefault(name, []).append(_part_value(part, name, props.get(name), check))
    out: dict[str, Any] = {}
    for name, values in parts.items():
        shape = props.get(name) or check.shape.extra or _ANY
        path = f"body.{name}"
        if shape.kind == "array":
            item = shape.items or _ANY
            out[name] = [_coerce(v, item, f"{path}.{i}") if text else v for i, (v, text) in enumerate(values)]
        else:
            value, text = values[0]
            out[name] = _coerce(value, shape, path) if text else value
    return out


def _part_value(part: Message, name: str, shape: _Shape | None, check: _BodyCheck) -> tuple[Any, bool]:
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
        self._defs = _Defs(defs)
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
            stripped = _strip_read_only(schema, self._defs)
            needed = {n: self._request_def(n) for n in self._defs.closure(schema)}
            lazy = _LazySchema(stripped, needed)
        shape = _shape(schema, self._defs) if schema is not None else _Shape(("object",), props={})
        return _BodyCheck(name, kind, lazy, shape, media.encoding)

    def _request_def(self, name: str) -> Schema:
        found = self._request_defs.get(name)
        if found is None:
            found = self._request_defs[name] = _strip_read_only(self._defs.defs[name], self._defs)
        return found
