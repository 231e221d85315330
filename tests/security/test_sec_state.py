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
