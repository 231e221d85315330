"""Hostile input to the state store and patches: the resource bound (507, nothing evicted), the
namespace bound (least recently used dropped), oversized JSON Patch documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockforge.config import BOUND_KEYS
from mockforge.state.patch import PatchError, json_patch
from mockforge.state.sqlite_store import SqliteStore
from mockforge.state.store import MemoryStore, StateStore, StoreFull
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["memory", "sqlite"])
async def bounded(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    """A store of each backend with max_resources=3, max_namespaces=2."""
    store: StateStore = (
        MemoryStore(max_resources=3, max_namespaces=2)
        if request.param == "memory"
        else SqliteStore(str(tmp_path / "s.db"), max_resources=3, max_namespaces=2)
    )
    yield store
    await store.aclose()


async def test_resource_bound_refuses_and_evicts_nothing(bounded: StateStore) -> None:
    for i in range(3):
        await bounded.put("ns", "/pets", str(i), {"id": i})
    with pytest.raises(StoreFull, match="max_resources"):
        await bounded.put("ns", "/pets", "99", {"id": 99})
    with pytest.raises(StoreFull, match="max_resources"):
        await bounded.put("ns", "/pets", "98", {"id": 98}, only_new=True)
    assert [d["id"] for d in await bounded.items("ns", "/pets")] == [0, 1, 2]
    await bounded.put("ns", "/pets", "1", {"id": 1, "name": "replaced"})  # a replace is not a create
    await bounded.put("other", "/pets", "1", {"id": 1})  # the bound is per namespace


async def test_namespace_bound_drops_least_recently_used(bounded: StateStore) -> None:
    await bounded.put("a", "/pets", "1", {})
    await bounded.put("b", "/pets", "1", {})
    await bounded.get("a", "/pets", "1")  # a is now the most recently used
    await bounded.put("c", "/pets", "1", {})
    assert set(await bounded.counts()) == {"a", "c"}
    assert bounded.evicted_namespaces == 1  # type: ignore[attr-defined]


def test_json_patch_operation_count_is_bounded() -> None:
    ops = [{"op": "test", "path": "", "value": {}}] * 4
    assert json_patch({}, ops[:3], 3) == {}
    with pytest.raises(PatchError, match=r"more than 3 operations \(http.state.max_patch_ops\)"):
        json_patch({}, ops, 3)
    assert "http.state.max_patch_ops" in BOUND_KEYS


def _patchable_spec(tmp_path: Path) -> Path:
    pet = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    one = {"content": {"application/json": {"schema": pet}}}
    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/pets": {"post": {"requestBody": one, "responses": {"201": {"description": "made", **one}}}},
            "/pets/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "get": {"responses": {"200": {"description": "one", **one}}},
                "patch": {"responses": {"200": {"description": "patched", **one}}},
            },
        },
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_over_http_namespaces_patches_and_admin_replace_stay_bounded(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "petstore.yaml"
    cfg = {"http": {"state": {"mode": "on", "max_namespaces": 3, "max_resources": 5}}}
    with MockServer(cfg, spec=spec) as server, httpx.Client(base_url=server.url) as c:
        for i in range(20):  # a client inventing namespaces cannot grow memory without end
            r = c.post("/pets", json={"name": "a", "kind": "dog"}, headers={"X-Mockforge-Namespace": f"ns{i}"})
            assert r.status_code == 201
        assert len(c.get("/__mockforge/state").json()["namespaces"]) == 3
        pet = c.post("/pets", json={"name": "a", "kind": "dog"}).json()
        too_many = [{"id": i, "name": "x", "kind": "cat"} for i in range(1, 8)]
        r = c.put("/__mockforge/state/pets", json=too_many)
        assert r.status_code == 507
        assert [p["id"] for p in c.get("/__mockforge/state/pets").json()] == [pet["id"]]  # whole or not at all
        assert c.post("/pets", content=b"[1, 2]", headers={"content-type": "application/json"}).status_code == 400


def test_over_http_a_json_patch_past_max_patch_ops_is_422_and_changes_nothing(tmp_path: Path) -> None:
    cfg: dict[str, Any] = {"http": {"state": {"mode": "on", "max_patch_ops": 2}}}
    with MockServer(cfg, spec=_patchable_spec(tmp_path)) as server, httpx.Client(base_url=server.url) as c:
        pet = c.post("/pets", json={"name": "a"}).json()
        jp = {"content-type": "application/json-patch+json"}
        two = [{"op": "replace", "path": "/name", "value": "b"}, {"op": "test", "path": "/name", "value": "b"}]
        assert c.patch(f"/pets/{pet['id']}", json=two, headers=jp).json()["name"] == "b"
        r = c.patch(f"/pets/{pet['id']}", json=[*two, {"op": "replace", "path": "/name", "value": "c"}], headers=jp)
        assert r.status_code == 422 and "http.state.max_patch_ops" in r.text
        assert c.get(f"/pets/{pet['id']}").json()["name"] == "b"
        assert c.get("/__mockforge/stats").json()["bounds"]["http.state.max_patch_ops"] == 2
