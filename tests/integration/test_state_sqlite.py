"""The SQLite state store (state/sqlite_store.py): the interface as the memory store has it, and a
server killed with SIGKILL keeps every write it answered (0 lost) when started again."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from mockforge.state.sqlite_store import SqliteStore, sqlite_path
from mockforge.state.store import StoreFull

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


async def test_interface_bounds_and_reopen(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:////abs/s.db") == "/abs/s.db" and sqlite_path("sqlite:///s.db") == "s.db"
    assert sqlite_path("redis://x") is None
    path = str(tmp_path / "s.db")
    store = SqliteStore(path, max_resources=2, max_namespaces=2)
    assert await store.put("a", "/pets", "7", {"id": 7, "n": [1]}) is True
    assert await store.put("a", "/pets", "7", {"id": 7}) is False
    await store.put("a", "/pets", "8", {"id": 8})
    with pytest.raises(StoreFull):
        await store.put("a", "/pets", "9", {"id": 9})
    assert await store.get("a", "/pets", "9") is None  # the refused write was rolled back
    assert await store.next_int("a", "/pets", 1) == 9
    snap = await store.dump()
    assert await store.delete("a", "/pets", "7") == {"id": 7}
    await store.load(snap)
    await store.put("b", "/pets", "1", {})
    await store.get("a", "/pets", "7")
    await store.put("c", "/pets", "1", {})  # b is the least recently used
    assert set(await store.counts()) == {"a", "c"}
    await store.aclose()
    with pytest.raises(RuntimeError):  # a closed store refuses calls instead of hanging
        await store.get("a", "/pets", "7")
    again = SqliteStore(path)
    assert [d["id"] for d in await again.items("a", "/pets")] == [7, 8]
    again.close()


async def test_the_calls_run_on_the_stores_own_thread(tmp_path: Path) -> None:
    """The event loop's thread never runs SQLite: every statement runs on one other thread."""
    threads: set[str] = set()
    store = SqliteStore(str(tmp_path / "s.db"))
    with pytest.raises(sqlite3.ProgrammingError):  # the connection belongs to the store's thread
        store._conn().execute("SELECT 1")
    trace = store._conn().set_trace_callback
    await store._run(trace, lambda _sql: threads.add(threading.current_thread().name))
    await store.put("a", "/pets", "1", {"id": 1})
    await store.items("a", "/pets")
    await store.delete("a", "/pets", "1")
    await store.aclose()
    assert len(threads) == 1 and next(iter(threads)).startswith("mockforge-sqlite")
    assert threading.current_thread().name not in threads


def test_a_file_of_the_first_layout_is_moved_over_in_key_order(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE docs (ns TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,"
        " doc TEXT NOT NULL, PRIMARY KEY (ns, bucket, key)) WITHOUT ROWID"
    )
    db.executemany("INSERT INTO docs VALUES ('default', '/pets', ?, ?)", [("2", '{"id": 2}'), ("1", '{"id": 1}')])
    db.commit()
    db.close()
    store = SqliteStore(str(path))
    assert [d["id"] for d in asyncio.run(store.items("default", "/pets"))] == [1, 2]
    store.close()
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["state_docs"]
    db.close()


def _start(config: Path) -> tuple[subprocess.Popen[str], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockforge", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert proc.stdout is not None
    port = 0
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        m = re.match(r"\s+HTTP\s+(?:\w+://)?[\d.]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        elif " ready " in line:
            return proc, port


def test_kill_9_loses_no_answered_write(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    config = tmp_path / "mockforge.yaml"
    config.write_text(
        yaml.safe_dump(
            {"http": {"port": 0, "specs": [str(PETSTORE)], "state": {"mode": "strict", "store": f"sqlite:///{db}"}}}
        )
    )
    proc, port = _start(config)
    answered: dict[int, str] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            for i in range(200):
                r = c.post("/pets", json={"name": f"p{i}", "kind": "dog"})
                assert r.status_code == 201
                answered[r.json()["id"]] = f"p{i}"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    proc, port = _start(config)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            lost = [i for i, name in answered.items() if c.get(f"/pets/{i}").json().get("name") != name]
            assert lost == [] and len(answered) == 200
            assert c.post("/pets", json={"name": "next", "kind": "cat"}).json()["id"] == max(answered) + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate()


def test_python_handle_with_the_sqlite_store_from_a_thread(tmp_path: Path) -> None:
    from mockforge.testing.server import MockServer

    cfg = {"http": {"state": {"mode": "on", "store": f"sqlite:///{tmp_path / 's.db'}"}}}
    with MockServer(cfg, spec=PETSTORE) as mock:
        pets = mock.state("pets")
        assert pets.seed([{"id": 10, "name": "a", "kind": "dog"}, {"id": 2, "name": "b", "kind": "cat"}]) == 2
        assert httpx.get(mock.url + "/pets/2").json()["name"] == "b"
        assert [p["id"] for p in pets.items()] == [10, 2]  # insertion order
        assert pets.clear() == 2 and pets.items() == []


async def test_python_handle_with_the_sqlite_store_on_the_servers_loop(tmp_path: Path) -> None:
    from mockforge.testing.server import MockServer

    cfg = {"http": {"state": {"mode": "on", "store": f"sqlite:///{tmp_path / 's.db'}"}}}
    async with MockServer(cfg, spec=PETSTORE) as mock, httpx.AsyncClient(base_url=mock.url) as c:
        pets = mock.state("pets")
        assert await pets.aseed([{"id": 3, "name": "a", "kind": "dog"}]) == 1
        assert (await c.get("/pets/3")).json()["name"] == "a"
        with pytest.raises(RuntimeError, match="await"):  # a blocking call here would stall the loop
            pets.items()
        assert [p["id"] for p in await pets.aitems()] == [3]
        assert await pets.aclear() == 1
