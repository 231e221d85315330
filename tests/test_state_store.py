"""The state stores (state/store.py, state/sqlite_store.py) and the patch functions (state/patch.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mockforge.state.patch import PatchError, json_patch, merge_patch
from mockforge.state.sqlite_store import SqliteStore
from mockforge.state.store import MemoryStore, StateStore


@pytest.fixture(params=["memory", "sqlite"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    store: StateStore = MemoryStore() if request.param == "memory" else SqliteStore(str(tmp_path / "s.db"))
    yield store
    await store.aclose()


async def test_lists_keep_insertion_order_and_a_replaced_document_its_place(any_store: StateStore) -> None:
    for key in ("2", "10", "9"):  # key order would be 10, 2, 9 (text) or 2, 9, 10 (number)
        await any_store.put("ns", "/pets", key, {"id": int(key)})
    await any_store.put("ns", "/pets", "10", {"id": 10, "name": "replaced"})
    assert [d["id"] for d in await any_store.items("ns", "/pets")] == [2, 10, 9]
    await any_store.delete("ns", "/pets", "2")
    await any_store.put("ns", "/pets", "2", {"id": 2})
    assert [d["id"] for d in await any_store.items("ns", "/pets")] == [10, 9, 2]
    snap = await any_store.dump()
    await any_store.load(snap)
    assert [d["id"] for d in await any_store.items("ns", "/pets")] == [10, 9, 2]


async def test_only_new_and_reserved_ids_hold_under_concurrent_calls(any_store: StateStore) -> None:
    """Creates racing across an await: each gets its own id, and one duplicate id wins once."""
    ids = await asyncio.gather(*(any_store.next_int("ns", "/pets", 1001) for _ in range(20)))
    assert sorted(ids) == list(range(1001, 1021))
    wins = await asyncio.gather(*(any_store.put("ns", "/pets", "7", {"n": n}, only_new=True) for n in range(5)))
    assert wins.count(True) == 1 and wins[0] is True
    assert await any_store.get("ns", "/pets", "7") == {"n": 0}  # the losers changed nothing
    assert await any_store.next_int("ns", "/pets", 1) == 1021  # handed-out ids stay taken
    await any_store.clear("ns", "/pets")
    assert await any_store.next_int("ns", "/pets", 5) == 5


async def test_store_round_trip_copies_and_counts() -> None:
    store = MemoryStore()
    doc = {"id": 7, "tags": ["a"]}
    assert await store.put("ns", "/pets", "7", doc) is True
    doc["tags"].append("changed outside")
    got = await store.get("ns", "/pets", "7")
    assert got == {"id": 7, "tags": ["a"]}
    assert got is not None
    got["tags"].append("changed by a reader")
    assert await store.items("ns", "/pets") == [{"id": 7, "tags": ["a"]}]
    assert await store.put("ns", "/pets", "7", {"id": 7}) is False
    assert await store.next_int("ns", "/pets", 1) == 8 and await store.next_int("ns", "/pets", 1001) == 1001
    assert await store.counts() == {"ns": {"/pets": 1}}
    assert await store.get("other", "/pets", "7") is None
    assert await store.delete("ns", "/pets", "7") == {"id": 7} and await store.delete("ns", "/pets", "7") is None


async def test_dump_and_load_restore_everything() -> None:
    store = MemoryStore()
    await store.put("a", "/pets", "1", {"id": 1})
    snap = await store.dump()
    await store.put("a", "/pets", "2", {"id": 2})
    await store.clear("a", "/pets")
    await store.load(snap)
    assert await store.items("a", "/pets") == [{"id": 1}]
    assert await store.clear() == 1 and await store.counts() == {}


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
    assert json_patch(doc, ops, 100) == {"name": "max", "tags": ["b", "c"], "meta": {}, "x": 1, "y": 1}
    assert doc["name"] == "rex"  # the input is never changed
    with pytest.raises(PatchError) as err:
        json_patch(
            doc, [{"op": "replace", "path": "/name", "value": "z"}, {"op": "test", "path": "/name", "value": "no"}], 100
        )
    assert err.value.where == "/1" and doc["name"] == "rex"
    for bad in (
        {"op": "remove", "path": "/nope"},
        {"op": "add", "path": "nope", "value": 1},
        {"op": "zap", "path": "/a"},
    ):
        with pytest.raises(PatchError):
            json_patch(doc, [bad], 100)
