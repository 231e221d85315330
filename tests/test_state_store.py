"""The in-memory state store (state/store.py) and the patch functions (state/patch.py)."""

from __future__ import annotations

import pytest

from mockforge.state.patch import PatchError, json_patch, merge_patch
from mockforge.state.store import MemoryStore


def test_store_round_trip_copies_and_counts() -> None:
    store = MemoryStore()
    doc = {"id": 7, "tags": ["a"]}
    assert store.put("ns", "/pets", "7", doc) is True
    doc["tags"].append("changed outside")
    got = store.get("ns", "/pets", "7")
    assert got == {"id": 7, "tags": ["a"]}
    assert got is not None
    got["tags"].append("changed by a reader")
    assert store.items("ns", "/pets") == [{"id": 7, "tags": ["a"]}]
    assert store.put("ns", "/pets", "7", {"id": 7}) is False
    assert store.next_int("ns", "/pets", 1) == 8 and store.next_int("ns", "/pets", 1001) == 1001
    assert store.counts() == {"ns": {"/pets": 1}}
    assert store.get("other", "/pets", "7") is None
    assert store.delete("ns", "/pets", "7") == {"id": 7} and store.delete("ns", "/pets", "7") is None


def test_dump_and_load_restore_everything() -> None:
    store = MemoryStore()
    store.put("a", "/pets", "1", {"id": 1})
    snap = store.dump()
    store.put("a", "/pets", "2", {"id": 2})
    store.clear("a", "/pets")
    store.load(snap)
    assert store.items("a", "/pets") == [{"id": 1}]
    assert store.clear() == 1 and store.counts() == {}


def test_merge_patch_rfc7396() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 9}, "e": [1]}) == {
        "b": {"c": 9, "d": 3},
        "e": [1],
    }


def test_json_patch_rfc6902() -> None:
    doc = {"name": "rex", "tags": ["a", "b"], "meta": {"x": 1}}
    ops = [
        {"op": "replace", "path": "/name", "value": "max"},
        {"op": "add", "path": "/tags/-", "value": "c"},
        {"op": "remove", "path": "/tags/0"},
        {"op": "move", "from": "/meta/x", "path": "/x"},
        {"op": "copy", "from": "/x", "path": "/y"},
        {"op": "test", "path": "/y", "value": 1},
    ]
    assert json_patch(doc, ops) == {"name": "max", "tags": ["b", "c"], "meta": {}, "x": 1, "y": 1}
    assert doc["name"] == "rex"  # the input is never changed
    with pytest.raises(PatchError) as err:
        json_patch(
            doc, [{"op": "replace", "path": "/name", "value": "z"}, {"op": "test", "path": "/name", "value": "no"}]
        )
    assert err.value.where == "/1" and doc["name"] == "rex"
    for bad in (
        {"op": "remove", "path": "/nope"},
        {"op": "add", "path": "nope", "value": 1},
        {"op": "zap", "path": "/a"},
    ):
        with pytest.raises(PatchError):
            json_patch(doc, [bad])
