"""WebSocket mocks over real sockets with a real client (``websockets``): echo, JSON echo,
scripts, rules, push, limits and bad input, on the WS-only port and on an HTTP port."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mockforge.config import build_config
from mockforge.core.connection import UpgradedConnection
from mockforge.core.model import Request, Response
from mockforge.core.responses import error_response
from mockforge.http.listener import HttpListener
from mockforge.runtime import Runtime
from mockforge.ws.hub import WebSocketHub
from mockforge.ws.listener import WsOnlyApp

ADMIN = "/__mockforge/"


class HttpPortApp:
    """Stands for the HTTP port: upgrades and ``/__mockforge/ws/*`` go to the hub."""

    max_body_bytes = 1 << 20

    def __init__(self, hub: WebSocketHub) -> None:
        self.hub = hub

    async def handle(self, request: Request) -> Response:
        if request.path.startswith(ADMIN):
            answered = await self.hub.admin(request, request.path[len(ADMIN) :])
            if answered is not None:
                return answered
        return error_response(404, "not_found", f"nothing at {request.path}")

    def wants_upgrade(self, request: Request) -> bool:
        return (request.headers.get("upgrade") or "").lower() == "websocket" and self.hub.wants(request.path)

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        return await self.hub.upgrade(request, conn)

    def error_response(self, status: int, code: str, message: str) -> Response:
        return error_response(status, code, message)

    def log_exchange(self, request: Request, response: Response, started: float, sent: int) -> None:
        pass


@dataclass
class Mock:
    hub: WebSocketHub
    runtime: Runtime
    ws_port: int
    http_port: int

    def url(self, path: str, port: str = "ws") -> str:
        return f"ws://127.0.0.1:{self.ws_port if port == 'ws' else self.http_port}{path}"

    def log(self, method: str | None = None) -> list[Any]:
        return [e for e in self.runtime.log.snapshot() if method is None or e.method == method]


@asynccontextmanager
async def running(routes: list[dict[str, Any]], **limits: Any) -> AsyncIterator[Mock]:
    config = build_config({"websocket": {"routes": routes, **limits}}, env={})
    runtime = Runtime(config)
    hub = WebSocketHub(runtime)
    ws_listener = HttpListener(WsOnlyApp(hub), "127.0.0.1", 0)
    http_listener = HttpListener(HttpPortApp(hub), "127.0.0.1", 0)
    ws_port = await ws_listener.start()
    http_port = await http_listener.start()
    try:
        yield Mock(hub, runtime, ws_port, http_port)
    finally:
        await hub.close_all(timeout=1.0)
        await ws_listener.stop(1.0)
        await http_listener.stop(1.0)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


async def recv(ws: ClientConnection, timeout: float = 5.0) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), timeout)


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int | None, str | None]:
    """Read until the server closes; the close code and reason it sent."""
    with pytest.raises(ConnectionClosed):
        while True:
            await recv(ws, timeout)
    return ws.close_code, ws.close_reason


def write_script(tmp_path: Path, lines: list[Any], name: str = "script.jsonl") -> str:
    path = tmp_path / name
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return str(path)


# ---- echo and JSON echo --------------------------------------------------------------------


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_echo_answers_each_text_and_binary_frame_with_the_same_frame(port: str) -> None:
    async with running([{"path": "/ws", "mode": "echo"}]) as m, connect(m.url("/ws", port)) as ws:
        await ws.send("hello")
        assert await recv(ws) == "hello"
        await ws.send(b"\x00\x01\xff")
        assert await recv(ws) == b"\x00\x01\xff"
        await ws.send(["frag", "mented"])  # a fragmented text message
        assert await recv(ws) == "fragmented"
        pong = await ws.ping(b"p")
        await asyncio.wait_for(pong, 5)


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_json_echo_wraps_the_message_with_type_timestamp_and_parsed_data(port: str) -> None:
    async with running([{"path": "/j", "mode": "json_echo"}]) as m, connect(m.url("/j", port)) as ws:
        await ws.send('{"a": {"b": [1, 2]}}')
        first = json.loads(await recv(ws))
        await ws.send("plain words")
        second = json.loads(await recv(ws))
    assert first["type"] == "echo" and first["data"] == {"a": {"b": [1, 2]}}
    assert datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    assert second["data"] == "plain words"


# ---- scripts -------------------------------------------------------------------------------


async def test_script_sends_out_lines_in_order_at_their_ts_offsets(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        [
            {"ts": 0, "dir": "out", "text": "first"},
            {"ts": 200, "dir": "out", "text": "second"},
            {"ts": 400, "dir": "out", "text": "third"},
        ],
    )
    async with running([{"path": "/s", "mode": "script", "script": script}]) as m, connect(m.url("/s")) as ws:
        got = []
        for _ in range(3):
            got.append((await recv(ws), time.monotonic()))
    assert [text for text, _ in got] == ["first", "second", "third"]
    gap1, gap2 = got[1][1] - got[0][1], got[2][1] - got[1][1]
    assert 0.12 < gap1 < 0.6 and 0.12 < gap2 < 0.6, (gap1, gap2)


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_script_regex_wait_for_skips_messages_that_do_not_match(tmp_path: Path, port: str) -> None:
    script = write_script(
        tmp_path,
        [
            {"ts": 0, "text": "ready"},
            {"dir": "in", "waitFor": "^hello \\w+$"},
            {"text": "got {{message}}"},
        ],
    )
    async with running([{"path": "/s", "mode": "script", "script": script}]) as m:
        async with connect(m.url("/s", port)) as ws:
            assert await recv(ws) == "ready"
            await ws.send("noise")
            await ws.send("hello bob")
            assert await recv(ws) == "got hello bob"
        await eventually(lambda: not m.hub.connections())


async def test_script_jsonpath_wait_for_compares_and_fills_message_tokens(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        [
            {"dir": "in", "waitFor": "$.type == 'join'"},
            {"text": '{"joined": "{{message.room}}", "user": "{{request.query.user}}"}'},
            {"dir": "in", "waitFor": "$.user.id"},
            {"text": "id={{message.user.id}}"},
        ],
    )
    route = {"path": "/s", "mode": "script", "script": script}
    async with running([route]) as m, connect(m.url("/s") + "?user=ann") as ws:
        await ws.send('{"type": "chat", "room": "wrong"}')
        await ws.send("not json")
        await ws.send('{"type": "join", "room": "r1"}')
        assert json.loads(await recv(ws)) == {"joined": "r1", "user": "ann"}
        await ws.send('{"user": {"name": "x"}}')
        await ws.send('{"user": {"id": 42}}')
        assert await recv(ws) == "id=42"


async def test_script_wait_timeout_closes_with_1011_and_a_reason(tmp_path: Path) -> None:
    line = {"dir": "in", "waitFor": "^go$", "timeout_ms": 150, "on_timeout": "close"}
    script = write_script(tmp_path, [line])
    async with running([{"path": "/s", "mode": "script", "script": script}]) as m, connect(m.url("/s")) as ws:
        started = time.monotonic()
        await ws.send("not go")
        code, reason = await closed_with(ws)
    assert code == 1011
    assert reason is not None and "line 1" in reason and "timed out" in reason
    assert time.monotonic() - started > 0.1  # waited for the timeout (a lower bound only)


async def test_script_timeout_continue_and_route_default_timeout(tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        [
            {"dir": "in", "waitFor": "^go$", "on_timeout": "continue"},
            {"text": "moved on"},
            {"close": {"code": 4001, "reason": "done"}},
        ],
    )
    routes = [{"path": "/s", "mode": "script", "script": script, "timeout_ms": 100}]
    async with running(routes) as m, connect(m.url("/s")) as ws:
        assert await recv(ws) == "moved on"
        assert await closed_with(ws) == (4001, "done")


async def test_script_binary_lines_and_a_repeating_ticker_then_close(tmp_path: Path) -> None:
    blob = bytes(range(10))
    script = write_script(
        tmp_path,
        [
            {"ts": 0, "binary": base64.b64encode(blob).decode()},
            {
                "ts": 0,
                "text": "tick {{randInt 1 9}}",
                "repeat": {"from_line": 2, "times": 3, "interval_ms": 60},
            },
            {"close": {"code": 1000, "reason": "bye"}},
        ],
    )
    async with running([{"path": "/s", "mode": "script", "script": script}]) as m, connect(m.url("/s")) as ws:
        assert await recv(ws) == blob
        ticks = [await recv(ws) for _ in range(3)]
        assert await closed_with(ws) == (1000, "bye")
    assert all(isinstance(t, str) and t.startswith("tick ") and t[5:].isdigit() for t in ticks)


async def test_invalid_script_line_is_reported_with_file_and_line_and_path_not_served(tmp_path: Path) -> None:
    bad = write_script(tmp_path, [{"text": "ok"}, '{"dir": "sideways", "text": "x"}'], "bad.jsonl")
    routes = [{"path": "/bad", "mode": "script", "script": bad}, {"path": "/ok", "mode": "echo"}]
    async with running(routes) as m:
        assert len(m.hub.problems) == 1
        problem = m.hub.problems[0]
        assert "bad.jsonl at line 2" in problem and "dir" in problem and "/bad" in problem
        assert not m.hub.wants("/bad")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(m.url("/bad")):
                pass
        assert refused.value.response.status_code == 404
        async with connect(m.url("/ok")) as ws:
            await ws.send("still here")
            assert await recv(ws) == "still here"


async def test_a_forever_ticker_stops_when_the_client_leaves(tmp_path: Path) -> None:
    line = {"ts": 0, "text": "tick", "repeat": {"from_line": 1, "times": 0, "interval_ms": 20}}
    script = write_script(tmp_path, [line])
    async with running([{"path": "/t", "mode": "script", "script": script}]) as m:
        async with connect(m.url("/t")) as ws:
            assert [await recv(ws) for _ in range(5)] == ["tick"] * 5
            (session,) = m.hub.sessions_on("/t")
        await eventually(lambda: not m.hub.connections())
        assert not session._tasks  # the script task was cancelled with the connection


async def test_invalid_rules_are_reported_and_that_path_not_served() -> None:
    routes: list[dict[str, Any]] = [
        {
            "path": "/r",
            "mode": "rules",
            "rules": [{"match": {"regex": "ok"}, "reply": ["x"]}, {"match": {"xpath": "/a"}}],
        },
        {"path": "/ok"},
    ]
    async with running(routes) as m:
        assert len(m.hub.problems) == 1
        assert "websocket.routes[0].rules[1]" in m.hub.problems[0] and "match" in m.hub.problems[0]
        assert not m.hub.wants("/r") and m.hub.wants("/ok")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"dir": "in", "waitFor": "$[["}', "invalid JSONPath"),
        ('{"dir": "in", "waitFor": "(unclosed"}', "invalid regex"),
        ('{"binary": "***"}', "base64"),
        ('{"text": "x", "waitfor": "y"}', "unknown key 'waitfor'"),
        ('{"close": {"code": 1005}}', "close.code"),
        ('{"text": "x", "repeat": {"from_line": 9}}', "from_line"),
        ("not json", "not valid JSON"),
    ],
)
async def test_script_checks_name_the_problem(tmp_path: Path, line: str, expected: str) -> None:
    bad = write_script(tmp_path, ["", line])
    async with running([{"path": "/bad", "mode": "script", "script": bad}]) as m:
        assert len(m.hub.problems) == 1 and "line 2" in m.hub.problems[0]
        assert expected in m.hub.problems[0]


# ---- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_rules_reply_to_the_sender_and_broadcast_to_the_room(port: str) -> None:
    rules = [
        {
            "match": {"json_path": "$.type == 'say'"},
            "reply": ['{"from": "{{message.user}}"}'],
            "broadcast": True,
        },
        {"match": {"regex": "^ping$"}, "reply": ["pong", "pong again"]},
        {"match": {"regex": "^slow$"}, "reply": ["late"], "delay_ms": 150},
    ]
    async with (
        running([{"path": "/room", "mode": "rules", "rules": rules}]) as m,
        connect(m.url("/room", port)) as alice,
        connect(m.url("/room", port)) as bob,
    ):
        await alice.send("ping")
        assert [await recv(alice), await recv(alice)] == ["pong", "pong again"]
        await alice.send('{"type": "say", "user": "alice"}')
        assert json.loads(await recv(alice)) == {"from": "alice"}
        assert json.loads(await recv(bob)) == {"from": "alice"}  # bob got no pong before it
        started = time.monotonic()
        await bob.send("slow")
        assert await recv(bob) == "late"
        assert time.monotonic() - started >= 0.12
        await bob.send("no rule matches this")
        await bob.send("ping")
        assert await recv(bob) == "pong"


# ---- push and admin ------------------------------------------------------------------------


async def test_push_with_hub_send_and_the_admin_api_on_the_http_port() -> None:
    async with (
        running([{"path": "/ws", "mode": "echo"}, {"path": "/other", "mode": "echo"}]) as m,
        connect(m.url("/ws")) as a,
        connect(m.url("/ws", "http")) as b,
        connect(m.url("/other")),
    ):
        assert await m.hub.send("/ws", text="to all") == 2
        assert await recv(a) == "to all" and await recv(b) == "to all"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{m.http_port}") as http:
            listed = (await http.get(f"{ADMIN}ws/connections")).json()
            assert listed["count"] == 3
            mine = [c for c in listed["connections"] if c["path"] == "/ws"]
            assert {"id", "path", "client", "connected_at", "messages_in", "messages_out"} <= set(mine[0])
            assert all(c["messages_out"] == 1 for c in mine)
            ids = {c["client"]: c["id"] for c in mine}
            target = ids[f"127.0.0.1:{b.local_address[1]}"]  # push to b alone
            answer = await http.post(
                f"{ADMIN}ws/send", json={"path": "/ws", "binary_base64": "AAE=", "connection_id": target}
            )
            assert answer.status_code == 200 and answer.json() == {"sent": 1}
            answer = await http.post(f"{ADMIN}ws/send", json={"path": "/ws", "text": "again"})
            assert answer.json() == {"sent": 2}
            bad = await http.post(f"{ADMIN}ws/send", json={"path": "/ws"})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
            missing = await http.post(f"{ADMIN}ws/send", json={"path": "/nope", "text": "x"})
            assert missing.status_code == 404 and "error" in missing.json()
        assert await recv(b) == b"\x00\x01"
        assert await recv(b) == "again" and await recv(a) == "again"


# ---- logging -------------------------------------------------------------------------------


async def test_connect_messages_and_close_go_to_the_request_log() -> None:
    async with running([{"path": "/ws", "mode": "echo"}]) as m:
        async with connect(m.url("/ws") + "?x=1") as ws:
            await ws.send("logged text")
            assert await recv(ws) == "logged text"
        await eventually(lambda: bool(m.log("CLOSE")))
        entries = m.log()
        assert all(e.protocol == "ws" for e in entries)
        assert [e.method for e in entries] == ["CONNECT", "MESSAGE_IN", "MESSAGE_OUT", "CLOSE"]
        connect_entry, msg_in, msg_out, close = entries
        assert connect_entry.status == 101 and connect_entry.query == {"x": ["1"]}
        assert msg_in.body_excerpt == "logged text" and msg_out.body_excerpt == "logged text"
        assert close.status == 1000 and close.path == "/ws"


# ---- limits --------------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_connection_limit_refuses_with_503_in_the_common_error_shape(port: str) -> None:
    async with (
        running([{"path": "/ws"}], max_connections=2) as m,
        connect(m.url("/ws", port)),
        connect(m.url("/ws", port)) as second,
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(m.url("/ws", port)):
                pass
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body)["error"]["code"] == "too_many_connections"
        await second.close()
        await eventually(lambda: len(m.hub.connections()) == 1)
        async with connect(m.url("/ws", port)) as third:
            await third.send("room again")
            assert await recv(third) == "room again"


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_message_over_the_size_limit_closes_1009_and_the_server_keeps_serving(port: str) -> None:
    async with running([{"path": "/ws"}], max_message_bytes=1000) as m:
        async with connect(m.url("/ws", port), max_size=None) as ws:
            await ws.send("x" * 1000)
            assert await recv(ws) == "x" * 1000
            await ws.send("y" * 1001)
            code, _ = await closed_with(ws)
        assert code == 1009
        async with connect(m.url("/ws", port)) as ws:
            await ws.send("fine")
            assert await recv(ws) == "fine"


async def test_idle_connection_is_closed_with_1001() -> None:
    async with running([{"path": "/ws"}], idle_timeout_ms=200) as m, connect(m.url("/ws")) as ws:
        started = time.monotonic()
        await ws.send("one")
        await recv(ws)
        assert await closed_with(ws) == (1001, "idle timeout")
        assert time.monotonic() - started >= 0.15


async def test_close_all_closes_clients_with_1001() -> None:
    async with (
        running([{"path": "/ws"}]) as m,
        connect(m.url("/ws")) as ws,
        connect(m.url("/ws", "http")) as w2,
    ):
        await m.hub.close_all()
        assert await closed_with(ws) == (1001, "server shutting down")
        assert (await closed_with(w2))[0] == 1001
        assert m.hub.connections() == []


# ---- bad input on the wire -----------------------------------------------------------------


async def raw_upgrade(port: int, path: str, sock: socket.socket | None = None) -> tuple[Any, Any]:
    if sock is None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    else:
        reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return reader, writer


async def read_close_code(reader: asyncio.StreamReader) -> int:
    first, length = await asyncio.wait_for(reader.readexactly(2), 5)
    assert first == 0x88, hex(first)
    payload = await reader.readexactly(length & 0x7F)
    return int(struct.unpack("!H", payload[:2])[0])


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x81\x05hello", 1002),  # a client frame without a mask
        (b"\x83\x80\x00\x00\x00\x00", 1002),  # reserved opcode 3
        (b"\x81\x82\x00\x00\x00\x00\xff\xfe", 1007),  # text that is not UTF-8
    ],
)
@pytest.mark.parametrize("port", ["ws", "http"])
async def test_invalid_frames_get_a_protocol_close_and_the_server_keeps_serving(
    frame: bytes, code: int, port: str
) -> None:
    async with running([{"path": "/ws"}]) as m:
        reader, writer = await raw_upgrade(m.ws_port if port == "ws" else m.http_port, "/ws")
        writer.write(frame)
        assert await read_close_code(reader) == code
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then the server closes TCP
        writer.close()
        await eventually(lambda: not m.hub.connections())
        assert m.log("CLOSE")[-1].status == code
        async with connect(m.url("/ws", port)) as ws:
            await ws.send("still serving")
            assert await recv(ws) == "still serving"


async def test_a_client_that_stops_reading_is_closed_when_its_send_queue_fills() -> None:
    async with running([{"path": "/ws"}], send_queue_limit=4) as m:
        m.hub.close_timeout_s = 0.3
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", m.ws_port))
        _, writer = await raw_upgrade(m.ws_port, "/ws", sock)  # and never read again
        chunk = b"z" * 65536
        sent = 0
        for _ in range(2000):  # at most 128 MiB; the queue limit stops it far earlier
            if await m.hub.send("/ws", binary=chunk) == 0:
                break
            sent += 1
        assert 0 < sent < 2000
        await eventually(lambda: bool(m.log("CLOSE")))
        assert m.log("CLOSE")[-1].status == 1008
        assert m.hub.connections() == []
        writer.close()


# ---- the WS-only listener's plain HTTP answers ---------------------------------------------


async def test_ws_port_answers_426_on_a_ws_path_and_404_elsewhere() -> None:
    async with running([{"path": "/ws"}]) as m, httpx.AsyncClient() as http:
        plain = await http.get(f"http://127.0.0.1:{m.ws_port}/ws")
        assert plain.status_code == 426 and plain.headers["upgrade"] == "websocket"
        assert plain.json()["error"]["code"] == "upgrade_required"
        other = await http.get(f"http://127.0.0.1:{m.ws_port}/elsewhere")
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"


# ---- through the real server, and import hygiene -------------------------------------------


async def test_server_serves_websocket_routes_on_the_http_and_ws_ports(tmp_path: Path) -> None:
    from mockforge.server import Server

    script = write_script(tmp_path, [{"ts": 0, "text": "hi {{request.query.name}}"}])
    config = build_config(
        {
            "http": {"port": 0},
            "websocket": {
                "port": 0,
                "routes": [{"path": "/ws"}, {"path": "/s", "mode": "script", "script": script}],
            },
        },
        env={},
    )
    server = Server(config)
    await server.start()
    try:
        http_port, ws_port = server.ports["http"], server.ports["ws"]
        assert http_port != ws_port
        async with (
            connect(f"ws://127.0.0.1:{http_port}/ws") as a,
            connect(f"ws://127.0.0.1:{ws_port}/s?name=z") as b,
        ):
            await a.send("via http port")
            assert await recv(a) == "via http port"
            assert await recv(b) == "hi z"
            async with httpx.AsyncClient() as http:
                answer = await http.post(
                    f"http://127.0.0.1:{http_port}{ADMIN}ws/send", json={"path": "/ws", "text": "pushed"}
                )
            assert answer.status_code == 200 and answer.json() == {"sent": 1}
            assert await recv(a) == "pushed"
    finally:
        await server.stop(timeout=1.0)
    assert server.services.ws.connections() == []


def test_building_the_hub_does_not_import_websockets() -> None:
    code = (
        "import sys\n"
        "from mockforge.config import build_config\n"
        "from mockforge.runtime import Runtime\n"
        "from mockforge.ws.hub import WebSocketHub\n"
        "from mockforge.ws.listener import WsOnlyApp\n"
        "hub = WebSocketHub(Runtime(build_config({}, env={})))\n"
        "WsOnlyApp(hub)\n"
        "assert hub.wants('/ws')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('websockets', 'jsonpath_ng')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
