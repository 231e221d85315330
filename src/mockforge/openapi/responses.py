"""Which documented response an operation answers with, and its bytes.

    planner = ResponsePlanner(model, seed=1)
    choice = planner.for_operation(op).respond(request.headers)
    if isinstance(choice, ResponseProblem): ...   # the HTTP layer answers choice.status with the message

Rules, in order:

* status: ``Prefer: code=404`` (Prism) or ``X-Mockforge-Response-Status: 404`` picks a documented
  status (``404``, else ``4XX``, else ``default``; ``4XX`` and ``default`` may be asked for too);
  otherwise the lowest documented 2xx, then ``2XX``, then ``default`` (as 200). 1xx only on request.
* media type: the best match of ``Accept`` (wildcards, q-values), else JSON, else the first listed.
* body: the media type's ``example``, then its first ``examples`` entry (``X-Mockforge-Scenario`` or
  ``Prefer: example=NAME`` picks one by name), then a value generated from the schema, else empty.
  An example that does not match its schema is served as written only with ``trust_examples``
  (``http.examples.trust``); otherwise it is repaired (``schema/repair.py``) or, when no repair
  validates, replaced by a generated value. Each operation with such examples gets one line in
  ``warnings`` (counts) and its examples one line each in ``details``.
* generated bodies are made once per (operation, status, media type) from the seed and kept as bytes;
  with ``dynamic=True`` (``http.responses.dynamic``) or ``Prefer: dynamic=true`` they are made per
  request from ``seed`` plus a per-operation request counter (``Prefer: dynamic=false`` turns it
  off for one request).

Encoders are hand-written (JSON via orjson, a small XML writer honouring the ``xml`` keyword, tiny valid
binary files): none of them is worth a dependency.
"""

from __future__ import annotations

import gzip
import logging
import random
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

import orjson

from mockforge.core.model import Headers
from mockforge.openapi.model import MISSING, ApiModel, MediaType, Operation, ResponseSpec
from mockforge.schema.defs import ref_name
from mockforge.schema.generate import DataGenerator
from mockforge.schema.repair import repair

log = logging.getLogger("mockforge.openapi")

STATUS_HEADER = "x-mockforge-response-status"
SCENARIO_HEADER = "x-mockforge-scenario"
_SKIP_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})


@dataclass(slots=True, frozen=True)
class ResponseChoice:
    status: int
    content_type: str | None
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class ResponseProblem:
    """The request asked for something the spec does not document; ``choices`` lists what it does."""

    message: str
    choices: list[str] = field(default_factory=list)
    status: int = 400


# --------------------------------------------------------------------------- media types


def _base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    base = _base(content_type)
    return base == "application/json" or base.endswith("+json") or base == "*/*"


def _is_xml(base: str) -> bool:
    return base in ("application/xml", "text/xml") or base.endswith("+xml")


_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/")
_BINARY_TYPES = frozenset({"application/octet-stream", "application/pdf", "application/zip",
                           "application/gzip", "application/x-gzip", "application/x-tar",
                           "application/vnd.ms-excel", "application/msword"})


def _is_binary(base: str) -> bool:
    return (base.startswith(_BINARY_PREFIXES) and base != "image/svg+xml") or base in _BINARY_TYPES


def _concrete(content_type: str, schema: Any) -> str:
    """The Content-Type to send for a documented media range such as ``*/*`` or ``image/*``."""
    base = _base(content_type)
    if base == "*/*" or base == "application/*":
        binary = isinstance(schema, dict) and schema.get("format") in ("binary", "byte")
        return "application/octet-stream" if binary else "application/json"
    if base == "image/*":
        return "image/png"
    if base == "text/*":
        return "text/plain"
    if base.endswith("/*"):
        return "application/octet-stream"
    return content_type


def parse_accept(value: str) -> list[tuple[str, str, float]]:
    """``"text/*;q=0.5, application/json"`` -> ``[("text", "*", 0.5), ("application", "json", 1.0)]``."""
    out: list[tuple[str, str, float]] = []
    for part in value.split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        main, _, sub = fields[0].lower().partition("/")
        q = 1.0
        for param in fields[1:]:
            key, _, val = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        out.append((main, sub or "*", q))
    return out


def _accept_q(ranges: list[tuple[str, str, float]], content_type: str) -> float:
    main, _, sub = _base(content_type).partition("/")
    best, best_rank = -1.0, -1
    for rmain, rsub, q in ranges:
        if rmain == "*" and rsub == "*":
            rank = 0
        elif rmain == main and rsub == "*":
            rank = 1
        elif rmain == main and rsub == sub:
            rank = 2
        elif main == "*" or (main == rmain and sub == "*"):  # the spec documents a range itself
            rank = 0
        else:
            continue
        if rank > best_rank:
            best, best_rank = q, rank
    return best


def choose_media(content: dict[str, MediaType], accept: str | None) -> str | None:
    """The documented media type to answer with for an ``Accept`` header (``None`` if no content)."""
    if not content:
        return None
    names = list(content)
    default = next((n for n in names if is_json(n)), names[0])
    if not accept:
        return default
    ranges = parse_accept(accept)
    scored = [(_accept_q(ranges, n), n) for n in names]
    top = max(q for q, _ in scored)
    if top <= 0:
        return default
    winners = [n for q, n in scored if q == top]
    return default if default in winners else winners[0]


# --------------------------------------------------------------------------- encoders


def _xml_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-." else "_" for c in name) or "item"
    return "_" + cleaned if not (cleaned[0].isalpha() or cleaned[0] == "_") else cleaned


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class XmlWriter:
    """Renders a generated value as XML, following the schema's ``xml`` keyword (``name``,
    ``attribute``, ``wrapped``, ``prefix``/``namespace``) where the schema gives one."""

    def __init__(self, gen: DataGenerator) -> None:
        self._gen = gen

    def render(self, value: Any, schema: Any, default_name: str = "root") -> bytes:
        root = self._flat(schema)
        name = (root.get("xml") or {}).get("name") or default_name
        if isinstance(schema, dict) and "$ref" in schema and not (root.get("xml") or {}).get("name"):
            name = ref_name(schema["$ref"])
        parts: list[str] = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        self._element(value, root, name, parts)
        return "".join(parts).encode("utf-8")

    def _flat(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return {}
        if "allOf" in schema or "$ref" in schema:
            try:
                return self._gen.flatten(schema)
            except (KeyError, TypeError, ValueError):
                return {}
        return schema

    def _element(self, value: Any, schema: dict[str, Any], name: str, parts: list[str]) -> None:
        xml = schema.get("xml") or {}
        tag = _xml_name(str(xml.get("name") or name))
        if xml.get("prefix"):
            tag = f"{xml['prefix']}:{tag}"
        ns = f" xmlns{':' + xml['prefix'] if xml.get('prefix') else ''}={quoteattr(xml['namespace'])}" \
            if xml.get("namespace") else ""
        if isinstance(value, list):
            item_schema = self._flat(schema.get("items"))
            item_name = (item_schema.get("xml") or {}).get("name") or name
            if xml.get("wrapped"):
                parts.append(f"<{tag}{ns}>")
                for item in value:
                    self._element(item, item_schema, item_name, parts)
                parts.append(f"</{tag}>")
            else:
                for item in value:
                    self._element(item, item_schema, item_name if item_schema.get("xml") else name, parts)
            return
        if isinstance(value, dict):
            props = schema.get("properties") or {}
            attrs: list[str] = []
            children: list[str] = []
            for key, item in value.items():
                sub = self._flat(props.get(key))
                sub_xml = sub.get("xml") or {}
                if sub_xml.get("attribute") and not isinstance(item, dict | list):
                    attr = _xml_name(str(sub_xml.get("name") or key))
                    attrs.append(f" {attr}={quoteattr(_scalar_text(item))}")
                else:
                    self._element(item, sub, key, children)
            parts.append(f"<{tag}{ns}{''.join(attrs)}>{''.join(children)}</{tag}>")
            return
        parts.append(f"<{tag}{ns}>{escape(_scalar_text(value))}</{tag}>")


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\x4f\x8a\xc4")  # filter byte + one blue-ish pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _pdf() -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 72 72] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
_SAMPLES: dict[str, Callable[[], bytes]] = {
    "image/png": _png,
    "image/gif": lambda: _GIF,
    "image/jpeg": lambda: _JPEG,
    "image/jpg": lambda: _JPEG,
    "application/pdf": _pdf,
    "application/zip": lambda: b"PK\x05\x06" + bytes(18),
    "application/gzip": lambda: gzip.compress(b"", mtime=0),
    "application/x-gzip": lambda: gzip.compress(b"", mtime=0),
}


def binary_sample(content_type: str, rng: random.Random) -> bytes:
    """A few bytes of the right kind: a valid 1x1 PNG for image/png, a one-page PDF, an empty zip..."""
    make = _SAMPLES.get(_base(content_type))
    return make() if make is not None else rng.randbytes(16)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _csv(value: Any) -> str | None:
    if not (isinstance(value, list) and value and all(isinstance(v, dict) for v in value)):
        return None
    cols = list(dict.fromkeys(k for row in value for k in row))

    def cell(v: Any) -> str:
        text = _scalar_text(v) if not isinstance(v, dict | list) else _text(v)
        return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text

    lines = [",".join(cell(c) for c in cols)]
    lines += [",".join(cell(row.get(c, "")) for c in cols) for row in value]
    return "\r\n".join(lines) + "\r\n"


# --------------------------------------------------------------------------- per operation


#: Prefer header values, tokens per value and characters per token read at most (the rest is
#: ignored: the header is client input).
_PREFER_VALUES = 8
_PREFER_TOKENS = 16
_PREFER_TOKEN_CHARS = 256


def parse_prefer(values: list[str]) -> dict[str, str]:
    """``["code=404, dynamic=true"]`` -> ``{"code": "404", "dynamic": "true"}`` (bounded)."""
    out: dict[str, str] = {}
    for value in values[:_PREFER_VALUES]:
        for token in value.replace(";", ",").split(",", _PREFER_TOKENS)[:_PREFER_TOKENS]:
            if len(token) > _PREFER_TOKEN_CHARS:
                continue
            key, sep, val = token.strip().partition("=")
            if sep:
                out[key.strip().lower()] = val.strip().strip('"')
    return out


def _abbrev(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else orjson.dumps(
        value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pointer_token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def _status_code(key: str) -> int:
    if key.isdigit():
        return int(key)
    if len(key) == 3 and key[0].isdigit() and key[1:].upper() == "XX":
        return int(key[0]) * 100
    return 200


def default_status(op: Operation) -> str | None:
    """The status key answered without ``Prefer``: the lowest explicit 2xx, then ``2XX``, then
    ``default``, then the lowest other status >= 200, then a range."""
    keys = [str(k) for k in op.responses]
    explicit = sorted((k for k in keys if k.isdigit() and 200 <= int(k) < 300), key=int)
    if explicit:
        return explicit[0]
    for wanted in ("2XX", "default"):
        hit = next((k for k in keys if k.upper() == wanted.upper()), None)
        if hit is not None:
            return hit
    others = sorted((k for k in keys if k.isdigit() and int(k) >= 200), key=int)
    if others:
        return others[0]
    ranges = sorted(k for k in keys if _status_code(k) >= 200 and not k.isdigit())
    return ranges[0] if ranges else None


class OperationResponder:
    """Answers one operation; built by ``ResponsePlanner.for_operation`` and reused for every request."""

    def __init__(self, planner: ResponsePlanner, op: Operation, checker: DataGenerator | None = None) -> None:
        self._planner = planner
        self._op = op
        self._gen = planner.generator
        #: what checks and repairs the examples (the planner's start-up checker, dropped after it)
        self._checker = checker or planner.generator
        self._responses: dict[str, ResponseSpec] = {str(k): v for k, v in op.responses.items()}
        self._static: dict[tuple[str, str | None, int], ResponseChoice] = {}
        self._headers: dict[str, list[tuple[str, str]]] = {}
        self._named: dict[tuple[str, str, str], bytes] = {}
        #: (status key, media, example name) -> the value served for it (repaired or replaced
        #: when the example does not match its schema); names missing here are served as written
        self._named_values: dict[tuple[str, str, str], Any] = {}
        #: Dynamic bodies served so far (the per-request part of their seed).
        self._served = 0
        self._media_cache: dict[tuple[str, str | None], Any] = {}
        #: Accept value -> the default static answer (bounded; see ``respond``)
        self._fast: dict[str | None, ResponseChoice] = {}
        #: (status key, media) -> the default example value, or MISSING to generate
        self._default_example: dict[tuple[str, str], Any] = {}
        self.default_status = self._pick_default()
        #: Examples of this operation that did not match their schema: repaired, replaced, trusted.
        self.repaired = self.replaced = self.trusted = 0
        for status, spec in self._responses.items():
            for media_name, media in spec.content.items():
                self._default_example[(status, media_name)] = self._check_examples(status, media_name, media)
        self._checker = self._gen  # the start-up checker is not kept alive by this responder
        bad = self.repaired + self.replaced + self.trusted
        if bad:
            if planner.trust_examples:
                what = "served as written (http.examples.trust)"
            else:
                what = f"{self.repaired} repaired, {self.replaced} replaced by generated bodies"
            planner._summary(f"{op.file or '<spec>'}: {op.key}: {bad} example(s) do not match their schema: "
                             f"{what}", self)

    # ---- preparation

    def _pick_default(self) -> str | None:
        return default_status(self._op)


    def _check_examples(self, status: str, media_name: str, media: MediaType) -> Any:
        """The default example of one media type (``MISSING``: generate); examples that do not
        match their schema are repaired or replaced here, once (or trusted, and kept)."""
        where = f"{self._op.pointer}/responses/{_pointer_token(status)}/content/{_pointer_token(media_name)}"
        schema = media.schema
        chosen: Any = MISSING
        #: the first repaired example: the default when no example is valid as written
        second: Any = MISSING
        candidates: list[tuple[str, str | None, Any]] = []
        if media.example is not MISSING:
            candidates.append((f"{where}/example", None, media.example))
        candidates += [(f"{where}/examples/{_pointer_token(n)}/value", n, v) for n, v in media.examples.items()]
        planner = self._planner
        for pointer, name, value in candidates:
            if schema is None or not self._checkable(media_name, value):
                error = None
            else:
                error = self._checker.first_error(schema, value)
            if error is None:
                if chosen is MISSING:
                    chosen = value
                continue
            place = (f"{self._op.file or '<spec>'}: {pointer}", error)
            if planner.trust_examples:
                self.trusted += 1
                planner._detail(place, value, "served as written (http.examples.trust)")
                if chosen is MISSING:
                    chosen = value
                continue
            rng = random.Random(f"{planner.seed or 0}|{self._op.key}|{status}|{media_name}|{name}")
            fixed = repair(self._checker, schema, value, rng)
            if fixed is not None:
                self.repaired += 1
                planner._detail(place, value, f"repaired to {_abbrev(fixed, 10_000)}")
                if second is MISSING:
                    second = fixed
            else:
                self.replaced += 1
                fixed = self._checker.compile(schema)(rng)
                planner._detail(place, value, "replaced by a generated body")
            if name is not None:
                self._named_values[(status, media_name, name)] = fixed
        return chosen if chosen is not MISSING else second

    @staticmethod
    def _checkable(media_name: str, value: Any) -> bool:
        """Examples of non-JSON media written as text are raw bodies, not schema instances."""
        return is_json(media_name) or not isinstance(value, str)

    def has_example(self, status: str) -> bool | None:
        """Whether the default answer for ``status`` is a documented example (False: generated
        from the schema; None: no body is documented)."""
        spec = self._responses.get(status)
        if spec is None or not spec.content:
            return None
        media_name = choose_media(spec.content, None)
        if media_name is None:
            return None
        if self._default_example.get((status, media_name), MISSING) is not MISSING:
            return True
        return False if spec.content[media_name].schema is not None else None

    # ---- answering

    def respond(self, headers: Headers, *, peek: bool = False) -> ResponseChoice | ResponseProblem:
        """The answer for a request's headers; ``peek`` (the admin preview) leaves the dynamic
        request counter where it was, so a preview changes nothing a later request sees."""
        # The common case first: no Prefer or mockforge header, a static answer already built
        # for this Accept value.
        if not self._planner.dynamic and "prefer" not in headers and STATUS_HEADER not in headers \
                and SCENARIO_HEADER not in headers:
            fast = self._fast.get(headers.get("accept"))
            if fast is not None:
                return fast
        prefer = parse_prefer(headers.get_all("prefer")) if "prefer" in headers else {}
        wanted = headers.get(STATUS_HEADER) or prefer.get("code")
        if wanted:
            found = self._find_status(wanted.strip())
            if isinstance(found, ResponseProblem):
                return found
            status_key, code = found
        else:
            if self.default_status is None:
                return ResponseChoice(200, None, b"", [])
            status_key = self.default_status
            code = 200 if not status_key.isdigit() else int(status_key)
        spec = self._responses[status_key]
        accept = headers.get("accept")
        media_key = (status_key, accept)
        media_name = self._media_cache.get(media_key, MISSING)
        if media_name is MISSING:
            media_name = choose_media(spec.content, accept)
            if len(self._media_cache) < 256:  # bounded: Accept values are client-controlled
                self._media_cache[media_key] = media_name
        scenario = headers.get(SCENARIO_HEADER) or prefer.get("example")
        asked = prefer.get("dynamic", "").lower()
        dynamic = asked == "true" or (self._planner.dynamic and asked != "false")
        if scenario and media_name is not None:
            media = spec.content[media_name]
            if media.examples:
                if scenario not in media.examples:
                    return ResponseProblem(
                        f"no example named {scenario!r} for {self._op.key} {status_key} {media_name}; "
                        f"documented: {', '.join(media.examples)}",
                        list(media.examples),
                    )
                return self._named_choice(code, status_key, media_name, media, scenario)
        if not dynamic:
            cache_key = (status_key, media_name, code)
            hit = self._static.get(cache_key)
            if hit is None:
                rng = self._static_rng(status_key, media_name)
                hit = self._build(code, status_key, spec, media_name, rng)
                self._static[cache_key] = hit
            if not wanted and not scenario and not prefer and len(self._fast) < 256:
                self._fast[headers.get("accept")] = hit
            return hit
        # a fresh body per request: the seed plus this operation's request counter (repeatable
        # for a seed and a request order); without a seed, the planner's unseeded generator
        seed = self._planner.seed
        n = self._served
        if not peek:
            self._served += 1
        rng = random.Random(f"{seed}|{self._op.key}|{status_key}|{media_name}|{n}") if seed is not None \
            else self._planner.rng
        return self._build(code, status_key, spec, media_name, rng)

    def _static_rng(self, status_key: str, media_name: str | None) -> random.Random:
        return random.Random(f"{self._planner.seed or 0}|{self._op.key}|{status_key}|{media_name}")

    def _find_status(self, wanted: str) -> tuple[str, int] | ResponseProblem:
        keys = {k.upper(): k for k in self._responses}
        up = wanted.upper()
        if up.isdigit():
            code = int(up)
            for key in (up, f"{up[0]}XX", "DEFAULT"):
                if key in keys:
                    return keys[key], code
        elif len(up) == 3 and up[0].isdigit() and up[1:] == "XX":
            explicit = sorted((k for k in keys if k.isdigit() and k[0] == up[0]), key=int)
            if explicit:
                return keys[explicit[0]], int(explicit[0])
            if up in keys:
                return keys[up], int(up[0]) * 100
        elif up == "DEFAULT" and "DEFAULT" in keys:
            return keys["DEFAULT"], 500 if len(keys) > 1 else 200
        documented = list(self._responses)
        listed = ", ".join(documented) or "none"
        return ResponseProblem(
            f"status {wanted} is not documented for {self._op.key}; documented: {listed}",
            documented,
        )

    def _named_choice(self, code: int, status_key: str, media_name: str, media: MediaType,
                      name: str) -> ResponseChoice:
        key = (status_key, media_name, name)
        body = self._named.get(key)
        content_type = _concrete(media_name, media.schema)
        if body is None:
            value = self._named_values.get(key, media.examples[name])
            body = self._encode(value, media.schema, content_type, random.Random(0))
            self._named[key] = body
        return ResponseChoice(code, content_type, body, self._response_headers(status_key))

    def _build(self, code: int, status_key: str, spec: ResponseSpec, media_name: str | None,
               rng: random.Random) -> ResponseChoice:
        headers = self._response_headers(status_key)
        if media_name is None:
            return ResponseChoice(code, None, b"", headers)
        media = spec.content[media_name]
        content_type = _concrete(media_name, media.schema)
        value = self._default_example.get((status_key, media_name), MISSING)
        if value is MISSING:
            if media.schema is None:
                return ResponseChoice(code, content_type, b"", headers)
            base = _base(content_type)
            if _is_binary(base) and _binary_schema(self._gen.resolve(media.schema)):
                return ResponseChoice(code, content_type, binary_sample(base, rng), headers)
            value = self._gen.compile(media.schema)(rng)
        body = self._encode(value, media.schema, content_type, rng)
        return ResponseChoice(code, content_type, body, headers)

    def _encode(self, value: Any, schema: Any, content_type: str, rng: random.Random) -> bytes:
        base = _base(content_type)
        if is_json(base):
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        if _is_xml(base):
            return self._planner.xml.render(value, schema)
        if base == "text/csv":
            table = _csv(value)
            if table is not None:
                return table.encode("utf-8")
        if base == "application/x-www-form-urlencoded" and isinstance(value, dict):
            return urlencode({k: _scalar_text(v) if not isinstance(v, dict | list) else _text(v)
                              for k, v in value.items()}).encode("ascii")
        if _is_binary(base):
            return binary_sample(base, rng)
        return _text(value).encode("utf-8")

    def _response_headers(self, status_key: str) -> list[tuple[str, str]]:
        hit = self._headers.get(status_key)
        if hit is not None:
            return hit
        out: list[tuple[str, str]] = []
        rng = self._static_rng(status_key, "headers")
        for name, spec in self._responses[status_key].headers.items():
            if name.lower() in _SKIP_HEADERS:
                continue
            if spec.example is not MISSING:
                value = spec.example
            elif spec.schema is not None:
                value = self._gen.compile(spec.schema)(rng)
            else:
                continue
            out.append((name, _header_text(value)))
        self._headers[status_key] = out
        return out


def _release_freed_memory() -> None:
    """Free the start-up checker (its compiled generators refer back to it, so it needs the cycle
    collector) and hand the freed heap back to the OS: glibc keeps freed pages, and the check's
    validators are about 13 MB for a 1 MB spec (measured on DigitalOcean's: +13.8 MB RSS kept,
    +0.6 MB after ``malloc_trim``). Elsewhere (musl, macOS) this does nothing."""
    import gc

    gc.collect()
    if sys.platform != "linux":
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return


def _binary_schema(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return True
    return schema.get("type") in (None, "string") and schema.get("format") in (None, "binary", "byte")


def _header_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_scalar_text(v) for v in value)
    if isinstance(value, dict):
        return ",".join(f"{k},{_scalar_text(v)}" for k, v in value.items())
    return _scalar_text(value)


class ResponsePlanner:
    """One per loaded model: hands out an ``OperationResponder`` per operation, built on first use
    (a large spec starts without preparing thousands of operations)."""

    def __init__(self, model: ApiModel, *, seed: int | None = None, dynamic: bool = False,
                 trust_examples: bool = False, max_depth: int = 5, check_examples: bool = True) -> None:
        self.model = model
        self.seed = seed
        self.dynamic = dynamic
        self.trust_examples = trust_examples
        self.generator = DataGenerator(model.defs, seed=seed, max_depth=max_depth)
        self.xml = XmlWriter(self.generator)
        self.rng = random.Random(seed)
        #: One line per operation whose examples do not all match their schema (counts).
        self.warnings: list[str] = []
        #: One entry per such example: ((file: JSON pointer, first error), the example, what was
        #: done); ``detail_lines`` renders them.
        self.details: list[tuple[tuple[str, str], Any, str]] = []
        self.examples_repaired = self.examples_replaced = self.examples_trusted = 0
        self._responders: dict[int, tuple[Operation, OperationResponder]] = {}
        # Examples are checked (and repaired) at start, so the start-up log says which operations
        # have broken ones; operations without examples are still prepared on first use. The
        # validators the check builds belong to a generator of its own, dropped afterwards: idle
        # memory stays what it was with lazy checks (13 MB less for a large spec).
        # ``check_examples=False``: a second planner of the same model (the state step's error
        # answers) that must not check, repair and log every example again.
        checker: DataGenerator | None = None
        for op in model.operations if check_examples else ():
            if any(media.example is not MISSING or media.examples
                   for spec in op.responses.values() for media in spec.content.values()):
                checker = checker or DataGenerator(model.defs, seed=seed, max_depth=max_depth)
                self._responders[id(op)] = (op, OperationResponder(self, op, checker))
        if checker is not None:
            del checker
            _release_freed_memory()

    def for_operation(self, op: Operation) -> OperationResponder:
        hit = self._responders.get(id(op))
        if hit is not None and hit[0] is op:
            return hit[1]
        responder = OperationResponder(self, op)
        self._responders[id(op)] = (op, responder)
        return responder

    def prepared(self, op: Operation) -> OperationResponder | None:
        """The responder of ``op`` if a request already built it (None: not prepared yet)."""
        hit = self._responders.get(id(op))
        return hit[1] if hit is not None and hit[0] is op else None

    def _summary(self, line: str, responder: OperationResponder) -> None:
        self.examples_repaired += responder.repaired
        self.examples_replaced += responder.replaced
        self.examples_trusted += responder.trusted
        self.warnings.append(line)
        log.warning("%s (each example: mockforge validate --verbose)", line)

    def _detail(self, place: tuple[str, str], value: Any, action: str) -> None:
        self.details.append((place, value, action))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", _detail_line(place, value, action, 200))

    def detail_lines(self, limit: int | None = 200) -> list[str]:
        """``details`` as text, the example, error and repair each cut to ``limit`` characters
        (``None``: whole)."""
        return [_detail_line(place, value, action, limit) for place, value, action in self.details]


def _detail_line(place: tuple[str, str], value: Any, action: str, limit: int | None) -> str:
    cap = limit if limit is not None else 1 << 62
    where, error = place
    return (f"{where}: example {_abbrev(value, cap)} does not match its schema ({_abbrev(error, cap)}); "
            f"{_abbrev(action, cap)}")
