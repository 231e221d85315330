"""Stateful mocks over real sockets (state/service.py): create -> read -> list -> patch -> delete
-> read on examples/petstore.yaml, strict 404s, namespaces, envelopes and pagination, merge and
JSON patch, nested resources, the 507 bound, and a spec without resources."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


def _state(mode: str = "on", **more: Any) -> dict[str, Any]:
    return {"http": {"state": {"mode": mode, **more}}}


@pytest.fixture(scope="module")
def pets() -> Iterator[MockServer]:
    with MockServer(_state("on"), spec=PETSTORE, seed=7) as server:
        yield server


def test_create_read_list_delete_cycle(pets: MockServer) -> None:
    ns = {"X-Mockforge-Namespace": "cycle"}
    with httpx.Client(base_url=pets.url, headers=ns) as c:
        r = c.post("/pets", json={"name": "rex", "kind": "dog"})
        assert r.status_code == 201, r.text
        pet = r.json()
        assert pet["name"] == "rex" and pet["id"] >= 1001 and "created_at" in pet
        assert r.headers["location"] == f"/pets/{pet['id']}"
        assert c.get(f"/pets/{pet['id']}").json() == pet
        assert c.get("/pets").json() == [pet]
        second = c.post("/pets", json={"name": "tom", "kind": "cat"}).json()
        assert second["id"] == pet["id"] + 1
        assert [p["name"] for p in c.get("/pets", params={"kind": "cat"}).json()] == ["tom"]
        assert len(c.get("/pets", params={"limit": 1}).json()) == 1
        assert c.delete(f"/pets/{pet['id']}").status_code == 204
        # mode on: an unknown id falls back to the generated answer
        assert c.get(f"/pets/{pet['id']}").status_code == 200
    with httpx.Client(base_url=pets.url, headers={"X-Mockforge-Namespace": "elsewhere"}) as c:
        assert c.get("/pets").json() == []


def test_examples_seed_the_default_namespace_only(pets: MockServer) -> None:
    # the collection GET has no list example in petstore.yaml, so nothing is seeded there
    with httpx.Client(base_url=pets.url) as c:
        assert isinstance(c.get("/pets").json(), list)


def test_reads_and_deletes_follow_the_validation_mode_as_the_spec_route_does(pets: MockServer) -> None:
    ns = {"X-Mockforge-Namespace": "reads-validated"}
    with httpx.Client(base_url=pets.url, headers=ns) as c:
        pet = c.post("/pets", json={"name": "rex", "kind": "dog"}).json()
        # the same invalid query the spec route refuses: a state read must refuse it too
        listed = c.get("/pets", params={"limit": "abc"})
        assert listed.status_code in (400, 422), listed.text
        assert "limit" in listed.headers["x-mockforge-problems"]
        read = c.get("/pets/abc")  # a bad path parameter: the spec's documented 404 (docs/CONFORMANCE.md)
        assert read.status_code == 404 and "path.id" in read.headers["x-mockforge-problems"], read.text
        assert "expected integer" in read.text
        # a valid read still answers from the store
        assert c.get(f"/pets/{pet['id']}").json() == pet
    with MockServer({**_state("on"), "http": {"state": {"mode": "on"}, "validation": {"mode": "off"}}},
                    spec=PETSTORE) as off, httpx.Client(base_url=off.url) as c:
        assert c.get("/pets", params={"limit": "abc"}).status_code == 200  # mode off: not checked


def test_strict_unknown_id_is_the_documented_404_and_invalid_writes_change_nothing() -> None:
    with MockServer(_state("strict"), spec=PETSTORE, seed=7) as server, httpx.Client(base_url=server.url) as c:
        r = c.get("/pets/999999")
        # the documented 404's own shape (its example), the summary in its text field
        assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "no pets with id '999999'"}
        assert r.headers["x-mockforge-problems"] == '[{"location":"path","reason":"no pets with id \'999999\'"}]'
        bad = c.post("/pets", json={"name": "x"})  # kind is required
        assert bad.status_code == 422 and bad.json()["message"].startswith("request does not match POST /pets")
        assert c.get("/pets").json() == []


def test_resource_bound_answers_507() -> None:
    with MockServer(_state("on", max_resources=2), spec=PETSTORE) as server, httpx.Client(base_url=server.url) as c:
        for name in ("a", "b"):
            assert c.post("/pets", json={"name": name, "kind": "dog"}).status_code == 201
        r = c.post("/pets", json={"name": "c", "kind": "dog"})
        assert r.status_code == 507 and "max_resources" in r.json()["error"]["message"]
        assert len(c.get("/pets").json()) == 2


def _write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    p = tmp_path / "api.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _nested_spec() -> dict[str, Any]:
    def js(schema: Any) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": schema}}}

    user = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string", "format": "uuid", "readOnly": True},
            "name": {"type": "string"},
            "password": {"type": "string", "writeOnly": True},
        },
    }
    order = {
        "type": "object",
        "required": ["id", "item"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "item": {"type": "string"},
            "qty": {"type": "integer"},
        },
    }
    page = {
        "type": "object",
        "required": ["data", "total"],
        "properties": {"data": {"type": "array", "items": order}, "total": {"type": "integer"}},
    }
    uid = {"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}}
    oid = {"name": "orderId", "in": "path", "required": True, "schema": {"type": "integer"}}
    q = [{"name": n, "in": "query", "schema": {"type": "integer"}} for n in ("page", "per_page")]
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/users": {"post": {"requestBody": js(user), "responses": {"201": {"description": "ok", **js(user)}}}},
            "/users/{userId}": {"parameters": [uid], "get": {"responses": {"200": {"description": "ok", **js(user)}}}},
            "/users/{userId}/orders": {
                "parameters": [uid],
                "get": {"parameters": q, "responses": {"200": {"description": "ok", **js(page)}}},
                "post": {"requestBody": js(order), "responses": {"201": {"description": "ok", **js(order)}}},
            },
            "/users/{userId}/orders/{orderId}": {
                "parameters": [uid, oid],
                "get": {"responses": {"200": {"description": "ok", **js(order)}, "404": {"description": "no"}}},
                "patch": {
                    "requestBody": js({"type": "object"}),
                    "responses": {"200": {"description": "ok", **js(order)}},
                },
                "delete": {"responses": {"200": {"description": "ok", **js(order)}}},
            },
        },
    }


def test_nested_envelope_pagination_patches_and_write_only(tmp_path: Path) -> None:
    spec = _write(tmp_path, _nested_spec())
    with MockServer(_state("strict"), spec=spec) as server, httpx.Client(base_url=server.url) as c:
        user = c.post("/users", json={"name": "ann", "password": "s3cret"}).json()
        assert "password" not in user and len(user["id"]) == 36
        assert c.get(f"/users/{user['id']}").json() == user
        assert c.get("/users/nobody/orders").status_code == 404  # strict: a missing parent
        base = f"/users/{user['id']}/orders"
        made = [c.post(base, json={"item": f"i{n}", "qty": n}).json() for n in range(5)]
        page = c.get(base, params={"page": 2, "per_page": 2}).json()
        assert page["total"] == 5 and [o["item"] for o in page["data"]] == ["i2", "i3"]
        oid = made[0]["id"]
        r = c.patch(f"{base}/{oid}", content=b'{"qty": 9}', headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 200 and r.json()["qty"] == 9 and r.json()["item"] == "i0"
        ops = [{"op": "replace", "path": "/item", "value": "j"}, {"op": "remove", "path": "/qty"}]
        r = c.patch(f"{base}/{oid}", json=ops, headers={"content-type": "application/json-patch+json"})
        assert r.json() == {"id": oid, "item": "j"}
        bad = [{"op": "test", "path": "/item", "value": "nope"}]
        r = c.patch(f"{base}/{oid}", json=bad, headers={"content-type": "application/json-patch+json"})
        assert r.status_code == 422 and c.get(f"{base}/{oid}").json()["item"] == "j"
        r = c.patch(f"{base}/{oid}", json={"item": 5})  # strict: the result must match the spec
        assert r.status_code == 422 and c.get(f"{base}/{oid}").json()["item"] == "j"
        gone = c.delete(f"{base}/{oid}")
        assert gone.status_code == 200 and gone.json()["item"] == "j"
        assert c.get(f"{base}/{oid}").status_code == 404
        other = c.post("/users", json={"name": "bob"}).json()
        assert c.get(f"/users/{other['id']}/orders").json()["data"] == []  # scoped by the parent id


def _wrapped_spec() -> dict[str, Any]:
    """DigitalOcean's shapes: items wrapped in ``{"droplet": {...}}``, a create answering a
    ``oneOf`` of one wrapped item or a list, a nested collection whose items carry the parent id,
    and a parent whose id is only described by the path parameter's ``format: ipv4``."""

    def js(schema: Any) -> dict[str, Any]:
        return {"content": {"application/json": {"schema": schema}}}

    region = {"type": "object", "required": ["slug"], "properties": {"slug": {"type": "string"}}}
    droplet = {
        "type": "object",
        "required": ["id", "name", "region"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "region": region},
    }
    links = {"type": "object", "properties": {"self": {"type": "string"}}}
    one = {"type": "object", "required": ["droplet", "links"], "properties": {"droplet": droplet, "links": links}}
    many = {
        "type": "object",
        "required": ["droplets", "links"],
        "properties": {"droplets": {"type": "array", "items": droplet}, "links": links},
    }
    create = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "region": {"type": "string"}},
    }
    ip = {
        "type": "object",
        "required": ["ip"],
        "properties": {"ip": {"type": "string", "format": "ipv4"}, "droplet_id": {"type": "integer"}},
    }
    note = {
        "type": "object",
        "required": ["text"],
        "properties": {"id": {"type": "integer"}, "text": {"type": "string"}, "droplet_id": {"type": "integer"}},
    }
    did = {"name": "droplet_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    fip = {"name": "floating_ip", "in": "path", "required": True, "schema": {"type": "string", "format": "ipv4"}}
    nid = {"name": "note_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ok = {"description": "ok"}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/droplets": {
                "get": {"responses": {"200": {**ok, **js(many)}}},
                "post": {"requestBody": js(create), "responses": {"202": {**ok, **js({"oneOf": [one, many]})}}},
            },
            "/droplets/{droplet_id}": {
                "parameters": [did],
                "get": {"responses": {"200": {**ok, **js({"type": "object", "properties": {"droplet": droplet}})}}},
                "put": {  # a Rails-style wrapped write
                    "requestBody": js({"type": "object", "required": ["droplet"], "properties": {"droplet": create}}),
                    "responses": {"200": {**ok, **js(one)}},
                },
                "delete": {"responses": {"204": ok}},
            },
            "/droplets/{droplet_id}/notes": {
                "parameters": [did],
                "post": {"requestBody": js(note), "responses": {"201": {**ok, **js(note)}}},
            },
            "/droplets/{droplet_id}/notes/{note_id}": {
                "parameters": [did, nid],
                "get": {"responses": {"200": {**ok, **js(note)}}},
            },
            "/floating_ips": {
                "post": {
                    "requestBody": js({"type": "object", "properties": {"droplet_id": {"type": "integer"}}}),
                    "responses": {"201": {**ok, **js({"type": "object", "properties": {"floating_ip": ip}})}},
                }
            },
            "/floating_ips/{floating_ip}": {
                "parameters": [fip],
                "get": {"responses": {"200": {**ok, **js({"type": "object", "properties": {"floating_ip": ip}})}}},
            },
        },
    }


def test_wrapped_items_one_of_answers_parent_ids_and_path_formats(tmp_path: Path) -> None:
    import ipaddress

    from mockforge.openapi.loader import load_specs
    from mockforge.schema.generate import DataGenerator
    from mockforge.state.inference import infer

    spec = _write(tmp_path, _wrapped_spec())
    model = load_specs([spec])
    plan = {r.collection: r for r in infer(model).resources}
    assert plan["/droplets"].wrapper == "droplet" and plan["/droplets"].id_field == "id"
    assert plan["/floating_ips"].wrapper == "floating_ip" and plan["/floating_ips"].id_field == "ip"
    assert any("wrapped in .droplet" in line for line in infer(model).lines())
    check = DataGenerator(model.defs, seed=1)

    def valid(method: str, path: str, status: str, body: Any) -> None:
        op = next(o for o in model.operations if o.method == method and o.path == path)
        schema = dict(next(iter(op.responses[status].content.values())).schema or {})
        assert check.first_error({"$defs": model.defs, **schema}, body) is None, body

    with MockServer(_state("strict"), spec=spec) as server, httpx.Client(base_url=server.url) as c:
        r = c.post("/droplets", json={"name": "web", "region": "nyc3"})
        assert r.status_code == 202 and r.json()["droplet"]["name"] == "web" and "droplets" not in r.json()
        valid("POST", "/droplets", "202", r.json())
        did = r.json()["droplet"]["id"]
        assert r.headers["location"] == f"/droplets/{did}"
        got = c.get(f"/droplets/{did}").json()
        assert set(got) == {"droplet"} and got["droplet"]["id"] == did and got["droplet"]["name"] == "web"
        assert isinstance(got["droplet"]["region"], dict)  # the client's "nyc3" conformed to the item schema
        listed = c.get("/droplets").json()
        valid("GET", "/droplets", "200", listed)
        assert [d["id"] for d in listed["droplets"]] == [did]
        r = c.put(f"/droplets/{did}", json={"droplet": {"name": "renamed"}})  # a wrapped write is unwrapped
        valid("PUT", "/droplets/{droplet_id}", "200", r.json())
        assert r.json()["droplet"]["name"] == "renamed" and c.get(f"/droplets/{did}").json()["droplet"]["id"] == did
        note = c.post(f"/droplets/{did}/notes", json={"text": "hi", "droplet_id": 999}).json()
        assert note["droplet_id"] == did  # the parent id of the path, not the body's
        assert c.get(f"/droplets/{did}/notes/{note['id']}").json()["droplet_id"] == did
        r = c.post("/floating_ips", json={"droplet_id": did})
        ip = r.json()["floating_ip"]["ip"]
        ipaddress.IPv4Address(ip)  # generated from the path parameter's format, not a uuid
        assert r.headers["location"] == f"/floating_ips/{ip}" and c.get(f"/floating_ips/{ip}").status_code == 200
        assert c.delete(f"/droplets/{did}").status_code == 204
        assert c.get(f"/droplets/{did}").status_code == 404


def test_spec_without_resources_changes_nothing(tmp_path: Path) -> None:
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/health": {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["ok"],
                                        "properties": {"ok": {"type": "boolean"}},
                                    }
                                }
                            },
                        }
                    }
                }
            }
        },
    }
    spec = _write(tmp_path, doc)
    with MockServer(spec=spec, seed=3) as plain, MockServer(_state("on"), spec=spec, seed=3) as stateful:
        assert httpx.get(plain.url + "/health").json() == httpx.get(stateful.url + "/health").json()


def test_state_off_imports_nothing() -> None:
    code = f"""
import asyncio, sys, uvloop
from mockforge.config import build_config
from mockforge.server import Server
async def main():
    s = Server(build_config({{"http": {{"port": 0, "specs": [{str(PETSTORE)!r}]}}}}, env={{}}))
    await s.start()
    r, w = await asyncio.open_connection("127.0.0.1", s.ports["http"])
    w.write(b"GET /pets/7 HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    assert b"Rex" in await r.read()
    await s.stop()
uvloop.run(main())
print(sorted(m for m in sys.modules if m.startswith("mockforge.state.") and m != "mockforge.state.cli"))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_admin_api_snapshots_and_python_handle() -> None:
    with MockServer(_state("on"), spec=PETSTORE) as server, httpx.Client(base_url=server.url) as c:
        server.namespace = "py"
        assert (
            server.state("pets").seed([{"id": 5, "name": "a", "kind": "dog", "created_at": "2026-01-01T00:00:00Z"}])
            == 1
        )
        assert c.get("/pets/5", headers=server.state_headers).json()["name"] == "a"
        over = c.get("/__mockforge/state").json()
        assert over["mode"] == "on" and over["resources"][0]["name"] == "pets"
        assert over["namespaces"]["py"] == {"/pets": 1}
        snap = c.post("/__mockforge/state/snapshots").json()["id"]
        docs = [{"id": 1, "name": "x", "kind": "cat"}, {"id": 2, "name": "y", "kind": "cat"}]
        assert c.put("/__mockforge/state/pets?namespace=py", json=docs).json() == {"stored": 2}
        assert [p["id"] for p in server.state("pets").items()] == [1, 2]
        bad = c.put("/__mockforge/state/pets?namespace=py", json=[{"id": 3}, {"name": "no id"}])
        assert bad.status_code == 400 and len(server.state("pets").items()) == 2  # whole or not at all
        assert c.post(f"/__mockforge/state/snapshots/{snap}/restore").json() == {"restored": snap}
        assert [p["id"] for p in server.state("pets").items()] == [5]
        assert c.post("/__mockforge/state/snapshots/nope/restore").status_code == 404
        assert c.get("/__mockforge/state/cats").status_code == 404
        assert c.delete("/__mockforge/state/pets?namespace=py").json() == {"deleted": 1}
        assert c.delete("/__mockforge/state").json() == {"deleted": 0}
        with pytest.raises(KeyError, match="known: pets"):
            server.state("cats")


def test_seed_file_loads_at_start_and_a_bad_one_names_file_and_key(tmp_path: Path) -> None:
    from mockforge.errors import ConfigError

    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("pets:\n  - {id: 3, name: a, kind: dog}\n  - {id: 4, name: b, kind: cat}\n")
    with MockServer(_state("on", seed=str(seeds)), spec=PETSTORE) as server:
        assert [p["id"] for p in httpx.get(server.url + "/pets").json()] == [3, 4]
        assert httpx.post(server.url + "/pets", json={"name": "c", "kind": "dog"}).json()["id"] == 1001
    seeds.write_text("pets:\n  - {id: 3}\n  - {name: no-id}\n")
    with (
        pytest.raises(ConfigError, match=r"seeds.yaml.*pets\.1"),
        MockServer(_state("on", seed=str(seeds)), spec=PETSTORE),
    ):
        pass
    seeds.write_text("cats: []\n")
    with (
        pytest.raises(ConfigError, match="no resource 'cats'"),
        MockServer(_state("on", seed=str(seeds)), spec=PETSTORE),
    ):
        pass


def test_state_changes_are_on_the_log_entry() -> None:
    with MockServer(_state("on"), spec=PETSTORE) as server, httpx.Client(base_url=server.url) as c:
        pet = c.post("/pets", json={"name": "a", "kind": "dog"}, headers={"X-Mockforge-Namespace": "logged"}).json()
        c.delete(f"/pets/{pet['id']}", headers={"X-Mockforge-Namespace": "logged"})
        c.get("/pets/7")
        states = [e.get("state") for e in c.get("/__mockforge/logs").json()["entries"]]
        assert f"create /pets/{pet['id']} in logged" in str(states) and f"delete /pets/{pet['id']} in logged" in str(
            states
        )
        assert None in states  # a read changes nothing


def test_watch_reloads_the_seed_file_alone_and_after_a_spec_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--watch``: an edit of the seed file alone is loaded again (the store keeps what clients
    created), a bad one is logged and changes nothing, and a spec change infers again and loads
    the seed file after it."""
    import logging
    import time

    def until(check: Any, what: str) -> None:
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline, f"not within 10 s: {what}"
            time.sleep(0.02)

    caplog.set_level(logging.INFO, logger="mockforge")
    spec = tmp_path / "petstore.yaml"
    spec.write_text(PETSTORE.read_text())
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("pets:\n  - {id: 3, name: a, kind: dog}\n")
    config = {"http": {"specs": [str(spec)], "watch": True, "state": {"mode": "on", "seed": str(seeds)}}}
    with MockServer(config) as server, httpx.Client(base_url=server.url) as c:
        made = c.post("/pets", json={"name": "kept", "kind": "cat"}).json()
        seeds.write_text("pets:\n  - {id: 3, name: renamed, kind: dog}\n  - {id: 4, name: new, kind: dog}\n")
        until(lambda: c.get("/pets/3").json()["name"] == "renamed", "the edited seed file is loaded")
        assert c.get("/pets/4").json()["name"] == "new"
        assert c.get(f"/pets/{made['id']}").json()["name"] == "kept"
        seeds.write_text("cats: []\n")  # a bad seed file is logged; serving goes on, nothing changes
        until(lambda: "seed file not reloaded" in caplog.text, "the bad seed file is reported")
        assert "no resource 'cats'" in caplog.text and c.get("/pets/3").json()["name"] == "renamed"
        seeds.write_text("pets:\n  - {id: 3, name: again, kind: dog}\n")
        until(lambda: c.get("/pets/3").json()["name"] == "again", "the fixed seed file is loaded")
        c.put("/pets/3", json={"name": "client", "kind": "dog"})
        spec.write_text(spec.read_text().replace("A small pet store", "A changed pet store"))
        until(lambda: "spec reloaded" in caplog.text, "the spec is reloaded")
        until(lambda: c.get("/pets/3").json()["name"] == "again", "the seed file is loaded after the spec")
        assert c.get(f"/pets/{made['id']}").json()["name"] == "kept"


async def test_python_handle_on_the_servers_own_loop_with_the_memory_store() -> None:
    """Under ``async with``, the plain calls finish at once: the memory store never suspends."""
    async with MockServer(_state("on"), spec=PETSTORE) as server, httpx.AsyncClient(base_url=server.url) as c:
        pets = server.state("pets")
        assert pets.seed([{"id": 4, "name": "a", "kind": "dog", "created_at": "2026-01-01T00:00:00Z"}]) == 1
        assert (await c.get("/pets/4")).json()["name"] == "a"
        assert [p["id"] for p in pets.items()] == [4] and pets.clear() == 1
