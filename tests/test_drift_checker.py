from __future__ import annotations

import pytest

from drift_cases import CLEAN, SEEDED, SPEC
from mockforge.core.model import Headers, Request
from mockforge.drift.checker import DriftChecker
from mockforge.drift.findings import KINDS
from mockforge.openapi.loader import load_specs


@pytest.fixture(scope="module")
def checker() -> DriftChecker:
    return DriftChecker(load_specs([str(SPEC)]))


def _request(method: str, target: str, headers: list[tuple[str, str]] | None = None) -> Request:
    path, _, query = target.partition("?")
    return Request(protocol="http", method=method, path=path, raw_query=query, headers=Headers(headers or []))


@pytest.mark.parametrize("case", SEEDED, ids=[c[0] for c in SEEDED])
def test_each_seeded_violation_is_found_once_at_its_pointer(checker: DriftChecker, case: tuple) -> None:
    _, method, target, status, headers, body, kind, pointer = case
    findings = checker.check(_request(method, target), status, Headers(headers), body)
    assert [(f.kind, f.pointer) for f in findings] == [(kind, pointer)]
    f = findings[0]
    assert f.kind in KINDS
    if kind != "undocumented_endpoint":
        assert f.spec_file.endswith("api.yaml")
        assert f.spec_pointer.startswith("/paths/")
        assert f.operation.startswith("GET /")


def test_the_ten_kinds_of_drift_are_distinct_cases() -> None:
    assert len({c[0] for c in SEEDED}) == 10


@pytest.mark.parametrize("case", CLEAN, ids=[c[1] for c in CLEAN])
def test_a_truthful_answer_has_no_findings(checker: DriftChecker, case: tuple) -> None:
    method, target, status, headers, body = case
    assert checker.check(_request(method, target), status, Headers(headers), body) == []


def test_finding_names_expected_and_got(checker: DriftChecker) -> None:
    [f] = checker.check(_request("GET", "/pets/1"), 200, Headers([("content-type", "application/json")]),
                        b'{"id": 1, "name": "Rex", "status": "lost"}')
    assert f.got == '"lost"'
    assert "available" in f.expected
    assert f.spec_pointer == "/paths/~1pets~1{petId}/get/responses/200/content/application~1json/schema"
    assert f.to_dict()["operation"] == "GET /pets/{petId}"


def test_an_invalid_request_is_a_finding(checker: DriftChecker) -> None:
    findings = checker.check(_request("GET", "/pets/abc"), 404, Headers([("content-type", "application/json")]),
                             b'{"message": "x"}')
    assert [(f.kind, f.pointer) for f in findings] == [("request_invalid", "/request/path.petId")]


def test_an_invalid_header_value_is_a_finding(checker: DriftChecker) -> None:
    findings = checker.check(_request("GET", "/pets"), 200,
                             Headers([("content-type", "application/json"), ("x-total", "many")]), b"[]")
    assert [(f.kind, f.pointer) for f in findings] == [("invalid_header", "/headers/x-total")]
