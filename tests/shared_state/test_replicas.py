"""Two and three real replicas sharing one real redis-server: stubs, times, the log, scenarios."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

import httpx

from .conftest import Replica, poll


def _stub(path: str, body: Any, **extra: Any) -> dict[str, Any]:
    return {"request": {"method": "GET", "path": path}, "response": {"status": 200, "body": body}, **extra}


def test_a_stub_added_through_one_replica_answers_on_the_others(replicas: Callable[..., list[Replica]]) -> None:
    a, b, c = replicas(3)
    created = a.admin("POST", "stubs", json=_stub("/shared/hello", {"from": "a"}))
    assert created.status_code == 201, created.text
    for r in (b, c):
        got = poll(lambda r=r: (x := r.client.get("/shared/hello")).status_code == 200 and x.json(), "the stub on B/C")
        assert got == {"from": "a"}
    stub_id = created.json()["stubs"][0]["id"]
    assert b.admin("GET", f"stubs/{stub_id}").json()["response"]["body"] == {"from": "a"}
    # a change and a delete travel the same way
    changed = b.admin("PUT", f"stubs/{stub_id}", json=_stub("/shared/hello", {"from": "b"}))
    assert changed.status_code == 200, changed.text
    poll(lambda: a.client.get("/shared/hello").json() == {"from": "b"}, "the PUT on A")
    assert c.admin("DELETE", f"stubs/{stub_id}").status_code == 200
    poll(lambda: a.client.get("/shared/hello").status_code == 404, "the DELETE on A")
    poll(lambda: b.client.get("/shared/hello").status_code == 404, "the DELETE on B")


def test_a_replica_started_later_loads_the_shared_stubs(replicas: Callable[..., list[Replica]]) -> None:
    (a,) = replicas(1)
    assert a.admin("POST", "stubs", json=[_stub("/late/1", 1), _stub("/late/2", 2)]).status_code == 201
    (b,) = replicas(1)
    assert b.client.get("/late/1").json() == 1 and b.client.get("/late/2").json() == 2
    assert a.client.get("/late/1").status_code == 200
    # the HAR export covers every replica (A's entry is there once A's writer has run: poll)
    har = poll(lambda: len(h := b.admin("GET", "logs.har").json()["log"]["entries"]) == 3 and h, "A's entry")
    assert {e["request"]["url"].rsplit("/", 2)[-2] for e in har} == {"late"}


def test_times_one_is_honoured_across_replicas(replicas: Callable[..., list[Replica]]) -> None:
    a, b = replicas(2)
    stub = _stub("/pets/{id}", {"once": True}, times=1, priority=1)
    assert a.admin("POST", "stubs", json=stub).status_code == 201
    poll(lambda: len(b.admin("GET", "stubs").json()["stubs"]) == 1, "the stub on B")

    def hit(i: int) -> Any:
        r = (a, b)[i % 2]
        with httpx.Client(base_url=r.url, timeout=30) as c:
            return c.get("/pets/7").json()

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(hit, range(40)))
    assert sum(1 for x in answers if x == {"once": True}) == 1
    # the other 39 came from the spec
    assert sum(1 for x in answers if isinstance(x, dict) and "name" in x) == 39
    metrics = a.admin("GET", "metrics").text
    assert "mockforge_shared_log_written_total" in metrics and "mockforge_shared_state_degraded 0.0" in metrics


def test_a_thousand_requests_over_replicas_are_each_in_the_shared_log_once(
        replicas: Callable[..., list[Replica]]) -> None:
    a, b, c = replicas(3)
    reps = (a, b, c)

    def hit(i: int) -> int:  # httpx.Client is thread-safe: one pool of connections per replica
        return reps[i % 3].client.get(f"/pets/{i + 1}", headers={"x-n": str(i)}).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(hit, range(1000)))
    assert codes == [200] * 1000
    verified = poll(lambda: (v := b.admin("POST", "verify", json={"request": {"method": "GET", "path": "/pets/{id}"},
                                                                    "count": {"exactly": 1000}}).json())["ok"] and v,
                    "1000 entries in the shared log")
    assert verified["count"] == 1000 and "scope" not in verified
    entries = c.admin("GET", "logs", params={"limit": 2000}).json()["entries"]
    assert len(entries) == 1000
    assert sorted(int(e["headers"]["x-n"]) for e in entries) == list(range(1000))
    assert len({e["id"] for e in entries}) == 1000


def test_a_scenario_transition_is_atomic_under_concurrent_requests(replicas: Callable[..., list[Replica]]) -> None:
    a, b = replicas(2)
    stubs = [
        {"request": {"method": "POST", "path": "/checkout"}, "response": {"status": 200, "body": "paid"},
         "scenario": {"name": "cart", "required_state": "Started", "new_state": "Paid"}},
        {"request": {"method": "POST", "path": "/checkout"}, "response": {"status": 409, "body": "already"},
         "scenario": {"name": "cart", "required_state": "Paid"}},
    ]
    assert a.admin("POST", "stubs", json=stubs).status_code == 201
    poll(lambda: len(b.admin("GET", "stubs").json()["stubs"]) == 2, "the stubs on B")

    def hit(i: int) -> int:
        with httpx.Client(base_url=(a, b)[i % 2].url, timeout=30) as cl:
            return cl.post("/checkout").status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(hit, range(30)))
    assert codes.count(200) == 1 and codes.count(409) == 29
    for r in (a, b):
        poll(lambda r=r: r.admin("GET", "scenarios").json()["scenarios"] == [{"name": "cart", "state": "Paid"}],
             "the state everywhere")
    assert b.admin("POST", "scenarios/reset").status_code == 200
    assert a.client.post("/checkout").status_code == 200


def test_near_misses_and_unmatched_are_read_from_every_replica(replicas: Callable[..., list[Replica]]) -> None:
    a, b = replicas(2, spec=False)
    assert a.admin("POST", "stubs", json=_stub("/orders/{id}", "o")).status_code == 201
    poll(lambda: b.client.get("/orders/1").status_code == 200, "the stub on B")
    assert a.admin("DELETE", "unmatched").status_code == 200  # B's misses while the stub was on its way
    assert a.client.get("/order/1").status_code == 404
    assert b.client.get("/nothing/here").status_code == 404
    unmatched = poll(lambda: len(x := a.admin("GET", "unmatched").json()["requests"]) == 2 and x, "both misses")
    assert [u["path"] for u in unmatched] == ["/order/1", "/nothing/here"]
    near = b.admin("GET", "near-misses").json()["near_misses"]
    assert near[0]["request"]["path"] == "/order/1" and near[0]["near_misses"][0]["stub"]
    assert b.admin("DELETE", "unmatched").status_code == 200
    assert a.admin("GET", "unmatched").json()["requests"] == []


def test_reset_on_one_replica_clears_what_is_shared(replicas: Callable[..., list[Replica]]) -> None:
    a, b = replicas(2)
    assert a.admin("POST", "stubs", json=_stub("/r", "x")).status_code == 201
    poll(lambda: b.client.get("/r").status_code == 200, "the stub on B")
    assert b.admin("POST", "reset").status_code == 200
    poll(lambda: a.client.get("/r", headers={"x-after": "1"}).status_code == 404, "the reset on A")
    logs = a.admin("GET", "logs").json()["entries"]  # only what came after the reset: A's polls
    assert logs and all(e["headers"].get("x-after") == "1" for e in logs)
    assert logs[0]["status"] == 404


def test_a_websocket_push_reaches_connections_on_every_replica(replicas: Callable[..., list[Replica]],
                                                                tmp_path: Any) -> None:
    from websockets.sync.client import connect

    config = tmp_path / "ws.yaml"
    config.write_text('websocket:\n  routes:\n    - {path: "/ws", mode: echo}\n')
    a, b, c = replicas(3, extra=("--config", str(config)))
    with connect(f"ws://127.0.0.1:{b.port}/ws") as on_b, connect(f"ws://127.0.0.1:{c.port}/ws") as on_c:
        poll(lambda: b.admin("GET", "ws/connections").json()["count"] == 1, "the connection on B")
        sent = a.admin("POST", "ws/send", json={"path": "/ws", "text": "to everyone"})
        assert sent.status_code == 200 and sent.json() == {"sent": 0, "replicas": 2}
        assert on_b.recv(timeout=30) == "to everyone"
        assert on_c.recv(timeout=30) == "to everyone"
        conn_id = b.admin("GET", "ws/connections").json()["connections"][0]["id"]
        one = c.admin("POST", "ws/send", json={"path": "/ws", "binary_base64": "AAEC", "connection_id": conn_id})
        assert one.status_code == 200 and one.json()["sent"] == 0
        assert on_b.recv(timeout=30) == b"\x00\x01\x02"
        on_c.send("echo?")  # C's own connection still answers locally, and got nothing meant for B
        assert on_c.recv(timeout=30) == "echo?"


def test_a_large_batch_of_stubs_reaches_the_other_replica_whole(replicas: Callable[..., list[Replica]]) -> None:
    a, b = replicas(2, spec=False)
    batch = [_stub(f"/many/{i}", i) for i in range(1500)]  # past MAX_EVENT_IDS: B reloads everything
    assert a.admin("POST", "stubs", json=batch).status_code == 201
    poll(lambda: len(b.admin("GET", "stubs").json()["stubs"]) == 1500, "1500 stubs on B")
    assert b.client.get("/many/1499").json() == 1499
