"""Format-aware strings and word lists: what makes a generated value look real.

``FORMATS`` maps a JSON Schema / OpenAPI ``format`` to a string generator; ``string_hint`` and
``number_hint`` read a property's name (``email``, ``createdAt``, ``price``) to pick a plausible
generator or range when the schema says no more than ``type: string``. Everything takes the caller's
``random.Random``, so values repeat for a seed.

Why hand-written and not Faker or mimesis: the reference (``shared/reference/python-stack.md``)
measured Faker at 16 to 53 MB resident (its locale providers load whole) and about ten times slower
per object; a mock needs a few short word lists and format rules, about 20 KB here. The lists are
tuples chosen once at import; a lookup is one dict access on a normalised name.

    FORMATS["uuid"](random.Random(1))        # a version 4 UUID string
    string_hint("created_at")                  # the date-time generator
    string_hint(join_hint("Pet", "name"))      # a pet's name (``domain.py``), not a person's
    number_hint("price")                       # (1, 500, 2): low, high, decimals
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from mockforge.schema.domain import domain_of, name_in, word_hint

#: A string generator.
StrGen = Callable[[random.Random], str]
#: (low, high, decimals or None for integers).
NumberHint = tuple[int, int, int | None]

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
WORDS = ("alpha", "river", "stone", "maple", "orbit", "delta", "ember", "harbor", "lumen", "meadow",
         "nova", "pixel", "quartz", "signal", "timber", "vector", "willow", "zenith", "cobalt", "falcon",
         "garnet", "island", "jasper", "kernel", "lotus", "matrix", "nectar", "onyx", "prism", "summit")
_STATUSES = ("active", "pending", "inactive", "archived")
_STREETS = ("Baker Street", "Main Street", "Elm Avenue", "Harbour Road", "Rua Augusta", "Oak Lane")
_DOMAINS = ("example.com", "example.org", "example.net")


def _pick(seq: tuple[Any, ...]) -> Callable[[random.Random], Any]:
    return lambda rng: rng.choice(seq)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 9))]
    return " ".join(words).capitalize() + "."


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(2, 3)))


def _full_name(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _email(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}@{rng.choice(_DOMAINS)}".lower()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _datetime(rng: random.Random) -> datetime:
    return datetime.fromtimestamp(1577836800 + rng.randrange(6 * 365 * 86400), UTC)


def _url(rng: random.Random) -> str:
    return f"https://{rng.choice(_DOMAINS)}/{rng.choice(WORDS)}/{rng.randint(1, 999)}"


def _hostname(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}.{rng.choice(_DOMAINS)}"


def _ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def _ipv6(rng: random.Random) -> str:
    return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))


def _digits(rng: random.Random) -> str:
    return str(rng.randint(1, 10**6))


def _same(names: str, gen: StrGen) -> dict[str, StrGen]:
    """One generator under several format names (``"email idn-email"``)."""
    return dict.fromkeys(names.split(), gen)


def _stamp(rng: random.Random) -> str:
    return _datetime(rng).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(rng: random.Random) -> str:
    return f"{rng.randint(1, 999)}.{rng.randint(0, 99)}"


#: format -> generator of a string in that format.
FORMATS: dict[str, StrGen] = {
    **_same("date-time google-datetime", _stamp),
    "date": lambda rng: _datetime(rng).strftime("%Y-%m-%d"),
    "time": lambda rng: _datetime(rng).strftime("%H:%M:%SZ"),
    **_same("email idn-email", _email),
    "uuid": _uuid,
    **_same("uri url iri", _url),
    **_same("uri-reference iri-reference", lambda rng: f"/{rng.choice(WORDS)}/{rng.randint(1, 999)}"),
    "uri-template": lambda rng: f"https://{rng.choice(_DOMAINS)}/{rng.choice(WORDS)}/{{id}}",
    **_same("hostname idn-hostname", _hostname),
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "byte": lambda rng: base64.b64encode(rng.randbytes(rng.randint(6, 18))).decode("ascii"),
    "binary": lambda rng: "".join(rng.choice("0123456789abcdef") for _ in range(16)),
    "password": lambda rng: f"{rng.choice(WORDS).capitalize()}-{rng.randint(1000, 9999)}!",
    "duration": lambda rng: f"P{rng.randint(1, 30)}DT{rng.randint(0, 23)}H{rng.randint(0, 59)}M",
    "google-duration": lambda rng: f"{rng.randint(1, 3600)}s",
    "regex": lambda rng: rng.choice(("^[a-z]+$", "^[0-9]{3}-[0-9]{4}$", "^[A-Z][a-z]*$")),
    "json-pointer": lambda rng: f"/{rng.choice(WORDS)}/{rng.randint(0, 9)}",
    "relative-json-pointer": lambda rng: f"{rng.randint(0, 3)}/{rng.choice(WORDS)}",
    **_same("int32 int64 uint32 uint64", _digits),
    **_same("float double", _decimal),
    "phone": lambda rng: f"+1-555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
}
#: Formats the validator checks: a string in such a format may not be padded or cut.
STRICT_FORMATS = frozenset(
    {"date-time", "date", "time", "email", "idn-email", "uuid", "uri", "iri", "uri-reference",
     "iri-reference", "uri-template", "hostname", "idn-hostname", "ipv4", "ipv6", "duration", "regex",
     "json-pointer", "relative-json-pointer"}
)

#: Normalised property name (lower case, letters and digits only) -> string generator.
_NAME_STRINGS: dict[str, StrGen] = {
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
    "slug": lambda rng: f"{rng.choice(WORDS)}-{rng.choice(WORDS)}",
    "version": lambda rng: f"{rng.randint(1, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
    "filename": lambda rng: f"{rng.choice(WORDS)}.{rng.choice(('pdf', 'png', 'txt'))}",
    "password": FORMATS["password"],
}
#: Normalised property name -> (low, high, decimals or None for integers).
_NAME_NUMBERS: dict[str, NumberHint] = {
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


#: Separates the context (the object a property belongs to) from the property name in a hint.
_CONTEXT_SEP = "\x1f"


def join_hint(context: str | None, name: str | None) -> str | None:
    """The hint of property ``name`` inside ``context`` (``Pet`` + ``name``), for ``string_hint``
    and ``number_hint``."""
    if name is None or not context:
        return name
    return f"{context}{_CONTEXT_SEP}{name}"


def split_hint(hint: str | None) -> tuple[str | None, str | None]:
    """``(context, name)`` of a hint made by ``join_hint`` (context ``None`` when it has none)."""
    if hint is None or _CONTEXT_SEP not in hint:
        return None, hint
    context, _, name = hint.rpartition(_CONTEXT_SEP)
    return context, name


def string_hint(hint: str | None) -> StrGen | None:
    """A generator for a string property from its name and context (``join_hint``): ``email``,
    ``createdAt``, ``sku``, and ``name`` read as the domain has it (``schema/domain.py``)."""
    context, name = split_hint(hint)
    key = _norm(name)
    if not key:
        return None
    domain = name_in(key, context)
    if domain is not None:
        return domain
    if key in ("name", "displayname", "fullname") and context:
        kind = domain_of(context)
        if kind == "company":
            return _pick(_COMPANIES)
        if kind is None:  # the name of a thing we cannot place: words, not a person's name
            return _title
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
    worded = word_hint(key)
    if worded is not None:
        return worded
    if key.endswith("id"):
        return _uuid
    if key.endswith("name"):
        return _title
    return None


def number_hint(hint: str | None) -> NumberHint | None:
    key = _norm(split_hint(hint)[1])
    if not key:
        return None
    hit = _NAME_NUMBERS.get(key)
    if hit is None and key.endswith("id"):
        hit = _NAME_NUMBERS["id"]
    if hit is None and key.endswith(("count", "total", "price", "amount")):
        hit = _NAME_NUMBERS[next(k for k in ("count", "total", "price", "amount") if key.endswith(k))]
    return hit


def words(rng: random.Random, lo: int, hi: int | None) -> str:
    """Filler text from the word list, ``lo`` to ``hi`` characters long (no trailing space)."""
    if hi is not None and hi - lo <= 24:
        target = rng.randint(lo, hi)
    else:
        target = max(lo, min(hi or 24, rng.randint(8, 24)))
    parts: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(WORDS)
        parts.append(word)
        size += len(word) + 1
    text = " ".join(parts)[:target]
    if text.endswith(" "):
        text = text[:-1] + "x"
    return text


def pad_format(value: str, fmt: Any, lo: int, hi: int | None, rng: random.Random) -> str | None:
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
