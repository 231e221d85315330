"""The core HTTP behaviour over real sockets: spec answers, validation, errors, CORS, admin, health."""

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


@pytest.fixture(scope="module")
def pets() -> Iterator[MockServer]:
    with MockServer(spec=PETSTORE, seed=7) as server:
        yield server


def get(server: MockServer, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(server.url + path, **kw)


def test_example_then_named_example_then_documented_status(pets: MockServer) -> None:
    assert get(pets, "/pets/7").json()["name"] == "Rex"
    assert get(pets, "/pets/7", headers={"Prefer": "example=tom"}).json()["name"] == "Tom"
    assert get(pets, "/pets/7", headers={"X-Mockforge-Scenario": "tom"}).json()["name"] == "Tom"
    r = get(pets, "/pets/7", headers={"Prefer": "code=404"})
    assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "no such pet"}
    r = get(pets, "/pets/7", headers={"X-Mockforge-Response-Status": "404"})
    assert r.status_code == 404
    r = get(pets, "/pets/7", headers={"Prefer": "code=418"})
    assert r.status_code == 400 and "418" in r.json()["error"]["message"]


def test_base_path_is_optional(pets: MockServer) -> None:
    assert get(pets, "/api/v1/pets/7").json() == get(pets, "/pets/7").json()


def test_generated_body_is_valid_reproducible_and_has_documented_headers(pets: MockServer) -> None:
    r = get(pets, "/pets/7/owner")
    body = r.json()
    assert set(body) >= {"id", "name", "email", "address"}
    assert "@" in body["email"] and len(body["address"]["country"]) == 2
    assert r.json() == get(pets, "/pets/7/owner").json()
    listing = get(pets, "/pets")
    assert int(listing.headers["x-total-count"]) >= 0 and isinstance(listing.json(), list)
    with MockServer(spec=PETSTORE, seed=7) as again:
        assert get(again, "/pets/7/owner").json() == body


def test_validation_errors_share_one_shape(pets: MockServer) -> None:
    r = get(pets, "/pets", params={"limit": "abc"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "validation_failed"
    assert err["details"] == [{"location": "query.limit", "reason": "expected integer, got 'abc'"}]
    assert json.loads(r.headers["x-mockforge-problems"]) == err["details"]  # GET documents no 4xx: ours
    # POST /pets documents a 422 with its own Error schema: that is the answer, the summary in
    # its message, every problem in the header
    r = httpx.post(pets.url + "/pets", json={"name": "x"})
    assert r.status_code == 422 and r.json()["code"]
    assert r.json()["message"] == "request does not match POST /pets: body.kind: 'kind' is a required property"
    assert json.loads(r.headers["x-mockforge-problems"])[0]["location"] == "body.kind"
    r = httpx.post(pets.url + "/pets", json={"name": "Rex", "kind": "dog"})
    assert r.status_code == 201 and r.json()["id"] == 42


def test_404_names_closest_routes_and_405_has_allow(pets: MockServer) -> None:
    r = get(pets, "/pet")
    assert r.status_code == 404
    reasons = [d["reason"] for d in r.json()["error"]["details"]]
    assert "closest route: GET /pets" in reasons
    r = httpx.put(pets.url + "/pets/3")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET, HEAD"
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_body_over_limit_is_413() -> None:
    with MockServer(config={"http": {"max_body_bytes": 100}}, spec=PETSTORE) as server:
        r = httpx.post(server.url + "/pets", content=b"x" * 1000, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        assert get(server, "/pets/7").status_code == 200


def test_cors_preflight_and_simple_requests(pets: MockServer) -> None:
    r = httpx.options(pets.url + "/pets", headers={"Origin": "http://app.test", "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "x-trace"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "x-trace"
    assert get(pets, "/pets/7", headers={"Origin": "http://app.test"}).headers["access-control-allow-origin"] == "*"


def test_cors_restricted_origins() -> None:
    cfg = {"http": {"cors": {"origins": ["http://ok.test"], "credentials": True}}}
    with MockServer(config=cfg, spec=PETSTORE) as server:
        ok = get(server, "/pets/7", headers={"Origin": "http://ok.test"})
        assert ok.headers["access-control-allow-origin"] == "http://ok.test"
        assert ok.headers["access-control-allow-credentials"] == "true"
        assert "access-control-allow-origin" not in get(server, "/pets/7", headers={"Origin": "http://evil.test"}).headers


def test_validation_modes_overrides_and_422() -> None:
    cfg = {"http": {"validation": {"mode": "enforce", "status": 422, "overrides": {"GET /pets": "warn"}}}}
    with MockServer(config=cfg, spec=PETSTORE) as server:
        assert get(server, "/pets", params={"limit": "abc"}).status_code == 200
        r = httpx.post(server.url + "/pets", json={})
        assert r.status_code == 422
    with MockServer(config={"http": {"validation": {"mode": "off"}}}, spec=PETSTORE) as server:
        assert httpx.post(server.url + "/pets", json={}).status_code == 201


def test_templating_in_spec_examples(tmp_path: Path) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /users/{id}:\n    get:\n"
        "      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n"
        "      responses:\n        '200':\n          description: ok\n          content:\n"
        "            application/json:\n              example: {id: '{{request.path.id}}', q: '{{request.query.q}}',"
        " token: '{{unknown.thing}}', ua: '{{request.headers.x-who}}'}\n"
    )
    with MockServer(config={"http": {"response_template_expand": True}}, spec=spec) as server:
        body = get(server, "/users/abc?q=hi", headers={"x-who": "me"}).json()
        assert body == {"id": "abc", "q": "hi", "token": "{{unknown.thing}}", "ua": "me"}
    with MockServer(spec=spec) as server:
        assert get(server, "/users/abc").json()["id"] == "{{request.path.id}}"


def test_request_log_entries_filters_and_redaction(pets: MockServer) -> None:
    httpx.delete(pets.admin_url + "/logs")
    get(pets, "/pets/1", headers={"Authorization": "Bearer secret", "X-Api-Key": "k", "Cookie": "s=1"})
    get(pets, "/pets", params={"kind": "dog"})
    httpx.post(pets.url + "/pets", json={"name": "Rex", "kind": "dog", "tags": ["x" * 300]})
    entries = httpx.get(pets.admin_url + "/logs").json()["entries"]
    assert [e["method"] for e in entries] == ["POST", "GET", "GET"]
    post, listing, one = entries
    assert one["headers"]["authorization"] == "<redacted>" and one["headers"]["x-api-key"] == "<redacted>"
    assert one["headers"]["cookie"] == "<redacted>"
    assert one["route"] == "/pets/{id}" and one["status"] == 200 and one["status_text"] == "OK"
    assert listing["query"] == {"kind": ["dog"]}
    assert post["body_truncated"] is True and len(post["body_excerpt"]) == 256 and post["status"] == 201
    assert set(one) >= {"id", "timestamp", "protocol", "method", "path", "route", "query", "headers", "status",
                        "status_text", "duration_ms", "client", "response_bytes", "body_excerpt", "body_truncated"}
    only = httpx.get(pets.admin_url + "/logs", params={"method": "GET", "path": "/pets/*", "limit": 5}).json()
    assert [e["path"] for e in only["entries"]] == ["/pets/1"]
    assert httpx.get(pets.admin_url + "/logs", params={"status": "x"}).status_code == 400


def test_log_is_bounded_and_counts_evictions(monkeypatch: pytest.MonkeyPatch) -> None:
    with MockServer(config={"core": {"max_request_logs": 3}}, spec=PETSTORE) as server:
        for i in range(1, 6):
            get(server, f"/pets/{i}")
        logs = httpx.get(server.admin_url + "/logs").json()
        assert [e["path"] for e in logs["entries"]] == ["/pets/5", "/pets/4", "/pets/3"]
        assert logs["evicted"] == 2
        stats = httpx.get(server.admin_url + "/stats").json()
        assert stats["log"] == {"entries": 3, "capacity": 3, "evicted": 2}


def test_verify_endpoint(pets: MockServer) -> None:
    httpx.delete(pets.admin_url + "/logs")
    get(pets, "/pets/2", headers={"x-tenant": "t-1"})
    get(pets, "/pets/2")
    r = httpx.post(pets.admin_url + "/verify", json={"request": {"method": "GET", "path": "/pets/2"},
                                                      "count": {"exactly": 2}}).json()
    assert r["ok"] is True and r["count"] == 2 and len(r["matched"]) == 2 and r["evicted"] == 0
    r = httpx.post(pets.admin_url + "/verify", json={"request": {"method": "GET", "path": "/pets/2",
                                                                 "headers": {"x-tenant": "t-1"}},
                                                      "count": {"never": True}}).json()
    assert r["ok"] is False and r["count"] == 1


def test_server_info_openapi_routes_and_health(pets: MockServer) -> None:
    info = httpx.get(pets.admin_url + "/server-info").json()
    assert info["ports"]["http"] == pets.ports["http"] and info["version"]
    assert info["config"]["http"]["specs"] == [str(PETSTORE)]
    doc = httpx.get(pets.admin_url + "/openapi.json").json()
    assert doc["info"]["title"].startswith("Petstore") and "/pets/{id}" in doc["paths"]
    routes = httpx.get(pets.admin_url + "/routes").json()["routes"]
    assert {(r["method"], r["path"]) for r in routes} >= {("GET", "/pets"), ("DELETE", "/pets/{id}")}
    for path in ("/health", "/healthz", "/health/live", "/livez", "/health/ready", "/readyz"):
        body = get(pets, path).json()
        assert body["status"] == "ok" and body["version"] and body["uptime_s"] >= 0


def test_spec_health_route_wins_on_http_port_but_not_on_admin(tmp_path: Path) -> None:
    spec = tmp_path / "h.yaml"
    spec.write_text("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /health:\n    get:\n"
                    "      responses:\n        '200':\n          description: ok\n          content:\n"
                    "            application/json:\n              example: {mine: true}\n")
    with MockServer(config={"admin": {"enabled": True}}, spec=spec) as server:
        assert get(server, "/health").json() == {"mine": True}
        assert httpx.get(f"http://127.0.0.1:{server.ports['admin']}/health").json()["status"] == "ok"


async def test_admin_paths_need_a_token_on_a_public_host() -> None:
    from mockforge.config import build_config
    from mockforge.server import Server

    cfg = build_config({"http": {"host": "0.0.0.0", "port": 0, "specs": [str(PETSTORE)]},
                        "admin": {"token": "s3cret"}}, env={})
    server = Server(cfg)
    await server.start()
    try:
        url = f"http://127.0.0.1:{server.ports['http']}/__mockforge/logs"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).status_code == 401
            assert (await client.get(url, headers={"Authorization": "Bearer s3cret"})).status_code == 200
            info = (await client.get(url.replace("logs", "server-info"),
                                     headers={"Authorization": "Bearer s3cret"})).json()
            assert info["config"]["admin"]["token"] == "<redacted>"
            assert (await client.get(url.replace("__mockforge/logs", "pets/7"))).status_code == 200
    finally:
        await server.stop()


async def test_admin_paths_are_off_on_a_public_host_without_token() -> None:
    from mockforge.config import build_config
    from mockforge.server import Server

    server = Server(build_config({"http": {"host": "0.0.0.0", "port": 0}}, env={}))
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.ports['http']}/__mockforge/logs")
            assert r.status_code == 404 and "admin.token" in r.json()["error"]["message"]
    finally:
        await server.stop()


def test_stats_count_exchanges_since_the_last_reset() -> None:
    with MockServer(spec=PETSTORE) as server:
        get(server, "/pets/1")
        get(server, "/nowhere")
        stats = httpx.get(server.admin_url + "/stats").json()
        assert stats["since_reset"] == {"http": {"2xx": 1, "4xx": 1}}  # admin calls are not counted
        assert httpx.post(server.admin_url + "/reset").json() == {"reset": True}
        assert httpx.get(server.admin_url + "/stats").json()["since_reset"] == {}
        get(server, "/pets/2")
        assert httpx.get(server.admin_url + "/stats").json()["since_reset"] == {"http": {"2xx": 1}}
