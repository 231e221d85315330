"""WebSocket flood bounds (issue 12, item 4), over real sockets on 127.0.0.1.

The reproduction: a client that completes the handshake and then stops reading, while it sends
1 MB messages to an echo route, made the server queue every echo (the queue counted messages, not
bytes: 256 x 1 MB). Now the queue is bounded in bytes as well (``websocket.send_queue_bytes``): the
server's memory stays near the bound, the client is closed with 1008 and a reason, and other
clients keep being served.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.protocol import State

from mockforge.config import build_config
from mockforge.http.listener import HttpListener
from mockforge.runtime import Runtime
from mockforge.ws.hub import WebSocketHub
from mockforge.ws.listener import WsOnlyApp

LIVENESS_S = 30.0
MB = 1_000_000


@dataclass
class Mock:
    hub: WebSocketHub
    runtime: Runtime
    port: int

    def url(self, path: str = "/ws") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def closes(self) -> list[Any]:
        return [e for e in self.runtime.log.snapshot() if e.method == "CLOSE"]


@asynccontextmanager
async def running(routes: list[dict[str, Any]], **limits: Any) -> AsyncIterator[Mock]:
    runtime = Runtime(build_config({"websocket": {"routes": routes, **limits}}, env={}))
    hub = WebSocketHub(runtime)
    listener = HttpListener(WsOnlyApp(hub), "127.0.0.1", 0)
    port = await listener.start()
    try:
        yield Mock(hub, runtime, port)
    finally:
        await hub.close_all(timeout=1.0)
        await listener.stop(1.0)


async def eventually(check: Callable[[], bool], timeout: float = LIVENESS_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the liveness deadline")
        await asyncio.sleep(0.01)


async def raw_client(port: int, path: str = "/ws") -> socket.socket:
    """A non-blocking socket with a small receive buffer that has completed the handshake."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1), LIVENESS_S)  # not a byte past the head
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


def client_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """A masked, unfragmented client frame; the zero mask key leaves the payload as it is."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + b"\x00\x00\x00\x00" + payload


async def read_until_close_frame(sock: socket.socket) -> tuple[int, str]:
    """Skip the echoes the server still had for us; the code and reason of its close frame."""
    loop = asyncio.get_running_loop()
    buf = bytearray()
    deadline = time.monotonic() + LIVENESS_S
    while True:
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, at = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, at = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < at + n:
                break
            payload = bytes(buf[at : at + n])
            del buf[: at + n]
            if opcode == 0x8:
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()
        assert time.monotonic() < deadline, "no close frame before the liveness deadline"
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), LIVENESS_S)
        assert chunk, "the server closed TCP before sending its close frame"
        buf += chunk


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def only_session(hub: WebSocketHub) -> Any:
    sessions = list(hub._sessions.values())
    return sessions[0] if len(sessions) == 1 else None


# ---- the reproduction: a slow reader of 1 MB echoes ----------------------------------------


async def test_a_reader_that_stops_reading_1mb_echoes_is_closed_and_memory_stays_bounded() -> None:
    async with running([{"path": "/ws", "mode": "echo"}], max_message_bytes=2 * MB) as m:
        m.hub.close_timeout_s = LIVENESS_S  # keep the socket until we read the close frame
        loop = asyncio.get_running_loop()
        frame = client_frame(b"m" * MB)
        sock = await raw_client(m.port)
        session = only_session(m.hub)
        before = peak = rss()
        sent = 0
        try:
            for _ in range(64):  # 64 MB; the queue of the code before held every echo
                await asyncio.wait_for(loop.sock_sendall(sock, frame), LIVENESS_S)
                sent += 1
                peak = max(peak, rss())
                if session.proto.state is not State.OPEN:
                    break
            # the server's growth stays near send_queue_bytes (4 MiB by default), far from what was sent
            assert peak - before < 32 * MB, f"RSS grew {(peak - before) / MB:.1f} MB for {sent} MB sent"
            await eventually(lambda: session.proto.state is not State.OPEN)
            assert sent < 64
            assert m.hub.slow_readers_closed == 1

            # other clients keep working while the slow one is being closed
            async with connect(m.url()) as other:
                await other.send("still here")
                assert await asyncio.wait_for(other.recv(), LIVENESS_S) == "still here"

            code, reason = await read_until_close_frame(sock)
            assert code == 1008
            assert reason == "send queue full (bytes): client reads too slowly"
            await loop.sock_sendall(sock, client_frame(struct.pack("!H", 1000), opcode=0x8))
            await eventually(lambda: m.hub.connections() == [])
            assert m.closes()[-1].status == 1008
            assert m.closes()[-1].body_excerpt == reason
        finally:
            sock.close()


async def test_pushes_to_a_slow_reader_are_bounded_in_bytes_before_the_message_count() -> None:
    async with running([{"path": "/ws"}], send_queue_bytes=256 * 1024) as m:
        assert m.hub.send_queue_limit == 256  # the message bound is far away
        m.hub.close_timeout_s = 0.2
        sock = await raw_client(m.port)
        try:
            chunk = b"z" * 65536
            sent = 0
            for _ in range(256):
                if await m.hub.send("/ws", binary=chunk) == 0:
                    break
                sent += 1
            # 256 KiB of queue plus what the socket buffers took: a few dozen 64 KiB pushes
            assert 0 < sent < 128, sent
            await eventually(lambda: bool(m.closes()))
            assert m.closes()[-1].status == 1008
            assert m.closes()[-1].body_excerpt == "send queue full (bytes): client reads too slowly"
            assert m.hub.connections() == []
        finally:
            sock.close()


async def test_a_script_inbox_keeps_the_newest_messages_within_the_byte_bound(tmp_path: Any) -> None:
    script = tmp_path / "wait.jsonl"
    script.write_text('{"ts": 600000, "dir": "out", "text": "too late"}\n')  # never reads its inbox in time
    route = {"path": "/s", "mode": "script", "script": str(script)}
    async with running([route], send_queue_bytes=300_000) as m, connect(m.url("/s")) as ws:
        for i in range(40):
            await ws.send(f"{i:03d}".encode() + b"x" * 99_997)  # 100 kB each, 4 MB in all
        await eventually(lambda: only_session(m.hub) is not None and only_session(m.hub).messages_in == 40)
        session = only_session(m.hub)
        kept = [(entry[0] if isinstance(entry, tuple) else entry).data[:3] for entry in session._inbox]
        assert kept == [b"037", b"038", b"039"]  # 3 x 100 kB fit in 300,000 bytes
        assert session._inbox_bytes == 300_000


# ---- floods of connections are bounded by websocket.max_connections ------------------------


async def test_a_flood_of_connections_is_refused_past_max_connections_and_counted() -> None:
    async with running([{"path": "/ws"}], max_connections=20) as m:
        socks = [await raw_client(m.port) for _ in range(20)]
        try:
            for _ in range(5):
                with pytest.raises(InvalidStatus) as refused:
                    async with connect(m.url()):
                        pass
                assert refused.value.response.status_code == 503
            assert m.hub.connections_refused == 5
            socks.pop().close()
            await eventually(lambda: len(m.hub.connections()) == 19)
            async with connect(m.url()) as ws:
                await ws.send("a slot came free")
                assert await asyncio.wait_for(ws.recv(), LIVENESS_S) == "a slot came free"
        finally:
            for s in socks:
                s.close()
