"""Faults and hostile input around the shared store: Redis absent, not Redis, killed and
restarted under load, emptied, two prefixes on one Redis, junk on the channel and in the keys."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from redis_server import RedisServer, free_port

from .conftest import PETSTORE, ROOT, Replica, poll, start_replica
from .test_replicas import _stub


def _serve_fails(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "mockforge", "serve", "--http-port", "0", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=clean)


def test_redis_down_at_start_is_one_line_and_exit_2() -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    out = _serve_fails("--shared-state", url)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("mockforge: error:")]
    assert len(lines) == 1, out.stderr
    assert "core.shared_state" in lines[0] and "cannot use redis://:<redacted>@127.0.0.1" in lines[0]
    assert "hunter2" not in out.stderr and "Traceback" not in out.stderr


@pytest.fixture
def not_redis() -> Iterator[int]:
    """A TCP server that accepts and closes at once (what a wrong port often is)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join(timeout=5)
    srv.close()


def test_a_server_that_is_not_redis_is_one_line_and_exit_2(not_redis: int) -> None:
    out = _serve_fails("--shared-state", f"redis://127.0.0.1:{not_redis}/0")
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("mockforge: error: core.shared_state: cannot use") == 1
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(("args", "env", "where"), [
    (("--shared-state", "http://127.0.0.1:6379"), {}, "core.shared_state"),
    (("--shared-state", "memcached://x"), {}, "core.shared_state"),
    ((), {"MOCKFORGE_SHARED_STATE": "redis://127.0.0.1:1/0", "MOCKFORGE_SHARED_STATE_PREFIX": "bad prefix!"},
     "core.shared_state_prefix"),
])
def test_bad_shared_state_config_is_one_line_and_exit_2(args: tuple[str, ...], env: dict[str, str],
                                                        where: str) -> None:
    out = _serve_fails(*args, env=env)
    assert out.returncode == 2
    assert out.stderr.count("mockforge: error:") == 1 and where in out.stderr, out.stderr


def test_two_prefixes_on_one_redis_do_not_see_each_other(redis_server: RedisServer, tmp_path: Path) -> None:
    def rep(prefix: str) -> Replica:
        return start_replica(tmp_path, "--shared-state", redis_server.url, "--spec", str(PETSTORE),
                             env={"MOCKFORGE_SHARED_STATE_PREFIX": prefix})

    a, b, c = rep("envA"), rep("envB"), rep("envB")
    try:
        assert a.admin("POST", "stubs", json=_stub("/only-a", "a")).status_code == 201
        assert c.admin("POST", "stubs", json=_stub("/only-b", "b")).status_code == 201
        poll(lambda: b.client.get("/only-b").status_code == 200, "B to get C's stub")  # events flow within envB
        assert b.client.get("/only-a").status_code == 404
        assert a.client.get("/pets/1").status_code == 200
        paths = [e["path"] for e in b.admin("GET", "logs").json()["entries"]]
        assert "/pets/1" not in paths and "/only-a" in paths  # B's own miss, not A's answer
        with redis.Redis.from_url(redis_server.url) as r:
            keys = {k.decode() for k in r.keys("env*")}
        assert keys and all(k.startswith(("envA:", "envB:")) for k in keys)
        assert "envA:stubs" in keys and "envB:stubs" in keys
    finally:
        for r in (a, b, c):
            r.stop()


def test_spec_answers_and_plain_stubs_read_no_redis_key(replicas: Callable[..., list[Replica]],
                                                        redis_server: RedisServer) -> None:
    (a,) = replicas(1)
    assert a.admin("POST", "stubs", json=_stub("/plain", "p")).status_code == 201
    with redis.Redis.from_url(redis_server.url) as r:
        r.config_resetstat()
        for i in range(100):
            assert a.client.get(f"/pets/{i + 1}").status_code == 200
            assert a.client.get("/plain").json() == "p"
        poll(lambda: a.admin("GET", "stats").json()["shared_state"]["log"]["pending"] == 0, "the log written")
        stats = r.info("commandstats")
    commands = {k.removeprefix("cmdstat_") for k in stats}
    # only the batched log writes (a script of XADDs) and stats reads: no GET/HGET of any kind
    allowed = {"evalsha", "eval", "script|load", "script|exists", "xadd", "info", "config|resetstat", "ping"}
    assert commands <= allowed, commands
    assert "xadd" in commands


def _load(reps: list[Replica], stop: threading.Event, answered: list[tuple[int, str]],
          failures: list[Any]) -> None:
    i = 0
    clients = [httpx.Client(base_url=r.url, timeout=30) for r in reps]
    try:
        while not stop.is_set():
            path = "/stubbed" if i % 3 == 0 else f"/pets/{i % 50 + 1}"
            try:
                resp = clients[i % len(clients)].get(path, headers={"x-n": str(i)})
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
            else:
                if resp.status_code >= 500 or resp.status_code == 404:
                    failures.append((i, resp.status_code, resp.text[:200]))
                else:
                    answered.append((i, path))
            i += 1
    finally:
        for c in clients:
            c.close()


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "aof", persist=True)
    server.start()
    yield server
    server.stop()


def test_redis_killed_and_restarted_under_load_loses_no_answered_request(
        persistent_redis: RedisServer, tmp_path: Path) -> None:
    # a log large enough for the whole run: the cap (core.max_request_logs) would evict the first ones
    reps = [start_replica(tmp_path, "--shared-state", persistent_redis.url, "--spec", str(PETSTORE),
                          env={"MOCKFORGE_MAX_REQUEST_LOGS": "100000"}) for _ in range(2)]
    a, b = reps
    stop = threading.Event()
    answered: list[tuple[int, str]] = []
    failures: list[Any] = []
    try:
        assert a.admin("POST", "stubs", json=_stub("/stubbed", "s")).status_code == 201
        poll(lambda: b.client.get("/stubbed").status_code == 200, "the stub on B")
        load = threading.Thread(target=_load, args=(reps, stop, answered, failures))
        load.start()
        poll(lambda: len(answered) > 100, "traffic before the kill")
        persistent_redis.kill()
        for r in reps:
            ready = poll(lambda r=r: (x := r.client.get("/health/ready")).json().get("degraded") and x,
                         "degraded readiness")
            assert ready.status_code == 200 and ready.json()["status"] == "degraded"
            assert "Redis" in ready.json()["degraded"]
        at_kill = before = len(answered)
        poll(lambda: len(answered) > before + 100, "answers during the outage")
        refused = a.admin("POST", "stubs", json=_stub("/during", "d"))
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "shared_state_unavailable"
        assert a.client.get("/during").status_code == 404  # nothing changed locally either
        assert b.admin("POST", "scenarios/reset").status_code == 503
        logs = a.admin("GET", "logs").json()  # reads go on, from this replica, and say so
        assert logs["scope"].startswith("this replica only")
        during = len(answered) - at_kill
        persistent_redis.start()
        for r in reps:
            poll(lambda r=r: "degraded" not in r.client.get("/health/ready").json(), "recovery")
        before = len(answered)
        poll(lambda: len(answered) > before + 50, "answers after the restart")
        stop.set()
        load.join(timeout=60)
        assert failures == []
        # resynced: a stub added now reaches the other replica again
        assert a.admin("POST", "stubs", json=_stub("/after", "x")).status_code == 201
        poll(lambda: b.client.get("/after").status_code == 200, "a stub after the restart on B")
        for r in reps:
            poll(lambda r=r: r.admin("GET", "stats").json()["shared_state"]["log"]["pending"] == 0, "buffer empty")
        stats = [r.admin("GET", "stats").json()["shared_state"] for r in reps]
        assert all(s["log"]["dropped"] == 0 for s in stats)  # fewer than max_shared_log_buffer waited
        assert all(s["reconnects"] >= 1 for s in stats)
        entries = a.admin("GET", "logs", params={"limit": 100000}).json()["entries"]
        logged = {int(e["headers"]["x-n"]) for e in entries if "x-n" in e["headers"]}
        missing = {n for n, _ in answered} - logged
        assert not missing, f"{len(missing)} answered requests are not in the shared log"
        assert len({e["id"] for e in entries}) == len(entries)
        print(f"\nkill/restart: {len(answered)} answered ({at_kill} before the kill, at least {during} during the "
              f"outage), {len(logged)} in the shared log, missing {len(missing)}, dropped "
              f"{sum(s['log']['dropped'] for s in stats)}, failures {len(failures)}")
    finally:
        stop.set()
        for r in reps:
            assert r.stop() == 0
        text = "".join(r.log_text() for r in reps)
        assert "Traceback" not in text, text[-3000:]


def test_redis_restarted_empty_gets_the_stubs_back_from_the_replicas(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "volatile")
    server.start()
    reps = [start_replica(tmp_path, "--shared-state", server.url) for _ in range(2)]
    a, b = reps
    try:
        assert a.admin("POST", "stubs", json=_stub("/kept", "k")).status_code == 201
        assert a.admin("PUT", "scenarios/flow", json={"state": "Two"}).status_code == 200
        poll(lambda: b.client.get("/kept").status_code == 200, "the stub on B")
        server.kill()
        poll(lambda: "degraded" in b.client.get("/health/ready").json(), "degraded")
        assert b.client.get("/kept").json() == "k"  # the local index keeps answering
        server.start()  # no persistence: Redis comes back empty
        for r in reps:
            poll(lambda r=r: "degraded" not in r.client.get("/health/ready").json(), "recovery")
        with redis.Redis.from_url(server.url) as cl:
            poll(lambda: cl.hlen("mockforge:stubs") == 1, "the stub written back")
            assert cl.hget("mockforge:scenarios", "flow") == b"Two"
        assert b.client.get("/kept").json() == "k" and a.client.get("/kept").json() == "k"
    finally:
        for r in reps:
            r.stop()
        server.stop()


def test_junk_on_the_channel_and_in_the_keys_is_skipped(replicas: Callable[..., list[Replica]],
                                                         redis_server: RedisServer, prefix: str) -> None:
    a, b = replicas(2)
    with redis.Redis.from_url(redis_server.url) as r:
        r.publish(f"{prefix}:events", b"\xff not json")
        r.publish(f"{prefix}:events", b'{"k": "put", "ids": {"not": "a list"}}')
        r.publish(f"{prefix}:events", b"[" * 100_000)
        r.publish(f"{prefix}:events", b"x" * (2 << 20))  # past MAX_MESSAGE_BYTES
        r.hset(f"{prefix}:stubs", "junk", b'{"def": {"request": {"method": 7}}, "seq": 1}')
        r.xadd(f"{prefix}:log", {"e": b"not msgpack"})
        r.lpush(f"{prefix}:unmatched", b"\x00junk")
    assert a.admin("POST", "stubs", json=_stub("/fine", "f")).status_code == 201
    poll(lambda: b.client.get("/fine").status_code == 200, "a good event after the junk")
    poll(lambda: b.admin("GET", "stats").json()["shared_state"]["events_ignored"] >= 3, "junk counted")
    assert b.client.get("/pets/1").status_code == 200
    assert b.admin("GET", "unmatched").status_code == 200
    logs = b.admin("GET", "logs").json()["entries"]
    assert logs[0]["path"] == "/pets/1"  # newest first
    (c,) = replicas(1)  # a replica starting now skips the unusable stub and serves the good one
    assert c.client.get("/fine").json() == "f"
    assert "is not usable and is skipped" in c.log_text()


def test_oversized_requests_are_logged_cut_to_the_entry_bounds(replicas: Callable[..., list[Replica]],
                                                                redis_server: RedisServer, prefix: str) -> None:
    (a,) = replicas(1)
    big = "x" * 500_000
    assert a.client.post("/pets", content=big, headers={"x-big": "y" * 7000}).status_code < 500
    entries = a.admin("GET", "logs").json()["entries"]
    assert entries[0]["body_truncated"] and len(entries[0]["body_excerpt"]) <= 256
    with redis.Redis.from_url(redis_server.url) as r:
        assert r.memory_usage(f"{prefix}:log") < 64 * 1024
