"""Hostile input to the state store and patches: the resource bound (507, nothing evicted), the
namespace bound (least recently used dropped), oversized JSON Patch documents."""

from __future__ import annotations

import pytest

from mockforge.state.patch import MAX_PATCH_OPS, PatchError, json_patch
from mockforge.state.store import MemoryStore, StoreFull


def test_resource_bound_refuses_and_evicts_nothing() -> None:
    store = MemoryStore(max_resources=3)
    for i in range(3):
        store.put("ns", "/pets", str(i), {"id": i})
    with pytest.raises(StoreFull, match="max_resources"):
        store.put("ns", "/pets", "99", {"id": 99})
    assert len(store.items("ns", "/pets")) == 3
    store.put("ns", "/pets", "1", {"id": 1, "name": "replaced"})  # a replace is not a create
    store.put("other", "/pets", "1", {"id": 1})  # the bound is per namespace


def test_namespace_bound_drops_least_recently_used() -> None:
    store = MemoryStore(max_namespaces=2)
    store.put("a", "/pets", "1", {})
    store.put("b", "/pets", "1", {})
    store.get("a", "/pets", "1")  # a is now the most recently used
    store.put("c", "/pets", "1", {})
    assert set(store.counts()) == {"a", "c"} and store.evicted_namespaces == 1


def test_json_patch_operation_count_is_bounded() -> None:
    with pytest.raises(PatchError, match="more than"):
        json_patch({}, [{"op": "test", "path": "", "value": {}}] * (MAX_PATCH_OPS + 1))


def test_over_http_namespaces_patches_and_admin_replace_stay_bounded() -> None:
    from pathlib import Path

    import httpx

    from mockforge.testing.server import MockServer

    spec = Path(__file__).resolve().parents[2] / "examples" / "petstore.yaml"
    cfg = {"http": {"state": {"mode": "on", "max_namespaces": 3, "max_resources": 5}}}
    with MockServer(cfg, spec=spec) as server, httpx.Client(base_url=server.url) as c:
        for i in range(20):  # a client inventing namespaces cannot grow memory without end
            r = c.post("/pets", json={"name": "a", "kind": "dog"}, headers={"X-Mockforge-Namespace": f"ns{i}"})
            assert r.status_code == 201
        assert len(c.get("/__mockforge/state").json()["namespaces"]) == 3
        pet = c.post("/pets", json={"name": "a", "kind": "dog"}).json()
        ops = [{"op": "test", "path": "", "value": {}}] * (MAX_PATCH_OPS + 1)
        r = c.patch(f"/pets/{pet['id']}", json=ops, headers={"content-type": "application/json-patch+json"})
        assert r.status_code in (404, 405, 422)  # petstore documents no PATCH; never a 500
        too_many = [{"id": i, "name": "x", "kind": "cat"} for i in range(1, 8)]
        r = c.put("/__mockforge/state/pets", json=too_many)
        assert r.status_code == 507
        assert [p["id"] for p in c.get("/__mockforge/state/pets").json()] == [pet["id"]]  # whole or not at all
        # not an object: refused with the 422 POST /pets documents
        assert c.post("/pets", content=b"[1, 2]", headers={"content-type": "application/json"}).status_code == 422
