"""What may be written as a response header: the one check, used at stub add and on the wire.

Why: a header built from input (a stub template fed from the query, a plugin's answer, a replayed
fixture) that carries CR or LF ends its line early, so the input writes its own headers
(``Set-Cookie``) or a whole second response (response splitting); NUL and other control bytes
are refused by some clients and passed on by others. RFC 9110 (5.1, 5.5) fixes what is allowed:
a field name is a ``token`` (letters, digits and ``!#$%&'*+-.^_`|~``); a field value is visible
ASCII, space, tab and obs-text (0x80-0xFF). Everything else here is a "bad" character.

Where it is used:
- stub add (``core/stubs.py``): a literal header name or value with a bad character is refused
  with an error naming the stub and the header (the admin API answers 400);
- serialisation (``http/protocol.py``): every header of every answer passes ``is_clean_value``;
  a value that fails is cleaned with ``clean_header`` (bad characters removed) and a header whose
  name is not a token is dropped, counted and logged, never written.

Cost: the wire check is ``str.isprintable()``, a C loop with no allocation, true for almost every
value; only a value it rejects (a tab, obs-text, or a real control character) pays one
``str.translate`` to tell them apart. Names are checked once and remembered by the caller.
"""

from __future__ import annotations

import string

#: RFC 9110 ``tchar``: the characters of a header name.
TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters)
#: Control characters not allowed in a value (HTAB is allowed).
_BAD_VALUE_CHARS = "".join(chr(c) for c in range(0x20) if c != 0x09) + "\x7f"
_BAD_VALUE_SET = frozenset(_BAD_VALUE_CHARS)
_DROP_BAD_VALUE = str.maketrans("", "", _BAD_VALUE_CHARS)
_DROP_TOKEN = str.maketrans("", "", "".join(sorted(TOKEN_CHARS)))
_NAMES = {"\r": "CR (\\r)", "\n": "LF (\\n)", "\x00": "NUL (\\0)", " ": "a space", "\t": "a tab", ":": "':'"}


def describe_char(char: str) -> str:
    """``CR (\\r)``, ``LF (\\n)``, ``NUL (\\0)`` or ``U+001B``: how an error names a character."""
    return _NAMES.get(char) or f"U+{ord(char):04X}"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a header name, or None when it can."""
    if not name:
        return "a header name cannot be empty"
    rest = name.translate(_DROP_TOKEN)
    if rest:
        return f"header name {name!r} has {describe_char(rest[0])}, not allowed in a header name"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a header value (the first bad character and where), or None."""
    if value.isprintable():
        return None
    for i, char in enumerate(value):
        if char in _BAD_VALUE_SET:
            return (
                f"has {describe_char(char)} at offset {i}: CR, LF, NUL and other control characters "
                "are not allowed in a header value (they would forge headers)"
            )
    return None


def is_clean_value(value: object) -> bool:
    """True when ``value`` is a str that can be written as it is (the serialiser's fast path)."""
    if type(value) is not str:
        return False
    if value.isprintable():
        return True
    return len(value.translate(_DROP_BAD_VALUE)) == len(value)


def is_token(name: str) -> bool:
    return bool(name) and not name.translate(_DROP_TOKEN)


def clean_header(name: object, value: object) -> tuple[str, str] | None:
    """The header made safe to write: bad characters removed from the value, or None (drop it)
    when the name is not a token. Never raises."""
    name = name if type(name) is str else str(name)
    if not is_token(name):
        return None
    text = value if type(value) is str else str(value)
    return name, text.translate(_DROP_BAD_VALUE)
