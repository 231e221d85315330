"""``{{...}}`` response templating, compiled once and rendered per request.

Why hand-written: template engines (Jinja2, Handlebars ports) are larger than what a mock needs
and Faker costs 16 to 53 MB (DESIGN.md); the token set here is small and fixed, so a template is
parsed once into literal strings and resolver functions, and a render is one join.

    tpl = compile_template("Hello {{request.query.name}}, id {{uuid}}")
    tpl.render(TemplateContext(request, path_params={}))
    body = compile_value({"id": "{{request.path.id}}", "count": "{{request.body.count}}"})
    body.render(ctx)   # {"id": "7", "count": 3}: a string that is one token keeps the native type

Tokens: ``uuid``, ``now`` (RFC 3339 UTC) and ``now+1d``/``now-2h``/``now+30m``/``now+10s``,
``randInt A B``, ``randFloat A B``, ``request.method|path|path.NAME|query.NAME|headers.NAME|body|
body.a.0.b``, ``faker.NAME`` (see ``FAKERS``), names in ``TemplateContext.extra`` (``message.a.b``),
and functions added with ``register_function`` (``plugin.ID.NAME arg "two words"``). A token that
is none of these is kept exactly as written, braces included. Known tokens whose data is absent
(a missing query parameter) render as the empty string.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson

from mockforge.core.limits import decode_request_json
from mockforge.core.model import Request

_TOKEN_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)
_NOW_RE = re.compile(r"now(?:([+-])(\d+)([smhdw]))?")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RNG = random.Random()


class _Unresolved:
    __slots__ = ()


#: Returned by a resolver to keep the token text as written.
_UNRESOLVED: Any = _Unresolved()

Resolver = Callable[["TemplateContext"], Any]
#: A registered function gets the token's arguments (shell-style split) and returns any value.
TemplateFunction = Callable[[list[str]], Any]

_FUNCTIONS: dict[str, TemplateFunction] = {}


def register_function(name: str, fn: TemplateFunction) -> None:
    """Make ``{{NAME arg ...}}`` call ``fn([arg, ...])``; looked up at render time, so templates
    compiled before the plugin loaded see it. Built-in token names cannot be overridden."""
    _FUNCTIONS[name] = fn


def unregister_function(name: str) -> None:
    _FUNCTIONS.pop(name, None)


@dataclass(slots=True)
class TemplateContext:
    """What tokens read. ``extra`` holds protocol values such as the WebSocket ``message``;
    ``rng`` makes random tokens repeatable; ``clock`` fixes ``now`` (both read-only per render)."""

    request: Request | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    rng: random.Random | None = None
    clock: Callable[[], datetime] | None = None


def has_tokens(text: str) -> bool:
    """True when ``text`` holds at least one ``{{...}}``."""
    return "{{" in text and _TOKEN_RE.search(text) is not None


# --------------------------------------------------------------------------- values -> text


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def _native(value: Any) -> Any:
    """The value itself when it has a JSON type other than string, else its text."""
    if isinstance(value, bool | int | float | dict | list):
        return value
    return _text(value)


def _walk(value: Any, keys: list[str]) -> Any:
    """Follow ``["a", "0", "b"]`` through dicts and lists; JSON text is decoded on the way."""
    for key in keys:
        if isinstance(value, str | bytes):
            try:
                value = decode_request_json(value)  # JsonTooDeep past http.max_json_depth: a 400
            except msgspec.DecodeError:
                return None
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value


# --------------------------------------------------------------------------- resolvers


def _rng(ctx: TemplateContext) -> random.Random:
    return ctx.rng or _RNG


def _uuid_text(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (``uuid.UUID`` is 2x slower here)."""
    bits = (bits & ~(0xF << 76) & ~(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _uuid(ctx: TemplateContext) -> str:
    if ctx.rng is None:
        return _uuid_text(int.from_bytes(os.urandom(16)))
    return _uuid_text(ctx.rng.getrandbits(128))


def _now(offset: timedelta) -> Resolver:
    seconds = int(offset.total_seconds())
    # formatting costs more than the rest of a render: reuse the text within the same second
    cache: list[Any] = [None, ""]

    def now(ctx: TemplateContext) -> str:
        if ctx.clock is not None:
            moment = ctx.clock().astimezone(UTC) + offset
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        stamp = int(time.time()) + seconds
        if cache[0] != stamp:
            cache[1] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
            cache[0] = stamp
        return str(cache[1])

    return now


def _request_resolver(keys: list[str]) -> Resolver | None:
    """``request.<keys>``; ``None`` for a field we do not know (the token then stays)."""
    if not keys:
        return None
    part, rest = keys[0], keys[1:]
    if part == "method" and not rest:
        return lambda ctx: ctx.request.method if ctx.request else None
    if part == "path":
        if not rest:
            return lambda ctx: ctx.request.path if ctx.request else None
        if len(rest) != 1:
            return None
        name = rest[0]

        def path_param(ctx: TemplateContext) -> Any:
            found = ctx.path_params.get(name)
            if found is None and ctx.request is not None:
                found = ctx.request.path_params.get(name)
            return found

        return path_param
    if part == "query" and len(rest) == 1:
        qname = rest[0]

        def query(ctx: TemplateContext) -> Any:
            values = ctx.request.query.get(qname) if ctx.request else None
            return values[0] if values else None

        return query
    if part in ("headers", "header") and len(rest) == 1:
        hname = rest[0].lower()
        return lambda ctx: ctx.request.headers.get(hname) if ctx.request else None
    if part == "body":
        if not rest:
            return lambda ctx: ctx.request.text() if ctx.request else None
        return lambda ctx: _walk(ctx.request.json(), rest) if ctx.request else None
    return None


class _Dynamic:
    """Registered functions and ``extra`` names, both looked up when rendering; ``head`` lets a
    template tell whether it may call a function (see ``Template.calls_functions``)."""

    __slots__ = ("args", "head", "rest", "root")

    def __init__(self, head: str, args: list[str]) -> None:
        keys = head.split(".")
        self.head = head
        self.args = args
        self.root, self.rest = keys[0], keys[1:]

    def __call__(self, ctx: TemplateContext) -> Any:
        fn = _FUNCTIONS.get(self.head)
        if fn is not None:
            return fn(list(self.args))
        if not self.args and self.root in ctx.extra:
            value = ctx.extra[self.root]
            return _walk(value, self.rest) if self.rest else value
        return _UNRESOLVED


def _dynamic(head: str, args: list[str]) -> Resolver:
    return _Dynamic(head, args)


def calls_functions(heads: frozenset[str]) -> bool:
    """True when one of ``heads`` (token names) is a registered function right now."""
    return bool(heads) and not _FUNCTIONS.keys().isdisjoint(heads)


def _compile_token(inner: str) -> Resolver | None:
    """The resolver of one token's inner text, or ``None`` when it is not a token we know."""
    if inner.startswith("now"):
        m = _NOW_RE.fullmatch("".join(inner.split()))
        if m is None:
            return None
        sign, amount, unit = m.groups()
        offset = timedelta()
        if sign:
            offset = timedelta(**{_UNITS[unit]: int(amount)}) * (-1 if sign == "-" else 1)
        return _now(offset)
    try:
        words = shlex.split(inner) if ('"' in inner or "'" in inner) else inner.split()
    except ValueError:
        return None
    if not words:
        return None
    head, args = words[0], words[1:]
    if head == "uuid" and not args:
        return _uuid
    if head in ("randInt", "randFloat"):
        return _random(head, args)
    if head == "request" or head.startswith("request."):
        return None if args else _request_resolver(head.split(".")[1:])
    if head.startswith("faker."):
        fake = FAKERS.get(head[6:])
        if fake is None or args:
            return None
        return lambda ctx: fake(_rng(ctx))
    if not all(k for k in head.split(".")):
        return None
    return _dynamic(head, args)


def _random(head: str, args: list[str]) -> Resolver | None:
    if len(args) != 2:
        return None
    try:
        if head == "randInt":
            lo_i, hi_i = sorted((int(args[0]), int(args[1])))
            return lambda ctx: _rng(ctx).randint(lo_i, hi_i)
        lo_f, hi_f = sorted((float(args[0]), float(args[1])))
        return lambda ctx: _rng(ctx).uniform(lo_f, hi_f)
    except ValueError:
        return None


# --------------------------------------------------------------------------- templates


class _Token:
    __slots__ = ("fn", "raw")

    def __init__(self, raw: str, fn: Resolver) -> None:
        self.raw = raw
        self.fn = fn


def _parse(text: str) -> list[str | _Token]:
    """``"id {{uuid}}!"`` -> ``["id ", _Token("{{uuid}}"), "!"]``; unknown tokens become text."""
    parts: list[str | _Token] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        fn = _compile_token(m.group(1))
        if fn is None:
            continue
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(_Token(m.group(0), fn))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    merged: list[str | _Token] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


class Template:
    """A compiled text template; ``render`` never parses.

    tpl = compile_template("{{request.method}} at {{now}}")
    tpl.render(TemplateContext(request)) == "GET at 2024-05-01T12:00:00Z"
    """

    __slots__ = ("_parts", "_single", "function_heads", "text")

    def __init__(self, text: str, parts: list[str | _Token]) -> None:
        self.text = text
        self._parts = tuple(parts)
        self._single = parts[0] if len(parts) == 1 and isinstance(parts[0], _Token) else None
        #: Names of the tokens that may be registered functions (decided when rendering).
        self.function_heads = frozenset(
            p.fn.head for p in parts if isinstance(p, _Token) and isinstance(p.fn, _Dynamic)
        )

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self._parts)

    def calls_functions(self) -> bool:
        """True when rendering would call a registered (plugin) function, so a caller on the
        event loop should render it on a thread instead."""
        return calls_functions(self.function_heads)

    def render(self, ctx: TemplateContext) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part.fn(ctx)
                out.append(part.raw if value is _UNRESOLVED else _text(value))
        return "".join(out)

    def render_value(self, ctx: TemplateContext) -> Any:
        """Like ``render``, but a template that is exactly one token gives a native number,
        boolean, object or array when the token's value is one."""
        single = self._single
        if single is None:
            return self.render(ctx)
        value = single.fn(ctx)
        return single.raw if value is _UNRESOLVED else _native(value)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


def compile_template(text: str) -> Template:
    return Template(text, _parse(text))


Node = Callable[[TemplateContext], Any]


def _compile_node(value: Any, heads: set[str]) -> Node | None:
    """A render function for ``value``, or ``None`` when nothing in it is templated; the names
    of its possible function tokens are added to ``heads``."""
    if isinstance(value, str):
        if not has_tokens(value):
            return None
        tpl = compile_template(value)
        heads |= tpl.function_heads
        return None if tpl.is_static else tpl.render_value
    if isinstance(value, dict):
        entries = []
        for key, item in value.items():
            key_tpl = compile_template(key) if isinstance(key, str) and has_tokens(key) else None
            if key_tpl is not None:
                heads |= key_tpl.function_heads
            entries.append((key, key_tpl, item, _compile_node(item, heads)))
        if all(k is None and n is None for _, k, _, n in entries):
            return None

        def render_dict(ctx: TemplateContext) -> dict[Any, Any]:
            return {
                (kt.render(ctx) if kt is not None else k): (n(ctx) if n is not None else v)
                for k, kt, v, n in entries
            }

        return render_dict
    if isinstance(value, list | tuple):
        items = [(item, _compile_node(item, heads)) for item in value]
        if all(n is None for _, n in items):
            return None
        return lambda ctx: [n(ctx) if n is not None else v for v, n in items]
    return None


class CompiledValue:
    """A JSON-like value with its templated string leaves compiled.

    A value without tokens renders to the very object given (no copy), so do not mutate it.
    """

    __slots__ = ("_node", "function_heads", "value")

    def __init__(self, value: Any, node: Node | None, function_heads: frozenset[str] = frozenset()) -> None:
        self.value = value
        self._node = node
        self.function_heads = function_heads

    @property
    def is_static(self) -> bool:
        return self._node is None

    def calls_functions(self) -> bool:
        """Like ``Template.calls_functions``, for any string in the value."""
        return calls_functions(self.function_heads)

    def render(self, ctx: TemplateContext) -> Any:
        node = self._node
        return self.value if node is None else node(ctx)


def compile_value(value: Any) -> CompiledValue:
    heads: set[str] = set()
    node = _compile_node(value, heads)
    return CompiledValue(value, node, frozenset(heads))


# --------------------------------------------------------------------------- fake data

_FIRST = (
    "Ada",
    "Alan",
    "Amara",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farah",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoe",
)
_LAST = (
    "Alvarez",
    "Bauer",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Silva",
    "Tanaka",
    "Urban",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhang",
)
_COMPANY_SUFFIX = ("Labs", "Systems", "Group", "Industries", "Partners", "Works", "Logistics", "Foods")
_STREETS = ("Maple", "Oak", "Station", "River", "Hill", "Church", "Mill", "Park", "Lake", "Garden")
_STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Way")
_CITIES = (
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Osaka",
    "Toronto",
    "Lyon",
    "Krakow",
    "Austin",
    "Porto",
    "Auckland",
    "Bergen",
    "Cusco",
    "Leeds",
    "Valencia",
    "Seoul",
)
_COUNTRIES = (
    "Portugal",
    "Norway",
    "Kenya",
    "Japan",
    "Canada",
    "France",
    "Poland",
    "United States",
    "New Zealand",
    "Peru",
    "United Kingdom",
    "Spain",
    "South Korea",
    "Brazil",
    "India",
)
_WORDS = (
    "alpha",
    "amber",
    "anchor",
    "bright",
    "canyon",
    "cedar",
    "copper",
    "delta",
    "ember",
    "falcon",
    "harbor",
    "island",
    "jade",
    "lantern",
    "meadow",
    "nimbus",
    "orbit",
    "pepper",
    "quartz",
    "river",
    "signal",
    "timber",
    "velvet",
    "willow",
    "zenith",
    "silver",
    "stone",
    "cloud",
    "garden",
    "echo",
)
_DOMAINS = ("example.com", "example.org", "example.net")


def _first(r: random.Random) -> str:
    return r.choice(_FIRST)


def _last(r: random.Random) -> str:
    return r.choice(_LAST)


def _email(r: random.Random) -> str:
    return f"{_first(r)}.{_last(r)}{r.randint(1, 99)}@{r.choice(_DOMAINS)}".lower()


def _sentence(r: random.Random) -> str:
    words = [r.choice(_WORDS) for _ in range(r.randint(5, 10))]
    return " ".join(words).capitalize() + "."


def _address(r: random.Random) -> str:
    return f"{r.randint(1, 999)} {r.choice(_STREETS)} {r.choice(_STREET_KINDS)}, {r.choice(_CITIES)}"


#: ``{{faker.NAME}}`` generators; each takes the render's ``random.Random``.
FAKERS: dict[str, Callable[[random.Random], str]] = {
    "name": lambda r: f"{_first(r)} {_last(r)}",
    "first_name": _first,
    "last_name": _last,
    "email": _email,
    "phone": lambda r: f"+1-555-{r.randint(100, 999)}-{r.randint(1000, 9999)}",
    "company": lambda r: f"{_last(r)} {r.choice(_COMPANY_SUFFIX)}",
    "address": _address,
    "city": lambda r: r.choice(_CITIES),
    "country": lambda r: r.choice(_COUNTRIES),
    "url": lambda r: f"https://{r.choice(_WORDS)}.{r.choice(_DOMAINS)}/",
    "word": lambda r: r.choice(_WORDS),
    "sentence": _sentence,
    "uuid": lambda r: _uuid_text(r.getrandbits(128)),
}
