"""The HTTP/1.1 wire layer over real sockets: framing, keep-alive, pipelining, limits, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from mockforge.core.model import Request, Response
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp


class EchoApp(PlainApp):
    max_body_bytes = 1000

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.release.set()
        self.logged: list[tuple[str, int]] = []

    async def handle(self, request: Request) -> Response:
        if request.path == "/slow":
            await self.release.wait()
        if request.path == "/stream":
            async def gen():  # type: ignore[no-untyped-def]
                for part in (b"one,", b"two,", b"three"):
                    yield part
            return Response(status=200, headers=[("content-type", "text/plain")], stream=gen())
        body = f"{request.method} {request.path}?{request.raw_query} {len(request.body)}".encode()
        return Response(status=200, headers=[("content-type", "text/plain")], body=body)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        self.logged.append((request.path, response.status))


@pytest.fixture
async def server():  # type: ignore[no-untyped-def]
    app = EchoApp()
    listener = HttpListener(app, "127.0.0.1", 0)
    port = await listener.start()
    yield app, listener, port
    await listener.stop(1.0)


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    return lines[0].encode(), headers, body


async def test_keep_alive_and_pipelining_answer_in_order(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                 b"GET /c HTTP/1.1\r\nHost: t\r\n\r\n")
    bodies = [(await read_response(reader))[2] for _ in range(3)]
    assert bodies == [b"GET /a?x=1 0", b"POST /b? 3", b"GET /c? 0"]
    writer.close()


async def test_chunked_request_body_and_streamed_response(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert (await read_response(reader))[2] == b"POST /x? 5"
    writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
    _status, headers, body = await read_response(reader)
    assert headers["transfer-encoding"] == "chunked" and body == b"one,two,three"
    writer.close()


async def test_body_over_limit_gets_413_in_error_shape(server) -> None:  # type: ignore[no-untyped-def]
    app, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000)
    status, headers, body = await read_response(reader)
    assert status.startswith(b"HTTP/1.1 413")
    assert b'"code":"payload_too_large"' in body and headers["connection"] == "close"
    assert ("/big", 413) in app.logged
    writer.close()


async def test_chunked_body_over_limit_gets_413(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    chunk = b"3e8\r\n" + b"y" * 1000 + b"\r\n"
    writer.write(b"POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n")
    status, _, _ = await read_response(reader)
    assert status.startswith(b"HTTP/1.1 413")
    writer.close()


async def test_expect_continue(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PUT /e HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"ok")
    assert (await read_response(reader))[2] == b"PUT /e? 2"
    writer.close()


async def test_malformed_request_gets_400_and_server_keeps_serving(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x00\x01 garbage\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status.startswith(b"HTTP/1.1 400") and b"malformed" in body
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /fine HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await read_response(reader))[2] == b"GET /fine? 0"
    writer.close()


async def test_head_has_length_but_no_body(server) -> None:  # type: ignore[no-untyped-def]
    _, _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    assert b"content-length: 10" in head
    assert (await read_response(reader))[2] == b"GET /after? 0"
    writer.close()


async def test_graceful_stop_lets_in_flight_request_finish(server) -> None:  # type: ignore[no-untyped-def]
    app, listener, port = server
    app.release.clear()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    deadline = asyncio.get_running_loop().time() + 5
    while not any(not c.idle for c in listener.state.connections):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    stopping = asyncio.create_task(listener.stop(5.0))
    await asyncio.sleep(0)
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    app.release.set()
    _status, headers, body = await read_response(reader)
    assert body == b"GET /slow? 0" and headers.get("connection") == "close"
    await stopping
    writer.close()
