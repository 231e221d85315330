"""Strings that read like the domain: the ``name`` of a pet is not a person's name.

``formats.string_hint`` asks here first. Two inputs decide: the property's own name (``title``,
``sku``, ``region``, ``petName``) and its context, the object it belongs to (a schema name such as
``PetResponse``, or the property that holds the object such as ``repositories``). The context is
split into words and read from the last one back, skipping words that say nothing about the
domain (``Response``, ``Dto``, ``Create``...), so ``NewPetRequest`` is a pet and ``PetOwner`` a
person. gRPC fields use the message name as context (``grpc/datagen.py``).

    name_in("name", "Pet")(rng)         # "Luna"
    name_in("name", "Repository")(rng)  # "orbit-cli"
    name_in("name", "Owner")            # None: a person, formats.py's full name
    word_hint("sku")(rng)               # "SKU-48213"

Hand-written for the same reason as ``formats.py`` (Faker costs 16 to 53 MB): a few short tuples,
about 4 KB, chosen with the caller's rng, so values repeat for a seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

StrGen = Callable[[random.Random], str]

_WORDS = ("orbit", "falcon", "harbor", "maple", "quartz", "ember", "cobalt", "summit", "willow", "nova",
          "lumen", "pixel", "signal", "timber", "vector", "zenith", "jasper", "lotus")
_PETS = ("Bella", "Max", "Luna", "Charlie", "Milo", "Daisy", "Rocky", "Coco", "Buddy", "Nala", "Simba",
         "Pepper", "Biscuit", "Oreo", "Ziggy")
_PRODUCT_ADJ = ("Compact", "Classic", "Ergonomic", "Wireless", "Organic", "Vintage", "Portable", "Premium")
_PRODUCT_NOUN = ("Desk Lamp", "Backpack", "Coffee Mug", "Notebook", "Headphones", "Water Bottle", "Keyboard",
                 "Sneakers", "Table", "Chair", "Jacket", "Speaker")
_REPO_SUFFIX = ("api", "cli", "sdk", "service", "web", "core", "utils", "docs")
_TEAMS = ("Platform", "Payments", "Growth", "Design", "Infrastructure", "Support", "Data Science", "Mobile")
_PLACES = ("Riverside Park", "Central Station", "Harbor Hall", "Old Town Square", "Maple Gardens")
_STORES = ("Corner Books", "Green Grocer", "Harbor Outfitters", "Maple Market", "Summit Sports")
_TAGS = ("outdoor", "featured", "sale", "new", "popular", "eco", "limited", "premium", "indoor", "classic")
_ENVS = ("prod", "staging", "dev")
_REGIONS = ("eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1", "us-west-2")
_EVENTS = ("Summit", "Meetup", "Workshop", "Conference", "Hackathon")
_PLANS = ("Free", "Starter", "Pro", "Business", "Enterprise")
_VEHICLES = ("Corolla", "Civic", "Golf", "Transit", "Model 3", "Outback")
_FOODS = ("Margherita Pizza", "Caesar Salad", "Pad Thai", "Ramen", "Falafel Wrap", "Lentil Soup")
_ROLES = ("admin", "editor", "viewer", "owner", "billing")
_SPECIES = ("dog", "cat", "rabbit", "parrot", "hamster")
_BREEDS = ("Labrador", "Beagle", "Siamese", "Maine Coon", "Poodle", "Bulldog")
_DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Operations", "Legal")
_JOBS = ("Software Engineer", "Product Manager", "Designer", "Accountant", "Support Specialist")
_MIME = ("application/json", "text/plain", "image/png", "application/pdf", "text/csv")
_TOPICS = ("billing", "onboarding", "shipping", "returns", "security", "release notes")


def _pick(seq: tuple[str, ...]) -> StrGen:
    return lambda rng: rng.choice(seq)


def _title(rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS).capitalize() for _ in range(rng.randint(2, 3)))


def _hex(n: int) -> StrGen:
    return lambda rng: f"{rng.getrandbits(4 * n):0{n}x}"


#: name of each domain: what its ``name`` (or ``<domain>Name``) looks like; ``None``: a person.
_NAMES: dict[str, StrGen | None] = {
    "pet": _pick(_PETS),
    "product": lambda rng: f"{rng.choice(_PRODUCT_ADJ)} {rng.choice(_PRODUCT_NOUN)}",
    "repo": lambda rng: f"{rng.choice(_WORDS)}-{rng.choice(_REPO_SUFFIX)}",
    "project": lambda rng: f"Project {rng.choice(_WORDS).capitalize()}",
    "team": _pick(_TEAMS),
    "place": _pick(_PLACES),
    "store": _pick(_STORES),
    "file": lambda rng: f"{rng.choice(_WORDS)}-{rng.randint(1, 99)}.{rng.choice(('pdf', 'png', 'csv', 'txt'))}",
    "work": _title,
    "tag": _pick(_TAGS),
    "service": lambda rng: f"{rng.choice(_WORDS)}-{rng.choice(_ENVS)}-{rng.randint(1, 9)}",
    "region": _pick(_REGIONS),
    "event": lambda rng: f"{rng.choice(_WORDS).capitalize()} {rng.choice(_EVENTS)} {rng.randint(2024, 2027)}",
    "plan": _pick(_PLANS),
    "vehicle": _pick(_VEHICLES),
    "food": _pick(_FOODS),
    "role": _pick(_ROLES),
    "department": _pick(_DEPARTMENTS),
    "company": None,  # formats.py's company list (see ``_NAME_KEYS`` there)
    "person": None,
}
#: context word -> domain
_KINDS: dict[str, str] = {
    **dict.fromkeys(("pet", "dog", "cat", "animal", "puppy", "kitten"), "pet"),
    **dict.fromkeys(("item", "product", "sku", "variant", "good", "merchandise", "offer", "article", "listing",
                     "lineitem"), "product"),
    **dict.fromkeys(("repo", "repository", "package", "library", "module", "gist", "fork"), "repo"),
    **dict.fromkeys(("project", "workspace", "board"), "project"),
    **dict.fromkeys(("team", "group", "squad", "channel"), "team"),
    **dict.fromkeys(("location", "place", "venue", "site", "address", "warehouse"), "place"),
    **dict.fromkeys(("store", "shop", "restaurant", "outlet"), "store"),
    **dict.fromkeys(("file", "document", "attachment", "upload", "asset", "image", "photo", "blob"), "file"),
    **dict.fromkeys(("book", "album", "movie", "song", "track", "playlist", "course", "episode", "podcast",
                     "shelf", "post", "story", "page"), "work"),
    **dict.fromkeys(("tag", "category", "label", "genre", "topic", "keyword", "collection"), "tag"),
    **dict.fromkeys(("service", "app", "application", "cluster", "server", "instance", "database", "bucket",
                     "queue", "environment", "deployment", "function", "host", "node", "container", "pipeline",
                     "job", "webhook", "integration", "subscription"), "service"),
    **dict.fromkeys(("region", "zone", "datacenter"), "region"),
    **dict.fromkeys(("event", "meeting", "session", "webinar", "conference"), "event"),
    **dict.fromkeys(("plan", "tier", "price", "pricing"), "plan"),
    **dict.fromkeys(("vehicle", "car", "truck", "bike"), "vehicle"),
    **dict.fromkeys(("recipe", "dish", "ingredient", "meal", "menu"), "food"),
    **dict.fromkeys(("role", "permission", "scope"), "role"),
    **dict.fromkeys(("department", "division", "unit"), "department"),
    **dict.fromkeys(("company", "organization", "organisation", "org", "vendor", "merchant", "supplier", "brand",
                     "tenant", "business", "partner", "employer", "manufacturer", "publisher"), "company"),
    **dict.fromkeys(("user", "person", "people", "owner", "customer", "client", "author", "member", "employee",
                     "contact", "profile", "player", "student", "teacher", "patient", "driver", "guest", "buyer",
                     "seller", "recipient", "sender", "assignee", "reviewer", "creator", "admin", "manager",
                     "staff", "agent", "participant", "attendee", "passenger", "traveler", "traveller",
                     "applicant", "candidate", "subscriber", "follower", "friend", "individual", "holder"),
                    "person"),
}
#: Context words that say nothing about the domain (``PetResponse`` is a pet).
_FILLER = frozenset(
    ("response", "request", "dto", "model", "input", "output", "new", "create", "created", "update", "updated",
     "patch", "put", "post", "get", "details", "detail", "summary", "info", "data", "payload", "body", "result",
     "results", "entity", "object", "resource", "schema", "record", "view", "base", "full", "public", "private",
     "read", "write", "simple", "extended", "v1", "v2", "v3", "api", "params", "properties", "attributes", "spec",
     "status", "ref", "reference", "list", "page", "paged", "paginated", "collection", "wrapper", "entry",
     "short", "basic", "minimal", "core", "partial", "one", "single", "json", "the", "a", "of", "for", "and")
)
_WORD_SPLIT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def singular(word: str) -> str:
    """``categories`` -> ``category``, ``addresses`` -> ``address``, ``pets`` -> ``pet``."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def domain_of(context: str | None) -> str | None:
    """The domain a context names: ``NewPetRequest`` -> ``pet``, ``repositories`` -> ``repo``,
    ``PetOwner`` -> ``person``; ``None`` when no word of it is known (or no context)."""
    if not context:
        return None
    words = [singular(w.lower()) for w in _WORD_SPLIT.findall(context)]
    for word in reversed(words):
        if word in _FILLER:
            continue
        kind = _KINDS.get(word)
        if kind is not None:
            return kind
    # a context spelled in one word of several parts (``petstoreitem``) or unknown: the last part
    joined = "".join(words)
    return next((k for w, k in _KINDS.items() if len(w) > 3 and joined.endswith(w)), None)


#: Normalised property names (lower case, letters and digits) that name the thing itself.
_NAME_KEYS = frozenset(("name", "displayname", "title", "label", "fullname"))


def name_in(key: str, context: str | None) -> StrGen | None:
    """How the name-like property ``key`` (normalised) reads inside ``context``: ``name`` of a
    pet, ``petName``, ``repoName``. ``None`` when the domain is a person or a company (formats.py
    has those) or unknown."""
    if key in _NAME_KEYS:
        kind = domain_of(context)
        if kind is None or (key == "title" and kind != "work"):
            return None
        return _NAMES.get(kind)
    if key.endswith("name") and len(key) > 4:
        kind = _KINDS.get(key[:-4])
        return _NAMES.get(kind) if kind is not None else None
    return None


#: Normalised property name -> generator (strings whose name says what they hold).
WORD_STRINGS: dict[str, StrGen] = {
    "sku": lambda rng: f"SKU-{rng.randint(10000, 99999)}",
    "species": _pick(_SPECIES), "breed": _pick(_BREEDS),
    "category": _pick(_TAGS), "tag": _pick(_TAGS), "genre": _pick(("jazz", "rock", "drama", "comedy", "fantasy")),
    "topic": _pick(_TOPICS), "keyword": _pick(_TAGS), "query": _pick(_TAGS), "search": _pick(_TAGS),
    "region": _pick(_REGIONS), "zone": lambda rng: rng.choice(_REGIONS) + rng.choice("abc"),
    "province": _pick(("Ontario", "Quebec", "Bavaria", "Catalonia", "Queensland")),
    "role": _pick(_ROLES), "department": _pick(_DEPARTMENTS), "jobtitle": _pick(_JOBS), "position": _pick(_JOBS),
    "occupation": _pick(_JOBS), "team": _pick(_TEAMS), "plan": _pick(_PLANS), "tier": _pick(_PLANS),
    "code": lambda rng: f"{rng.choice('ABCDEFGHJKMNPQRSTUVWXYZ')}{rng.choice('ABCDEFGHJKMNPQRSTUVWXYZ')}"
                        f"{rng.randint(100, 999)}",
    "reference": lambda rng: f"REF-{rng.randint(100000, 999999)}", "ref": lambda rng: f"REF-{rng.randint(1000, 9999)}",
    "iban": lambda rng: f"DE{rng.randint(10, 99)}{rng.randint(10**17, 10**18 - 1)}",
    "isbn": lambda rng: f"978-{rng.randint(0, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}-"
                        f"{rng.randint(0, 9)}",
    "mimetype": _pick(_MIME), "contenttype": _pick(_MIME), "mediatype": _pick(_MIME),
    "method": _pick(("GET", "POST", "PUT", "DELETE")),
    "useragent": _pick(("Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0")),
    "path": lambda rng: f"/{rng.choice(_WORDS)}/{rng.choice(_WORDS)}",
    "key": lambda rng: f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}",
    "secret": _hex(32), "hash": _hex(40), "checksum": _hex(32), "sha": _hex(40), "etag": _hex(16),
    "digest": _hex(64), "commit": _hex(40), "signature": _hex(64),
    "mac": lambda rng: ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6)),
    "macaddress": lambda rng: ":".join(f"{rng.getrandbits(8):02x}" for _ in range(6)),
    "branch": _pick(("main", "develop", "release/2.1", "feature/search")),
    "repo": lambda rng: f"{rng.choice(_WORDS)}/{rng.choice(_WORDS)}-{rng.choice(_REPO_SUFFIX)}",
    "repository": lambda rng: f"{rng.choice(_WORDS)}/{rng.choice(_WORDS)}-{rng.choice(_REPO_SUFFIX)}",
    "nickname": lambda rng: f"{rng.choice(_WORDS)}{rng.randint(1, 99)}",
    "handle": lambda rng: f"@{rng.choice(_WORDS)}{rng.randint(1, 99)}",
    "reason": lambda rng: rng.choice(("Requested by customer", "Duplicate entry", "Out of stock", "Expired")),
    "error": lambda rng: rng.choice(("Not found", "Invalid input", "Rate limit exceeded", "Conflict")),
    "errormessage": lambda rng: rng.choice(("Not found", "Invalid input", "Rate limit exceeded", "Conflict")),
    "question": lambda rng: f"How do I {rng.choice(('reset', 'export', 'share', 'delete'))} my "
                            f"{rng.choice(('account', 'data', 'project', 'order'))}?",
    "answer": lambda rng: f"Open settings and choose {rng.choice(('Reset', 'Export', 'Share', 'Delete'))}.",
    "brand": _pick(("Acme", "Globex", "Initech", "Umbrella", "Hooli")),
    "model": _pick(("X-200", "Pro 14", "Air 2", "Mark IV", "S-Series")),
    "make": _pick(("Toyota", "Honda", "Volkswagen", "Ford", "Subaru")),
    "environment": _pick(_ENVS), "env": _pick(_ENVS),
}


def word_hint(key: str) -> StrGen | None:
    """A generator for a property named ``key`` (normalised), from the table or its last part
    (``orderCode``, ``accountNumber``, ``productType``, ``postTopic``)."""
    hit = WORD_STRINGS.get(key)
    if hit is not None:
        return hit
    if key.endswith("code") and len(key) > 4:
        return WORD_STRINGS["code"]
    if key.endswith("number") and len(key) > 6:
        return lambda rng: f"{rng.randint(10**7, 10**8 - 1)}"
    if key.endswith(("type", "kind")) and len(key) > 4:
        return lambda rng: rng.choice(("standard", "basic", "premium", "custom"))
    if key.endswith(("reference", "ref")) and len(key) > 4:
        return WORD_STRINGS["reference"]
    if key.endswith(("hash", "sha", "checksum", "digest")):
        return _hex(40)
    if key.endswith("path") and len(key) > 4:
        return WORD_STRINGS["path"]
    for tail in ("category", "region", "role", "tag", "topic", "genre", "species", "breed", "sku", "iban"):
        if key.endswith(tail) and len(key) > len(tail):
            return WORD_STRINGS[tail]
    return None
