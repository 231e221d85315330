from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime, timedelta

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog


def req(path: str = "/pets/1", method: str = "GET", body: bytes = b"", headers: list[tuple[str, str]] | None = None
        ) -> Request:
    return Request(protocol="http", method=method, path=path, raw_query="a=1&a=2&b=",
                   headers=Headers(headers or [("Accept", "application/json")]), body=body, client="127.0.0.1:1")


def add(log: RequestLog, path: str = "/pets/1", status: int = 200, method: str = "GET") -> None:
    log.append(log.entry_for(req(path, method), Response(status=status, body=b"{}"), 1.5))


def test_ring_buffer_evicts_oldest_and_counts() -> None:
    log = RequestLog(3)
    for i in range(5):
        add(log, f"/p/{i}")
    assert [e.path for e in log.snapshot()] == ["/p/2", "/p/3", "/p/4"]
    assert log.evicted == 2


def test_entry_shape_and_redaction() -> None:
    log = RequestLog(10, max_body_bytes=4, redact=["X-Secret"])
    request = req(body=b"0123456789", headers=[("Authorization", "Bearer t"), ("Cookie", "a=b"),
                                                ("X-Api-Key", "k"), ("x-secret", "s"), ("Accept", "*/*")])
    e = log.entry_for(request, Response(status=404, body=b"nope"), 2.0)
    assert e.headers == {"authorization": "<redacted>", "cookie": "<redacted>", "x-api-key": "<redacted>",
                         "x-secret": "<redacted>", "accept": "*/*"}
    assert e.query == {"a": ["1", "2"], "b": [""]}
    assert (e.status, e.status_text, e.body_excerpt, e.body_truncated) == (404, "Not Found", "0123", True)
    assert e.protocol == "http" and e.timestamp.endswith("Z") and e.response_bytes == 4


def test_query_filters_apply_before_limit_newest_first() -> None:
    log = RequestLog(100)
    for i in range(10):
        add(log, f"/pets/{i}", status=200 if i % 2 else 404)
    add(log, "/owners/1", method="POST")
    out = log.query(path="/pets/*", status=404, limit=2)
    assert [e.path for e in out] == ["/pets/8", "/pets/6"]
    assert [e.path for e in log.query(method="post")] == ["/owners/1"]
    assert [e.path for e in log.query(path_regex=r"^/pets/[13]$")] == ["/pets/3", "/pets/1"]
    future = datetime.now(UTC) + timedelta(hours=1)
    assert log.query(since=future) == []


def test_bytes_per_entry_is_about_a_kilobyte() -> None:
    log = RequestLog(1000)
    headers = [("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"), ("accept", "application/json"),
               ("authorization", "Bearer abc.def.ghi"), ("x-request-id", "4bf92f3577b34da6a3ce929d0e0e4736"),
               ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1000):
        r = Request(protocol="http", method="POST", path=f"/api/v1/users/{i}/orders", raw_query="page=2",
                    headers=Headers(headers), body=b'{"item": "x", "qty": 3}' * 20, client="127.0.0.1:5000")
        log.append(log.entry_for(r, Response(status=201, body=b"{}"), 1.0))
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / 1000
    tracemalloc.stop()
    assert 300 < per_entry < 1500, per_entry


def test_one_builder_a_recorded_entry_reads_the_same_as_one_built_at_once() -> None:
    """HTTP records (settled on read) and WebSocket/gRPC entries (``entry_for``) come from the
    same ``capture``: the same exchange gives the same entry, id and timestamp aside."""
    import msgspec

    log = RequestLog(10, max_body_bytes=8, max_header_bytes=40, redact=["x-secret"])
    headers = [("Authorization", "Bearer t"), ("x-secret", "s"), ("Accept", "*/*"), ("X-Long", "v" * 60)]
    request = req(body="héllo wörld".encode(), headers=headers)
    request.route = "/pets/{id}"
    response = Response(status=201, body=b"\xc3\xa9" * 40, source="stub:s1")
    built = log.entry_for(request, response, 1.23456, response_bytes=80)
    log.record(request, response, 1.23456, 80)
    recorded = log.snapshot()[-1]
    assert type(recorded) is type(built)
    a, b = msgspec.to_builtins(built), msgspec.to_builtins(recorded)
    for key in ("id", "timestamp"):
        a.pop(key), b.pop(key)
    assert a == b
    assert built.truncated and built.body_truncated and built.body_excerpt == "héllo w"
    assert built.response_excerpt == "é" * 4 and built.duration_ms == 1.235
    assert built.headers["authorization"] == "<redacted>" and built.headers["x-secret"] == "<redacted>"
    assert log.headers_truncated == 2


def test_listeners_see_the_final_fields_before_the_entry_is_read() -> None:
    log = RequestLog(10)
    seen: list[tuple[str, int, str, float, str]] = []
    log.logged.subscribe(lambda e: seen.append((e.protocol, e.status, e.status_text, e.duration_ms, e.matched)))
    log.record(req(), Response(status=404, source="mockforge"), 2.0, 0)
    grpc = Request(protocol="grpc", method="pkg.S/M", path="/pkg.S/M")
    log.record(grpc, Response(status=5, source="spec"), 1.0, 0, status=5, status_text="NOT_FOUND")
    assert seen == [("http", 404, "Not Found", 2.0, "mockforge"), ("grpc", 5, "NOT_FOUND", 1.0, "spec")]
    assert [e.status_text for e in log.snapshot()] == ["Not Found", "NOT_FOUND"]
