"""JSON Schema -> a realistic value that validates: seedable, compiled once per schema.

Hand-written rather than built on Faker, mimesis or hypothesis: the reference measured Faker at
16 to 53 MB resident and ten times slower per object, and a mock only needs a few word lists plus
format-aware strings. The walker reads the schema dialect of ``openapi/model.py`` (JSON Schema
2020-12, every ``$ref`` is ``#/$defs/NAME``, plus ``discriminator``, ``readOnly``, ``writeOnly``,
``example`` and ``format``).

``compile`` turns a schema into nested closures once, so serving a request is one call. Every value
is checked with jsonschema-rs (about a microsecond per object) and regenerated a few times when a
combination of constraints defeated the walker; if it still fails the schema's ``example`` or
``default`` is returned and the schema is listed in ``problems``.

    gen = DataGenerator(model.defs, seed=7)
    make = gen.compile({"$ref": "#/$defs/Pet"})
    make(random.Random(1))      # {"id": 4127, "name": "Bella", "status": "active"}

Patterns are produced from the parse tree of Python's own regex parser (``re._parser``), which
understands the ECMA-262 subset OpenAPI documents use.
"""

from __future__ import annotations

import base64
import importlib
import logging
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import jsonschema_rs
import orjson

from mockforge.core.regex import schema_pattern_options, try_user_regex

log = logging.getLogger("mockforge.datagen")

Gen = Callable[[random.Random], Any]
_G = Callable[[random.Random, int], Any]  # (rng, depth) -> value

_sre: Any = importlib.import_module("re._parser")

#: Keywords that describe a value without constraining it (ignored when a ``$ref`` has siblings).
_ANNOTATIONS = frozenset(
    {"title", "description", "example", "examples", "default", "deprecated", "readOnly", "writeOnly",
     "xml", "externalDocs", "$comment", "discriminator", "$id", "$schema", "$anchor", "contentMediaType",
     "contentEncoding"}
)
_PREFERRED = ("example", "examples", "default")
_MIN_KEYS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_MAX_KEYS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "propertyNames", "contains", "unevaluatedProperties")
_HEAVY = 100  # weight of a reference still being compiled (a recursion)
#: Values of distinct types, to make a value fail one ``oneOf`` alternative (``_separate``).
_SPOILERS: tuple[Any, ...] = (True, "x", 0.5, [], {}, None)


class _Unsat(Exception):
    """This attempt could not satisfy the schema (the caller retries or falls back)."""


@dataclass(slots=True)
class _Node:
    gen: _G
    #: Rough size of the smallest value; at the depth bound choices take the lightest branch.
    weight: int


# --------------------------------------------------------------------------- word lists

_FIRST = ("Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
          "Kira", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara")
_LAST = ("Anderson", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito",
         "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Rossi", "Silva")
_CITIES = ("Lisbon", "Oslo", "Austin", "Lyon", "Osaka", "Porto", "Denver", "Krakow", "Dublin", "Quito",
           "Nairobi", "Perth", "Seville", "Tallinn", "Montreal")
_COUNTRIES = (("Portugal", "PT"), ("Norway", "NO"), ("United States", "US"), ("France", "FR"),
              ("Japan", "JP"), ("Poland", "PL"), ("Ireland", "IE"), ("Ecuador", "EC"), ("Kenya", "KE"),
              ("Australia", "AU"), ("Spain", "ES"), ("Estonia", "EE"), ("Canada", "CA"))
_COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Labs", "Stark Industries", "Wayne Foods",
              "Hooli", "Vandelay Imports", "Soylent", "Tyrell Systems", "Cyberdyne", "Wonka Works")
_WORDS = ("alpha", "river", "stone", "maple", "orbit", "delta", "ember", "harbor", "lumen", "meadow",
          "nova", "pixel", "quartz", "signal", "timber", "vector", "willow", "zenith", "cobalt", "falcon",
          "garnet", "island", "jasper", "kernel", "lotus", "matrix", "nectar", "onyx", "prism", "summit")
_STATUSES = ("active", "pending", "inactive", "archived")
_STREETS = ("Baker Street", "Main Street", "Elm Avenue", "Harbour Road", "Rua Augusta", "Oak Lane")
_DOMAINS = ("example.com", "example.org", "example.net")


def _pick(seq: tuple[Any, ...]) -> Callable[[random.Random], Any]:
    return lambda rng: rng.choice(seq)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 9))]
    return " ".join(words).capitalize() + "."


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS).capitalize() for _ in range(rng.randint(2, 3)))


def _full_name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _email(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}@{rng.choice(_DOMAINS)}".lower()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _datetime(rng: random.Random) -> datetime:
    return datetime.fromtimestamp(1577836800 + rng.randrange(6 * 365 * 86400), UTC)


def _url(rng: random.Random) -> str:
    return f"https://{rng.choice(_DOMAINS)}/{rng.choice(_WORDS)}/{rng.randint(1, 999)}"


def _hostname(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}.{rng.choice(_DOMAINS)}"


def _ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _ipv6(rng: random.Random) -> str:
    return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))


def _digits(rng: random.Random) -> str:
    return str(rng.randint(1, 10**6))


#: format -> generator of a string in that format.
FORMATS: dict[str, Callable[[random.Random], str]] = {
    "date-time": lambda rng: _datetime(rng).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "google-datetime": lambda rng: _datetime(rng).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "date": lambda rng: _datetime(rng).strftime("%Y-%m-%d"),
    "time": lambda rng: _datetime(rng).strftime("%H:%M:%SZ"),
    "email": _email,
    "idn-email": _email,
    "uuid": _uuid,
    "uri": _url,
    "url": _url,
    "iri": _url,
    "uri-reference": lambda rng: f"/{rng.choice(_WORDS)}/{rng.randint(1, 999)}",
    "iri-reference": lambda rng: f"/{rng.choice(_WORDS)}/{rng.randint(1, 999)}",
    "uri-template": lambda rng: f"https://{rng.choice(_DOMAINS)}/{rng.choice(_WORDS)}/{{id}}",
    "hostname": _hostname,
    "idn-hostname": _hostname,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "byte": lambda rng: base64.b64encode(rng.randbytes(rng.randint(6, 18))).decode("ascii"),
    "binary": lambda rng: "".join(rng.choice("0123456789abcdef") for _ in range(16)),
    "password": lambda rng: f"{rng.choice(_WORDS).capitalize()}-{rng.randint(1000, 9999)}!",
    "duration": lambda rng: f"P{rng.randint(1, 30)}DT{rng.randint(0, 23)}H{rng.randint(0, 59)}M",
    "google-duration": lambda rng: f"{rng.randint(1, 3600)}s",
    "regex": lambda rng: rng.choice(("^[a-z]+$", "^[0-9]{3}-[0-9]{4}$", "^[A-Z][a-z]*$")),
    "json-pointer": lambda rng: f"/{rng.choice(_WORDS)}/{rng.randint(0, 9)}",
    "relative-json-pointer": lambda rng: f"{rng.randint(0, 3)}/{rng.choice(_WORDS)}",
    "int32": _digits,
    "int64": _digits,
    "uint32": _digits,
    "uint64": _digits,
    "float": lambda rng: f"{rng.randint(1, 999)}.{rng.randint(0, 99)}",
    "double": lambda rng: f"{rng.randint(1, 999)}.{rng.randint(0, 99)}",
    "phone": lambda rng: f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
}
#: Formats the validator checks: a string in such a format may not be padded or cut.
_STRICT_FORMATS = frozenset(
    {"date-time", "date", "time", "email", "idn-email", "uuid", "uri", "iri", "uri-reference",
     "iri-reference", "uri-template", "hostname", "idn-hostname", "ipv4", "ipv6", "duration", "regex",
     "json-pointer", "relative-json-pointer"}
)

#: Normalised property name (lower case, letters and digits only) -> string generator.
_NAME_STRINGS: dict[str, Callable[[random.Random], str]] = {
    "name": _full_name, "fullname": _full_name, "displayname": _full_name, "author": _full_name,
    "firstname": _pick(_FIRST), "givenname": _pick(_FIRST),
    "lastname": _pick(_LAST), "surname": _pick(_LAST), "familyname": _pick(_LAST),
    "username": lambda rng: f"{rng.choice(_FIRST).lower()}{rng.randint(1, 99)}",
    "login": lambda rng: f"{rng.choice(_FIRST).lower()}{rng.randint(1, 99)}",
    "email": _email, "emailaddress": _email, "mail": _email,
    "phone": FORMATS["phone"], "phonenumber": FORMATS["phone"], "mobile": FORMATS["phone"],
    "telephone": FORMATS["phone"],
    "city": _pick(_CITIES), "town": _pick(_CITIES),
    "country": lambda rng: rng.choice(_COUNTRIES)[0],
    "countrycode": lambda rng: rng.choice(_COUNTRIES)[1],
    "company": _pick(_COMPANIES), "companyname": _pick(_COMPANIES), "organization": _pick(_COMPANIES),
    "organisation": _pick(_COMPANIES), "employer": _pick(_COMPANIES),
    "address": lambda rng: f"{rng.randint(1, 250)} {rng.choice(_STREETS)}",
    "street": lambda rng: f"{rng.randint(1, 250)} {rng.choice(_STREETS)}",
    "addressline1": lambda rng: f"{rng.randint(1, 250)} {rng.choice(_STREETS)}",
    "zip": lambda rng: f"{rng.randint(10000, 99999)}", "zipcode": lambda rng: f"{rng.randint(10000, 99999)}",
    "postalcode": lambda rng: f"{rng.randint(10000, 99999)}",
    "url": _url, "uri": _url, "website": _url, "homepage": _url, "link": _url, "href": _url,
    "avatar": _url, "image": _url, "photo": _url, "photourl": _url, "imageurl": _url, "thumbnail": _url,
    "id": _uuid, "uuid": _uuid, "guid": _uuid,
    "createdat": FORMATS["date-time"], "updatedat": FORMATS["date-time"], "timestamp": FORMATS["date-time"],
    "deletedat": FORMATS["date-time"], "modifiedat": FORMATS["date-time"],
    "date": FORMATS["date"], "birthday": FORMATS["date"], "birthdate": FORMATS["date"],
    "status": _pick(_STATUSES), "state": _pick(_STATUSES),
    "description": _sentence, "summary": _sentence, "bio": _sentence, "comment": _sentence,
    "message": _sentence, "note": _sentence, "notes": _sentence, "text": _sentence, "content": _sentence,
    "title": _title, "subject": _title, "headline": _title, "label": _title,
    "currency": _pick(("USD", "EUR", "GBP", "JPY")), "currencycode": _pick(("USD", "EUR", "GBP", "JPY")),
    "color": _pick(("red", "green", "blue", "teal", "amber")),
    "language": _pick(("en", "fr", "de", "pt", "ja")), "locale": _pick(("en-US", "fr-FR", "pt-PT")),
    "timezone": _pick(("Europe/Lisbon", "America/Denver", "Asia/Tokyo")),
    "token": lambda rng: f"{rng.getrandbits(128):032x}", "apikey": lambda rng: f"{rng.getrandbits(96):024x}",
    "sku": lambda rng: f"SKU-{rng.randint(10000, 99999)}",
    "ip": _ipv4, "ipaddress": _ipv4, "hostname": _hostname, "host": _hostname, "domain": _hostname,
    "slug": lambda rng: f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}",
    "version": lambda rng: f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
    "filename": lambda rng: f"{rng.choice(_WORDS)}.{rng.choice(('pdf', 'png', 'txt'))}",
    "password": FORMATS["password"],
}
#: Normalised property name -> (low, high, decimals or None for integers).
_NAME_NUMBERS: dict[str, tuple[int, int, int | None]] = {
    "id": (1, 100000, None), "age": (18, 90, None), "count": (1, 50, None), "quantity": (1, 20, None),
    "qty": (1, 20, None), "page": (1, 10, None), "limit": (10, 100, None), "perpage": (10, 100, None),
    "pagesize": (10, 100, None), "year": (1990, 2030, None), "month": (1, 12, None), "day": (1, 28, None),
    "hour": (0, 23, None), "minute": (0, 59, None), "rating": (1, 5, None), "stars": (1, 5, None),
    "score": (0, 100, None), "percent": (0, 100, None), "percentage": (0, 100, None),
    "port": (1024, 65535, None), "price": (1, 500, 2), "amount": (1, 500, 2), "cost": (1, 500, 2),
    "total": (1, 2000, 2), "subtotal": (1, 2000, 2), "balance": (0, 5000, 2), "fee": (1, 50, 2),
    "latitude": (-90, 90, 6), "lat": (-90, 90, 6), "longitude": (-180, 180, 6), "lng": (-180, 180, 6),
    "lon": (-180, 180, 6), "weight": (1, 100, 1), "height": (1, 250, None), "width": (1, 1920, None),
}


def _norm(name: str | None) -> str:
    return "".join(c for c in name.lower() if c.isalnum()) if name else ""


def _string_hint(name: str | None) -> Callable[[random.Random], str] | None:
    key = _norm(name)
    if not key:
        return None
    hit = _NAME_STRINGS.get(key)
    if hit is not None:
        return hit
    if key.endswith("email"):
        return _email
    if key.endswith(("url", "uri", "link", "href")):
        return _url
    if key.endswith(("at", "time", "timestamp")) and len(key) > 4:
        return FORMATS["date-time"]
    if key.endswith(("date", "day")):
        return FORMATS["date"]
    if key.endswith("id"):
        return _uuid
    if key.endswith("name"):
        return _title
    return None


def _number_hint(name: str | None) -> tuple[int, int, int | None] | None:
    key = _norm(name)
    if not key:
        return None
    hit = _NAME_NUMBERS.get(key)
    if hit is None and key.endswith("id"):
        hit = _NAME_NUMBERS["id"]
    if hit is None and key.endswith(("count", "total", "price", "amount")):
        hit = _NAME_NUMBERS[next(k for k in ("count", "total", "price", "amount") if key.endswith(k))]
    return hit


def _singular(name: str | None) -> str | None:
    if name and len(name) > 3 and name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _refs_in(schema: Any) -> frozenset[str]:
    """Names of the defs a schema refers to directly (``#/$defs/NAME...``)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                names.add(ref[8:].split("/", 1)[0].replace("~1", "/").replace("~0", "~"))
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return frozenset(names)


def reachable_defs(
    defs: dict[str, Any], schema: Any, cache: dict[str, frozenset[str]] | None = None
) -> dict[str, Any]:
    """Every def ``schema`` reaches, directly or through other defs, so a validator compiles only
    what it needs; ``cache`` (name -> direct refs) saves re-walking defs across calls."""
    todo = list(_refs_in(schema))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        direct = cache.get(name) if cache is not None else None
        if direct is None:
            direct = _refs_in(defs[name])
            if cache is not None:
                cache[name] = direct
        todo.extend(direct - seen)
    return {name: defs[name] for name in seen}


def ref_name(ref: str) -> str:
    """``#/$defs/Pet`` -> ``Pet`` (JSON pointer escapes undone)."""
    name = ref.rsplit("/", 1)[-1] if ref.startswith("#/$defs/") and ref.count("/") == 2 else ref
    return name.replace("~1", "/").replace("~0", "~")


# --------------------------------------------------------------------------- regex strings

_PRINTABLE = [chr(c) for c in range(32, 127)]
_WORD_RANGES = ((97, 122), (65, 90), (48, 57), (95, 95))
_CATEGORIES: dict[str, tuple[tuple[int, int], ...]] = {
    "CATEGORY_DIGIT": ((48, 57),),
    "CATEGORY_NOT_DIGIT": ((97, 122), (65, 90)),
    "CATEGORY_SPACE": ((32, 32),),
    "CATEGORY_NOT_SPACE": ((97, 122), (48, 57)),
    "CATEGORY_WORD": _WORD_RANGES,
    "CATEGORY_NOT_WORD": ((45, 45), (46, 46), (32, 32)),
}


def _class_ranges(items: list[Any]) -> tuple[bool, list[tuple[int, int]]]:
    negate = False
    ranges: list[tuple[int, int]] = []
    for op, av in items:
        kind = op.name
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            ranges.append((av, av))
        elif kind == "RANGE":
            ranges.append((av[0], av[1]))
        elif kind == "CATEGORY":
            cat = av.name
            if negate or cat not in _CATEGORIES:
                raise _Unsat(cat)
            ranges.extend(_CATEGORIES[cat])
        else:
            raise _Unsat(kind)
    return negate, ranges


def _class_members(items: list[Any]) -> list[str] | list[tuple[int, int]]:
    """A positive class as ranges; a negated one as the printable characters it admits."""
    negate = bool(items) and items[0][0].name == "NEGATE"
    if not negate:
        return _class_ranges(items)[1]
    rx = re.compile("[^" + "".join(_class_source(op, av) for op, av in items[1:]) + "]")
    return [c for c in _PRINTABLE if rx.fullmatch(c)]


def _class_source(op: Any, av: Any) -> str:
    kind = op.name
    if kind == "LITERAL":
        return re.escape(chr(av))
    if kind == "RANGE":
        return f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}"
    if kind == "CATEGORY":
        return {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
                "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}[av.name]
    raise _Unsat(kind)


def _prepare(items: Any) -> list[tuple[str, Any]]:
    """Turn a ``re._parser`` tree into plain (opname, argument) tuples, classes pre-expanded."""
    out: list[tuple[str, Any]] = []
    for op, av in items:
        kind = op.name
        if kind == "IN":
            out.append(("IN", _class_members(av)))
        elif kind == "NOT_LITERAL":
            out.append(("IN", [c for c in _PRINTABLE if ord(c) != av]))
        elif kind == "BRANCH":
            out.append(("BRANCH", [_prepare(alt) for alt in av[1]]))
        elif kind == "SUBPATTERN":
            out.append(("GROUP", (av[0], _prepare(av[3]))))
        elif kind == "ATOMIC_GROUP":
            out.append(("GROUP", (None, _prepare(av))))
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            hi = av[1] if av[1] is not _sre.MAXREPEAT else None
            out.append(("REPEAT", (av[0], hi, _prepare(av[2]))))
        elif kind == "GROUPREF_EXISTS":
            out.append(("IFGROUP", (av[0], _prepare(av[1]), _prepare(av[2]) if av[2] else [])))
        elif kind in ("LITERAL", "ANY", "GROUPREF"):
            out.append((kind, av))
        elif kind in ("AT", "ASSERT", "ASSERT_NOT"):
            continue  # anchors add nothing; lookarounds are checked by the final match
        else:
            raise _Unsat(kind)
    return out


def _emit(items: list[tuple[str, Any]], rng: random.Random, cap: int, groups: dict[int, str],
          out: list[str]) -> None:
    for kind, av in items:
        if kind == "LITERAL":
            out.append(chr(av))
        elif kind == "IN":
            if not av:
                raise _Unsat("empty class")
            choice = rng.choice(av)
            out.append(choice if isinstance(choice, str) else chr(rng.randint(choice[0], choice[1])))
        elif kind == "ANY":
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif kind == "REPEAT":
            lo, hi, sub = av
            top = lo + cap if hi is None else min(hi, lo + cap)
            for _ in range(rng.randint(lo, top)):
                _emit(sub, rng, cap, groups, out)
        elif kind == "GROUP":
            start = len(out)
            _emit(av[1], rng, cap, groups, out)
            if av[0] is not None:
                groups[av[0]] = "".join(out[start:])
        elif kind == "BRANCH":
            _emit(rng.choice(av), rng, cap, groups, out)
        elif kind == "GROUPREF":
            out.append(groups.get(av, ""))
        elif kind == "IFGROUP":
            _emit(av[1] if av[0] in groups else av[2], rng, cap, groups, out)


def pattern_generator(pattern: str) -> Callable[[random.Random, int], str] | None:
    """A function ``(rng, cap) -> str`` producing strings the regex matches (``cap`` bounds each
    unbounded repeat above its minimum), or ``None`` when the pattern uses a construct we cannot
    produce (Unicode property classes, negated categories inside a class, ...)."""
    try:
        tree = _prepare(_sre.parse(pattern))
    except (re.error, _Unsat, ValueError, TypeError, OverflowError):
        return None

    def gen(rng: random.Random, cap: int) -> str:
        out: list[str] = []
        _emit(tree, rng, cap, {}, out)
        return "".join(out)

    return gen


# --------------------------------------------------------------------------- the generator


class DataGenerator:
    """Generates values for the schemas of one ``defs`` mapping.

    ``for_response`` leaves optional ``writeOnly`` properties out (responses) or, when false,
    optional ``readOnly`` ones (request bodies). Required ones stay, so a value validates against
    the schema as written. ``problems`` lists schemas no valid value could be found for.
    """

    def __init__(self, defs: dict[str, dict[str, Any]], *, seed: int | None = None, max_depth: int = 5,
                 for_response: bool = True, attempts: int = 8) -> None:
        self.defs = defs
        self.seed = seed
        self.max_depth = max_depth
        self.for_response = for_response
        self.attempts = attempts
        self.problems: list[str] = []
        self._hard_depth = max_depth + 12
        self._rng = random.Random(seed)
        self._refs: dict[tuple[str, bool], _Node] = {}
        self._building: set[tuple[str, bool]] = set()
        self._compiled: dict[int, tuple[Any, Gen]] = {}
        self._validators: dict[int, tuple[Any, Any]] = {}
        self._reach: dict[str, frozenset[str]] = {}

    # ---- validation helpers

    def resolve(self, schema: Any) -> Any:
        """Follow ``$ref`` until a schema without one (siblings of a ``$ref`` are dropped)."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 64:
            schema = self._target(schema["$ref"])
            seen += 1
        return schema

    def _target(self, ref: str) -> Any:
        if ref.startswith("#/$defs/"):
            parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[8:].split("/")]
            node: Any = self.defs[parts[0]]
            for p in parts[1:]:
                node = node[int(p)] if isinstance(node, list) else node[p]
            return node
        raise KeyError(ref)

    def reachable_defs(self, schema: Any) -> dict[str, Any]:
        """The part of ``defs`` a schema can reach (validators are built from it, not all defs)."""
        return reachable_defs(self.defs, schema, self._reach)

    def validator(self, schema: Any) -> Any:
        """A jsonschema-rs validator of ``schema`` (formats checked), cached per schema object;
        ``None`` when jsonschema-rs rejects the schema itself."""
        hit = self._validators.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        full: Any = schema
        if isinstance(schema, dict):
            defs = self.reachable_defs(schema)
            full = {"$defs": defs, **schema} if defs else schema
        try:
            validator = jsonschema_rs.validator_for(
                full, validate_formats=True, pattern_options=schema_pattern_options()
            )
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            log.debug("schema not compilable by jsonschema-rs: %s", exc)
            validator = None
        self._validators[id(schema)] = (schema, validator)
        return validator

    def is_valid(self, schema: Any, value: Any) -> bool:
        validator = self.validator(schema)
        try:
            return validator is None or bool(validator.is_valid(value))
        except (ValueError, TypeError):
            return False

    def first_error(self, schema: Any, value: Any) -> str | None:
        """The first validation error as ``"<instance path>: <message>"``, or ``None`` if valid."""
        validator = self.validator(schema)
        if validator is None:
            return None
        try:
            for err in validator.iter_errors(value):
                path = "/" + "/".join(str(p) for p in err.instance_path)
                return f"{path}: {err.message}"
        except (ValueError, TypeError) as exc:
            return str(exc)
        return None

    # ---- public entry points

    def compile(self, schema: Any) -> Gen:
        """Prepare a generator for ``schema`` once; calling it with an rng gives a valid value."""
        hit = self._compiled.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        try:
            node: _Node | None = self._node(schema)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
            self._report(schema, f"cannot be walked ({type(exc).__name__}: {exc})")
            node = None
        validator = self.validator(schema)
        fallback: list[Any] = []
        try:
            places = [schema, self.resolve(schema)]
        except KeyError:
            places = [schema]
        for place in places:
            if isinstance(place, dict):
                fallback += [place[k] for k in ("example", "default") if k in place]
                if isinstance(place.get("examples"), list) and place["examples"]:
                    fallback.append(place["examples"][0])
        attempts = self.attempts
        reported = False

        def run(rng: random.Random) -> Any:
            nonlocal reported
            value: Any = None
            if node is not None:
                for _ in range(attempts):
                    try:
                        value = node.gen(rng, 0)
                    except (_Unsat, RecursionError):
                        continue
                    if validator is None or validator.is_valid(value):
                        return value
            if not reported:
                reported = True
                self._report(schema, "no generated value validates")
            return _clone(fallback[0]) if fallback else value

        self._compiled[id(schema)] = (schema, run)
        return run

    def generate(self, schema: Any, rng: random.Random | None = None) -> Any:
        return self.compile(schema)(rng or self._rng)

    def _report(self, schema: Any, why: str) -> None:
        text = orjson.dumps(schema, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
        if len(text) > 200:
            text = text[:197] + "..."
        line = f"schema {text}: {why}"
        self.problems.append(line)
        log.warning("%s", line)

    # ---- the walker: schema -> _Node

    def _node(self, schema: Any, *, name: str | None = None, hint: str | None = None,
              prefer: bool = True) -> _Node:
        if schema is True or schema is None:
            schema = {}
        if schema is False:
            return _Node(_unsat, 0)
        if prefer:
            preferred = self._preferred(schema)
            if preferred is not None:
                return preferred
        ref = schema.get("$ref")
        if ref is not None:
            rest = {k: v for k, v in schema.items() if k != "$ref" and k not in _ANNOTATIONS}
            if rest:
                merged = self._merge([{"$ref": ref}, rest])
                return self._node(merged, name=ref_name(ref), hint=hint, prefer=prefer)
            return self._ref(ref, prefer)
        if "allOf" in schema:
            merged = self._merge([schema])
            return self._node(merged, name=name, hint=hint, prefer=prefer)
        for kw in ("oneOf", "anyOf"):
            if kw in schema:
                return self._choice(schema, kw, name, hint, prefer)
        if "not" in schema:
            return self._not(schema, name, hint, prefer)
        if "const" in schema:
            const = schema["const"]
            return _Node(lambda rng, d: _clone(const), 1)
        if "enum" in schema:
            return self._enum(schema)
        if "if" in schema and isinstance(schema.get("then"), dict):
            # best effort: satisfy "if" and "then" together
            base = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
            return self._node(self._merge([base, schema["if"], schema["then"]]), name=name, hint=hint,
                              prefer=prefer)
        types = _types_of(schema)
        if not types:
            return _Node(_unsat, 0)
        if len(types) == 1:
            return self._typed(schema, types[0], name, hint, prefer)
        nodes = [self._typed(schema, t, name, hint, prefer) for t in types]
        real = [n for n, t in zip(nodes, types, strict=True) if t != "null"] or nodes
        lightest = min(nodes, key=lambda n: n.weight)
        max_depth = self.max_depth

        def gen(rng: random.Random, d: int) -> Any:
            if d >= max_depth:
                return lightest.gen(rng, d)
            return rng.choice(real).gen(rng, d)

        return _Node(gen, lightest.weight)

    def _preferred(self, schema: dict[str, Any]) -> _Node | None:
        candidates: list[Any] = []
        if "example" in schema:
            candidates.append(schema["example"])
        if isinstance(schema.get("examples"), list):
            candidates.extend(schema["examples"])
        if "default" in schema:
            candidates.append(schema["default"])
        if not candidates:
            return None
        valid = [c for c in candidates if self.is_valid(schema, c)]
        if not valid:
            return None
        if len(valid) == 1:
            only = valid[0]
            return _Node(lambda rng, d: _clone(only), 1)
        return _Node(lambda rng, d: _clone(rng.choice(valid)), 1)

    def _ref(self, ref: str, prefer: bool) -> _Node:
        name = ref_name(ref)
        key = (ref, prefer)
        node = self._refs.get(key)
        if node is not None:
            return node
        if key in self._building:
            refs = self._refs
            return _Node(lambda rng, d: refs[key].gen(rng, d), _HEAVY)
        self._building.add(key)
        try:
            node = self._node(self._target(ref), name=name, prefer=prefer)
        finally:
            self._building.discard(key)
        self._refs[key] = node
        return node

    # ---- combinators

    def _flatten(self, parts: list[Any], out: list[dict[str, Any]], seen: set[str]) -> None:
        for part in parts:
            if part is True or part is None:
                continue
            if part is False:
                out.append({"type": []})
                continue
            rest = {k: v for k, v in part.items() if k not in ("$ref", "allOf")}
            ref = part.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                self._flatten([self._target(ref)], out, seen)
            if "allOf" in part:
                self._flatten(list(part["allOf"]), out, seen)
            if rest:
                out.append(rest)

    def flatten(self, schema: Any) -> dict[str, Any]:
        """``schema`` with its ``$ref`` and ``allOf`` folded into one schema (examples dropped), e.g.
        to list the properties of a composed object."""
        return self._merge([schema])

    def _merge(self, parts: list[Any]) -> dict[str, Any]:
        """Fold ``allOf`` members (and the schemas they reference) into one schema."""
        flat: list[dict[str, Any]] = []
        self._flatten(parts, flat, set())
        out: dict[str, Any] = {}
        closed: list[set[str]] = []
        for s in flat:
            if s.get("additionalProperties") is False:
                closed.append(set(s.get("properties", {})))
            for k, v in s.items():
                if k in _PREFERRED:
                    continue
                if k not in out:
                    out[k] = dict(v) if k in ("properties", "patternProperties") else v
                    continue
                cur = out[k]
                if k in ("properties", "patternProperties"):
                    for pk, pv in v.items():
                        cur[pk] = {"allOf": [cur[pk], pv]} if pk in cur and cur[pk] != pv else pv
                elif k == "required":
                    out[k] = list(dict.fromkeys([*cur, *v]))
                elif k == "type":
                    out[k] = _intersect_types(cur, v)
                elif k in _MIN_KEYS:
                    out[k] = max(cur, v)
                elif k in _MAX_KEYS:
                    out[k] = min(cur, v)
                elif k == "enum":
                    out[k] = [x for x in cur if x in v]
                elif k == "const" and cur != v:
                    out["type"] = []
                elif k == "uniqueItems":
                    out[k] = cur or v
                elif k == "multipleOf":
                    a, b = Fraction(str(cur)), Fraction(str(v))
                    lcm = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
                    out[k] = int(lcm) if lcm.denominator == 1 else float(lcm)
                elif k in _SUBSCHEMA_KEYS:
                    out[k] = False if (cur is False or v is False) else {"allOf": [cur, v]}
                elif k == "not":
                    out[k] = {"anyOf": [cur, v]}
                elif k in ("oneOf", "anyOf") and cur != v:
                    # two alternatives lists: the second is checked by validation only
                    out.setdefault("x-unmerged", []).append(v)
        if closed:
            allowed = set.intersection(*closed)
            out["properties"] = {k: v for k, v in out.get("properties", {}).items() if k in allowed}
            out["additionalProperties"] = False
        return out

    def _choice(self, schema: dict[str, Any], kw: str, name: str | None, hint: str | None,
                prefer: bool) -> _Node:
        alts = list(schema[kw])
        disc = schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        rest = {k: v for k, v in schema.items() if k != kw and k not in _PREFERRED and k != "discriminator"}
        constrained = any(k not in _ANNOTATIONS for k in rest)
        nodes: list[_Node] = []
        keys: list[str | None] = []
        reverse: dict[str, str] = {}
        if disc:
            for key, target in (disc.get("mapping") or {}).items():
                reverse.setdefault(str(target), str(key))
        for alt in alts:
            alt_ref = alt.get("$ref") if isinstance(alt, dict) else None
            alt_name = ref_name(alt_ref) if isinstance(alt_ref, str) else None
            sub = self._merge([rest, alt]) if constrained else alt
            nodes.append(self._node(sub, name=alt_name or name, hint=hint, prefer=prefer))
            keys.append(reverse.get(alt_ref, alt_name) if alt_ref else None)
        if not nodes:
            return _Node(_unsat, 0)
        prop = str(disc["propertyName"]) if disc and disc.get("propertyName") else None
        exclusive = kw == "oneOf" and len(alts) > 1
        validators: list[Any] = []
        max_depth = self.max_depth
        by_weight = sorted(range(len(nodes)), key=lambda i: nodes[i].weight)

        def gen(rng: random.Random, d: int) -> Any:
            if (exclusive or prop) and not validators:
                validators.extend(self.validator(a) for a in alts)
            order = by_weight if d >= max_depth else rng.sample(range(len(nodes)), len(nodes))
            for i in (order * 2)[: max(4, len(order))]:
                try:
                    value = nodes[i].gen(rng, d)
                except _Unsat:
                    continue
                if prop and keys[i] is not None and isinstance(value, dict):
                    # a mapping that points elsewhere (or a def name the property's enum lacks)
                    # must not make the value invalid for its own alternative
                    tagged = {**value, prop: keys[i]}
                    check = validators[i]
                    if check is None or check.is_valid(tagged) or not check.is_valid(value):
                        value = tagged
                if not exclusive:
                    return value
                matches = [j for j, v in enumerate(validators) if v is None or v.is_valid(value)]
                if len(matches) > 1 and i in matches and isinstance(value, dict):
                    value = self._separate(value, i, alts, validators)
                    matches = [j for j, v in enumerate(validators) if v is None or v.is_valid(value)]
                if len(matches) == 1:
                    return value
            # no value matched exactly one alternative: an optional property is left out
            raise _Unsat(kw)

        return _Node(gen, nodes[by_weight[0]].weight)

    def _separate(self, value: dict[str, Any], i: int, alts: list[Any], validators: list[Any]) -> dict[str, Any]:
        """``value`` (valid for ``alts[i]``) made invalid for the other alternatives it also
        matches: a property another alternative declares, and ``alts[i]`` does not, gets a value of
        a type that alternative rejects (JSON Schema's ``oneOf`` ignores ``discriminator``)."""
        try:
            mine = self.flatten(alts[i]).get("properties") or {}
        except (KeyError, TypeError):
            return value
        own = validators[i]
        for j, other in enumerate(validators):
            if j == i or other is None or not other.is_valid(value):
                continue
            try:
                theirs = self.flatten(alts[j]).get("properties") or {}
            except (KeyError, TypeError):
                continue
            done = False
            for key, sub in theirs.items():
                if key in mine or key in value:
                    continue
                for spoiler in _SPOILERS:
                    if self.is_valid(sub, spoiler):
                        continue
                    trial = {**value, key: spoiler}
                    if (own is None or own.is_valid(trial)) and not other.is_valid(trial):
                        value, done = trial, True
                        break
                if done:
                    break
        return value

    def _not(self, schema: dict[str, Any], name: str | None, hint: str | None, prefer: bool) -> _Node:
        negated = schema["not"]
        rest = {k: v for k, v in schema.items() if k != "not"}
        if "type" not in rest and isinstance(negated, dict) and "type" in negated:
            banned = _types_of(negated)
            kinds = ("string", "integer", "boolean", "object", "array", "null")
            rest["type"] = next((t for t in kinds if t not in banned), "null")
        inner = self._node(rest, name=name, hint=hint, prefer=prefer)
        check: list[Any] = []

        def gen(rng: random.Random, d: int) -> Any:
            if not check:
                check.append(self.validator(negated))
            for _ in range(6):
                value = inner.gen(rng, d)
                if check[0] is not None and not check[0].is_valid(value):
                    return value
            raise _Unsat("not")

        return _Node(gen, inner.weight)

    def _enum(self, schema: dict[str, Any]) -> _Node:
        values = list(schema["enum"])
        valid = [v for v in values if self.is_valid(schema, v)] or values
        if not valid:
            return _Node(_unsat, 0)
        return _Node(lambda rng, d: _clone(rng.choice(valid)), 1)

    # ---- typed values

    def _typed(self, schema: dict[str, Any], t: str, name: str | None, hint: str | None,
               prefer: bool) -> _Node:
        if t == "object":
            return self._object(schema, name, prefer)
        if t == "array":
            return self._array(schema, hint, prefer)
        if t == "string":
            return self._string(schema, hint)
        if t == "integer":
            return self._integer(schema, hint)
        if t == "number":
            return self._number(schema, hint)
        if t == "boolean":
            return _Node(lambda rng, d: rng.random() < 0.5, 1)
        if t == "null":
            return _Node(lambda rng, d: None, 0)
        return _Node(_unsat, 0)

    def _string(self, schema: dict[str, Any], hint: str | None) -> _Node:
        lo = int(schema.get("minLength", 0))
        hi_raw = schema.get("maxLength")
        hi = int(hi_raw) if hi_raw is not None else None
        fmt = schema.get("format")
        pattern = schema.get("pattern")
        if hi is not None and lo > hi:
            return _Node(_unsat, 1)
        sources: list[Callable[[random.Random], str]] = []
        if isinstance(fmt, str) and fmt in FORMATS:
            sources.append(FORMATS[fmt])
        strict = fmt in _STRICT_FORMATS
        named = _string_hint(hint)
        if named is not None and not strict:
            sources.append(named)
        # A spec pattern is a user regex: checked on RE2 (linear). One RE2 cannot run (backreference,
        # lookaround) is never run on ``re``: the generator's output is taken unchecked.
        rx = try_user_regex(pattern)
        pgen = pattern_generator(pattern) if isinstance(pattern, str) else None
        if rx is None and pgen is not None:
            sources = []

        def fits(v: str) -> bool:
            return lo <= len(v) and (hi is None or len(v) <= hi) and (rx is None or rx.test(v))

        def gen(rng: random.Random, d: int) -> str:
            for source in sources:
                for _ in range(2 if strict else 1):
                    v = source(rng)
                    if fits(v):
                        return v
                    if strict:
                        padded = _pad_format(v, fmt, lo, hi, rng)
                        if padded is not None and fits(padded):
                            return padded
            if pgen is not None:
                for attempt in range(12):
                    cap = 2 << (attempt // 2) if lo <= 8 else max(lo, 8) << (attempt // 3)
                    v = pgen(rng, cap)
                    if fits(v):
                        return v
                    if len(v) < lo:
                        pad = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(lo - len(v)))
                        for cand in (v + pad, pad + v):
                            if fits(cand):
                                return cand
                raise _Unsat("pattern")
            if strict:
                raise _Unsat(str(fmt))
            return _words(rng, lo, hi)

        return _Node(gen, 1)

    def _integer(self, schema: dict[str, Any], hint: str | None) -> _Node:
        lo = hi = None
        if "minimum" in schema:
            lo = math.ceil(schema["minimum"])
        if "exclusiveMinimum" in schema:
            lo = _max_opt(lo, math.floor(schema["exclusiveMinimum"]) + 1)
        if "maximum" in schema:
            hi = math.floor(schema["maximum"])
        if "exclusiveMaximum" in schema:
            hi = _min_opt(hi, math.ceil(schema["exclusiveMaximum"]) - 1)
        fmt = schema.get("format")
        if fmt in ("int32", "int64", "uint32", "uint64", "int8", "uint8", "int16", "uint16"):
            bits = int(fmt.lstrip("uint") or 64)
            if fmt.startswith("u"):
                lo, hi = _max_opt(lo, 0), _min_opt(hi, 2**bits - 1)
            else:
                lo, hi = _max_opt(lo, -(2 ** (bits - 1))), _min_opt(hi, 2 ** (bits - 1) - 1)
        step = 1
        if "multipleOf" in schema:
            step = Fraction(str(schema["multipleOf"])).numerator
        a, b = _range(lo, hi, _number_hint(hint))
        k_lo, k_hi = -(-a // step), b // step
        if k_lo > k_hi:
            # the window was narrowed for realism; widen back to the full constraint
            a, b = (lo if lo is not None else b - 1000 * step), (hi if hi is not None else a + 1000 * step)
            k_lo, k_hi = -(-a // step), b // step
        if k_lo > k_hi:
            return _Node(_unsat, 1)
        return _Node(lambda rng, d: step * rng.randint(k_lo, k_hi), 1)

    def _number(self, schema: dict[str, Any], hint: str | None) -> _Node:
        lo = float(schema["minimum"]) if "minimum" in schema else None
        hi = float(schema["maximum"]) if "maximum" in schema else None
        xlo = float(schema["exclusiveMinimum"]) if "exclusiveMinimum" in schema else None
        xhi = float(schema["exclusiveMaximum"]) if "exclusiveMaximum" in schema else None
        if schema.get("format") == "float":
            lo, hi = _max_opt(lo, -3.4e38), _min_opt(hi, 3.4e38)
        low = _max_opt(lo, xlo)
        high = _min_opt(hi, xhi)
        nh = _number_hint(hint)
        decimals = nh[2] if nh is not None and nh[2] is not None else 2

        def ok(v: float) -> bool:
            return ((lo is None or v >= lo) and (hi is None or v <= hi) and (xlo is None or v > xlo)
                    and (xhi is None or v < xhi))

        a, b = _range(low, high, nh)
        if "multipleOf" in schema:
            m = Fraction(str(schema["multipleOf"]))
            fa, fb = Fraction(a), Fraction(b)
            k_lo, k_hi = math.ceil(fa / m), math.floor(fb / m)
            if k_lo > k_hi and (low is not None or high is not None):
                fa = Fraction(low) if low is not None else Fraction(b) - 1000 * m
                fb = Fraction(high) if high is not None else Fraction(a) + 1000 * m
                k_lo, k_hi = math.ceil(fa / m), math.floor(fb / m)

            def gen_multiple(rng: random.Random, d: int) -> float:
                for _ in range(8):
                    v = float(rng.randint(k_lo, k_hi) * m) if k_lo <= k_hi else math.nan
                    if ok(v):
                        return v
                raise _Unsat("multipleOf")

            return _Node(gen_multiple, 1)

        def gen(rng: random.Random, d: int) -> float:
            v = round(rng.uniform(a, b), decimals)
            if ok(v):
                return v
            for v in (rng.uniform(a, b), (a + b) / 2, math.nextafter(a, math.inf),
                      math.nextafter(b, -math.inf)):
                if ok(v):
                    return v
            raise _Unsat("number range")

        return _Node(gen, 1)

    def _array(self, schema: dict[str, Any], hint: str | None, prefer: bool) -> _Node:
        mn = int(schema.get("minItems", 0))
        mx_raw = schema.get("maxItems")
        mx = int(mx_raw) if mx_raw is not None else None
        prefix = [self._node(p, hint=_singular(hint), prefer=prefer) for p in schema.get("prefixItems", [])]
        items = schema.get("items", True)
        closed = items is False
        unique = bool(schema.get("uniqueItems"))
        item = None if closed else self._node(items, hint=_singular(hint), prefer=prefer and not unique)
        contains = schema.get("contains")
        has_contains = isinstance(contains, dict) and contains != {}
        c_node = None
        c_min = 0
        if has_contains:
            c_node = self._node(self._merge([items if isinstance(items, dict) else {}, contains]),
                                hint=_singular(hint), prefer=prefer)
            c_min = int(schema.get("minContains", 1))
            mn = max(mn, c_min)
        if closed:
            mx = _min_opt(mx, len(prefix))
        if mx is not None and mn > mx:
            return _Node(_unsat, _HEAVY)
        max_depth, hard = self.max_depth, self._hard_depth
        weight = 1 if mn == 0 else 2 + mn * (item.weight if item else 1)

        def gen(rng: random.Random, d: int) -> list[Any]:
            if d > hard:
                raise _Unsat("depth")
            if d >= max_depth:
                n = mn
            else:
                top = max(mn, 1) + 2
                n = rng.randint(max(mn, 1), top if mx is None else min(mx, top)) if mx != 0 else 0
            out: list[Any] = []
            keys: set[bytes] = set()
            for i in range(n):
                node = c_node if c_node is not None and i < c_min else prefix[i] if i < len(prefix) else item
                if node is None:
                    break
                value = node.gen(rng, d + 1)
                if unique:
                    key = _ukey(value)
                    tries = 0
                    while key in keys and tries < 10:
                        value = node.gen(rng, d + 1)
                        key = _ukey(value)
                        tries += 1
                    if key in keys:
                        if len(out) >= mn:
                            break
                        raise _Unsat("uniqueItems")
                    keys.add(key)
                out.append(value)
            return out

        return _Node(gen, weight)

    def _object(self, schema: dict[str, Any], name: str | None, prefer: bool) -> _Node:
        props: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = [str(r) for r in schema.get("required") or []]
        skip_flag = "writeOnly" if self.for_response else "readOnly"
        nodes: dict[str, _Node] = {}
        optional: list[str] = []
        for key, sub in props.items():
            if sub is False:
                continue
            if key not in required:
                target = self.resolve(sub)
                if (isinstance(sub, dict) and sub.get(skip_flag)) or (isinstance(target, dict)
                                                                       and target.get(skip_flag)):
                    continue
                optional.append(key)
            nodes[key] = self._node(sub, hint=key, prefer=prefer)
        patterns = [(rx, p, self._node(s, prefer=prefer))
                    for p, s in (schema.get("patternProperties") or {}).items()
                    if (rx := try_user_regex(p)) is not None]
        ap = schema.get("additionalProperties", True)
        ap_node = self._node(ap if isinstance(ap, dict) else {}, prefer=prefer) if ap is not False else None
        names_schema = schema.get("propertyNames")
        key_node = self._node(names_schema, prefer=False) if isinstance(names_schema, dict) else None
        key_ok = self.validator(names_schema) if isinstance(names_schema, dict) else None
        for key in required:
            if key not in nodes:
                match = next((n for rx, _, n in patterns if rx.test(key)), None)
                nodes[key] = match or ap_node or _Node(_unsat, _HEAVY)
        mn = int(schema.get("minProperties", 0))
        mx_raw = schema.get("maxProperties")
        mx = int(mx_raw) if mx_raw is not None else None
        if mx is not None and len(required) > mx:
            return _Node(_unsat, _HEAVY)
        opt_budget = None if mx is None else mx - len(required)
        order = [k for k in nodes if k in required or k in optional]
        order += [k for k in required if k not in order]
        req = set(required)
        is_map = not props and ap is not False and (isinstance(ap, dict) or bool(patterns))
        pattern_gens = [(p, pattern_generator(src), n) for p, src, n in patterns]

        disc = schema.get("discriminator") if isinstance(schema.get("discriminator"), dict) else None
        disc_prop: str | None = None
        disc_value: str | None = None
        if disc and name and disc.get("propertyName"):
            disc_prop = str(disc["propertyName"])
            disc_value = name
            for key, target in (disc.get("mapping") or {}).items():
                if isinstance(target, str) and ref_name(target) == name:
                    disc_value = str(key)
                    break
            prop_schema = props.get(disc_prop)
            if prop_schema is not None and not self.is_valid(prop_schema, disc_value):
                disc_prop = None

        max_depth, hard = self.max_depth, self._hard_depth
        weight = 2 + sum(min(nodes[k].weight, _HEAVY) for k in required)

        def fresh_key(rng: random.Random, out: dict[str, Any]) -> tuple[str, _Node] | None:
            for _ in range(6):
                if pattern_gens and rng.random() < 0.7:
                    rx, pg, node = rng.choice(pattern_gens)
                    if pg is None:
                        continue
                    key = pg(rng, 3)
                    if not rx.test(key):
                        continue
                elif ap_node is not None:
                    key = str(key_node.gen(rng, max_depth)) if key_node is not None else \
                        f"{rng.choice(_WORDS)}_{rng.randint(1, 99)}"
                    node = ap_node
                    if any(rx.test(key) for rx, _, _ in patterns):
                        continue
                else:
                    return None
                if key in out or key in props or (key_ok is not None and not key_ok.is_valid(key)):
                    continue
                return key, node
            return None

        def gen(rng: random.Random, d: int) -> dict[str, Any]:
            if d > hard:
                raise _Unsat("depth")
            bound = d >= max_depth
            out: dict[str, Any] = {}
            taken = 0
            for key in order:
                if key in req:
                    out[key] = nodes[key].gen(rng, d + 1)
                elif not bound and (opt_budget is None or taken < opt_budget):
                    try:
                        out[key] = nodes[key].gen(rng, d + 1)
                    except _Unsat:  # an optional property no value satisfies is left out
                        continue
                    taken += 1
            extra = mn - len(out)
            if is_map and not bound:
                extra = max(extra, rng.randint(1, 2))
            if mx is not None:
                extra = min(extra, mx - len(out))
            for _ in range(max(extra, 0)):
                picked = fresh_key(rng, out)
                if picked is None:
                    break
                out[picked[0]] = picked[1].gen(rng, d + 1)
            if disc_prop is not None:
                out[disc_prop] = disc_value
            return out

        return _Node(gen, weight)


# --------------------------------------------------------------------------- small helpers


def _unsat(rng: random.Random, d: int) -> Any:
    raise _Unsat("unsatisfiable")


def _ukey(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def _types_of(schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list):
        return [str(x) for x in t]
    if any(k in schema for k in ("properties", "required", "additionalProperties", "patternProperties",
                                 "minProperties", "maxProperties", "propertyNames")):
        return ["object"]
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains")):
        return ["array"]
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return ["number"]
    return ["string"]


def _intersect_types(a: Any, b: Any) -> list[str]:
    la = [a] if isinstance(a, str) else list(a)
    lb = [b] if isinstance(b, str) else list(b)
    out = [t for t in la if t in lb]
    if "integer" in la and "number" in lb and "integer" not in out:
        out.append("integer")
    if "number" in la and "integer" in lb and "integer" not in out:
        out.append("integer")
    return out


def _max_opt(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _min_opt(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _range(lo: Any, hi: Any, hint: tuple[int, int, int | None] | None) -> tuple[Any, Any]:
    """A realistic window inside [lo, hi]: the name hint when it fits, else up to 1000 wide."""
    if hint is not None:
        a, b = _max_opt(lo, hint[0]), _min_opt(hi, hint[1])
        if a <= b:
            return a, b
    if lo is None and hi is None:
        return 1, 1000
    if lo is None:
        return (1, hi) if hi >= 1000 else (hi - 1000, hi)
    if hi is None:
        return lo, lo + 1000
    anchor = min(max(lo, 1), hi)
    return anchor, min(hi, anchor + 1000)


def _words(rng: random.Random, lo: int, hi: int | None) -> str:
    if hi is not None and hi - lo <= 24:
        target = rng.randint(lo, hi)
    else:
        target = max(lo, min(hi or 24, rng.randint(8, 24)))
    parts: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(_WORDS)
        parts.append(word)
        size += len(word) + 1
    text = " ".join(parts)[:target]
    if text.endswith(" "):
        text = text[:-1] + "x"
    return text


def _pad_format(value: str, fmt: Any, lo: int, hi: int | None, rng: random.Random) -> str | None:
    """Lengthen or shorten a formatted string without breaking its format, where that is easy."""
    if hi is not None and len(value) > hi:
        if fmt in ("email", "idn-email") and hi >= 6:
            return "a" * max(1, hi - 5 - 1) + "@x.io" if hi - 5 - 1 >= 1 else None
        if fmt in ("uri", "url", "iri") and hi >= 10:
            return "https://x.io"[:hi] if hi >= 12 else None
        if fmt in ("hostname", "idn-hostname") and hi >= 4:
            return "x.io"
        return None
    need = lo - len(value)
    if need <= 0:
        return value
    filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(need))
    if fmt in ("email", "idn-email") and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local}{filler}@{domain}" if len(local) + need <= 64 else None
    if fmt in ("uri", "url", "iri", "uri-reference", "iri-reference"):
        return value + "/" + filler[1:] if need > 1 else value + "/"
    if fmt in ("hostname", "idn-hostname"):
        labels = []
        while need > 0:
            size = min(need - 1, 63) if need > 1 else 0
            if size <= 0:
                return None
            labels.append(filler[:size])
            need -= size + 1
        return ".".join([*labels, value])
    return None
