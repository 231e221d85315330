r"""User regexes (stub paths, ``matches`` matchers, log filters, WebSocket rules, proxy rules, spec
``pattern``s) run on RE2, whose matching time is linear in the input: no pattern can stall the loop.

Why RE2 and not Python ``re``: ``re`` backtracks, so ``(a+)+$`` against 40 characters takes hours,
holds the GIL (a thread or a timeout does not help) and ignores SIGTERM. A time budget would need a
worker process per match (milliseconds each, and a pickled request), which the hot path cannot pay.
RE2 (``google-re2``) matches in O(pattern x input) with bounded memory (``max_mem``); the price is
that backreferences, lookaround, possessive and atomic groups are refused when the pattern is
added, with a one-line error naming where it came from (docs/STUBS.md lists the differences).

Cost, measured on the dev box (``python -X importtime``, ``VmRSS``): importing ``re2`` takes ~4 ms
and ~3.5 MB, so it is imported on the first user regex, not at start-up. A yes/no ``test`` goes
straight to a second compiled copy without captures (~0.7 us for a short path, against ~0.2 us
for ``re`` and ~3.7 us through ``re2.search``, whose generator and offset mapping only matter for
groups); without captures RE2 runs its DFA: ``^(\w+\s?)*$`` over 10 MiB takes ~33 ms instead of
~675 ms. Inputs are already bounded where they come in (``http.max_body_bytes``, the request line
and header limits, ``websocket.max_message_bytes``), so a match costs at most a linear pass over
one of those.
"""

from __future__ import annotations

import re
from typing import Any

#: Memory RE2 may use per compiled pattern (program and DFA cache); past it, compiling fails and
#: matching falls back to the slower (still linear) NFA.
MAX_MEM = 8 << 20
#: Longest pattern accepted, in characters.
MAX_PATTERN_CHARS = 16 * 1024

_re2: Any = None
_UNANCHORED: Any = None

# What RE2 refuses and Python accepts, told in words (RE2's own messages quote only a fragment).
_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookahead and lookbehind ((?=, (?!, (?<=, (?<!) are not supported"),
    (re.compile(r"\\[1-9]|\(\?P=|\\g<"), "backreferences (\\1, (?P=name)) are not supported"),
    (re.compile(r"\(\?>"), "atomic groups ((?>...)) are not supported"),
    (re.compile(r"[*+?}][+]"), "possessive quantifiers (a++, a*+) are not supported"),
    (re.compile(r"\(\?[a-zA-Z]*[xaLu]"), "the flags x, a, L and u are not supported (use i, m, s)"),
    (re.compile(r"\(\?\("), "conditional groups ((?(1)...)) are not supported"),
)


class RegexError(ValueError):
    """A user regex that cannot be used; ``str()`` is one line naming where it came from."""

    def __init__(self, pattern: str, where: str, reason: str) -> None:
        self.pattern = pattern
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


def _load() -> Any:
    global _re2, _UNANCHORED
    if _re2 is None:
        import re2  # type: ignore[import-untyped]  # no stubs shipped

        _re2 = re2
        _UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
    return _re2


def _translate(pattern: str) -> str:
    """Python-only spellings with an RE2 twin: ``\\Z`` (end of text) is RE2's ``\\z``."""
    if "\\Z" not in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\z" if nxt == "Z" else c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _reason(pattern: str, engine_message: str) -> str:
    try:
        re.compile(pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        return f"invalid regex {pattern!r}: {exc}"
    why = next((why for probe, why in _UNSUPPORTED if probe.search(pattern)), engine_message or "not supported")
    return f"regex {pattern!r} is not supported: {why} (user regexes run on RE2, see docs/STUBS.md)"


class UserRegex:
    """A compiled user regex with the ``re.Pattern`` calls we use: ``search``/``match``/
    ``fullmatch`` return a match object (``group``, ``groupdict``, ``span``), ``test`` is the cheap
    yes/no of ``search``."""

    __slots__ = ("_low", "_rx", "pattern")

    def __init__(self, pattern: str, rx: Any, no_capture: Any) -> None:
        self.pattern = pattern
        self._rx = rx
        self._low: Any = getattr(no_capture, "_regexp", None)

    def test(self, text: str) -> bool:
        low = self._low
        if low is None:  # another re2 build: the public API is slower but the same
            return self._rx.search(text) is not None
        data = text.encode("utf-8", "surrogatepass")
        spans = low.Match(_UNANCHORED, data, 0, len(data))
        return bool(spans[0][0] >= 0)

    def search(self, text: str) -> Any:
        return self._rx.search(text)

    def match(self, text: str) -> Any:
        return self._rx.match(text)

    def fullmatch(self, text: str) -> Any:
        return self._rx.fullmatch(text)

    @property
    def groupindex(self) -> dict[str, int]:
        return dict(self._rx.groupindex)

    def __repr__(self) -> str:
        return f"UserRegex({self.pattern!r})"


def compile_user_regex(pattern: str, *, where: str, ignore_case: bool = False) -> UserRegex:
    """Compile ``pattern`` (Python syntax, RE2 semantics) or raise ``RegexError`` naming ``where``
    (a stub id and key, a config key, a query parameter) and why."""
    if not isinstance(pattern, str):
        raise RegexError(str(pattern), where, f"a regex must be a string, got {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise RegexError(pattern, where, f"regex is longer than {MAX_PATTERN_CHARS} characters")
    re2 = _load()
    options = re2.Options()
    options.log_errors = False  # absl would print every refused pattern to stderr
    options.max_mem = MAX_MEM
    if ignore_case:
        options.case_sensitive = False
    try:
        rx = re2.compile(_translate(pattern), options)
        options.never_capture = True  # the yes/no copy: RE2 can use its DFA
        no_capture = re2.compile(_translate(pattern), options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise RegexError(pattern, where, _reason(pattern, text)) from None
    except (TypeError, ValueError) as exc:  # a NUL or surrogate the binding cannot take
        raise RegexError(pattern, where, f"invalid regex {pattern!r}: {exc}") from None
    return UserRegex(pattern, rx, no_capture)


def try_user_regex(pattern: Any) -> UserRegex | None:
    """The regex, or ``None`` when it cannot run on RE2 (spec ``pattern``s the data generator
    only uses as a hint)."""
    if not isinstance(pattern, str):
        return None
    try:
        return compile_user_regex(pattern, where="pattern")
    except RegexError:
        return None


_schema_options: Any = None


def schema_pattern_options() -> Any:
    """``pattern_options`` for jsonschema-rs validators of spec schemas: its linear ``regex``
    engine (its default, fancy-regex, backtracks for lookaround and backreferences, bounded only by
    a step limit per position). Patterns it cannot run are left out of the schema at load, with a
    warning (``openapi/normalize.py``)."""
    global _schema_options
    if _schema_options is None:
        import jsonschema_rs

        _schema_options = jsonschema_rs.RegexOptions(size_limit=MAX_MEM, dfa_size_limit=MAX_MEM)
    return _schema_options
