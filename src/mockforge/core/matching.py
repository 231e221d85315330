"""Request patterns: the MATCHER of stubs and verification, for HTTP, gRPC and WebSocket alike.

A ``RequestPattern`` combines a method, a ``PathMatcher``, named query and header matchers
(``core/matchers.py``) and a ``BodyMatcher`` (``core/body_matching.py``) over a ``MatchSubject``
(``core/subject.py``); each part returns a ``MatchResult`` (``core/distance.py``) and the parts are
weighted (path 10, method 3, body 3, each query parameter and header 1), so the closest stubs
rank first. gRPC stubs are patterns too: the path is ``/pkg.Service/Method``, the metadata are
headers and the message fields a JSONPath body check (``grpc/stubs.py`` translates its format).

    pattern = RequestPattern.compile({"method": "GET", "path": "/pets/{id}",
                                      "query": {"kind": "dog"}}, where="request")
    pattern.match(MatchSubject.from_request(req))
    # MatchResult(distance=0.07, diffs=['query.kind: expected equals "dog", got "cat"'])

Cost: ``matches`` (the yes/no of the match path) stops at the first failing part and builds no
diff; ``match`` (near-miss reports) is bounded by ``core/distance.py``. User regexes, globs and
multi-parameter segments run on RE2, so matching is linear in the input. The names of the split
modules are re-exported here, so ``from mockforge.core.matching import ...`` keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mockforge.core.body_matching import (
    BodyCheck,
    BodyMatcher,
    JsonPathCheck,
    JsonValueCheck,
    find_values,
    parse_json_path,
)
from mockforge.core.cert_matching import cert_values, compile_client_cert
from mockforge.core.distance import (
    EXACT,
    MIN_MISS,
    MatchResult,
    combine,
    max_distance_input,
    miss,
    quote,
    quote_bounded,
    set_max_distance_input,
    similarity_distance,
)
from mockforge.core.matchers import (
    OPERATORS,
    AbsentMatcher,
    AllOf,
    AnyOf,
    ContainsMatcher,
    EqualsMatcher,
    RegexMatcher,
    ValueMatcher,
    as_text,
    compile_regex,
    compile_value_matcher,
)
from mockforge.core.regex import UserRegex
from mockforge.core.subject import MatchSubject
from mockforge.errors import StubError

__all__ = [
    "EXACT",
    "MIN_MISS",
    "OPERATORS",
    "AbsentMatcher",
    "AllOf",
    "AnyOf",
    "BodyCheck",
    "BodyMatcher",
    "ContainsMatcher",
    "EqualsMatcher",
    "JsonPathCheck",
    "JsonValueCheck",
    "MatchResult",
    "MatchSubject",
    "PathMatcher",
    "RegexMatcher",
    "RequestPattern",
    "ValueMatcher",
    "as_text",
    "combine",
    "compile_regex",
    "compile_value_matcher",
    "find_values",
    "max_distance_input",
    "miss",
    "parse_json_path",
    "quote",
    "quote_bounded",
    "set_max_distance_input",
    "similarity_distance",
]

_WEIGHT_PATH = 10.0
_WEIGHT_METHOD = 3.0
_WEIGHT_BODY = 3.0
_WEIGHT_PARAM = 1.0

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
        #: (field, matcher) pairs on the mutual-TLS client certificate (core/cert_matching.py)
        self.client_cert: tuple[tuple[str, ValueMatcher], ...] = ()

    @classmethod
    def compile(cls, spec: Any, where: str) -> RequestPattern:
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise StubError("a request matcher must be a mapping", where=where)
        unknown = sorted(set(spec) - _PATTERN_KEYS)
        if unknown:
            raise StubError(
                f"unknown key {quote(unknown[0])} (known: body, client_cert, headers, method, path, query)",
                where=where,
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
