"""The admin endpoints behind the console's Overview, Spec, Fixtures, gRPC and Plugins pages,
over real sockets with httpx: the rate series, listeners, the answer preview (and that it has
no side effects: no log entry, no metric, no ``times`` consumed, no scenario moved, no state
written, no fixture usage, no unmatched report), the operation list, fixture -> stub without
writing, and gRPC services. Hostile preview bodies get a 400 naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"
PROTOS = ROOT / "examples" / "protos"

SPEC = """
openapi: 3.0.3
info: {title: console, version: "1"}
paths:
  /greetings:
    get:
      operationId: greet
      tags: [slow]
      responses:
        "200":
          description: ok
          content:
            application/json:
              examples:
                hello: {value: {text: hello}}
                bye: {value: {text: bye}}
        "404": {description: missing, content: {application/json: {example: {error: missing}}}}
  /numbers:
    get:
      operationId: numbers
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: array, items: {type: integer, minimum: 1, maximum: 9}, minItems: 2, maxItems: 2}
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [qty], properties: {qty: {type: integer, minimum: 1}}}
      responses: {"201": {description: created, content: {application/json: {example: {ok: true}}}}}
  /loose:
    post:
      operationId: loose
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [qty], properties: {qty: {type: integer}}}
      responses: {"200": {description: ok}}
"""

STUBS = [
    {"id": "once", "times": 1, "request": {"method": "GET", "path": "/once"}, "response": {"body": {"n": 1}}},
    {"id": "door-closed", "scenario": {"name": "door", "required_state": "Started", "new_state": "open"},
     "request": {"method": "GET", "path": "/door"}, "response": {"body": {"door": "closed"}}},
    {"id": "numbers-stub", "request": {"method": "GET", "path": "/numbers"}, "response": {"body": [7, 7]},
     "priority": 9},
]


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    folder = tmp_path_factory.mktemp("console")
    (folder / "spec.yaml").write_text(SPEC)
    config = {
        "http": {
            "specs": [str(folder / "spec.yaml")],
            "validation": {"mode": "enforce", "overrides": {"POST /loose": "warn"}},
            "routes": STUBS[:2],
        },
        "core": {"seed": 3, "latency_by_tag": {"slow": {"fixed_ms": 250}},
                 "faults_by_operation": {"numbers": {"rate": 0.5, "status": [503]}}},
    }
    with MockServer(config=config, protos=PROTOS) as server:
        yield server


@pytest.fixture
def client(mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock.url, timeout=10) as c:
        c.post("/__mockforge/reset").raise_for_status()
        yield c


def preview(client: httpx.Client, **body: Any) -> dict[str, Any]:
    r = client.post("/__mockforge/preview", json=body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def body_of(result: dict[str, Any]) -> Any:
    return json.loads(result["response"]["body"])


def counts(client: httpx.Client) -> tuple[int, int, Any]:
    stats = client.get("/__mockforge/stats").json()
    return len(client.get("/__mockforge/logs").json()["entries"]), stats["requests_total"], \
        stats["requests_by_protocol"]


# --------------------------------------------------------------------------- overview data


def test_series_starts_on_first_read_and_counts_requests(mock: MockServer, client: httpx.Client) -> None:
    first = client.get("/__mockforge/stats/series").json()
    assert first["interval_s"] == 10 and first["capacity"] == 90 and first["window_s"] == 900
    assert first["points"] and first["points"][0]["rss_bytes"] > 0
    assert mock.runtime.rate_series is not None and mock.runtime.rate_series.running
    before = first["now"]["requests"]
    for _ in range(3):
        client.get("/greetings")
    client.get("/no-such-path")  # an unmatched 404 counts as an error
    now = client.get("/__mockforge/stats/series").json()["now"]
    assert now["requests"] == before + 4
    assert now["errors"] >= first["now"]["errors"] + 1


def test_no_sampler_before_the_first_series_read_and_none_after_stop() -> None:
    with MockServer(spec=PETSTORE) as server, httpx.Client(base_url=server.url) as c:
        c.get("/__mockforge/stats").raise_for_status()
        assert server.runtime.rate_series is None  # nothing sampled for a server nobody watches
        c.get("/__mockforge/stats/series").raise_for_status()
        series = server.runtime.rate_series
        assert series is not None and series.running
    assert not series.running


def test_server_info_lists_each_listener_with_what_it_serves(mock: MockServer, client: httpx.Client) -> None:
    listeners = {x["name"]: x for x in client.get("/__mockforge/server-info").json()["listeners"]}
    assert listeners["http"]["port"] == mock.ports["http"] and listeners["http"]["host"] == "127.0.0.1"
    assert "admin" in listeners["http"]["serves"]
    assert listeners["grpc"] == {"name": "grpc", "host": "127.0.0.1", "port": mock.ports["grpc"], "serves": ["grpc"]}
    features = client.get("/__mockforge/server-info").json()["features"]
    assert features == {"spec": True, "websocket": mock.server.services.ws is not None, "grpc": True,
                        "plugins": False, "fixtures": False, "state": False, "drift": False}


# --------------------------------------------------------------------------- preview


def test_preview_of_a_stub_consumes_no_times_and_logs_nothing(client: httpx.Client) -> None:
    logged_before = counts(client)
    for _ in range(3):
        result = preview(client, method="GET", path="/once")
        assert result["source"] == "stub" and result["answered_by"] == "stub:once"
        assert body_of(result) == {"n": 1} and result["response"]["status"] == 200
    assert counts(client) == logged_before
    hits = {x["id"]: x.get("hits") for x in client.get("/__mockforge/stubs").json()["stubs"]}
    assert hits["once"] == 0
    # the real request still gets the stub's one answer, then 404
    assert client.get("/once").json() == {"n": 1}
    assert client.get("/once").status_code == 404
    gone = preview(client, method="GET", path="/once")
    assert gone["source"] == "not_found"
    assert any("already answered 1 of 1" in d["reason"] for d in body_of(gone)["error"]["details"])


def test_preview_of_a_validating_stub_reports_the_route_check(client: httpx.Client) -> None:
    client.post("/__mockforge/stubs", json={"id": "orders-stub", "validate": True,
                                            "request": {"method": "POST", "path": "/orders"},
                                            "response": {"status": 201, "body": {"stub": True}}}).raise_for_status()
    refused = preview(client, method="POST", path="/orders", body={"qty": 0})
    assert refused["answered_by"] == "stub:orders-stub" and refused["response"]["status"] == 400
    assert refused["validation"]["mode"] == "enforce" and refused["validation"]["problems"]
    ok = preview(client, method="POST", path="/orders", body={"qty": 3})
    assert ok["response"]["status"] == 201 and body_of(ok) == {"stub": True}
    assert ok["validation"] == {"mode": "enforce", "problems": []}


def test_preview_skips_a_disabled_stub(client: httpx.Client) -> None:
    client.post("/__mockforge/stubs", json=STUBS[2]).raise_for_status()
    assert preview(client, method="GET", path="/numbers")["answered_by"] == "stub:numbers-stub"
    client.put("/__mockforge/stubs/numbers-stub", json=STUBS[2] | {"enabled": False}).raise_for_status()
    result = preview(client, method="GET", path="/numbers")
    assert result["source"] == "spec" and client.get("/numbers").json() != [7, 7]


def test_preview_moves_no_scenario(client: httpx.Client) -> None:
    for _ in range(2):
        assert body_of(preview(client, method="GET", path="/door")) == {"door": "closed"}
    states = {s["name"]: s["state"] for s in client.get("/__mockforge/scenarios").json()["scenarios"]}
    assert states["door"] == "Started"
    assert client.get("/door").json() == {"door": "closed"}
    assert preview(client, method="GET", path="/door")["source"] == "not_found"


def test_preview_of_spec_operation_with_prefer_choices(client: httpx.Client) -> None:
    default = preview(client, method="GET", path="/greetings")
    assert default["source"] == "spec" and default["answered_by"] == "GET /greetings"
    assert default["operation"]["operation_id"] == "greet"
    assert body_of(default) == {"text": "hello"}
    assert default["rules"]["latency"] == {"fixed_ms": 250}  # reported, not slept
    bye = preview(client, method="GET", path="/greetings", headers={"Prefer": "example=bye"})
    assert body_of(bye) == {"text": "bye"}
    missing = preview(client, method="GET", path="/greetings", headers=[["prefer", "code=404"]])
    assert missing["response"]["status"] == 404 and body_of(missing) == {"error": "missing"}
    unknown = preview(client, method="GET", path="/greetings", headers={"prefer": "code=418"})
    assert unknown["response"]["status"] == 400 and "418" in body_of(unknown)["error"]["message"]
    dynamic = preview(client, method="GET", path="/numbers", headers={"prefer": "dynamic=true"})
    assert dynamic["source"] == "spec" and len(body_of(dynamic)) == 2
    # the fault rule is reported; no draw happens, so the answer is the mock's own
    assert dynamic["rules"]["fault"] == {"origin": "operation:numbers", "rate": 0.5, "status": [503],
                                         "transport": None}
    assert dynamic["response"]["status"] == 200


def test_preview_draws_no_fault(mock: MockServer, client: httpx.Client) -> None:
    policy = mock.server.services.stubs.fault_policy
    before = (policy._fault_rng.getstate(), policy._latency_rng.getstate())
    for _ in range(5):
        assert preview(client, method="GET", path="/numbers")["rules"]["fault"]["rate"] == 0.5
    assert (policy._fault_rng.getstate(), policy._latency_rng.getstate()) == before
    client.get("/numbers")  # a real request draws: the check above can see a change
    assert policy._fault_rng.getstate() != before[0]


def test_preview_reports_validation_problems_per_mode(client: httpx.Client) -> None:
    refused = preview(client, method="POST", path="/orders", body={"qty": 0})
    assert refused["validation"]["mode"] == "enforce"
    assert refused["response"]["status"] == 400
    assert any(p["location"] == "body.qty" for p in refused["validation"]["problems"])
    ok = preview(client, method="POST", path="/orders", body={"qty": 2})
    assert ok["response"]["status"] == 201 and ok["validation"]["problems"] == []
    warned = preview(client, method="POST", path="/loose", body={"nope": 1})
    assert warned["validation"]["mode"] == "warn" and warned["validation"]["problems"]
    assert warned["response"]["status"] == 200


def test_preview_of_a_miss_is_not_recorded_as_unmatched(client: httpx.Client) -> None:
    result = preview(client, method="GET", path="/greetingz")
    assert result["source"] == "not_found" and result["response"]["status"] == 404
    reasons = [d["reason"] for d in body_of(result)["error"]["details"]]
    assert "closest route: GET /greetings" in reasons
    assert client.get("/__mockforge/unmatched").json()["requests"] == []
    client.get("/greetingz")  # a real miss is recorded: the check above can see one
    assert len(client.get("/__mockforge/unmatched").json()["requests"]) == 1
    assert [s["step"] for s in result["steps"]] == ["stubs", "spec"]


def test_preview_of_a_method_the_route_lacks_is_405(client: httpx.Client) -> None:
    result = preview(client, method="DELETE", path="/greetings")
    assert result["response"]["status"] == 405
    assert ["allow", "GET, HEAD"] in result["response"]["headers"]


def test_preview_keeps_hostile_values_as_data(client: httpx.Client) -> None:
    payload = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    result = preview(client, method="GET", path="/greetingz", query={"q": payload})
    assert result["request"]["query"] == {"q": [payload]}
    r = client.post("/__mockforge/preview", json={"method": "GET", "path": "/x", "headers": {"x": payload}})
    assert r.headers["content-type"] == "application/json"


def test_preview_of_a_body_nested_too_deep_is_the_400_the_real_request_gets(client: httpx.Client) -> None:
    deep = "[" * 5000 + "]" * 5000
    result = preview(client, method="POST", path="/orders", body=deep, headers={"content-type": "application/json"})
    real = client.post("/orders", content=deep, headers={"content-type": "application/json"})
    assert result["response"]["status"] == real.status_code == 400
    assert body_of(result)["error"]["code"] == real.json()["error"]["code"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ([], "body"),
        ({"path": "/a", "method": "GET\r\nX: y"}, "body.method"),
        ({"path": "no-slash"}, "body.path"),
        ({"path": "/a\r\nb"}, "body.path"),
        ({"path": "/a\tb"}, "body.path"),
        ({"path": "/a", "headers": {"bad name": "v"}}, "body.headers[0]"),
        ({"path": "/a", "method": "X" * 33}, "body.method"),
        ({"path": "/__mockforge/reset", "method": "POST"}, "body.path"),
        ({"path": "/a", "headers": "x: y"}, "body.headers"),
        ({"path": "/a", "headers": [["x"]]}, "body.headers[0]"),
        ({"path": "/a", "headers": {"x": {"nested": 1}}}, "body.headers.x"),
        ({"path": "/a", "query": [["k", "v"]] * 201}, "body.query"),
        ({"path": "/a" + "b" * 9000}, "body.path"),  # longer than any request line the wire takes
        ({"path": "/a", "query": {"q": "v" * 9000}}, "body.path"),
        ({"path": "/a", "headers": {f"h{i}": "v" * 1000 for i in range(70)}}, "body.headers"),
    ],
)
def test_hostile_preview_bodies_are_400_naming_the_field(client: httpx.Client, body: Any, location: str) -> None:
    r = client.post("/__mockforge/preview", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_preview"
    assert location in [d["location"] for d in error["details"]]


# --------------------------------------------------------------------------- operation list


def test_operations_list_answer_kind_validation_and_prefer_choices(client: httpx.Client) -> None:
    client.post("/__mockforge/stubs", json=STUBS[2]).raise_for_status()
    data = client.get("/__mockforge/spec/operations").json()
    ops = {f"{o['method']} {o['path']}": o for o in data["operations"]}
    greet = ops["GET /greetings"]
    assert greet["answer"] == "example" and greet["validation"] == "enforce"
    assert {r["status"]: r["examples"] for r in greet["responses"]} == {"200": ["bye", "hello"], "404": []}
    assert ops["GET /numbers"]["answer"] == "stub" and ops["GET /numbers"]["stub"] == "numbers-stub"
    assert ops["POST /loose"]["validation"] == "warn" and ops["POST /loose"]["answer"] == "empty"
    assert ops["POST /orders"]["answer"] == "example"
    client.delete("/__mockforge/stubs/numbers-stub").raise_for_status()
    again = {f"{o['method']} {o['path']}": o for o in client.get("/__mockforge/spec/operations").json()["operations"]}
    assert again["GET /numbers"]["answer"] == "generated"


# --------------------------------------------------------------------------- gRPC


def test_grpc_services_lists_methods_types_streaming_and_stub_counts(client: httpx.Client) -> None:
    client.post("/__mockforge/grpc/stubs", json={
        "id": "unary-hi", "service": "mockforge.MockService", "method": "UnaryCall",
        "response": {"message": {"message": "hi"}},
    }).raise_for_status()
    try:
        data = client.get("/__mockforge/grpc/services").json()
    finally:
        client.delete("/__mockforge/grpc/stubs/unary-hi")
    services = {s["name"]: s for s in data["services"]}
    methods = {m["name"]: m for m in services["mockforge.MockService"]["methods"]}
    assert methods["UnaryCall"]["stubs"] == 1 and methods["UnaryCall"]["input_type"] == "mockforge.UnaryRequest"
    assert methods["ServerStream"]["calls"] == 0
    assert methods["ServerStream"]["server_streaming"] is True
    assert methods["ClientStream"]["client_streaming"] is True
    assert services["grpc.health.v1.Health"]["builtin"] is True
    assert client.post("/__mockforge/grpc/services", json={}).status_code == 405


def test_grpc_services_is_404_and_grpc_unimported_without_protos(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys, httpx\n"
        "from mockforge.testing.server import MockServer\n"
        f"with MockServer(spec={str(PETSTORE)!r}) as m:\n"
        "    r = httpx.get(m.url + '/__mockforge/grpc/services')\n"
        "    print(r.status_code, 'grpclib' in sys.modules, 'google.protobuf' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.split() == ["404", "False", "False"]


# --------------------------------------------------------------------------- state and fixtures


def test_preview_of_state_writes_changes_nothing() -> None:
    with MockServer({"http": {"state": {"mode": "on"}}}, spec=PETSTORE, seed=7) as server, \
            httpx.Client(base_url=server.url) as c:
        created = preview(c, method="POST", path="/pets", body={"name": "rex", "kind": "dog"})
        assert created["source"] == "state" and created["state_action"] == "create"
        assert created["response"] is None
        assert c.get("/pets").json() == []
        pet = c.post("/pets", json={"name": "rex", "kind": "dog"}).json()
        read = preview(c, method="GET", path=f"/pets/{pet['id']}")
        assert read["state_action"] == "read" and body_of(read) == pet
        deleted = preview(c, method="DELETE", path=f"/pets/{pet['id']}")
        assert deleted["state_action"] == "delete"
        assert c.get("/pets").json() == [pet]
        listed = preview(c, method="GET", path="/pets")
        assert listed["state_action"] == "list" and body_of(listed) == [pet]


def _fixture(root: Path, path: str = "/recorded") -> str:
    from mockforge.recording.fingerprint import FingerprintRules
    from mockforge.recording.store import build_fixture, write_fixture_file

    f = build_fixture(method="GET", path=path, raw_query="", request_headers=[], request_body=b"",
                      status=200, response_headers=[("content-type", "application/json")],
                      response_body=b'{"recorded": true}', rules=FingerprintRules.create())
    write_fixture_file(root, f, fsync=False)
    return f.fingerprint


def test_fixture_preview_and_stub_of_a_fixture_touch_nothing(tmp_path: Path) -> None:
    root = tmp_path / "fixtures"
    fp = _fixture(root)
    config = {"core": {"fixtures": {"mode": "replay", "dir": str(root)}}}
    with MockServer(config, spec=PETSTORE) as server, httpx.Client(base_url=server.url) as c:
        result = preview(c, method="GET", path="/recorded")
        assert result["source"] == "fixture" and result["answered_by"] == f"fixture:{fp}"
        assert body_of(result) == {"recorded": True}
        assert "mockforge_fixture_hits_total 0.0" in c.get("/__mockforge/metrics").text
        assert c.get("/recorded").json() == {"recorded": True}  # a real replay is counted
        assert "mockforge_fixture_hits_total 1.0" in c.get("/__mockforge/metrics").text
        files_before = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
        stub = c.get(f"/__mockforge/fixtures/{fp}/stub").json()["stub"]
        assert stub["request"]["method"] == "GET" and stub["request"]["path"] == "/recorded"
        assert stub["response"]["status"] == 200
        assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == files_before
        assert c.get(f"/__mockforge/fixtures/{'0' * 64}/stub").status_code == 404
        _fixture(root, "/pets/7")
        listed = c.get("/__mockforge/spec/operations").json()
        ops = {f"{o['method']} {o['path']}": o for o in listed["operations"]}
        assert ops["GET /pets/{id}"]["answer"] == "fixture" and ops["GET /pets/{id}"]["fixtures"] == 1
        assert ops["GET /pets"]["answer"] != "fixture"
        assert (listed["fixtures_mode"], listed["fixtures_scanned"], listed["fixtures_total"]) == ("replay", 2, 2)
        assert c.get("/__mockforge/fixtures/not-an-id/stub").status_code == 404
