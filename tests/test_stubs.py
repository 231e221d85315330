from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from mockforge.core.files import FileRoots
from mockforge.core.model import Headers, Request
from mockforge.core.stubs import (
    InMemoryStubStore,
    Stub,
    load_file,
    near_miss_details,
    near_miss_report,
    parse_config_routes,
    parse_stub,
)
from mockforge.errors import StubError


def req(
    method: str = "GET", path: str = "/pets/7", query: str = "", body: bytes = b"", **headers: str
) -> Request:
    return Request(
        protocol="http",
        method=method,
        path=path,
        raw_query=query,
        headers=Headers([(k.replace("_", "-"), v) for k, v in headers.items()]),
        body=body,
    )


def stub(request: dict[str, Any] | None = None, response: dict[str, Any] | None = None, **kw: Any) -> Stub:
    data: dict[str, Any] = {"request": request or {}, "response": response or {}, **kw}
    return parse_stub(data, "", "api")


def answer_id(store: InMemoryStubStore, request: Request) -> str | None:
    match = store.find(request)
    return None if match is None else match.stub.id


# ---- parsing -------------------------------------------------------------------------------------


def test_defaults_anything_and_200() -> None:
    s = parse_stub({}, "", "api")
    assert s.priority == 5 and s.times is None and not s.validate and s.source == "api"
    assert s.id  # assigned
    resp = s.response.build(req(), {}, expand=False, source="stub:x")
    assert (resp.status, resp.body) == (200, b"")


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        (
            {"request": {"query": {"kind": {"matches": "("}}}},
            "[0].request.query.kind.matches",
            "invalid regex",
        ),
        (
            {"request": {"body": {"json_path": {"$..[": "x"}}}},
            '[0].request.body.json_path["$..["]',
            "JSONPath",
        ),
        ({"response": {"status": 99}}, "[0].response.status", "HTTP status"),
        ({"response": {"body": {}, "body_text": "x"}}, "[0].response", "give one of"),
        ({"response": {"fault": {"rate": 2}}}, "[0].response.fault.rate", "rate"),
        ({"response": {"delay_ms": -1}}, "[0].response.delay_ms", "milliseconds"),
        ({"response": {"body_base64": "***"}}, "[0].response.body_base64", "base64"),
        ({"times": 0}, "[0].times", ">= 1"),
        ({"scenario": {"required_state": "x"}}, "[0].scenario.name", "name"),
        ({"requst": {}}, "[0].requst", "unknown key"),
    ],
)
def test_invalid_stubs_name_the_file_and_field(data: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(StubError, match=message) as err:
        parse_stub(data, "[0]", "stubs/pets.yaml")
    assert err.value.file == "stubs/pets.yaml"
    assert err.value.where == where
    assert str(err.value).startswith(f"stubs/pets.yaml at {where}: ")


def test_to_dict_has_stable_order_and_omits_defaults() -> None:
    s = parse_stub({"response": {"status": 201}, "request": {"path": "/a"}, "id": "x"}, "", "api")
    assert list(s.to_dict()) == ["id", "request", "response", "priority", "source"]


# ---- responses -----------------------------------------------------------------------------------


def test_json_body_with_templates_and_headers() -> None:
    s = stub(
        {"path": "/pets/{id}"},
        {
            "status": 201,
            "headers": {"x-id": "{{request.path.id}}", "x-n": 3},
            "body": {"id": "{{request.path.id}}"},
        },
    )
    store = InMemoryStubStore()
    store.add(s)
    r = req(path="/pets/42")
    match = store.find(r)
    assert match is not None and match.path_params == {"id": "42"}
    resp = match.build_response(r, expand=True)
    assert resp.status == 201
    assert orjson.loads(resp.body) == {"id": "42"}
    assert resp.headers == [("content-type", "application/json"), ("x-id", "42"), ("x-n", "3")]
    assert resp.source == f"stub:{s.id}"
    raw = match.build_response(r, expand=False)
    assert orjson.loads(raw.body) == {"id": "{{request.path.id}}"}


def test_text_base64_and_file_bodies(tmp_path: Path) -> None:
    text = stub(response={"body_text": "hi {{request.query.name}}", "headers": {"content-type": "text/x"}})
    resp = text.response.build(req(query="name=bo"), {}, expand=True, source="s")
    assert (resp.body, resp.headers) == (b"hi bo", [("content-type", "text/x")])
    b64 = stub(response={"body_base64": base64.b64encode(b"\x00\x01").decode()})
    resp = b64.response.build(req(), {}, expand=True, source="s")
    assert (resp.body, resp.header("content-type")) == (b"\x00\x01", "application/octet-stream")
    f = tmp_path / "pet.json"
    f.write_text('{"v": 1}')
    roots = FileRoots.of([tmp_path])  # a body_file must sit inside the allowed folders (core/files.py)
    file_stub = parse_stub({"response": {"body_file": "pet.json"}}, "", str(tmp_path / "stubs.yaml"), files=roots)
    assert file_stub.response.build(req(), {}, expand=True, source="s").body == b'{"v": 1}'
    f.write_text('{"v": 2}')  # read on use
    resp = file_stub.response.build(req(), {}, expand=True, source="s")
    assert (resp.body, resp.header("content-type")) == (b'{"v": 2}', "application/json")
    f.unlink()
    assert file_stub.response.build(req(), {}, expand=True, source="s").status == 500


# ---- choosing ------------------------------------------------------------------------------------


def test_lower_priority_wins() -> None:
    store = InMemoryStubStore()
    store.add(stub({"path": "/pets/{id}"}, id="general", priority=5))
    store.add(stub({"path": "/pets/7"}, id="specific", priority=1))
    store.add(stub({"path": {"glob": "/pets/*"}}, id="fallback", priority=9))
    assert answer_id(store, req()) == "specific"
    assert answer_id(store, req(path="/pets/8")) == "general"
    assert answer_id(store, req(path="/pets/8/x")) is None


def test_ties_go_to_the_newest_and_replacing_makes_newest() -> None:
    store = InMemoryStubStore()
    store.add(stub({"path": "/pets/7"}, id="old"))
    store.add(stub({"path": "/pets/{id}"}, id="new"))
    assert answer_id(store, req()) == "new"
    store.add(stub({"path": "/pets/7"}, id="old"))
    assert answer_id(store, req()) == "old"
    assert [s.id for s in store.list()] == ["old", "new"]


def test_method_any_and_pathless_stubs() -> None:
    store = InMemoryStubStore()
    store.add(stub({"method": "ANY", "path": "/x"}, id="any"))
    store.add(stub({"headers": {"x-debug": "1"}}, id="pathless"))
    assert answer_id(store, req("DELETE", "/x")) == "any"
    assert answer_id(store, req("PUT", "/elsewhere", x_debug="1")) == "pathless"
    assert answer_id(store, req("PUT", "/elsewhere")) is None


def test_times_limits_answers() -> None:
    store = InMemoryStubStore()
    store.add(stub({"path": "/pets/7"}, id="twice", times=2, priority=1))
    store.add(stub({"path": "/pets/7"}, id="always", priority=2))
    assert [answer_id(store, req()) for _ in range(4)] == ["twice", "twice", "always", "always"]


def test_times_is_consumed_atomically_by_fifty_threads() -> None:
    store = InMemoryStubStore()
    store.add(stub({"path": "/pets/7"}, id="limited", times=5))
    barrier = threading.Barrier(50)

    def hit(_: int) -> str | None:
        barrier.wait()
        return answer_id(store, req())

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(hit, range(50)))
    assert results.count("limited") == 5
    assert results.count(None) == 45


def scenario_stubs(store: InMemoryStubStore) -> None:
    store.add(
        stub(
            {"method": "GET", "path": "/cart"},
            {"body": "empty"},
            id="empty",
            scenario={"name": "cart", "required_state": "Started"},
        )
    )
    store.add(
        stub(
            {"method": "POST", "path": "/cart"},
            {"status": 201},
            id="add",
            scenario={"name": "cart", "required_state": "Started", "new_state": "Full"},
        )
    )
    store.add(
        stub(
            {"method": "GET", "path": "/cart"},
            {"body": "full"},
            id="full",
            scenario={"name": "cart", "required_state": "Full"},
        )
    )


def test_scenario_moves_between_states() -> None:
    store = InMemoryStubStore()
    scenario_stubs(store)
    assert store.scenarios.list() == {"cart": "Started"}
    assert answer_id(store, req(path="/cart")) == "empty"
    assert answer_id(store, req("POST", "/cart")) == "add"
    assert answer_id(store, req(path="/cart")) == "full"
    assert answer_id(store, req("POST", "/cart")) is None
    store.scenarios.reset()
    assert answer_id(store, req(path="/cart")) == "empty"


def test_fifty_concurrent_clients_consume_one_transition_once() -> None:
    store = InMemoryStubStore()
    scenario_stubs(store)
    barrier = threading.Barrier(50)

    def hit(_: int) -> str | None:
        barrier.wait()
        return answer_id(store, req("POST", "/cart"))

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(hit, range(50)))
    assert results.count("add") == 1 and results.count(None) == 49
    assert store.scenarios.state("cart") == "Full"


async def test_fifty_concurrent_tasks_consume_one_transition_once() -> None:
    import asyncio

    store = InMemoryStubStore()
    scenario_stubs(store)
    go = asyncio.Event()

    async def hit() -> str | None:
        await go.wait()
        return await asyncio.to_thread(answer_id, store, req("POST", "/cart"))

    tasks = [asyncio.create_task(hit()) for _ in range(50)]
    go.set()
    results = await asyncio.gather(*tasks)
    assert results.count("add") == 1


# ---- flat lookup ---------------------------------------------------------------------------------


def evaluations_for(n: int) -> int:
    store = InMemoryStubStore()
    store.add_all(stub({"method": "GET", "path": f"/svc{i}/items/{{id}}"}, id=f"s{i}") for i in range(n))
    store.add_all(stub({"method": "POST", "path": f"/exact/{i}"}, id=f"e{i}") for i in range(n))
    before = store.evaluations
    for i in (0, n // 2, n - 1):
        assert answer_id(store, req(path=f"/svc{i}/items/9")) == f"s{i}"
        assert answer_id(store, req("POST", f"/exact/{i}")) == f"e{i}"
    assert answer_id(store, req(path="/nowhere")) is None
    return store.evaluations - before


def test_lookup_cost_does_not_grow_with_the_number_of_stubs() -> None:
    assert evaluations_for(1) == evaluations_for(10_000) == 6


# ---- near misses ---------------------------------------------------------------------------------

EXPECTED_REPORT = """\
No stub matched GET /pets/7?kind=y
Closest stubs:
  1. get-pet (GET /pets/{id}), distance 0.07
     - query.kind: expected equals "x", got "y"
  2. tenant-pet (GET /pets/{id}), distance 0.13
     - query.kind: expected equals "x", got "y"
     - headers.x-tenant: expected matches "^t-", got no value
  3. post-pet (POST /pets/{id}), distance 0.23
     - method: expected POST, got GET"""


def near_store() -> InMemoryStubStore:
    store = InMemoryStubStore(max_unmatched=2, max_near_misses=2)
    store.add(stub({"method": "GET", "path": "/pets/{id}", "query": {"kind": {"equals": "x"}}}, id="get-pet"))
    store.add(stub({"method": "POST", "path": "/pets/{id}"}, id="post-pet"))
    store.add(
        stub(
            {
                "method": "GET",
                "path": "/pets/{id}",
                "query": {"kind": "x"},
                "headers": {"x-tenant": {"matches": "^t-"}},
            },
            id="tenant-pet",
        )
    )
    store.add(stub({"method": "DELETE", "path": "/owners/{id}"}, id="far"))
    return store


def test_near_miss_report_lists_the_three_closest_stubs() -> None:
    store = near_store()
    r = req(query="kind=y")
    assert store.find(r) is None
    misses = store.near_misses(r)
    assert near_miss_report(r, misses) == EXPECTED_REPORT
    assert near_miss_details(misses)[0] == {
        "location": "stub:get-pet",
        "reason": 'query.kind: expected equals "x", got "y"',
    }


def test_near_misses_explain_scenario_state_and_used_up_times() -> None:
    store = InMemoryStubStore()
    scenario_stubs(store)
    store.add(stub({"path": "/once"}, id="once", times=1))
    assert answer_id(store, req(path="/once")) == "once"
    once = store.near_misses(req(path="/once"), limit=1)[0]
    assert (once.stub.id, once.diffs) == ("once", ["times: already answered 1 of 1 times"])
    full = next(m for m in store.near_misses(req(path="/cart"), limit=5) if m.stub.id == "full")
    assert full.diffs == ['scenario "cart": expected state "Full", got "Started"']


def test_report_miss_keeps_bounded_unmatched_and_near_miss_logs() -> None:
    store = near_store()
    for i in range(3):
        store.report_miss(req(query=f"kind=y{i}"))
    unmatched = store.unmatched()
    assert [u["query"] for u in unmatched] == [{"kind": ["y1"]}, {"kind": ["y2"]}]
    log = store.near_miss_log()
    assert len(log) == 2
    assert log[-1]["near_misses"][0] == {
        "stub": "get-pet",
        "request": "GET /pets/{id}",
        "distance": 0.071,
        "diffs": ['query.kind: expected equals "x", got "y2"'],
    }
    store.clear_reports()
    assert store.unmatched() == [] and store.near_miss_log() == []


# ---- sources -------------------------------------------------------------------------------------


def test_remove_api_stubs_keeps_file_and_config_stubs() -> None:
    store = InMemoryStubStore()
    store.add(parse_stub({"id": "a"}, "", "api"))
    store.add(parse_stub({"id": "c"}, "", "config"))
    store.add(parse_stub({"id": "f"}, "", "/tmp/x.yaml"))
    assert store.remove_api_stubs() == 1
    assert sorted(s.id for s in store.list()) == ["c", "f"]


def test_replace_source_swaps_one_file() -> None:
    store = InMemoryStubStore()
    store.add(parse_stub({"id": "a", "request": {"path": "/a"}}, "", "f1"))
    store.add(parse_stub({"id": "b", "request": {"path": "/b"}}, "", "f2"))
    store.replace_source("f1", [parse_stub({"id": "a2", "request": {"path": "/a2"}}, "", "f1")])
    assert sorted(s.id for s in store.list()) == ["a2", "b"]
    assert answer_id(store, req(path="/a")) is None
    assert answer_id(store, req(path="/a2")) == "a2"
    store.replace_source("f1", [])
    assert [s.id for s in store.list()] == ["b"]


def test_get_replace_remove() -> None:
    store = InMemoryStubStore()
    store.add(stub({"path": "/a"}, id="x"))
    assert store.replace("missing", stub()) is None
    new = store.replace("x", stub({"path": "/b"}, id="other"))
    assert new is not None and new.id == "x" and new.spec["id"] == "x"
    assert answer_id(store, req(path="/b")) == "x"
    assert store.remove("x") and not store.remove("x")
    assert store.get("x") is None and answer_id(store, req(path="/b")) is None


def test_load_dir_loads_good_files_and_reports_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "pets.yaml").write_text(
        "- request: {method: GET, path: /pets}\n  response: {status: 200}\n"
        "- id: named\n  request: {path: '/pets/{id}'}\n"
    )
    (tmp_path / "one.json").write_text('{"request": {"path": "/one"}}')
    (tmp_path / "syntax.yaml").write_text("request: {path: /x\n  response: [\n")
    (tmp_path / "field.yaml").write_text("- request: {path: /ok}\n- request: {query: {a: {matches: '('}}}\n")
    (tmp_path / "notes.txt").write_text("ignored")
    store = InMemoryStubStore()
    loaded, problems = store.load_dir(tmp_path)
    assert sorted(s.id for s in loaded) == ["named", "one", "pets-1"]
    assert len(problems) == 2
    field_problem, syntax_problem = problems
    assert field_problem.startswith(
        f"{tmp_path / 'field.yaml'} at [1].request.query.a.matches: invalid regex"
    )
    assert syntax_problem.startswith(f"{tmp_path / 'syntax.yaml'} at line ")
    assert answer_id(store, req(path="/ok")) is None  # nothing loads from a bad file


def test_load_file_of_one_stub_uses_the_stem_as_id(tmp_path: Path) -> None:
    f = tmp_path / "health.json"
    f.write_text('{"request": {"path": "/h"}}')
    assert [s.id for s in load_file(f)] == ["health"]


def test_config_routes_skip_bad_ones() -> None:
    stubs, problems = parse_config_routes([{"request": {"path": "/a"}}, {"request": {"path": "nope"}}])
    assert [(s.id, s.source) for s in stubs] == [("route-1", "config")]
    assert problems == ["http.routes[1].request.path: a path must start with '/', got \"nope\""]


def test_in_memory_store_implements_the_protocol() -> None:
    from mockforge.core.stubs import StubStore

    store: StubStore = InMemoryStubStore()
    assert store.find(req()) is None


def test_reloading_one_file_keeps_the_last_good_version_after_a_bad_edit(tmp_path: Path) -> None:
    f = tmp_path / "pets.yaml"
    f.write_text("id: v1\nrequest: {path: /v1}\n")
    store = InMemoryStubStore()
    store.load_dir(tmp_path)
    f.write_text("id: v2\nrequest: {path: [\n")
    with pytest.raises(StubError, match="not valid YAML") as err:
        load_file(f)
    assert err.value.file == str(f.resolve())
    assert answer_id(store, req(path="/v1")) == "v1"  # nothing replaced
    f.write_text("id: v3\nrequest: {path: /v3}\n")
    store.replace_source(str(f.resolve()), load_file(f))
    assert [s.id for s in store.list()] == ["v3"]
