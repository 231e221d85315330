from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from mockforge.config import CoreConfig
from mockforge.core.faults import FaultPolicy
from mockforge.core.files import FileRoots
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits
from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.scenarios import ScenarioStore
from mockforge.core.stubs import InMemoryStubStore, parse_stub
from mockforge.http.admin_stubs import handle


@dataclass
class Ctx:
    scenarios: ScenarioStore = field(default_factory=ScenarioStore)
    faults: FaultPolicy = field(default_factory=lambda: FaultPolicy(CoreConfig(seed=1)))
    log: RequestLog = field(default_factory=lambda: RequestLog(100))
    files: FileRoots = field(default_factory=FileRoots.default)
    document_limits: DocumentLimits = DEFAULT_LIMITS
    shared: None = None
    stubs: InMemoryStubStore = field(init=False)

    def __post_init__(self) -> None:
        self.stubs = InMemoryStubStore(self.scenarios)


async def call(
    ctx: Ctx,
    method: str,
    sub: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    ctype: str = "application/json",
) -> tuple[int, Any]:
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    request = Request(
        protocol="http",
        method=method,
        path=f"/__mockforge/{sub}",
        headers=Headers([("content-type", ctype)]),
        body=data,
    )
    response = await handle(ctx, request, sub)
    assert response is not None
    return response.status, orjson.loads(response.body)


PET = {
    "id": "get-pet",
    "request": {"method": "GET", "path": "/pets/{id}"},
    "response": {"body": {"ok": True}},
}


async def test_post_one_stub_answers_201_with_the_stored_stub() -> None:
    ctx = Ctx()
    status, body = await call(ctx, "POST", "stubs", PET)
    assert status == 201
    assert body == {"stubs": [{**PET, "priority": 5, "source": "api"}]}
    assert ctx.stubs.get("get-pet") is not None


async def test_post_a_list_assigns_missing_ids() -> None:
    ctx = Ctx()
    status, body = await call(
        ctx, "POST", "stubs", [{"request": {"path": "/a"}}, {"request": {"path": "/b"}}]
    )
    assert status == 201
    ids = [s["id"] for s in body["stubs"]]
    assert len(set(ids)) == 2 and all(ids)


async def test_post_yaml_by_content_type() -> None:
    ctx = Ctx()
    yaml_text = b"- id: y\n  request: {method: GET, path: /y}\n  response: {status: 204}\n"
    status, body = await call(ctx, "POST", "stubs", raw=yaml_text, ctype="application/yaml")
    assert status == 201 and body["stubs"][0]["id"] == "y"


async def test_invalid_stub_is_a_400_naming_the_field_and_adds_nothing() -> None:
    ctx = Ctx()
    bad = [PET, {"request": {"query": {"kind": {"matches": "("}}}}]
    status, body = await call(ctx, "POST", "stubs", bad)
    assert status == 400
    assert body["error"]["code"] == "invalid_stub"
    assert body["error"]["details"][0]["location"] == "[1].request.query.kind.matches"
    assert ctx.stubs.list() == []


async def test_body_that_is_not_json_is_a_400() -> None:
    status, body = await call(Ctx(), "POST", "stubs", raw=b"{nope")
    assert status == 400 and body["error"]["code"] == "invalid_body"


async def test_get_put_delete_one_stub() -> None:
    ctx = Ctx()
    await call(ctx, "POST", "stubs", PET)
    status, body = await call(ctx, "GET", "stubs/get-pet")
    assert status == 200 and body["id"] == "get-pet"
    status, body = await call(ctx, "PUT", "stubs/get-pet", {"request": {"path": "/other"}})
    assert status == 200 and body == {
        "id": "get-pet",
        "request": {"path": "/other"},
        "priority": 5,
        "source": "api",
    }
    status, _ = await call(ctx, "PUT", "stubs/missing", {"request": {"path": "/other"}})
    assert status == 404
    status, body = await call(ctx, "DELETE", "stubs/get-pet")
    assert (status, body) == (200, {"deleted": "get-pet"})
    status, body = await call(ctx, "GET", "stubs/get-pet")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_list_and_delete_api_stubs_only() -> None:
    ctx = Ctx()
    ctx.stubs.add(parse_stub({"id": "from-file"}, "", "/srv/stubs/a.yaml"))
    await call(ctx, "POST", "stubs", PET)
    status, body = await call(ctx, "GET", "stubs")
    assert status == 200 and sorted(s["id"] for s in body["stubs"]) == ["from-file", "get-pet"]
    assert await call(ctx, "DELETE", "stubs") == (200, {"removed": 1})
    _, body = await call(ctx, "GET", "stubs")
    assert [s["id"] for s in body["stubs"]] == ["from-file"]


async def test_wrong_method_is_405_with_allow() -> None:
    ctx = Ctx()
    request = Request(protocol="http", method="PATCH", path="/__mockforge/stubs")
    response = await handle(ctx, request, "stubs")
    assert response is not None and response.status == 405
    assert response.header("allow") == "GET, POST, DELETE"


async def test_other_subpaths_are_not_ours() -> None:
    request = Request(protocol="http", method="GET", path="/__mockforge/logs")
    assert await handle(Ctx(), request, "logs") is None
    assert await handle(Ctx(), request, "verifyx") is None


def record(ctx: Ctx, method: str, path: str) -> None:
    request = Request(protocol="http", method=method, path=path)
    ctx.log.append(ctx.log.entry_for(request, Response(status=200), 1.0))


async def test_verify_and_sequence() -> None:
    ctx = Ctx()
    record(ctx, "POST", "/login")
    record(ctx, "GET", "/pets")
    status, body = await call(ctx, "POST", "verify", {"request": {"path": "/pets"}, "count": {"exactly": 1}})
    assert status == 200 and body["ok"] and body["matched"] == ["2"]
    status, body = await call(
        ctx, "POST", "verify/sequence", {"requests": [{"path": "/pets"}, {"path": "/login"}]}
    )
    assert status == 200 and not body["ok"] and body["failed_step"] == 1


async def test_verify_rejects_bad_matchers_naming_the_field() -> None:
    status, body = await call(Ctx(), "POST", "verify", {"request": {"path": {"regex": "("}}})
    assert status == 400 and body["error"]["details"][0]["location"] == "request.path.regex"
    status, body = await call(Ctx(), "POST", "verify", {"request": {}, "count": {"exactly": "2"}})
    assert status == 400 and body["error"]["details"][0]["location"] == "count.exactly"
    status, body = await call(Ctx(), "POST", "verify/sequence", {"requests": {}})
    assert status == 400 and body["error"]["details"][0]["location"] == "requests"


async def test_near_misses_and_unmatched() -> None:
    ctx = Ctx()
    await call(ctx, "POST", "stubs", PET)
    ctx.stubs.report_miss(Request(protocol="http", method="POST", path="/pets/7"))
    status, body = await call(ctx, "GET", "unmatched")
    assert status == 200 and [r["path"] for r in body["requests"]] == ["/pets/7"]
    status, body = await call(ctx, "GET", "near-misses")
    assert body["near_misses"][0]["near_misses"][0]["diffs"] == ["method: expected GET, got POST"]
    assert await call(ctx, "DELETE", "near-misses") == (200, {"cleared": True})
    assert (await call(ctx, "GET", "unmatched"))[1] == {"requests": []}


async def test_scenarios_list_set_reset() -> None:
    ctx = Ctx()
    await call(ctx, "POST", "stubs", {**PET, "scenario": {"name": "cart", "required_state": "Started"}})
    assert await call(ctx, "GET", "scenarios") == (200, {"scenarios": [{"name": "cart", "state": "Started"}]})
    assert await call(ctx, "PUT", "scenarios/cart", {"state": "Full"}) == (
        200,
        {"name": "cart", "state": "Full"},
    )
    assert ctx.scenarios.state("cart") == "Full"
    status, body = await call(ctx, "POST", "scenarios/reset")
    assert body == {"scenarios": [{"name": "cart", "state": "Started"}]}
    status, body = await call(ctx, "PUT", "scenarios/cart", {"stat": "x"})
    assert status == 400 and body["error"]["details"][0]["location"] == "state"


async def test_put_get_delete_global_fault() -> None:
    ctx = Ctx()
    status, body = await call(ctx, "PUT", "faults", {"rate": 1.0, "status": [503]})
    assert status == 200 and body == {"fault": {"rate": 1.0, "status": [503], "transport": None}}
    decision = ctx.faults.fault_for("op", [])
    assert decision is not None and decision.status == 503
    assert await call(ctx, "GET", "faults") == (200, body)
    assert await call(ctx, "DELETE", "faults") == (200, {"fault": None})
    assert ctx.faults.fault_for("op", []) is None


@pytest.mark.parametrize(
    ("fault", "where"), [({"rate": 7}, "fault.rate"), ({"transport": "x"}, "fault.transport")]
)
async def test_bad_fault_is_a_400_naming_the_key(fault: dict[str, Any], where: str) -> None:
    status, body = await call(Ctx(), "PUT", "faults", fault)
    assert status == 400
    assert body["error"]["code"] == "invalid_fault"
    assert body["error"]["details"][0]["location"] == where
