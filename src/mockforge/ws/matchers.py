"""WebSocket message predicates: the rule/script syntax, translated into core matchers.

Scripts (``waitFor``) and rules (``match``) share one syntax, compiled once at start:

    compile_matcher("^hello")                       # regex, searched in the text
    compile_matcher("$.user.id")                    # JSONPath: matches when it finds a value
    compile_matcher("$.type == 'ping'")             # JSONPath compared with a JSON literal
    compile_matcher("$.type != 'ping'")             # true when no found value equals it

Nothing here matches by itself: a frame is a core ``MatchSubject`` whose body is the frame
(``frame_subject``), a regex is the core ``matches`` operator (RE2, ``core/matchers.py``) and a
JSONPath is a core ``JsonValueCheck`` (jsonpath-ng, imported when the first one is compiled), so
WebSocket rules, HTTP stubs and gRPC stubs share one matcher model (``core/matching.py``). This
module only reads the WebSocket syntax (docs/WEBSOCKET.md), which stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from mockforge.core.matching import BodyMatcher, JsonValueCheck, MatchSubject, parse_json_path
from mockforge.errors import StubError
from mockforge.ws.model import Message

Matcher = Callable[[Message], bool]

#: ``<path> == <literal>`` / ``<path> != <literal>``; the literal is quoted text or JSON.
_COMPARISON = re.compile(r"^(?P<path>.+?)\s*(?P<op>==|!=)\s*(?P<value>.+?)\s*$", re.S)


class MatcherError(ValueError):
    """A pattern that does not compile; the message says why."""


class FrameSubject(MatchSubject):
    """A frame as the subject of core matchers: its data is the body, and its JSON is the frame's
    own (parsed once, only when a JSONPath asks)."""

    __slots__ = ("message",)

    def __init__(self, message: Message) -> None:
        super().__init__("WS", "", body=message.data)
        self.message = message

    def json(self) -> Any:
        return self.message.json()


def frame_subject(message: Message) -> MatchSubject:
    return FrameSubject(message)


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise MatcherError(f"cannot read {text!r} as a value: quote text ('x') or write JSON") from None


def compile_json_check(text: str) -> BodyMatcher:
    """``$.path``, ``$.path == literal`` or ``$.path != literal`` as a core body matcher."""
    op: str | None = None
    expected: Any = None
    path_text = text
    m = _COMPARISON.match(text)
    if m is not None:
        path_text, op = m.group("path"), m.group("op")
        expected = _literal(m.group("value"))
    try:
        path = parse_json_path(path_text)
    except ValueError as exc:
        raise MatcherError(f"invalid JSONPath {path_text!r}: {exc}") from None
    return BodyMatcher([JsonValueCheck(path, path_text, op, expected)])


def compile_regex_check(text: str) -> BodyMatcher:
    """A regex searched in the frame text: the core ``matches`` operator, on RE2."""
    try:
        return BodyMatcher.compile({"matches": text}, "regex")
    except StubError as exc:
        raise MatcherError(exc.message) from None


def compile_check(text: str) -> BodyMatcher:
    """A regex, or a JSONPath when ``text`` starts with ``$``, as a core body matcher; raises
    ``MatcherError``."""
    if not isinstance(text, str) or not text:
        raise MatcherError("expected a non-empty string (a regex, or a JSONPath starting with $)")
    if text.lstrip().startswith("$"):
        return compile_json_check(text.strip())
    return compile_regex_check(text)


def _on_frames(check: BodyMatcher) -> Matcher:
    ok = check.ok
    return lambda message: ok(frame_subject(message))


def compile_regex(text: str) -> Matcher:
    """A regex searched in the message text, on RE2 (linear time, ``core/regex.py``)."""
    return _on_frames(compile_regex_check(text))


def compile_matcher(text: str) -> Matcher:
    """A regex, or a JSONPath when ``text`` starts with ``$``; raises ``MatcherError``."""
    return _on_frames(compile_check(text))
