"""Stubs, matching, verification, scenarios, latency and faults over real sockets (issue 3).

One server per module answers most tests (``POST /__mockforge/reset`` between them); tests that
need their own config (seeded draws, a tiny log, templating off) start their own. Clients are
real: httpx for HTTP, raw sockets for the transport faults.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockforge.config import CoreConfig
from mockforge.core.faults import FaultPolicy
from mockforge.testing.server import MockServer

SPEC = """
openapi: 3.0.3
info: {title: stubs-it, version: "1"}
paths:
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [qty]
              properties:
                qty: {type: integer, minimum: 1}
      responses:
        "201":
          description: created
          content:
            application/json:
              example: {from: spec}
  /fixed:
    get:
      operationId: fixedOp
      responses: {"200": {description: ok, content: {application/json: {example: {op: fixed}}}}}
  /tagged:
    get:
      operationId: taggedOp
      tags: [flaky]
      responses: {"200": {description: ok, content: {application/json: {example: {op: tagged}}}}}
"""

FILE_STUB = """
id: from-file
request: {method: GET, path: /file-stub}
response: {body: {source: file}}
"""

CONFIG_ROUTES = [
    {
        "id": "from-config",
        "request": {"method": "GET", "path": "/config-stub"},
        "response": {"body": {"source": "config"}},
    }
]


def write_spec(folder: Path) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text(SPEC)
    return spec


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    folder = tmp_path_factory.mktemp("stubs-http")
    stubs = folder / "stubs"
    stubs.mkdir()
    (stubs / "file.yaml").write_text(FILE_STUB)
    config = {
        "http": {
            "specs": [str(write_spec(folder))],
            "stubs_dir": str(stubs),
            "routes": CONFIG_ROUTES,
            "response_template_expand": True,
        },
        "core": {
            "seed": 11,
            "latency_by_operation": {"fixedOp": {"fixed_ms": 200}},
            "faults_by_tag": {"flaky": {"rate": 1.0, "status": [503]}},
        },
    }
    with MockServer(config=config) as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as c:
        c.post("/__mockforge/reset").raise_for_status()
        c.delete("/__mockforge/near-misses").raise_for_status()
        yield c


def add(client: httpx.Client, stubs: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = client.post("/__mockforge/stubs", json=stubs)
    assert r.status_code == 201, r.text
    stored: list[dict[str, Any]] = r.json()["stubs"]
    return stored


def stub(stub_id: str, request: dict[str, Any], body: Any = None, **extra: Any) -> dict[str, Any]:
    return {"id": stub_id, "request": request, "response": {"body": body or {"stub": stub_id}}, **extra}


def answered_by(resp: httpx.Response) -> str | None:
    if resp.status_code != 200:
        return None
    value = resp.json().get("stub")
    return value if isinstance(value, str) else None


# --------------------------------------------------------------------------- matchers


def test_query_matchers_equals_contains_matches_absent_case_insensitive(client: httpx.Client) -> None:
    add(client, [
        stub("eq", {"method": "GET", "path": "/q/eq", "query": {"kind": "dog"}}),
        stub("ci", {"method": "GET", "path": "/q/ci", "query": {"kind": {"equals": "DOG", "case_insensitive": True}}}),
        stub("contains", {"method": "GET", "path": "/q/contains", "query": {"name": {"contains": "odl"}}}),
        stub("regex", {"method": "GET", "path": "/q/regex", "query": {"n": {"matches": "^[0-9]{3}$"}}}),
        stub("absent", {"method": "GET", "path": "/q/absent", "query": {"debug": {"absent": True}}}),
    ])
    assert answered_by(client.get("/q/eq", params={"kind": "dog"})) == "eq"
    assert client.get("/q/eq", params={"kind": "cat"}).status_code == 404
    assert answered_by(client.get("/q/ci", params={"kind": "dOg"})) == "ci"
    assert answered_by(client.get("/q/contains", params={"name": "poodle"})) == "contains"
    assert client.get("/q/contains", params={"name": "pug"}).status_code == 404
    assert answered_by(client.get("/q/regex", params={"n": "123"})) == "regex"
    assert client.get("/q/regex", params={"n": "1234"}).status_code == 404
    assert answered_by(client.get("/q/absent")) == "absent"
    assert client.get("/q/absent", params={"debug": "1"}).status_code == 404


def test_header_matchers_are_case_insensitive_on_the_name(client: httpx.Client) -> None:
    add(client, stub("tenant", {"method": "GET", "path": "/h", "headers": {"X-Tenant": {"matches": "^t-"}}}))
    assert answered_by(client.get("/h", headers={"x-tenant": "t-42"})) == "tenant"
    missing = client.get("/h", headers={"x-tenant": "acme"})
    assert missing.status_code == 404
    assert client.get("/h").status_code == 404


def test_body_equals_json_with_and_without_ignores(client: httpx.Client) -> None:
    add(client, [
        stub("strict", {"method": "POST", "path": "/b/json", "body": {"equals_json": {"a": 1, "tags": ["x", "y"]}}}),
        stub("loose", {"method": "POST", "path": "/b/loose", "body": {
            "equals_json": {"a": 1, "tags": ["x", "y"]}, "ignore_extra_fields": True, "ignore_array_order": True}}),
    ])
    assert answered_by(client.post("/b/json", json={"tags": ["x", "y"], "a": 1.0})) == "strict"
    assert client.post("/b/json", json={"a": 1, "tags": ["y", "x"]}).status_code == 404
    assert client.post("/b/json", json={"a": 1, "tags": ["x", "y"], "extra": True}).status_code == 404
    assert answered_by(client.post("/b/loose", json={"a": 1, "tags": ["y", "x"], "extra": True})) == "loose"
    assert client.post("/b/loose", content=b"not json").status_code == 404


def test_body_contains_matches_json_path_and_form(client: httpx.Client) -> None:
    add(client, [
        stub("contains", {"method": "POST", "path": "/b/contains", "body": {"contains": "needle"}}),
        stub("matches", {"method": "POST", "path": "/b/matches", "body": {"matches": "^id=[0-9]+$"}}),
        stub("jsonpath", {"method": "POST", "path": "/b/jsonpath", "body": {
            "json_path": {"$.pet.name": {"equals": "doggie"}, "$.items[*].qty": {"matches": "^[5-9]$"}}}}),
        stub("form", {"method": "POST", "path": "/b/form",
                      "body": {"form": {"user": "ann", "role": {"contains": "adm"}}}}),
    ])
    assert answered_by(client.post("/b/contains", content=b"hay needle hay")) == "contains"
    assert client.post("/b/contains", content=b"hay only").status_code == 404
    assert answered_by(client.post("/b/matches", content=b"id=77")) == "matches"
    assert client.post("/b/matches", content=b"id=7x").status_code == 404
    good = {"pet": {"name": "doggie"}, "items": [{"qty": 1}, {"qty": 6}]}
    assert answered_by(client.post("/b/jsonpath", json=good)) == "jsonpath"
    assert client.post("/b/jsonpath", json={"pet": {"name": "cat"}, "items": [{"qty": 6}]}).status_code == 404
    assert answered_by(client.post("/b/form", data={"user": "ann", "role": "admin"})) == "form"
    assert client.post("/b/form", data={"user": "bob", "role": "admin"}).status_code == 404


def test_path_template_glob_regex_and_method_any(client: httpx.Client) -> None:
    add(client, [
        {"id": "tpl", "request": {"method": "GET", "path": "/pets/{id}/toys/{toy}"},
         "response": {"body": {"stub": "tpl", "id": "{{request.path.id}}", "toy": "{{request.path.toy}}"}}},
        stub("glob", {"method": "GET", "path": {"glob": "/files/*.txt"}}),
        stub("deep", {"method": "GET", "path": {"glob": "/tree/**"}}),
        stub("regex", {"method": "GET", "path": {"regex": "^/users/[0-9]+$"}}),
        stub("any", {"method": "ANY", "path": "/anything"}),
    ])
    r = client.get("/pets/7/toys/ball")
    assert r.json() == {"stub": "tpl", "id": "7", "toy": "ball"}
    assert client.get("/pets/7/toys").status_code == 404
    assert answered_by(client.get("/files/a.txt")) == "glob"
    assert client.get("/files/sub/a.txt").status_code == 404
    assert answered_by(client.get("/tree/a/b/c")) == "deep"
    assert answered_by(client.get("/users/12")) == "regex"
    assert client.get("/users/12a").status_code == 404
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        assert answered_by(client.request(method, "/anything")) == "any", method


# --------------------------------------------------------------------------- order, times


def test_lower_priority_wins_and_ties_go_to_the_newest(client: httpx.Client) -> None:
    add(client, stub("low", {"method": "GET", "path": "/prio"}, priority=1))
    add(client, stub("high", {"method": "GET", "path": "/prio"}, priority=9))
    assert answered_by(client.get("/prio")) == "low"
    add(client, stub("tie-old", {"method": "GET", "path": "/tie"}, priority=3))
    add(client, stub("tie-new", {"method": "GET", "path": "/tie"}, priority=3))
    assert answered_by(client.get("/tie")) == "tie-new"
    # a glob stub competes with a template stub by priority, not by kind
    add(client, stub("glob-first", {"method": "GET", "path": {"glob": "/mix/*"}}, priority=2))
    add(client, stub("tpl-later", {"method": "GET", "path": "/mix/{x}"}, priority=4))
    assert answered_by(client.get("/mix/1")) == "glob-first"


def test_stubs_win_over_the_spec_route(client: httpx.Client) -> None:
    assert client.post("/orders", json={"qty": 1}).json() == {"from": "spec"}
    add(client, stub("orders", {"method": "POST", "path": "/orders"}))
    assert answered_by(client.post("/orders", json={"qty": 1})) == "orders"


def test_times_answers_n_times_then_falls_through(client: httpx.Client) -> None:
    add(client, [
        stub("twice", {"method": "GET", "path": "/limited"}, times=2, priority=1),
        stub("fallback", {"method": "GET", "path": "/limited"}, priority=9),
    ])
    got = [answered_by(client.get("/limited")) for _ in range(4)]
    assert got == ["twice", "twice", "fallback", "fallback"]


async def test_times_is_exact_under_concurrency(mock: MockServer, client: httpx.Client) -> None:
    add(client, [
        stub("five", {"method": "GET", "path": "/race-times"}, times=5, priority=1),
        stub("rest", {"method": "GET", "path": "/race-times"}, priority=9),
    ])
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=mock.url, limits=limits, timeout=10) as ac:
        answers = await asyncio.gather(*(ac.get("/race-times") for _ in range(50)))
    names = [answered_by(r) for r in answers]
    assert names.count("five") == 5
    assert names.count("rest") == 45


# --------------------------------------------------------------------------- scenarios


async def test_scenario_transition_is_won_by_exactly_one_of_50_concurrent_clients(
    mock: MockServer, client: httpx.Client
) -> None:
    scenario = {"name": "checkout", "required_state": "Started", "new_state": "Paid"}
    add(client, [
        stub("pay", {"method": "POST", "path": "/pay"}, scenario=scenario, priority=1),
        stub("already", {"method": "POST", "path": "/pay"},
             scenario={"name": "checkout", "required_state": "Paid"}, priority=2),
        stub("state-started", {"method": "GET", "path": "/state"},
             scenario={"name": "checkout", "required_state": "Started"}),
        stub("state-paid", {"method": "GET", "path": "/state"},
             scenario={"name": "checkout", "required_state": "Paid"}),
    ])
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=mock.url, limits=limits, timeout=10) as ac:
        start = asyncio.Event()

        async def pay() -> str | None:
            await start.wait()
            return answered_by(await ac.post("/pay"))

        tasks = [asyncio.ensure_future(pay()) for _ in range(50)]
        await asyncio.sleep(0)
        start.set()
        names = await asyncio.gather(*tasks)
        assert names.count("pay") == 1
        assert names.count("already") == 49
        reads = await asyncio.gather(*(ac.get("/state") for _ in range(50)))
    assert {answered_by(r) for r in reads} == {"state-paid"}
    listed = client.get("/__mockforge/scenarios").json()["scenarios"]
    assert {"name": "checkout", "state": "Paid"} in listed


def test_scenario_set_and_reset_over_the_admin_api(client: httpx.Client) -> None:
    add(client, [
        stub("s-start", {"method": "GET", "path": "/flow"}, scenario={"name": "flow", "required_state": "Started"}),
        stub("s-two", {"method": "GET", "path": "/flow"}, scenario={"name": "flow", "required_state": "Two"}),
    ])
    assert answered_by(client.get("/flow")) == "s-start"
    assert client.put("/__mockforge/scenarios/flow", json={"state": "Two"}).json() == {"name": "flow", "state": "Two"}
    assert answered_by(client.get("/flow")) == "s-two"
    client.post("/__mockforge/scenarios/reset").raise_for_status()
    assert answered_by(client.get("/flow")) == "s-start"
    bad = client.put("/__mockforge/scenarios/flow", json={"nope": 1})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["location"] == "state"


# --------------------------------------------------------------------------- near misses


def test_unmatched_request_lists_closest_stubs_in_404_and_near_misses(client: httpx.Client) -> None:
    add(client, [
        stub("get-dog", {"method": "GET", "path": "/zoo/{id}", "query": {"kind": {"equals": "dog"}}}),
        stub("post-zoo", {"method": "POST", "path": "/zoo/{id}"}),
    ])
    r = client.get("/zoo/7", params={"kind": "cat"})
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "not_found"
    details = err["details"]
    assert {"location": "stub:get-dog", "reason": 'query.kind: expected equals "dog", got "cat"'} in details
    assert {"location": "stub:post-zoo", "reason": "method: expected POST, got GET"} in details
    # the closest one comes first
    assert details[0]["location"] == "stub:get-dog"
    log = client.get("/__mockforge/near-misses").json()["near_misses"]
    assert len(log) == 1
    entry = log[0]
    assert entry["request"]["method"] == "GET"
    assert entry["request"]["path"] == "/zoo/7"
    assert entry["near_misses"][0]["stub"] == "get-dog"
    assert entry["near_misses"][0]["diffs"] == ['query.kind: expected equals "dog", got "cat"']
    unmatched = client.get("/__mockforge/unmatched").json()["requests"]
    assert [(u["method"], u["path"]) for u in unmatched] == [("GET", "/zoo/7")]


def test_near_misses_are_at_most_three(client: httpx.Client) -> None:
    add(client, [stub(f"n{i}", {"method": "GET", "path": "/near", "query": {"v": str(i)}}) for i in range(5)])
    r = client.get("/near", params={"v": "x"})
    assert r.status_code == 404
    locations = {d["location"] for d in r.json()["error"]["details"] if d["location"].startswith("stub:")}
    assert locations == {"stub:n4", "stub:n3", "stub:n2"}  # equally close: the newest first


# --------------------------------------------------------------------------- admin stubs


def test_post_one_stub_assigns_an_id_and_answers_201_with_it(client: httpx.Client) -> None:
    new = {"request": {"method": "GET", "path": "/new"}, "response": {"status": 202}}
    r = client.post("/__mockforge/stubs", json=new)
    assert r.status_code == 201
    (stored,) = r.json()["stubs"]
    assert stored["id"]
    assert stored["source"] == "api"
    assert stored["request"] == {"method": "GET", "path": "/new"}
    assert client.get("/new").status_code == 202
    assert client.get(f"/__mockforge/stubs/{stored['id']}").json()["id"] == stored["id"]


def test_post_a_yaml_list_stores_each_stub(client: httpx.Client) -> None:
    text = yaml.safe_dump([
        {"id": "y1", "request": {"path": "/y1"}, "response": {"body_text": "one"}},
        {"request": {"path": "/y2"}, "response": {"body_text": "two"}},
    ])
    r = client.post("/__mockforge/stubs", content=text, headers={"content-type": "application/yaml"})
    assert r.status_code == 201
    stored = r.json()["stubs"]
    assert [s["request"]["path"] for s in stored] == ["/y1", "/y2"]
    assert stored[0]["id"] == "y1"
    assert stored[1]["id"] and stored[1]["id"] != "y1"
    assert client.get("/y1").text == "one"
    assert client.get("/y2").text == "two"


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"request": {"path": {"regex": "^(unclosed"}}}, "request.path.regex"),
        ({"request": {"query": {"q": {"matches": "[a-"}}}}, "request.query.q.matches"),
        ({"request": {"body": {"json_path": {"$..[?(@.a ==": "x"}}}}, 'request.body.json_path["$..[?(@.a =="]'),
        ([{"request": {"path": "/ok"}}, {"request": {"method": 7}}], "[1].request.method"),
    ],
)
def test_invalid_stub_is_a_400_naming_the_field_and_nothing_is_added(
    client: httpx.Client, bad: Any, field: str
) -> None:
    before = client.get("/__mockforge/stubs").json()["stubs"]
    r = client.post("/__mockforge/stubs", json=bad)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_stub"
    assert err["details"][0]["location"] == field
    assert client.get("/__mockforge/stubs").json()["stubs"] == before


def test_delete_all_stubs_keeps_file_and_config_stubs(client: httpx.Client) -> None:
    add(client, [stub("api-1", {"path": "/api-1"}), stub("api-2", {"path": "/api-2"})])
    sources = {s["id"]: s["source"] for s in client.get("/__mockforge/stubs").json()["stubs"]}
    assert sources["from-config"] == "config"
    assert sources["from-file"].endswith("file.yaml")
    r = client.delete("/__mockforge/stubs")
    assert r.json() == {"removed": 2}
    ids = {s["id"] for s in client.get("/__mockforge/stubs").json()["stubs"]}
    assert {"from-config", "from-file"} <= ids
    assert not ids & {"api-1", "api-2"}
    assert client.get("/config-stub").json() == {"source": "config"}
    assert client.get("/file-stub").json() == {"source": "file"}
    assert client.get("/api-1").status_code == 404


def test_put_replaces_and_delete_removes_one_stub(client: httpx.Client) -> None:
    add(client, stub("one", {"method": "GET", "path": "/one"}))
    edit = {"request": {"method": "GET", "path": "/one"}, "response": {"body": {"v": 2}}}
    r = client.put("/__mockforge/stubs/one", json=edit)
    assert r.status_code == 200
    assert client.get("/one").json() == {"v": 2}
    assert client.delete("/__mockforge/stubs/one").json() == {"deleted": "one"}
    assert client.get("/one").status_code == 404
    assert client.get("/__mockforge/stubs/one").status_code == 404


# --------------------------------------------------------------------------- verification


def test_verify_counts_and_sequence(client: httpx.Client) -> None:
    add(client, stub("login", {"method": "POST", "path": "/login"}))
    client.post("/login", json={"user": "ann"})
    client.get("/config-stub")
    client.post("/login", json={"user": "bob"})
    r = client.post("/__mockforge/verify", json={
        "request": {"method": "POST", "path": "/login", "body": {"json_path": {"$.user": "bob"}}},
        "count": {"exactly": 1}})
    body = r.json()
    assert body["ok"] is True
    assert body["count"] == 1
    assert body["evicted"] == 0
    r = client.post("/__mockforge/verify", json={"request": {"path": "/login"}, "count": {"exactly": 3}})
    assert r.json()["ok"] is False
    assert r.json()["count"] == 2
    seq = client.post("/__mockforge/verify/sequence", json={"requests": [
        {"path": "/login", "body": {"contains": "ann"}}, {"path": "/config-stub"}, {"path": "/login"}]}).json()
    assert seq["ok"] is True
    assert len(seq["matched"]) == 3
    wrong = client.post("/__mockforge/verify/sequence", json={"requests": [
        {"path": "/config-stub"}, {"path": "/login", "body": {"contains": "ann"}}]}).json()
    assert wrong["ok"] is False
    assert wrong["failed_step"] == 1
    bad = client.post("/__mockforge/verify", json={"request": {"path": {"regex": "("}}})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"][0]["location"] == "request.path.regex"


def test_verify_says_counts_may_be_low_when_the_log_evicted_entries() -> None:
    with MockServer(config={"core": {"max_request_logs": 3}, "http": {"routes": [
        {"request": {"path": "/ping"}, "response": {"body_text": "pong"}}]}}) as mock, \
            httpx.Client(base_url=mock.url) as c:
        for _ in range(5):
            assert c.get("/ping").text == "pong"
        body = c.post("/__mockforge/verify", json={"request": {"path": "/ping"}, "count": {"exactly": 5}}).json()
        assert body["ok"] is False
        assert body["count"] == 3
        assert body["evicted"] == 2
        assert "evicted 2" in body["note"]
        seq = c.post("/__mockforge/verify/sequence", json={"requests": [{"path": "/ping"}, {"path": "/ping"}]}).json()
        assert seq["ok"] is True
        assert seq["evicted"] == 2


def test_verify_never_counts_a_truncated_body_as_a_match() -> None:
    with MockServer(config={"core": {"max_logged_body_bytes": 8}}) as mock, httpx.Client(base_url=mock.url) as c:
        c.post("/big", content=b"0123456789-needle-at-the-end")
        body = c.post("/__mockforge/verify", json={"request": {"path": "/big", "body": {"contains": "needle"}}}).json()
        assert body["ok"] is False
        assert body["count"] == 0
        assert body["truncated_skipped"] == 1
        assert "truncated" in body["note"]


# --------------------------------------------------------------------------- validate, templates


def test_validate_true_checks_the_request_against_the_spec_route(client: httpx.Client) -> None:
    add(client, stub("checked", {"method": "POST", "path": "/orders"}, validate=True))
    assert answered_by(client.post("/orders", json={"qty": 2})) == "checked"
    refused = client.post("/orders", json={"qty": "two"})
    assert refused.status_code == 400
    err = refused.json()["error"]
    assert err["code"] == "validation_failed"
    assert any("qty" in d["location"] for d in err["details"])
    add(client, stub("unchecked", {"method": "POST", "path": "/orders"}))
    assert answered_by(client.post("/orders", json={"qty": "two"})) == "unchecked"


def test_templates_render_in_body_text_and_headers(client: httpx.Client) -> None:
    add(client, [
        {"id": "tpl-json", "request": {"method": "POST", "path": "/greet/{name}"},
         "response": {"status": 201, "headers": {"x-echo": "{{request.headers.x-in}}", "x-id": "{{request.path.name}}"},
                      "body": {"hello": "{{request.path.name}}", "q": "{{request.query.q}}",
                               "count": "{{request.body.count}}"}}},
        {"id": "tpl-text", "request": {"method": "GET", "path": "/text"},
         "response": {"body_text": "method={{request.method}} q={{request.query.q}}"}},
    ])
    r = client.post("/greet/ann", params={"q": "x"}, json={"count": 3}, headers={"x-in": "abc"})
    assert r.status_code == 201
    assert r.json() == {"hello": "ann", "q": "x", "count": 3}
    assert r.headers["x-echo"] == "abc"
    assert r.headers["x-id"] == "ann"
    assert client.get("/text", params={"q": "y"}).text == "method=GET q=y"


def test_templates_are_sent_as_written_without_response_template_expand() -> None:
    routes = [{"request": {"path": "/raw/{id}"},
               "response": {"headers": {"x-id": "{{request.path.id}}"}, "body": {"id": "{{request.path.id}}"}}}]
    with MockServer(config={"http": {"routes": routes}}) as mock:
        r = httpx.get(mock.url + "/raw/7")
    assert r.json() == {"id": "{{request.path.id}}"}
    assert r.headers["x-id"] == "{{request.path.id}}"


# --------------------------------------------------------------------------- latency


def timed_get(url: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    r = httpx.get(url, timeout=10)
    return time.perf_counter() - start, r


def test_stub_delay_ms_and_operation_latency_are_fixed(mock: MockServer, client: httpx.Client) -> None:
    add(client, {"id": "slow", "request": {"path": "/slow-stub"}, "response": {"delay_ms": 200, "body_text": "late"}})
    elapsed, r = timed_get(mock.url + "/slow-stub")
    assert r.text == "late"
    assert elapsed >= 0.19
    elapsed, r = timed_get(mock.url + "/fixed")
    assert r.json() == {"op": "fixed"}
    assert elapsed >= 0.19


def expected_delays(latency: dict[str, Any], seed: int, n: int) -> list[float]:
    """The delays a server seeded with ``seed`` draws for its first ``n`` requests."""
    policy = FaultPolicy(CoreConfig(seed=seed, latency=latency))
    return [policy.latency_for() for _ in range(n)]


@pytest.mark.parametrize(
    "latency",
    [
        {"uniform": {"min_ms": 60, "max_ms": 160}},
        {"lognormal": {"median_ms": 80, "sigma": 0.4, "max_ms": 400}},
    ],
    ids=["uniform", "lognormal"],
)
def test_global_latency_is_seeded_and_seen_by_the_client(latency: dict[str, Any]) -> None:
    routes = [{"request": {"path": "/lat"}, "response": {"body_text": "ok"}}]
    n = 6
    want = expected_delays(latency, 5, n)
    with MockServer(config={"core": {"seed": 5, "latency": latency}, "http": {"routes": routes}}) as mock:
        got = [timed_get(mock.url + "/lat")[0] for _ in range(n)]
    # only a lower bound on real sockets: a loaded machine may add any delay on top (the
    # decision itself is tested with an injected clock in tests/test_pipeline.py)
    for expected, elapsed in zip(want, got, strict=True):
        assert elapsed >= expected - 0.01  # no upper bound: CI shares 2 cores (house rule)
    if "uniform" in latency:
        assert all(0.06 <= d <= 0.16 for d in want)
    assert len({round(d, 4) for d in want}) == n  # the draws differ from request to request


# --------------------------------------------------------------------------- status faults


def test_status_faults_by_tag_and_per_stub_with_rate_one(client: httpx.Client) -> None:
    r = client.get("/tagged")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "fault_injected"
    add(client, {"id": "teapot", "request": {"path": "/fault-stub"},
                 "response": {"body": {"fine": True}, "fault": {"rate": 1.0, "status": [418], "body": {"oops": 1}}}})
    r = client.get("/fault-stub")
    assert r.status_code == 418
    assert r.json() == {"oops": 1}


def statuses(url: str, n: int) -> list[int]:
    with httpx.Client(base_url=url) as c:
        return [c.get("/maybe").status_code for _ in range(n)]


def test_seeded_fault_rate_gives_the_same_sequence_on_every_run() -> None:
    config = {"core": {"seed": 42, "faults": {"rate": 0.3, "status": [500, 503]}},
              "http": {"routes": [{"request": {"path": "/maybe"}, "response": {"body_text": "ok"}}]}}
    with MockServer(config=config) as first:
        one = statuses(first.url, 200)
    with MockServer(config=config) as second:
        two = statuses(second.url, 200)
    assert one == two
    faulty = [s for s in one if s != 200]
    assert set(faulty) == {500, 503}
    assert 0.2 <= len(faulty) / len(one) <= 0.4


def test_global_fault_set_and_cleared_at_run_time(client: httpx.Client) -> None:
    try:
        r = client.put("/__mockforge/faults", json={"rate": 1.0, "status": [502]})
        assert r.json()["fault"] == {"rate": 1.0, "status": [502], "transport": None}
        assert client.get("/config-stub").status_code == 502
        assert client.get("/__mockforge/faults").json()["fault"]["status"] == [502]
        bad = client.put("/__mockforge/faults", json={"rate": 2})
        assert bad.status_code == 400
        assert bad.json()["error"]["details"][0]["location"] == "fault.rate"
    finally:
        client.delete("/__mockforge/faults").raise_for_status()
    assert client.get("/config-stub").json() == {"source": "config"}
    assert client.get("/__mockforge/faults").json() == {"fault": None}


# --------------------------------------------------------------------------- transport faults


def raw_get(port: int, path: str, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return sock


def read_all(sock: socket.socket) -> list[tuple[float, bytes]]:
    """Every recv until EOF, with its arrival time."""
    chunks: list[tuple[float, bytes]] = []
    while True:
        data = sock.recv(65536)
        if not data:
            return chunks
        chunks.append((time.perf_counter(), data))


def transport_stub(client: httpx.Client, kind: str, **fault: Any) -> str:
    path = f"/transport/{kind}"
    add(client, {"id": f"t-{kind}", "request": {"path": path},
                 "response": {"body": {"payload": "x" * 200}, "fault": {"transport": kind, **fault}}})
    return path


def test_transport_fault_reset_is_a_connection_reset(mock: MockServer, client: httpx.Client) -> None:
    path = transport_stub(client, "reset")
    with raw_get(mock.ports["http"], path) as sock, pytest.raises(ConnectionResetError):
        read_all(sock)
    with pytest.raises(httpx.TransportError):
        client.get(path)


def test_transport_fault_close_is_eof_without_bytes(mock: MockServer, client: httpx.Client) -> None:
    path = transport_stub(client, "close")
    with raw_get(mock.ports["http"], path) as sock:
        assert read_all(sock) == []
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(path)


def test_transport_fault_truncate_sends_fewer_bytes_than_content_length(mock: MockServer, client: httpx.Client) -> None:
    path = transport_stub(client, "truncate")
    with raw_get(mock.ports["http"], path) as sock:
        data = b"".join(chunk for _, chunk in read_all(sock))
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    assert len(lengths) == 1
    assert 0 < len(body) < lengths[0]
    assert lengths[0] == len(b'{"payload":"' + b"x" * 200 + b'"}')


def test_transport_fault_malformed_sends_bytes_that_are_not_http(mock: MockServer, client: httpx.Client) -> None:
    path = transport_stub(client, "malformed")
    with raw_get(mock.ports["http"], path) as sock:
        data = b"".join(chunk for _, chunk in read_all(sock))
    assert data
    assert not data.startswith(b"HTTP/")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(path)


def test_transport_fault_dribble_spreads_the_body_over_dribble_ms(mock: MockServer, client: httpx.Client) -> None:
    path = transport_stub(client, "dribble", dribble_ms=500)
    start = time.perf_counter()
    with raw_get(mock.ports["http"], path) as sock:
        chunks = read_all(sock)
    elapsed = time.perf_counter() - start
    data = b"".join(c for _, c in chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b'{"payload":"' + b"x" * 200 + b'"}'
    assert len(chunks) >= 5
    assert elapsed >= 0.4  # a lower bound only: a loaded machine may be slower
    assert chunks[-1][0] - chunks[0][0] >= 0.3
    # httpx sees a whole, valid (if slow) answer
    r = client.get(path)
    assert r.json() == {"payload": "x" * 200}


def test_global_transport_fault_set_at_run_time_then_cleared(mock: MockServer, client: httpx.Client) -> None:
    try:
        client.put("/__mockforge/faults", json={"transport": "close"}).raise_for_status()
        with raw_get(mock.ports["http"], "/config-stub") as sock:
            assert read_all(sock) == []
    finally:
        client.delete("/__mockforge/faults").raise_for_status()
    assert client.get("/config-stub").json() == {"source": "config"}


def test_global_fault_put_on_the_admin_listener_hits_the_http_port_not_the_admin_api() -> None:
    routes = [{"request": {"path": "/t"}, "response": {"body_text": "ok"}}]
    with MockServer(config={"admin": {"enabled": True}, "http": {"routes": routes}}) as mock:
        assert mock.ports["admin"] != mock.ports["http"]
        try:
            r = httpx.put(mock.admin_url + "/faults", json={"transport": "reset"})
            assert r.status_code == 200
            with raw_get(mock.ports["http"], "/t") as sock, pytest.raises(ConnectionResetError):
                read_all(sock)
            # the admin API is never faulted, so the fault can always be cleared
            assert httpx.get(mock.admin_url + "/faults").json()["fault"]["transport"] == "reset"
        finally:
            httpx.delete(mock.admin_url + "/faults").raise_for_status()
        assert httpx.get(mock.url + "/t").text == "ok"
