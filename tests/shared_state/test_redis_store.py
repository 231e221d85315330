"""The stateful-mock store on Redis (shared/redis_store.py): the store contract the memory and
SQLite stores keep, its bounds, and resources shared by replicas."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mockforge.shared.redis_store import RedisStateStore
from mockforge.state.store import StoreFull, StoreUnavailable
from redis_server import RedisServer, free_port

from .conftest import PETSTORE, poll, start_replica


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStateStore]:
    s = RedisStateStore(redis_server.url, "u" + uuid.uuid4().hex[:8], max_resources=5, max_namespaces=3)
    yield s
    await s.clear()
    await s.aclose()


async def test_lists_keep_insertion_order_and_a_replaced_document_its_place(store: RedisStateStore) -> None:
    for key in ("2", "10", "9"):
        await store.put("ns", "/pets", key, {"id": int(key)})
    await store.put("ns", "/pets", "10", {"id": 10, "name": "replaced"})
    assert [d["id"] for d in await store.items("ns", "/pets")] == [2, 10, 9]
    await store.delete("ns", "/pets", "2")
    await store.put("ns", "/pets", "2", {"id": 2})
    assert [d["id"] for d in await store.items("ns", "/pets")] == [10, 9, 2]
    snap = await store.dump()
    await store.load(snap)
    assert [d["id"] for d in await store.items("ns", "/pets")] == [10, 9, 2]
    assert await store.counts() == {"ns": {"/pets": 3}}


async def test_only_new_and_reserved_ids_hold_under_concurrent_calls(store: RedisStateStore) -> None:
    ids = await asyncio.gather(*(store.next_int("ns", "/pets", 1001) for _ in range(20)))
    assert sorted(ids) == list(range(1001, 1021))
    wins = await asyncio.gather(*(store.put("ns", "/pets", "7", {"n": n}, only_new=True) for n in range(5)))
    assert wins.count(True) == 1
    assert await store.get("ns", "/pets", "7") == {"n": wins.index(True)}
    assert await store.next_int("ns", "/pets", 1) == 1021
    assert await store.clear("ns", "/pets") == 1
    assert await store.next_int("ns", "/pets", 5) == 5


async def test_bounds_hold_and_names_cannot_reach_other_keys(store: RedisStateStore) -> None:
    for i in range(5):
        assert await store.put("a", "/pets", str(i), {"id": i})
    with pytest.raises(StoreFull):
        await store.put("a", "/pets", "99", {"id": 99})
    assert await store.put("a", "/pets", "1", {"id": 1, "changed": True}) is False  # a replace is no new doc
    # a namespace or bucket with the separator in its name stays its own
    await store.put("a:/pets:docs", "x", "1", {"evil": True})
    assert len(await store.items("a", "/pets")) == 5
    await store.put("b", "/p", "1", {})
    await store.put("c", "/p", "1", {})  # the fourth namespace: the least recently written goes
    assert store.evicted_namespaces == 1
    assert set(await store.counts()) == {"a:/pets:docs", "b", "c"}


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    s = RedisStateStore(f"redis://127.0.0.1:{free_port()}/0", "x")
    try:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await s.get("ns", "/pets", "1")
    finally:
        await s.aclose()


def test_resources_created_through_one_replica_are_served_by_the_other(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")  # its own: this test kills it
    server.start()
    a, b = (start_replica(tmp_path, "--shared-state", server.url, "--spec", str(PETSTORE), "--state", "on")
            for _ in range(2))
    try:
        created = a.client.post("/pets", json={"name": "Shared", "kind": "cat"})
        assert created.status_code == 201, created.text
        pet_id = created.json()["id"]
        got = b.client.get(f"/pets/{pet_id}")
        assert got.status_code == 200 and got.json()["name"] == "Shared"
        listed = [p["name"] for p in a.client.get("/pets").json()]
        assert "Shared" in listed
        assert b.client.delete(f"/pets/{pet_id}").status_code in (200, 204)
        assert "Shared" not in [p["name"] for p in a.client.get("/pets").json()]
        server.kill()
        poll(lambda: "degraded" in a.client.get("/health/ready").json(), "degraded")
        refused = a.client.post("/pets", json={"name": "Lost", "kind": "dog"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "state_unavailable"
        server.start()
        poll(lambda: a.client.post("/pets", json={"name": "Back", "kind": "dog"}).status_code == 201, "state back")
    finally:
        a.stop()
        b.stop()
        server.stop()
