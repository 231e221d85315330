"""Request matching for stubs and verification: every matcher returns a distance, not a bool.

Why hand-written: the matcher vocabulary (``equals``, ``contains``, ``matches``, ``absent``,
``equals_json``, ``json_path``, ``form``) is ours, shared by stubs, ``POST /__mockforge/verify``
and the gRPC and WebSocket stubs; what we need from it is a *distance* with readable diffs so that
near misses can be ranked and explained, which no matching library gives. JSONPath itself is
evaluated by jsonpath-ng. User regexes (``matches``, ``{regex: ...}`` paths, globs) run on RE2
(``core/regex.py``), so matching is linear in the input.

Cost bounds: a yes/no ``matches`` never computes a distance; a distance compares at most
``max_distance_input()`` characters of each side (``core.max_near_miss_input_bytes``) and uses
difflib only when both sides are short (``_DIFFLIB_CELLS``), a linear prefix/suffix estimate
otherwise, so scoring a near miss costs O(bound) however large the request is.

A ``MatchResult`` has ``distance`` 0.0 (exact) to 1.0 (nothing alike) and ``diffs`` saying what
did not match; only distance 0.0 is a match. A request pattern combines its parts with weights
(path 10, method 3, body 3, each query parameter and header 1), so the closest stubs rank first:

    pattern = RequestPattern.compile({"method": "GET", "path": "/pets/{id}",
                                      "query": {"kind": "dog"}}, where="request")
    pattern.match(MatchSubject.from_request(req))
    # MatchResult(distance=0.07, diffs=['query.kind: expected equals "dog", got "cat"'])
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import msgspec
import orjson

from mockforge.core.limits import (
    DEFAULT_DOCUMENT_DEPTH,
    JsonTooDeep,
    LimitError,
    check_depth,
    decode_request_json,
)
from mockforge.core.model import Headers, LogEntry, Request
from mockforge.core.regex import RegexError, UserRegex, compile_user_regex
from mockforge.errors import StubError
from mockforge.tls.matching import cert_values

_WEIGHT_PATH = 10.0
_WEIGHT_METHOD = 3.0
_WEIGHT_BODY = 3.0
_WEIGHT_PARAM = 1.0
#: The smallest distance of a non-match, so a near miss is never mistaken for a match.
_MIN_MISS = 0.05


@dataclass(slots=True)
class MatchResult:
    """Distance 0.0 is an exact match, 1.0 no match; ``diffs`` explain every mismatch."""

    distance: float
    diffs: list[str] = field(default_factory=list)

    @property
    def matched(self) -> bool:
        return self.distance == 0.0


EXACT = MatchResult(0.0)


def miss(diff: str, distance: float = 1.0) -> MatchResult:
    return MatchResult(min(1.0, max(_MIN_MISS, distance)), [diff])


def combine(parts: Iterable[tuple[float, MatchResult]]) -> MatchResult:
    """Weighted mean of ``(weight, result)`` pairs; diffs concatenated in order."""
    total = 0.0
    acc = 0.0
    diffs: list[str] = []
    for weight, result in parts:
        total += weight
        acc += weight * result.distance
        diffs.extend(result.diffs)
    if total == 0.0 or acc == 0.0:
        return MatchResult(0.0, diffs) if diffs else EXACT
    return MatchResult(max(_MIN_MISS, acc / total), diffs)


def quote(value: Any) -> str:
    """A value as it appears in a diff: JSON text (strings in double quotes)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


#: difflib is quadratic (a 4 KB pair of near-equal strings takes 1.6 s): above this many cells
#: (len(a) x len(b), about 1 ms in the worst case) a linear estimate is used instead.
_DIFFLIB_CELLS = 16 * 1024
_distance_input = 4096


def set_max_distance_input(chars: int) -> None:
    """Characters of each side a distance looks at (``core.max_near_miss_input_bytes``; set once
    at start-up)."""
    global _distance_input
    _distance_input = max(1, chars)


def max_distance_input() -> int:
    return _distance_input


def quote_bounded(value: str) -> str:
    """``quote(value)``, cut to ``max_distance_input()`` characters (the length is said)."""
    if len(value) <= _distance_input:
        return quote(value)
    return f"{quote(value[:_distance_input])} (first {_distance_input} of {len(value)} characters)"


def similarity_distance(expected: str, actual: str) -> float:
    """1 - the similarity ratio of two strings (0 when equal). Costs O(``max_distance_input()``):
    longer strings are cut, and long pairs get the share of their common prefix and suffix."""
    if expected == actual:
        return 0.0
    cap = _distance_input
    a = expected[:cap]
    b = actual[:cap]
    if a == b:  # the excerpts are alike, the strings are not
        return 1e-3
    if len(a) * len(b) <= _DIFFLIB_CELLS:
        return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    n = min(len(a), len(b))
    head = 0
    while head < n and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < n - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return max(1e-3, 1.0 - 2.0 * (head + tail) / (len(a) + len(b)))


def _as_text(value: Any) -> str:
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


class EqualsMatcher(_TextMatcher):
    __slots__ = ()
    op = "equals"

    def match(self, value: str | None) -> MatchResult:
        if value is None:
            return self._miss(value)
        got = self._norm(value)
        if got == self._cmp:
            return EXACT
        return self._miss(value, similarity_distance(self._cmp, got))

    def ok(self, value: str | None) -> bool:
        return value is not None and self._norm(value) == self._cmp


class ContainsMatcher(_TextMatcher):
    __slots__ = ()
    op = "contains"

    def match(self, value: str | None) -> MatchResult:
        if value is None:
            return self._miss(value)
        got = self._norm(value)
        if self._cmp in got:
            return EXACT
        return self._miss(value, similarity_distance(self._cmp, got))

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


_TEXT_OPS = ("equals", "contains", "matches")
_VALUE_KEYS = frozenset({*_TEXT_OPS, "absent", "case_insensitive", "and", "or"})


def compile_value_matcher(spec: Any, where: str, label: str | None = None) -> ValueMatcher:
    """Compile a MATCHER: a plain string (or number/bool) means equals; otherwise a mapping of
    ``equals|contains|matches|absent`` (several are all required), ``and``/``or`` lists, and
    ``case_insensitive: true``. Errors are ``StubError`` naming ``where``; diffs use ``label``
    (default ``where``)."""
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
    matchers: list[ValueMatcher] = []
    for op in _TEXT_OPS:
        if op not in spec:
            continue
        arg = spec[op]
        if isinstance(arg, bool) or not isinstance(arg, str | int | float):
            raise StubError(f"'{op}' takes a string", where=f"{where}.{op}")
        text = str(arg)
        if op == "equals":
            matchers.append(EqualsMatcher(lab, text, ci))
        elif op == "contains":
            matchers.append(ContainsMatcher(lab, text, ci))
        else:
            matchers.append(RegexMatcher(lab, text, ci, f"{where}.{op}"))
    if "absent" in spec:
        if not isinstance(spec["absent"], bool):
            raise StubError("'absent' must be true or false", where=f"{where}.absent")
        matchers.append(AbsentMatcher(lab, spec["absent"]))
    for op in ("and", "or"):
        if op not in spec:
            continue
        items = spec[op]
        if not isinstance(items, list) or not items:
            raise StubError(f"'{op}' takes a non-empty list of matchers", where=f"{where}.{op}")
        subs = [compile_value_matcher(s, f"{where}.{op}[{i}]", lab) for i, s in enumerate(items)]
        matchers.append(AllOf(lab, subs) if op == "and" else AnyOf(lab, subs))
    if not matchers:
        raise StubError("a matcher needs one of equals, contains, matches, absent, and, or", where=where)
    return matchers[0] if len(matchers) == 1 else AllOf(lab, matchers)


# --------------------------------------------------------------------------- the subject


class MatchSubject:
    """What matchers look at, whatever the protocol: built from a live ``Request`` or from a
    logged ``LogEntry`` (whose body is only the stored excerpt; ``body_truncated`` marks a cut one).

    ``MatchSubject("pkg.Pets/Get", "/pkg.Pets/Get", body=b'{"id": 7}')`` also works (gRPC).
    """

    __slots__ = (
        "_body",
        "_form",
        "_json",
        "_json_done",
        "_text",
        "body_truncated",
        "client_cert",
        "headers",
        "method",
        "path",
        "query",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | None = None,
        headers: Headers | Mapping[str, str] | None = None,
        body: bytes | str = b"",
        *,
        body_truncated: bool = False,
        json_value: Any = None,
        json_parsed: bool = False,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query: Mapping[str, list[str]] = query or {}
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers(headers.items())
        self.headers: Headers = headers
        self._body = body
        self._text: str | None = body if isinstance(body, str) else None
        self.body_truncated = body_truncated
        self._json = json_value
        self._json_done = json_parsed
        self._form: dict[str, list[str]] | None = None
        self.client_cert: Any = None  # mutual TLS: a ClientCert (live) or its dict (logged)

    @classmethod
    def from_request(cls, request: Request) -> MatchSubject:
        subject = cls(request.method, request.path, request.query, request.headers, request.body)
        subject.client_cert = request.client_cert
        if request._json_parsed:
            subject._json = request._json
            subject._json_done = True
        return subject

    @classmethod
    def from_entry(cls, entry: LogEntry) -> MatchSubject:
        """Logged headers hold one value per name (repeats joined with ", ")."""
        subject = cls(
            entry.method,
            entry.path,
            entry.query,
            entry.headers,
            entry.body_excerpt,
            body_truncated=entry.body_truncated,
        )
        subject.client_cert = entry.client_cert
        return subject

    @property
    def text(self) -> str:
        if self._text is None:
            body = self._body
            self._text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return self._text

    def is_empty_body(self) -> bool:
        return not self._body

    def json(self) -> Any:
        """The body as JSON, or ``None`` when empty or not JSON (parsed once). A live request's
        body nested past ``http.max_json_depth`` raises ``JsonTooDeep`` (a 400); a logged excerpt
        (text) that deep is treated as not JSON."""
        if not self._json_done:
            if self._body:
                try:
                    self._json = decode_request_json(self._body)
                except msgspec.DecodeError:
                    self._json = None
                except JsonTooDeep:
                    if isinstance(self._body, bytes):
                        raise
                    self._json = None
            self._json_done = True
        return self._json

    def form(self) -> dict[str, list[str]]:
        if self._form is None:
            self._form = parse_qs(self.text, keep_blank_values=True) if self._body else {}
        return self._form


# --------------------------------------------------------------------------- body matchers

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
        return MatchResult(min(1.0, max(_MIN_MISS, len(diffs) / leaves)), diffs)

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


def _json_path(spec: Any, where: str) -> BodyCheck:
    if not isinstance(spec, Mapping) or not spec:
        raise StubError("'json_path' takes a mapping of JSONPath expression -> MATCHER", where=where)
    from jsonpath_ng.ext.parser import parse

    compiled = []
    for expr, mspec in spec.items():
        at = f"{where}[{quote(expr)}]"
        try:
            path = parse(expr)
        except Exception as exc:  # jsonpath-ng raises several unrelated types for bad input
            raise StubError(f"invalid JSONPath {quote(expr)}: {exc}", where=at) from None
        if mspec is True:
            mspec = {"absent": False}
        compiled.append(
            (
                path,
                compile_value_matcher(
                    mspec, at, f"body{expr.removeprefix('$')}" if expr.startswith("$") else f"body {expr}"
                ),
            )
        )

    def check(subject: MatchSubject) -> MatchResult:
        doc = subject.json()
        parts: list[tuple[float, MatchResult]] = []
        for path, matcher in compiled:
            found = [_as_text(m.value) for m in path.find(doc)] if doc is not None else []
            parts.append((1.0, matcher.match_any(found)))
        return combine(parts)

    return check


def _form(spec: Any, where: str) -> BodyCheck:
    if not isinstance(spec, Mapping) or not spec:
        raise StubError("'form' takes a mapping of field -> MATCHER", where=where)
    fields = [(name, compile_value_matcher(m, f"{where}.{name}", f"form.{name}")) for name, m in spec.items()]

    def check(subject: MatchSubject) -> MatchResult:
        form = subject.form()
        return combine((1.0, m.match_any(form.get(name, []))) for name, m in fields)

    return check


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
        for check in self.checks:
            if not (check.ok(subject) if isinstance(check, _TextBody) else check(subject).matched):
                return False
        return True


# --------------------------------------------------------------------------- paths

_PARAM_RE = re.compile(r"\{([^{}/]+)\}")
_GLOB_TOKENS = re.compile(r"\*\*|\*|\?|[^*?]+")


def _glob_regex(glob: str, where: str) -> UserRegex:
    """Path globs: ``*`` and ``?`` stay within one segment, ``**`` crosses segments
    (``/pets/*`` matches ``/pets/7`` but not ``/pets/7/photos``; ``/pets/**`` matches both).
    On RE2: several ``*`` would backtrack polynomially on ``re``."""
    out = []
    for tok in _GLOB_TOKENS.findall(glob):
        out.append({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(tok) or re.escape(tok))
    return compile_regex("^" + "".join(out) + r"\z", where)


class PathMatcher:
    """``/pets/{id}`` (a template: each ``{name}`` is one segment or part of one), ``{glob: "/pets/*"}``
    (``*`` within a segment, ``**`` across), ``{regex: "^/pets/[0-9]+$"}`` (searched), or a plain
    path (exact).

    ``segments`` is the template split on ``/`` with ``None`` where a segment holds a parameter,
    which the stub store uses as an index key; it is ``None`` for globs and regexes.
    """

    __slots__ = ("_match", "_names", "_regex", "_test", "exact", "kind", "segments", "text")

    def __init__(
        self,
        kind: str,
        text: str,
        regex: re.Pattern[str] | UserRegex | None,
        names: list[str],
        segments: list[str | None] | None,
    ) -> None:
        self.kind = kind
        self.text = text
        self._regex = regex
        self._names = names
        self.segments = segments
        self.exact = text if kind == "exact" else None
        # template regexes are ours (on ``re``, anchored at the start); user ones are RE2
        self._match = regex.match if isinstance(regex, re.Pattern) else None
        self._test = regex.test if isinstance(regex, UserRegex) else None

    @classmethod
    def compile(cls, spec: Any, where: str) -> PathMatcher:
        if isinstance(spec, str):
            if not spec.startswith("/"):
                raise StubError(f"a path must start with '/', got {quote(spec)}", where=where)
            if "{" not in spec:
                return cls("exact", spec, None, [], list[str | None](spec.split("/")))
            names: list[str] = []
            pieces: list[str] = []
            pos = 0
            for m in _PARAM_RE.finditer(spec):
                pieces.append(re.escape(spec[pos : m.start()]))
                pieces.append(f"(?P<p{len(names)}>[^/]+)")
                names.append(m.group(1))
                pos = m.end()
            pieces.append(re.escape(spec[pos:]))
            segments: list[str | None] = [None if "{" in s else s for s in spec.split("/")]
            # Two parameters in one segment backtrack quadratically on ``re``: RE2 then.
            if any(s.count("{") > 1 for s in spec.split("/")):
                rx: re.Pattern[str] | UserRegex = compile_regex("^" + "".join(pieces) + r"\z", where)
            else:
                rx = re.compile("".join(pieces) + r"\Z")
            return cls("template", spec, rx, names, segments)
        if isinstance(spec, Mapping) and len(spec) == 1:
            ((kind, text),) = spec.items()
            if not isinstance(text, str):
                raise StubError(f"'{kind}' takes a string", where=f"{where}.{kind}")
            if kind == "glob":
                return cls("glob", text, _glob_regex(text, f"{where}.glob"), [], None)
            if kind == "regex":
                return cls("regex", text, compile_regex(text, f"{where}.regex"), [], None)
        raise StubError("'path' takes a path (\"/pets/{id}\"), {glob: ...} or {regex: ...}", where=where)

    def describe(self) -> str:
        return quote(self.text) if self.kind in ("exact", "template") else f"{self.kind} {quote(self.text)}"

    def ok(self, path: str) -> bool:
        if self.exact is not None:
            return path == self.exact
        if self._match is not None:
            return self._match(path) is not None
        assert self._test is not None
        return self._test(path)

    def match(self, path: str) -> MatchResult:
        if self.ok(path):
            return EXACT
        distance = similarity_distance(self.text, path)
        return miss(f"path: expected {self.describe()}, got {quote_bounded(path)}", distance)

    def params(self, path: str) -> dict[str, str]:
        """Template parameters (``{"id": "7"}``) or a regex's named groups; ``{}`` otherwise."""
        if self._regex is None:
            return {}
        m = self._regex.match(path) if self.kind == "template" else self._regex.search(path)
        if m is None:
            return {}
        if self.kind == "template":
            return {name: m.group(f"p{i}") for i, name in enumerate(self._names)}
        return {k: v for k, v in m.groupdict().items() if v is not None}


# --------------------------------------------------------------------------- request pattern

_PATTERN_KEYS = frozenset({"method", "path", "query", "headers", "body", "client_cert"})


def _named_matchers(spec: Any, where: str, part: str, lower: bool) -> list[tuple[str, ValueMatcher]]:
    if spec is None:
        return []
    if not isinstance(spec, Mapping):
        raise StubError(f"'{part}' takes a mapping of name -> MATCHER", where=where)
    out = []
    for name, mspec in spec.items():
        key = str(name).lower() if lower else str(name)
        out.append((key, compile_value_matcher(mspec, f"{where}.{name}", f"{part}.{name}")))
    return out


class RequestPattern:
    """The MATCHER of stubs and verification: ``{method, path, query, headers, body}``, every part
    optional (a missing part matches anything; ``method: ANY`` too). Compiled once.

        p = RequestPattern.compile({"method": "POST", "path": {"glob": "/orders/*"},
                                    "body": {"json_path": {"$.qty": {"matches": "^[1-9]"}}}}, "request")
        p.match(MatchSubject.from_request(req)).matched
    """

    __slots__ = ("body", "client_cert", "headers", "method", "path", "query", "spec")

    def __init__(
        self,
        spec: Mapping[str, Any],
        method: str | None,
        path: PathMatcher | None,
        query: list[tuple[str, ValueMatcher]],
        headers: list[tuple[str, ValueMatcher]],
        body: BodyMatcher | None,
    ) -> None:
        self.spec = spec
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client_cert: tuple[tuple[str, ValueMatcher], ...] = ()  # mockforge.tls.matching

    @classmethod
    def compile(cls, spec: Any, where: str) -> RequestPattern:
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise StubError("a request matcher must be a mapping", where=where)
        unknown = sorted(set(spec) - _PATTERN_KEYS)
        if unknown:
            raise StubError(
                f"unknown key {quote(unknown[0])} (known: body, client_cert, headers, method, path, query)", where=where
            )
        method = spec.get("method")
        if method is not None:
            if not isinstance(method, str) or not method.strip():
                raise StubError("'method' takes a method name or ANY", where=f"{where}.method")
            method = method.strip().upper()
            if method == "ANY":
                method = None
        path = PathMatcher.compile(spec["path"], f"{where}.path") if spec.get("path") is not None else None
        query = _named_matchers(spec.get("query"), f"{where}.query", "query", lower=False)
        headers = _named_matchers(spec.get("headers"), f"{where}.headers", "headers", lower=True)
        body = BodyMatcher.compile(spec["body"], f"{where}.body") if spec.get("body") is not None else None
        pattern = cls(spec, method, path, query, headers, body)
        if spec.get("client_cert") is not None:
            from mockforge.tls.matching import compile_client_cert

            pattern.client_cert = compile_client_cert(spec["client_cert"], f"{where}.client_cert")
        return pattern

    @property
    def method_key(self) -> str:
        """The method the store indexes on (``*`` for any)."""
        return self.method or "*"

    def match(self, subject: MatchSubject) -> MatchResult:
        parts: list[tuple[float, MatchResult]] = []
        if self.method is not None:
            if subject.method == self.method:
                parts.append((_WEIGHT_METHOD, EXACT))
            else:
                parts.append((_WEIGHT_METHOD, miss(f"method: expected {self.method}, got {subject.method}")))
        if self.path is not None:
            parts.append((_WEIGHT_PATH, self.path.match(subject.path)))
        query = subject.query
        for name, qm in self.query:
            parts.append((_WEIGHT_PARAM, qm.match_any(query.get(name, []))))
        headers = subject.headers
        for name, hm in self.headers:
            parts.append((_WEIGHT_PARAM, hm.match_any(headers.get_all(name))))
        if self.body is not None:
            parts.append((_WEIGHT_BODY, self.body.match(subject)))
        for name, cm in self.client_cert:
            parts.append((_WEIGHT_PARAM, cm.match_any(cert_values(subject.client_cert, name))))
        return combine(parts)

    def matches(self, subject: MatchSubject) -> bool:
        """A cheaper yes/no: stops at the first part that fails (no diffs built)."""
        if self.method is not None and subject.method != self.method:
            return False
        if self.path is not None and not self.path.ok(subject.path):
            return False
        for name, qm in self.query:
            if not qm.ok_any(subject.query.get(name, [])):
                return False
        for name, hm in self.headers:
            if not hm.ok_any(subject.headers.get_all(name)):
                return False
        for name, cm in self.client_cert:
            if not cm.ok_any(cert_values(subject.client_cert, name)):
                return False
        return self.body is None or self.body.ok(subject)

    def path_params(self, path: str) -> dict[str, str]:
        return self.path.params(path) if self.path is not None else {}

    def describe(self) -> str:
        """``GET /pets/{id}`` for reports."""
        return f"{self.method or 'ANY'} {self.path.text if self.path else '*'}"
