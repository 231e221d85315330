"""The ``body`` part of a request pattern: ``equals_json``, text operators, ``json_path``, ``form``.

Several kinds in one mapping are all required. Each kind compiles once into a check returning a
``MatchResult``; JSONPath (jsonpath-ng, imported on first use) is shared with gRPC field matchers
through ``JsonPathCheck``, whose two modes keep each protocol's documented reading: HTTP matches
any value the path finds, gRPC the first one, as proto-JSON text.

Cost: ``BodyMatcher.ok`` is the yes/no of the match path and skips distances (a text ``equals``
on a large body would otherwise pay for a similarity score on every mismatch); ``equals_json``
diffs are computed only when the documents differ.

    BodyMatcher.compile({"json_path": {"$.name": {"equals": "doggie"}}}, "request.body")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from mockforge.core.distance import EXACT, MIN_MISS, MatchResult, combine, miss, quote
from mockforge.core.limits import DEFAULT_DOCUMENT_DEPTH, LimitError, check_depth
from mockforge.core.matchers import ValueMatcher, as_text, compile_value_matcher
from mockforge.core.subject import MatchSubject
from mockforge.errors import StubError

BodyCheck = Callable[[MatchSubject], MatchResult]

_BODY_KEYS = frozenset(
    {
        "equals",
        "contains",
        "matches",
        "case_insensitive",
        "equals_json",
        "ignore_extra_fields",
        "ignore_array_order",
        "json_path",
        "form",
    }
)


def _json_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return max(1, sum(_json_leaves(v) for v in value.values()))
    if isinstance(value, list):
        return max(1, sum(_json_leaves(v) for v in value))
    return 1


def _json_diffs(expected: Any, actual: Any, at: str, extra_ok: bool, any_order: bool) -> list[str]:
    """Where ``actual`` departs from ``expected`` (JSONPath-like locations)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{at}: expected an object, got {quote(actual)}"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{at}.{key}: expected {quote(value)}, got no value")
            else:
                out.extend(_json_diffs(value, actual[key], f"{at}.{key}", extra_ok, any_order))
        if not extra_ok:
            out.extend(f"{at}.{key}: unexpected field" for key in actual if key not in expected)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{at}: expected an array, got {quote(actual)}"]
        if len(expected) != len(actual):
            return [f"{at}: expected {len(expected)} items, got {len(actual)}"]
        if not any_order:
            out = []
            for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
                out.extend(_json_diffs(e, a, f"{at}[{i}]", extra_ok, any_order))
            return out
        remaining = list(actual)
        out = []
        for i, e in enumerate(expected):
            for j, a in enumerate(remaining):
                if not _json_diffs(e, a, "", extra_ok, any_order):
                    del remaining[j]
                    break
            else:
                out.append(f"{at}[{i}]: no item equal to {quote(e)}")
        return out
    # JSON has one number type: 1 and 1.0 are equal, but true is not 1.
    if expected == actual and isinstance(expected, bool) == isinstance(actual, bool):
        return []
    return [f"{at}: expected {quote(expected)}, got {quote(actual)}"]


def _equals_json(spec: Mapping[str, Any], where: str) -> BodyCheck:
    expected = spec["equals_json"]
    if isinstance(expected, str):
        try:
            expected = orjson.loads(expected)
        except orjson.JSONDecodeError:
            pass
        try:  # a stub file's own text was bounded, but this JSON inside a string was not
            check_depth(expected, DEFAULT_DOCUMENT_DEPTH)
        except LimitError as exc:
            raise StubError(f"equals_json is {exc.message}", where=f"{where}.equals_json") from None
    extra_ok = spec.get("ignore_extra_fields", False)
    any_order = spec.get("ignore_array_order", False)
    for key in ("ignore_extra_fields", "ignore_array_order"):
        if not isinstance(spec.get(key, False), bool):
            raise StubError(f"'{key}' must be true or false", where=f"{where}.{key}")
    leaves = _json_leaves(expected)

    def check(subject: MatchSubject) -> MatchResult:
        actual = subject.json()
        if actual is None and subject.text.strip() != "null":
            return miss(f"body: expected JSON equal to {quote(expected)}, got {_excerpt(subject.text)}")
        diffs = _json_diffs(expected, actual, "body", extra_ok, any_order)
        if not diffs:
            return EXACT
        return MatchResult(min(1.0, max(MIN_MISS, len(diffs) / leaves)), diffs)

    return check


def _excerpt(text: str) -> str:
    if not text:
        return "an empty body"
    return quote(text if len(text) <= 80 else text[:77] + "...")


class _TextBody:
    """``equals``/``contains``/``matches`` on the body text, with a yes/no that skips distances."""

    __slots__ = ("matcher",)

    def __init__(self, spec: Mapping[str, Any], where: str) -> None:
        sub = {k: spec[k] for k in ("equals", "contains", "matches", "case_insensitive") if k in spec}
        self.matcher = compile_value_matcher(sub, where, "body")

    def __call__(self, subject: MatchSubject) -> MatchResult:
        return self.matcher.match(subject.text)

    def ok(self, subject: MatchSubject) -> bool:
        return self.matcher.ok(subject.text)


def parse_json_path(expr: str) -> Any:
    """A compiled JSONPath (jsonpath-ng's extended parser, so filters work); ``ValueError`` with
    the parser's reason otherwise."""
    from jsonpath_ng.ext.parser import parse

    try:
        return parse(expr)
    except Exception as exc:  # jsonpath-ng raises several unrelated types for bad input
        raise ValueError(str(exc)) from None


def find_values(path: Any, doc: Any) -> list[Any]:
    """The values ``path`` finds in ``doc``; none when jsonpath-ng fails on an odd document (a
    filter comparing text with a number raises), so a request can never crash the match."""
    try:
        return [m.value for m in path.find(doc)]
    except Exception:  # jsonpath-ng raises assorted errors on odd documents
        return []


def _first_value_text(value: Any) -> str:
    """gRPC's reading of a field: proto-JSON scalars as text, ``null`` as empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


class JsonPathCheck:
    """Each ``(JSONPath, MATCHER)`` pair on the body's JSON. By default a matcher sees every value
    found (HTTP ``json_path``: any may match); with ``first_only`` it sees the first value found
    or none (gRPC ``request.fields``)."""

    __slots__ = ("first_only", "pairs")

    def __init__(self, pairs: list[tuple[Any, ValueMatcher]], *, first_only: bool = False) -> None:
        self.pairs = pairs
        self.first_only = first_only

    def __call__(self, subject: MatchSubject) -> MatchResult:
        doc = subject.json()
        parts: list[tuple[float, MatchResult]] = []
        for path, matcher in self.pairs:
            if self.first_only:
                found = find_values(path, doc)
                parts.append((1.0, matcher.match(_first_value_text(found[0]) if found else None)))
                continue
            values = [as_text(v) for v in find_values(path, doc)] if doc is not None else []
            parts.append((1.0, matcher.match_any(values)))
        return combine(parts)

    def ok(self, subject: MatchSubject) -> bool:
        """``self(subject).matched`` without distances or diffs (the match path)."""
        doc = subject.json()
        for path, matcher in self.pairs:
            if self.first_only:
                found = find_values(path, doc)
                if not matcher.ok(_first_value_text(found[0]) if found else None):
                    return False
            elif not matcher.ok_any([as_text(v) for v in find_values(path, doc)] if doc is not None else []):
                return False
        return True


class JsonValueCheck:
    """The values a JSONPath finds, compared as JSON with a literal (WebSocket ``match.json_path``:
    ``$.type == 'join'``): ``==`` when one equals it, ``!=`` when the body is JSON and none
    does, and with no ``op`` when the path finds any value."""

    __slots__ = ("expected", "op", "path", "text")

    def __init__(self, path: Any, text: str, op: str | None = None, expected: Any = None) -> None:
        self.path = path
        self.text = text
        self.op = op
        self.expected = expected

    def _found(self, subject: MatchSubject) -> list[Any] | None:
        doc = subject.json()
        if doc is None and subject.text != "null":
            return None  # not JSON
        return find_values(self.path, doc)

    def ok(self, subject: MatchSubject) -> bool:
        values = self._found(subject)
        if self.op is None:
            return bool(values)
        if self.op == "==":
            return bool(values) and any(v == self.expected for v in values or ())
        return values is not None and all(v != self.expected for v in values)

    def __call__(self, subject: MatchSubject) -> MatchResult:
        if self.ok(subject):
            return EXACT
        want = self.text if self.op is None else f"{self.text} {self.op} {quote(self.expected)}"
        return miss(f"body: expected {want}")


def _json_path(spec: Any, where: str) -> BodyCheck:
    if not isinstance(spec, Mapping) or not spec:
        raise StubError("'json_path' takes a mapping of JSONPath expression -> MATCHER", where=where)
    pairs: list[tuple[Any, ValueMatcher]] = []
    for expr, mspec in spec.items():
        at = f"{where}[{quote(expr)}]"
        try:
            path = parse_json_path(expr)
        except ValueError as exc:
            raise StubError(f"invalid JSONPath {quote(expr)}: {exc}", where=at) from None
        if mspec is True:
            mspec = {"absent": False}
        label = f"body{expr.removeprefix('$')}" if expr.startswith("$") else f"body {expr}"
        pairs.append((path, compile_value_matcher(mspec, at, label)))
    return JsonPathCheck(pairs)


def _form(spec: Any, where: str) -> BodyCheck:
    if not isinstance(spec, Mapping) or not spec:
        raise StubError("'form' takes a mapping of field -> MATCHER", where=where)
    fields = [(name, compile_value_matcher(m, f"{where}.{name}", f"form.{name}")) for name, m in spec.items()]

    def check(subject: MatchSubject) -> MatchResult:
        form = subject.form()
        return combine((1.0, m.match_any(form.get(name, []))) for name, m in fields)

    return check


#: Checks with a yes/no cheaper than their distance.
_YES_NO = (_TextBody, JsonPathCheck, JsonValueCheck)


class BodyMatcher:
    """The ``body`` part of a pattern: several matcher kinds in one mapping are all required.

    ``{equals_json: {...}, ignore_extra_fields: true}``, ``{contains: "x"}``, ``{matches: "^a"}``,
    ``{json_path: {"$.name": {equals: doggie}}}``, ``{form: {name: doggie}}``; a plain string
    means the body equals that text.
    """

    __slots__ = ("checks",)

    def __init__(self, checks: list[BodyCheck]) -> None:
        self.checks = checks

    @classmethod
    def compile(cls, spec: Any, where: str) -> BodyMatcher:
        if isinstance(spec, str):
            return cls([_TextBody({"equals": spec}, where)])
        if not isinstance(spec, Mapping):
            raise StubError("'body' takes a string or a body matcher object", where=where)
        unknown = sorted(set(spec) - _BODY_KEYS)
        if unknown:
            known = ", ".join(sorted(_BODY_KEYS))
            raise StubError(f"unknown body matcher key {quote(unknown[0])} (known: {known})", where=where)
        checks: list[BodyCheck] = []
        if "equals_json" in spec:
            checks.append(_equals_json(spec, where))
        if any(k in spec for k in ("equals", "contains", "matches")):
            checks.append(_TextBody(spec, where))
        if "json_path" in spec:
            checks.append(_json_path(spec["json_path"], f"{where}.json_path"))
        if "form" in spec:
            checks.append(_form(spec["form"], f"{where}.form"))
        if not checks:
            raise StubError(
                "a body matcher needs equals_json, equals, contains, matches, json_path or form", where=where
            )
        return cls(checks)

    def match(self, subject: MatchSubject) -> MatchResult:
        if subject.body_truncated:
            return miss("body: not compared, the logged body was truncated (core.max_logged_body_bytes)")
        return combine((1.0, check(subject)) for check in self.checks)

    def ok(self, subject: MatchSubject) -> bool:
        """``match(subject).matched`` without distances (a text ``equals`` on a large body would
        otherwise pay for a similarity score on every mismatch)."""
        if subject.body_truncated:
            return False
        for check in self.checks:  # noqa: SIM110 (a loop: all() over a generator costs more here)
            if not (check.ok(subject) if isinstance(check, _YES_NO) else check(subject).matched):
                return False
        return True

