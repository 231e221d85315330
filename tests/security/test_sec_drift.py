"""Hostile upstream answers: the drift checker stays bounded and never raises."""

from __future__ import annotations

import pytest

from drift_cases import SPEC
from mockforge.core.model import Headers, Request
from mockforge.drift.checker import DriftChecker
from mockforge.drift.findings import MAX_FINDINGS_PER_EXCHANGE, MAX_TEXT
from mockforge.openapi.loader import load_specs

JSON = Headers([("content-type", "application/json")])


@pytest.fixture(scope="module")
def checker() -> DriftChecker:
    return DriftChecker(load_specs([str(SPEC)]))


def _get(path: str) -> Request:
    return Request(protocol="http", method="GET", path=path)


def test_many_errors_are_capped(checker: DriftChecker) -> None:
    body = b"[" + b",".join(b'{"id": "x", "extra%d": 1}' % i for i in range(5000)) + b"]"
    headers = Headers([("content-type", "application/json"), ("x-total", "1")])
    findings = checker.check(_get("/pets"), 200, headers, body)
    assert len(findings) == MAX_FINDINGS_PER_EXCHANGE


def test_deep_json_is_one_finding_not_a_crash(checker: DriftChecker) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    [f] = checker.check(_get("/pets/1"), 200, JSON, body)
    assert f.kind == "invalid_body"
    assert "max_json_depth" in f.got or "deeper" in f.got


def test_not_json_and_long_values_are_cut(checker: DriftChecker) -> None:
    [f] = checker.check(_get("/pets/1"), 200, JSON, b"{" + b"x" * 100_000)
    assert f.kind == "invalid_body" and len(f.got) <= MAX_TEXT
    [g] = checker.check(_get("/pets/1"), 200, JSON,
                        b'{"id": 1, "name": "a", "status": "%s"}' % (b"z" * 100_000))
    assert g.kind == "enum" and len(g.got) <= MAX_TEXT and len(g.expected) <= MAX_TEXT


def test_a_long_undocumented_path_is_cut(checker: DriftChecker) -> None:
    [f] = checker.check(_get("/" + "a" * 10_000), 200, JSON, b"{}")
    assert f.kind == "undocumented_endpoint" and len(f.got) <= MAX_TEXT


def test_diff_shapes_are_bounded_in_paths_and_depth() -> None:
    from mockforge.drift.diff import MAX_DEPTH, MAX_PATHS, json_shape

    wide = {f"k{i}": i for i in range(MAX_PATHS * 3)}
    types, _ = json_shape(wide)
    assert len(types) <= MAX_PATHS
    deep: object = 1
    for _ in range(MAX_DEPTH * 4):
        deep = [deep]
    types, _ = json_shape(deep)
    assert max(p.count("[*]") for p in types) == MAX_DEPTH
