"""The matcher vocabulary: one table from operator name to a small class, shared by every protocol.

A MATCHER in a stub file is a plain string (equals) or a mapping of operators; ``OPERATORS`` maps
each name (``equals``, ``contains``, ``matches``, ``absent``, ``and``, ``or``) to the function that
compiles it into a ``ValueMatcher``. HTTP query/header/form/JSONPath matchers, gRPC field and
metadata matchers and WebSocket regex rules all compile here, so one operator means one thing.

Why hand-written: what we need is a *distance* with a readable diff (``core/distance.py``), which
no matching library gives. ``matches`` runs on RE2 (``core/regex.py``): linear in the input, and a
yes/no (``ok``) never computes a distance, so the match path stays O(input) and difflib-free.

    m = compile_value_matcher({"matches": "^d", "case_insensitive": True}, "query.kind")
    m.ok("Dog")                    # True
    m.match("cat").diffs           # ['query.kind: expected matches "^d" (case-insensitive), got "cat"']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mockforge.core.distance import EXACT, MatchResult, combine, miss, quote, quote_bounded, similarity_distance
from mockforge.core.regex import RegexError, UserRegex, compile_user_regex
from mockforge.errors import StubError


def as_text(value: Any) -> str:
    """A JSON value as the text a value matcher sees (strings as they are, the rest as JSON)."""
    if isinstance(value, str):
        return value
    return quote(value)

# --------------------------------------------------------------------------- value matchers


class ValueMatcher:
    """Matches one optional string (a query value, a header, a JSONPath result).

    ``label`` prefixes the diffs (``query.kind``); ``describe()`` is the expectation's text.
    """

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def describe(self) -> str:
        raise NotImplementedError

    def match(self, value: str | None) -> MatchResult:
        raise NotImplementedError

    def ok(self, value: str | None) -> bool:
        """``match(value).matched`` without building a distance or a diff."""
        return self.match(value).matched

    def ok_any(self, values: list[str]) -> bool:
        if not values:
            return self.ok(None)
        if len(values) == 1:
            return self.ok(values[0])
        return any(self.ok(v) for v in values)

    def match_any(self, values: list[str]) -> MatchResult:
        """The best result over several values (repeated query parameters or headers)."""
        if not values:
            return self.match(None)
        best: MatchResult | None = None
        for v in values:
            r = self.match(v)
            if r.distance == 0.0:
                return r
            if best is None or r.distance < best.distance:
                best = r
        assert best is not None
        return best

    def _miss(self, value: str | None, distance: float = 1.0) -> MatchResult:
        got = "no value" if value is None else quote_bounded(value)
        prefix = f"{self.label}: " if self.label else ""
        return miss(f"{prefix}expected {self.describe()}, got {got}", distance)


class _TextMatcher(ValueMatcher):
    __slots__ = ("_cmp", "case_insensitive", "expected")

    op = ""

    def __init__(self, label: str, expected: str, case_insensitive: bool) -> None:
        super().__init__(label)
        self.expected = expected
        self.case_insensitive = case_insensitive
        self._cmp = expected.casefold() if case_insensitive else expected

    def describe(self) -> str:
        ci = " (case-insensitive)" if self.case_insensitive else ""
        return f"{self.op} {quote(self.expected)}{ci}"

    def _norm(self, value: str) -> str:
        return value.casefold() if self.case_insensitive else value

    def match(self, value: str | None) -> MatchResult:
        """Exact when ``ok``; otherwise the distance of the (normalised) texts."""
        if value is None:
            return self._miss(value)
        if self.ok(value):
            return EXACT
        return self._miss(value, similarity_distance(self._cmp, self._norm(value)))


class EqualsMatcher(_TextMatcher):
    __slots__ = ()
    op = "equals"

    def ok(self, value: str | None) -> bool:
        return value is not None and self._norm(value) == self._cmp


class ContainsMatcher(_TextMatcher):
    __slots__ = ()
    op = "contains"

    def ok(self, value: str | None) -> bool:
        return value is not None and self._cmp in self._norm(value)


class RegexMatcher(_TextMatcher):
    """``matches``: the regex must match somewhere (anchor it with ``^...$`` for the whole)."""

    __slots__ = ("regex",)
    op = "matches"

    def __init__(self, label: str, expected: str, case_insensitive: bool, where: str) -> None:
        super().__init__(label, expected, case_insensitive)
        self.regex = compile_regex(expected, where, ignore_case=case_insensitive)

    def match(self, value: str | None) -> MatchResult:
        if value is not None and self.regex.test(value):
            return EXACT
        return self._miss(value)

    def ok(self, value: str | None) -> bool:
        return value is not None and self.regex.test(value)


class AbsentMatcher(ValueMatcher):
    """``absent: true`` wants no value; ``absent: false`` wants any value."""

    __slots__ = ("absent",)

    def __init__(self, label: str, absent: bool) -> None:
        super().__init__(label)
        self.absent = absent

    def describe(self) -> str:
        return "absent" if self.absent else "present"

    def match(self, value: str | None) -> MatchResult:
        if (value is None) == self.absent:
            return EXACT
        return self._miss(value)


class AllOf(ValueMatcher):
    __slots__ = ("matchers",)

    def __init__(self, label: str, matchers: list[ValueMatcher]) -> None:
        super().__init__(label)
        self.matchers = matchers

    def describe(self) -> str:
        return " and ".join(m.describe() for m in self.matchers)

    def match(self, value: str | None) -> MatchResult:
        return combine((1.0, m.match(value)) for m in self.matchers)

    def ok(self, value: str | None) -> bool:
        return all(m.ok(value) for m in self.matchers)


class AnyOf(ValueMatcher):
    __slots__ = ("matchers",)

    def __init__(self, label: str, matchers: list[ValueMatcher]) -> None:
        super().__init__(label)
        self.matchers = matchers

    def describe(self) -> str:
        return "(" + " or ".join(m.describe() for m in self.matchers) + ")"

    def match(self, value: str | None) -> MatchResult:
        best = min((m.match(value) for m in self.matchers), key=lambda r: r.distance)
        return EXACT if best.distance == 0.0 else self._miss(value, best.distance)

    def ok(self, value: str | None) -> bool:
        return any(m.ok(value) for m in self.matchers)


def compile_regex(pattern: str, where: str, *, ignore_case: bool = False) -> UserRegex:
    """A user regex on RE2; a pattern RE2 cannot run is a ``StubError`` naming ``where``."""
    try:
        return compile_user_regex(pattern, where=where, ignore_case=ignore_case)
    except RegexError as exc:
        raise StubError(exc.reason, where=where) from None

#: ``name -> compile(label, argument, case_insensitive, where)``; the order is the order in which
#: several operators of one MATCHER are checked and their diffs listed.
Operator = Callable[[str, Any, bool, str], ValueMatcher]


def _text_arg(op: str, arg: Any, where: str) -> str:
    if isinstance(arg, bool) or not isinstance(arg, str | int | float):
        raise StubError(f"'{op}' takes a string", where=f"{where}.{op}")
    return str(arg)


def _equals(label: str, arg: Any, ci: bool, where: str) -> ValueMatcher:
    return EqualsMatcher(label, _text_arg("equals", arg, where), ci)


def _contains(label: str, arg: Any, ci: bool, where: str) -> ValueMatcher:
    return ContainsMatcher(label, _text_arg("contains", arg, where), ci)


def _matches(label: str, arg: Any, ci: bool, where: str) -> ValueMatcher:
    return RegexMatcher(label, _text_arg("matches", arg, where), ci, f"{where}.matches")


def _absent(label: str, arg: Any, ci: bool, where: str) -> ValueMatcher:
    if not isinstance(arg, bool):
        raise StubError("'absent' must be true or false", where=f"{where}.absent")
    return AbsentMatcher(label, arg)


def _logical(op: str) -> Operator:
    def compile_list(label: str, arg: Any, ci: bool, where: str) -> ValueMatcher:
        if not isinstance(arg, list) or not arg:
            raise StubError(f"'{op}' takes a non-empty list of matchers", where=f"{where}.{op}")
        subs = [compile_value_matcher(s, f"{where}.{op}[{i}]", label) for i, s in enumerate(arg)]
        return AllOf(label, subs) if op == "and" else AnyOf(label, subs)

    return compile_list


OPERATORS: dict[str, Operator] = {
    "equals": _equals,
    "contains": _contains,
    "matches": _matches,
    "absent": _absent,
    "and": _logical("and"),
    "or": _logical("or"),
}
_VALUE_KEYS = frozenset({*OPERATORS, "case_insensitive"})


def compile_value_matcher(spec: Any, where: str, label: str | None = None) -> ValueMatcher:
    """Compile a MATCHER: a plain string (or number/bool) means equals; otherwise a mapping of
    ``OPERATORS`` (several are all required) and ``case_insensitive: true``. Errors are
    ``StubError`` naming ``where``; diffs use ``label`` (default ``where``)."""
    lab = where if label is None else label
    if isinstance(spec, bool):
        return EqualsMatcher(lab, "true" if spec else "false", False)
    if isinstance(spec, str | int | float):
        return EqualsMatcher(lab, str(spec), False)
    if not isinstance(spec, Mapping):
        raise StubError(f"expected a string or a matcher object, got {type(spec).__name__}", where=where)
    unknown = sorted(set(spec) - _VALUE_KEYS)
    if unknown:
        known = ", ".join(sorted(_VALUE_KEYS))
        raise StubError(f"unknown matcher key {quote(unknown[0])} (known: {known})", where=where)
    ci = spec.get("case_insensitive", False)
    if not isinstance(ci, bool):
        raise StubError("'case_insensitive' must be true or false", where=f"{where}.case_insensitive")
    matchers = [compile_op(lab, spec[op], ci, where) for op, compile_op in OPERATORS.items() if op in spec]
    if not matchers:
        raise StubError("a matcher needs one of equals, contains, matches, absent, and, or", where=where)
    return matchers[0] if len(matchers) == 1 else AllOf(lab, matchers)
