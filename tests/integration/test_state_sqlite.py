"""The SQLite state store (state/sqlite_store.py): the interface as the memory store has it, and a
server killed with SIGKILL keeps every write it answered (0 lost) when started again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from mockforge.state.sqlite_store import SqliteStore, sqlite_path
from mockforge.state.store import StoreFull

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


def test_interface_bounds_and_reopen(tmp_path: Path) -> None:
    assert sqlite_path("sqlite:////abs/s.db") == "/abs/s.db" and sqlite_path("sqlite:///s.db") == "s.db"
    assert sqlite_path("redis://x") is None
    path = str(tmp_path / "s.db")
    store = SqliteStore(path, max_resources=2, max_namespaces=2)
    assert store.put("a", "/pets", "7", {"id": 7, "n": [1]}) is True
    assert store.put("a", "/pets", "7", {"id": 7}) is False
    store.put("a", "/pets", "8", {"id": 8})
    with pytest.raises(StoreFull):
        store.put("a", "/pets", "9", {"id": 9})
    assert store.next_int("a", "/pets", 1) == 9
    snap = store.dump()
    assert store.delete("a", "/pets", "7") == {"id": 7}
    store.load(snap)
    store.put("b", "/pets", "1", {})
    store.get("a", "/pets", "7")
    store.put("c", "/pets", "1", {})  # b is the least recently used
    assert set(store.counts()) == {"a", "c"}
    store.close()
    again = SqliteStore(path)
    assert sorted(d["id"] for d in again.items("a", "/pets")) == [7, 8]
    again.close()


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
