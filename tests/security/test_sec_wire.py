"""Issue 12, the HTTP wire: unauthenticated clients cannot hold memory, descriptors or time.

Each test reproduces an attack from the issue against a listener with small limits, over real
sockets on 127.0.0.1, and checks the answer's bytes and the listener's counters. Timeouts are
set to a few hundred milliseconds; deadlines below are generous liveness bounds, not timings.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from mockforge.core.model import Request, Response
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp
from mockforge.http.wire_limits import WireLimits
from mockforge.testing.server import MockServer

LIVENESS_S = 30.0


class EchoApp(PlainApp):
    max_body_bytes = 1000

    def __init__(self) -> None:
        self.logged: list[tuple[str, int]] = []
        self.handled = 0

    async def handle(self, request: Request) -> Response:
        self.handled += 1
        body = f"{request.method} {request.path} {len(request.body)}".encode()
        return Response(status=200, headers=[("content-type", "text/plain")], body=body)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        self.logged.append((request.path, response.status))


async def start(limits: WireLimits) -> tuple[EchoApp, HttpListener]:
    app = EchoApp()
    listener = HttpListener(app, "127.0.0.1", 0, limits)
    await listener.start()
    return app, listener


@pytest.fixture
async def small() -> AsyncIterator[tuple[EchoApp, HttpListener]]:
    app, listener = await start(WireLimits(max_header_bytes=4096, max_headers=10, max_request_line_bytes=1024,
                                           header_timeout_s=30, keepalive_timeout_s=30, body_timeout_s=30))
    yield app, listener
    await listener.stop(1.0)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    """Everything until the server closes (bounded by the liveness deadline)."""
    return await asyncio.wait_for(reader.read(-1), LIVENESS_S)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


async def test_unfinished_head_over_the_limit_gets_431_while_it_arrives(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    # 16 KiB of one header value, never finished: the old layer kept waiting (and buffering).
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nX-Flood: ")
    for _ in range(4):
        writer.write(b"a" * 4096)
        await writer.drain()
    status, headers, body = parse(await read_all(reader))
    assert status == 431 and headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert listener.state.headers_too_large == 1 and app.handled == 0
    writer.close()


async def test_complete_head_over_the_limit_gets_431(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 5000 + b"\r\n\r\n")
    status, _, body = parse(await read_all(reader))
    assert status == 431 and b"max_header_bytes" in body and app.handled == 0
    writer.close()


async def test_head_near_the_limit_across_reads_is_served(small) -> None:  # type: ignore[no-untyped-def]
    _, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    head = b"GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Fill: " + b"f" * 3900 + b"\r\n\r\n"
    for i in range(0, len(head), 500):  # in pieces, so the head spans many reads
        writer.write(head[i : i + 500])
        await writer.drain()
        await asyncio.sleep(0)
    status, _, body = parse(await read_all(reader))
    assert (status, body) == (200, b"GET /ok 0")
    writer.close()


async def test_many_pipelined_requests_in_one_read_are_not_mistaken_for_a_big_head(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    one = b"GET /p%d HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"q" * 60 + b"\r\n\r\n"
    burst = b"".join(one % i for i in range(100))  # about 10 KB, over max_header_bytes (4096)
    last = b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    writer.write(burst + last[:20])  # the last head is cut at the end of the read...
    await writer.drain()
    await _poll(lambda: app.handled == 100, "the first 100 are answered")
    writer.write(last[20:])  # ...and finished in the next one
    raw = await read_all(reader)
    assert raw.count(b"HTTP/1.1 200 ") == 101 and raw.endswith(b"GET /last 0")
    assert listener.state.headers_too_large == 0
    writer.close()


async def test_too_many_header_lines_get_431(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(11)) + b"\r\n")
    status, _, body = parse(await read_all(reader))
    assert status == 431 and b"max_headers" in body and app.handled == 0
    writer.close()


async def test_long_request_target_gets_414(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"GET /" + b"p" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    status, _, body = parse(await read_all(reader))
    assert status == 414 and json.loads(body)["error"]["code"] == "uri_too_long"
    assert listener.state.uri_too_long == 1 and app.handled == 0
    writer.close()


async def test_slowloris_head_is_closed_with_408() -> None:
    app, listener = await start(WireLimits(header_timeout_s=0.2))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: dri")  # and nothing more
        status, headers, body = parse(await read_all(reader))
        assert status == 408 and headers["connection"] == "close" and b"header_timeout_ms" in body
        # a connection that never sends a byte is closed too (no answer owed)
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", listener.port)
        assert await read_all(reader2) == b""
        assert listener.state.request_timeouts == 1 and app.handled == 0
        writer.close()
        writer2.close()
    finally:
        await listener.stop(1.0)


async def test_slow_body_is_closed_with_408() -> None:
    app, listener = await start(WireLimits(body_timeout_s=0.2))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        status, _, body = parse(await read_all(reader))
        assert status == 408 and b"body_timeout_ms" in body and app.handled == 0
        writer.close()
    finally:
        await listener.stop(1.0)


async def test_idle_keep_alive_connection_is_closed() -> None:
    _, listener = await start(WireLimits(keepalive_timeout_s=0.2))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n")
        raw = await read_all(reader)  # the answer, then the close when idle
        status, headers, body = parse(raw)
        assert (status, body) == (200, b"GET /one 0") and "connection" not in headers
        assert listener.state.idle_closed == 1
        writer.close()
    finally:
        await listener.stop(1.0)


async def test_content_length_over_the_limit_gets_413_before_the_body(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    # Headers only: the old layer waited for 5000 body bytes before answering.
    writer.write(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
    status, headers, body = parse(await read_all(reader))
    assert status == 413 and headers["connection"] == "close"
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert app.logged == [("/big", 413)] and listener.state.bodies_too_large == 1
    writer.close()


async def test_expect_continue_over_the_limit_gets_413_not_100(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    raw = await read_all(reader)
    assert raw.startswith(b"HTTP/1.1 413 ") and b"100 Continue" not in raw
    assert app.handled == 0
    writer.close()


async def test_chunked_body_gets_413_as_soon_as_it_passes_the_limit(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    # 1200 bytes in two chunks, and no final chunk: the answer must not wait for the end.
    writer.write(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + (b"258\r\n" + b"z" * 600 + b"\r\n") * 2)
    status, _, body = parse(await read_all(reader))
    assert status == 413 and b"max_body_bytes" in body and app.handled == 0
    writer.close()


async def test_real_client_sending_a_huge_body_reads_the_413(small) -> None:  # type: ignore[no-untyped-def]
    _, listener = small
    async with httpx.AsyncClient(timeout=LIVENESS_S) as client:
        resp = await client.post(f"http://127.0.0.1:{listener.port}/big", content=b"x" * (2 << 20))
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"


async def test_pipelined_requests_after_a_refusal_are_not_served(small) -> None:  # type: ignore[no-untyped-def]
    app, listener = small
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"GET /first HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"GET /" + b"p" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"GET /never HTTP/1.1\r\nHost: t\r\n\r\n")
    raw = await read_all(reader)
    first, _, rest = raw.partition(b"GET /first 0")
    assert first.startswith(b"HTTP/1.1 200 ") and rest.startswith(b"HTTP/1.1 414 ")
    assert b"never" not in raw and app.handled == 1
    writer.close()


# ---- connection cap with a reserved health slot, on the real server ----------------------


async def _slow_client(port: int) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n")  # a head that never ends
    await writer.drain()
    return writer


async def _poll(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + LIVENESS_S
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


async def test_full_listener_answers_503_but_health_still_answers() -> None:
    config = {
        "http": {"max_connections": 3, "routes": [
            {"id": "mock", "request": {"method": "GET", "path": "/mock"}, "response": {"body": {"ok": True}}},
        ]},
    }
    async with MockServer(config=config) as mock:
        state = mock.runtime.wire_counters["http"]
        assert mock.server.wire_states()["http"] is state and state.limits.max_connections == 3
        port = mock.ports["http"]
        slow = [await _slow_client(port) for _ in range(3)]
        await _poll(lambda: len(state.connections) == 3, "the slow clients are connected")
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=mock.url, timeout=LIVENESS_S, limits=limits) as client:
            health = await client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert health.headers["connection"] == "close"
            busy = await client.get("/mock")
            assert busy.status_code == 503 and busy.headers["connection"] == "close"
            assert busy.json()["error"]["code"] == "too_many_connections"
            assert "max_connections" in busy.json()["error"]["message"]
            # while a slow client holds the reserved slot too, others are refused unread
            slow.append(await _slow_client(port))
            await _poll(lambda: state.reserved is not None, "the reserved slot is taken")
            refused = await client.get("/mock")
            assert refused.status_code == 503
            assert state.connections_refused == 2
            for writer in slow:
                writer.close()
            await _poll(lambda: not state.connections, "the slow clients are gone")
            again = await client.get("/mock")
            assert again.status_code == 200 and again.json() == {"ok": True}
        assert state.counters()["connections_refused"] == 2


class EndlessApp(PlainApp):
    """An endless streamed answer (the console's live feed is one) for a client that never reads."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    async def handle(self, request: Request) -> Response:
        async def gen() -> AsyncIterator[bytes]:
            try:
                while True:
                    yield b"x" * 65536
            finally:
                self.closed.set()

        if request.path == "/big":
            return Response(status=200, headers=[("content-type", "text/plain")], body=b"y" * (16 * 1024 * 1024))
        return Response(status=200, headers=[("content-type", "text/plain")], stream=gen())


@pytest.mark.parametrize("path", ["/stream", "/big"])
async def test_a_client_that_never_reads_an_answer_is_cut_after_the_keepalive_timeout(path: str) -> None:
    app = EndlessApp()
    listener = HttpListener(app, "127.0.0.1", 0, WireLimits(keepalive_timeout_s=0.3))
    await listener.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", listener.port, limit=1024)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        deadline = time.monotonic() + LIVENESS_S
        while listener.state.stalled_writes_cut == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # polling the counter, the client reads nothing meanwhile
        assert listener.state.stalled_writes_cut == 1
        assert listener.state.counters()["stalled_writes_cut"] == 1
        if path == "/stream":
            await asyncio.wait_for(app.closed.wait(), LIVENESS_S)  # the generator was closed: no slot held
        writer.close()
    finally:
        await listener.stop(1.0)
