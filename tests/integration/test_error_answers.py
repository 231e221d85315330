"""Refusals obey the spec: the documented 4xx (400, 422, 404, else default) with a body of its own
schema, the summary in its text fields, every problem in X-Mockforge-Problems and the log entry;
our own error shape only where the operation documents no error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from mockforge.core.model import Headers
from mockforge.openapi.error_answers import MAX_PROBLEMS_HEADER, ErrorAnswers, problems_header
from mockforge.openapi.loader import load_specs
from mockforge.openapi.responses import ResponsePlanner
from mockforge.testing.server import MockServer

LIMIT = [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}]
OK = {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
PROBLEM = {
    "type": "object", "required": ["type", "title", "status"],
    "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"}},
}
NESTED = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "integer"}, "message": {"type": "string"},
        "kind": {"type": "string", "enum": ["client", "server"]}}}},
}
CLOSED = {"type": "object", "required": ["reason"], "additionalProperties": False,
          "properties": {"reason": {"type": "string", "enum": ["BAD_INPUT", "OTHER"]}}}


def json_error(schema: dict[str, Any], description: str = "error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SPEC: dict[str, Any] = {
    "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
    "paths": {
        "/problem": {"get": {"parameters": LIMIT, "responses": {
            "200": OK, "400": {"description": "bad", "content": {"application/problem+json": {"schema": PROBLEM}}}}}},
        "/nested": {"get": {"parameters": LIMIT, "responses": {"200": OK, "422": json_error(NESTED)}}},
        "/range": {"get": {"parameters": LIMIT, "responses": {"200": OK, "4XX": json_error(NESTED)}}},
        "/default": {"get": {"parameters": LIMIT, "responses": {"200": OK, "default": json_error(NESTED)}}},
        "/closed": {"get": {"parameters": LIMIT, "responses": {"200": OK, "400": json_error(CLOSED)}}},
        "/empty": {"get": {"parameters": LIMIT, "responses": {"200": OK, "400": {"description": "bad"}}}},
        "/ours": {"get": {"parameters": LIMIT, "responses": {"200": OK, "401": json_error(NESTED)}}},
        "/things/{id}": {"get": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": OK, "404": json_error(NESTED)}}},
        "/xml": {"get": {"parameters": LIMIT, "responses": {"200": OK, "400": {"description": "bad", "content": {
            "application/xml": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}}}}}},
    },
}


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("errors") / "api.json"
    path.write_text(json.dumps(SPEC))
    return path


@pytest.fixture(scope="module")
def server(spec_file: Path) -> Iterator[MockServer]:
    with MockServer(spec=spec_file, seed=3) as s:
        yield s


def valid(schema: dict[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value))


SUMMARY = "request does not match GET {}: query.limit: {}"


def test_problem_json_400_gets_the_summary_in_title_and_detail(server: MockServer) -> None:
    r = httpx.get(server.url + "/problem?limit=x")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert valid(PROBLEM, body)
    want = SUMMARY.format("/problem", "expected integer, got 'x'")
    assert body["title"] == want and body["detail"] == want
    assert json.loads(r.headers["x-mockforge-problems"]) == [
        {"location": "query.limit", "reason": "expected integer, got 'x'"}]
    # a valid request is still served
    assert httpx.get(server.url + "/problem?limit=3").status_code == 200


@pytest.mark.parametrize(("path", "status"), [("/nested", 422), ("/range", 400), ("/default", 400)])
def test_nested_message_in_422_4xx_range_and_default(server: MockServer, path: str, status: int) -> None:
    r = httpx.get(server.url + path + "?limit=99")
    assert r.status_code == status
    body = r.json()
    assert valid(NESTED, body)
    assert body["error"]["message"] == SUMMARY.format(path, "99 is greater than the maximum of 50")
    assert body["error"].get("kind") in (None, "client", "server")  # an enum is never overwritten


def test_a_schema_that_takes_no_text_keeps_its_generated_body(server: MockServer) -> None:
    r = httpx.get(server.url + "/closed?limit=x")
    assert r.status_code == 400 and valid(CLOSED, r.json())
    assert json.loads(r.headers["x-mockforge-problems"])[0]["location"] == "query.limit"


def test_documented_error_without_body_and_xml_error(server: MockServer) -> None:
    r = httpx.get(server.url + "/empty?limit=x")
    assert r.status_code == 400 and r.content == b"" and "x-mockforge-problems" in r.headers
    r = httpx.get(server.url + "/xml?limit=x")
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/xml")
    assert r.content.startswith(b"<")


def test_undocumented_error_keeps_our_shape(server: MockServer) -> None:
    r = httpx.get(server.url + "/ours?limit=x")  # only a 401 is documented: not a validation error
    assert r.status_code == 400 and r.json()["error"]["code"] == "validation_failed"
    assert json.loads(r.headers["x-mockforge-problems"]) == r.json()["error"]["details"]


def test_invalid_path_parameter_answers_the_documented_404(server: MockServer) -> None:
    r = httpx.get(server.url + "/things/abc")
    assert r.status_code == 404 and valid(NESTED, r.json())
    want = "request does not match GET /things/{id}: path.id: expected integer, got 'abc'"
    assert r.json()["error"]["message"] == want


def test_problems_reach_the_request_log(server: MockServer) -> None:
    httpx.get(server.url + "/nested?limit=zz", headers={"x-test": "log-problems"})
    entries = httpx.get(server.admin_url + "/logs").json()["entries"]
    mine = [e for e in entries if e["headers"].get("x-test") == "log-problems"]
    assert mine and mine[-1]["problems"] == [{"location": "query.limit", "reason": "expected integer, got 'zz'"}]
    assert mine[-1]["status"] == 422 and mine[-1]["matched"] == "mockforge"  # a refusal of ours


def test_hostile_reasons_give_a_bounded_clean_header(server: MockServer) -> None:
    # a value echoed in a reason cannot break the header: CR/LF, quotes, non-ASCII, length
    r = httpx.get(server.url + "/nested?limit=" + "%0D%0ASet-Cookie:%20x=1%E2%98%83" * 100)
    assert r.status_code == 422 and "set-cookie" not in r.headers
    value = r.headers["x-mockforge-problems"]
    assert len(value) <= MAX_PROBLEMS_HEADER and value.isascii() and value.isprintable()
    assert json.loads(value)[0]["location"] == "query.limit"


def test_problems_header_cuts_whole_entries_and_counts_the_rest() -> None:
    many = [{"location": f"body.items.{i}", "reason": "x" * 300} for i in range(50)]
    name, value = problems_header(many)
    assert name == "x-mockforge-problems" and len(value) <= MAX_PROBLEMS_HEADER
    parsed = json.loads(value)
    assert parsed[-1]["reason"] == f"{50 - (len(parsed) - 1)} more problems, see the request log"
    assert all(p["location"].startswith("body.items.") for p in parsed[:-1])


def test_error_answers_unit(spec_file: Path) -> None:
    model = load_specs([spec_file])
    answers = ErrorAnswers(ResponsePlanner(model, seed=1))
    ops = {op.path: op for op in model.operations}
    assert answers.documented_status(ops["/ours"], (400, 422)) is None
    assert answers.documented_status(ops["/range"], (400,)) == "4XX"
    assert answers.documented_status(ops["/default"], (404,)) == "default"
    resp = answers.answer(ops["/nested"], (400, 422), "the summary", [{"location": "x", "reason": "y"}])
    assert resp is not None and resp.status == 422 and resp.problems == [{"location": "x", "reason": "y"}]
    assert json.loads(resp.body)["error"]["message"] == "the summary"
    assert answers.answer(ops["/ours"], (400,), "s", []) is None
    assert Headers(resp.headers).get("x-mockforge-problems") == '[{"location":"x","reason":"y"}]'


# ---- item 9: a request answered by the spec still reports the stub it almost matched ----------


def test_near_miss_answered_by_the_spec_is_reported_and_flagged(spec_file: Path) -> None:
    stubs = [
        {"id": "nested-big", "request": {"method": "GET", "path": "/nested", "query": {"limit": "40"}},
         "response": {"status": 200, "body": {"stub": True}}},
        {"id": "far-away", "request": {"method": "DELETE", "path": "/something/else/entirely"},
         "response": {"status": 204}},
    ]
    with MockServer(spec=spec_file, stubs=stubs, seed=1) as server:
        assert httpx.get(server.url + "/nested?limit=40").json() == {"stub": True}  # the stub answers
        r = httpx.get(server.url + "/nested?limit=41")  # almost: the spec answers
        assert r.status_code == 200 and r.json() != {"stub": True}
        httpx.get(server.url + "/problem")  # answered by the spec, close to no stub
        reports = httpx.get(server.admin_url + "/near-misses").json()["near_misses"]
        assert len(reports) == 1, reports
        (report,) = reports
        assert report["answered_by"] == "spec"
        assert report["request"]["path"] == "/nested" and report["request"]["query"] == {"limit": ["41"]}
        assert [m["stub"] for m in report["near_misses"]] == ["nested-big"]
        assert report["near_misses"][0]["diffs"] == ['query.limit: expected equals "40", got "41"']
        # answered requests are not "unmatched"
        assert httpx.get(server.admin_url + "/unmatched").json()["requests"] == []
        # a real 404 is still reported, flagged as answered by nobody
        httpx.get(server.url + "/nestedd?limit=40")
        last = httpx.get(server.admin_url + "/near-misses").json()["near_misses"][-1]
        assert last["answered_by"] is None and last["near_misses"][0]["stub"] == "nested-big"


def test_answered_near_misses_stay_within_their_bound(spec_file: Path) -> None:
    stubs = [{"id": f"s{i}", "request": {"method": "GET", "path": "/nested", "query": {"limit": str(i)}},
              "response": {"status": 200, "body": {"i": i}}} for i in range(5)]
    cfg = {"core": {"max_near_misses": 3}}
    with MockServer(cfg, spec=spec_file, stubs=stubs, seed=1) as server:
        for i in range(10):
            assert httpx.get(server.url + f"/nested?limit={40 + i}").status_code == 200
        # a large query: still one bounded report, its values cut
        assert httpx.get(server.url + "/nested", params={"limit": "4" + "9" * 5000}).status_code == 422
        reports = httpx.get(server.admin_url + "/near-misses").json()["near_misses"]
        assert len(reports) == 3 and all(r["answered_by"] == "spec" for r in reports)
        assert all(len(r["near_misses"]) <= 3 for r in reports)

