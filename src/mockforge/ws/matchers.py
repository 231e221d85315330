"""Predicates on WebSocket messages: a regex, or a JSONPath with an optional comparison.

Scripts (``waitFor``) and rules (``match``) share one syntax, compiled once at start:

    compile_matcher("^hello")                       # regex, searched in the text
    compile_matcher("$.user.id")                    # JSONPath: matches when it finds a value
    compile_matcher("$.type == 'ping'")             # JSONPath compared with a JSON literal
    compile_matcher("$.type != 'ping'")             # true when no found value equals it

Hand-written glue only: the JSONPath itself is jsonpath-ng (its extended parser, so filters
such as ``$.items[?(@.n > 2)]`` work), imported when the first JSONPath is compiled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from mockforge.core.regex import RegexError, compile_user_regex
from mockforge.ws.model import Message

Matcher = Callable[[Message], bool]

#: ``<path> == <literal>`` / ``<path> != <literal>``; the literal is quoted text or JSON.
_COMPARISON = re.compile(r"^(?P<path>.+?)\s*(?P<op>==|!=)\s*(?P<value>.+?)\s*$", re.S)


class MatcherError(ValueError):
    """A pattern that does not compile; the message says why."""


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise MatcherError(f"cannot read {text!r} as a value: quote text ('x') or write JSON") from None


def _compile_jsonpath(text: str) -> Matcher:
    from jsonpath_ng.ext.parser import parse

    op: str | None = None
    expected: Any = None
    path_text = text
    m = _COMPARISON.match(text)
    if m is not None:
        path_text, op = m.group("path"), m.group("op")
        expected = _literal(m.group("value"))
    try:
        path = parse(path_text)
    except Exception as exc:  # jsonpath-ng raises lexer, parser and plain errors
        raise MatcherError(f"invalid JSONPath {path_text!r}: {exc}") from None

    def found(message: Message) -> list[Any] | None:
        doc = message.json()
        if doc is None and message.data not in ("null", b"null"):
            return None
        try:
            return [match.value for match in path.find(doc)]
        except Exception:  # jsonpath-ng raises assorted errors on odd documents
            return []

    if op is None:
        return lambda message: bool(found(message))
    if op == "==":

        def equal(message: Message) -> bool:
            values = found(message)
            return bool(values) and any(v == expected for v in values or ())

        return equal

    def not_equal(message: Message) -> bool:
        values = found(message)
        return values is not None and all(v != expected for v in values)

    return not_equal


def compile_regex(text: str) -> Matcher:
    """A regex searched in the message text, on RE2 (linear time, ``core/regex.py``)."""
    try:
        rx = compile_user_regex(text, where="regex")
    except RegexError as exc:
        raise MatcherError(exc.reason) from None
    test = rx.test
    return lambda message: test(message.text)


def compile_matcher(text: str) -> Matcher:
    """A regex, or a JSONPath when ``text`` starts with ``$``; raises ``MatcherError``."""
    if not isinstance(text, str) or not text:
        raise MatcherError("expected a non-empty string (a regex, or a JSONPath starting with $)")
    if text.lstrip().startswith("$"):
        return _compile_jsonpath(text.strip())
    return compile_regex(text)
