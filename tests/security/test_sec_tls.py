"""Issue 17 against hostile clients: whatever arrives on a TLS port (garbage, plain HTTP, half a
handshake, nothing at all, too many sockets), the listener closes it within its bounds, counts
it, logs one line and keeps serving. Timeouts are a few hundred milliseconds; the deadlines
below are generous liveness bounds, never timings.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockforge.testing.server import MockServer

LIVENESS_S = 30.0
HELLO = {"request": {"path": "/hello"}, "response": {"body_text": "still here"}}


def _tls_server(mode: str = "tls", **http: Any) -> MockServer:
    cfg = {"http": {"header_timeout_ms": 200, "tls": {"auto": True, "mode": mode}, **http}}
    return MockServer(config=cfg, stubs=[HELLO])


@pytest.fixture
def tls_mock() -> Iterator[MockServer]:
    with _tls_server() as mock:
        yield mock


def _counters(mock: MockServer, name: str = "http") -> dict[str, int]:
    listener = dict(mock.server._listeners)[name]
    return listener._server.counters()  # type: ignore[no-any-return]


def _wait_for(pred: Any, what: str) -> None:
    deadline = time.monotonic() + LIVENESS_S
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError(f"not within {LIVENESS_S} s: {what}")


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(LIVENESS_S)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _still_serves(mock: MockServer) -> None:
    assert httpx.get(mock.url + "/hello", verify=mock.ssl_context(), timeout=LIVENESS_S).text == "still here"


def _client_hello() -> bytes:
    """The first flight of a real TLS client, made with memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_garbage_instead_of_a_client_hello_is_closed_and_counted(tls_mock: MockServer, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="mockforge")
    with socket.create_connection(("127.0.0.1", tls_mock.ports["http"])) as s:
        s.sendall(b"\x16\x03\x01\x00\x05" + b"\xff" * 200)
        data = _read_all(s)
    assert not data.startswith(b"HTTP/")  # at most a TLS alert, never an HTTP answer
    _wait_for(lambda: _counters(tls_mock)["tls_handshake_failures"] == 1, "the failure is counted")
    _still_serves(tls_mock)
    records = [r for r in caplog.records if "handshake" in r.getMessage()]
    assert records and all(r.exc_info is None for r in caplog.records)
    assert all("\n" not in r.getMessage() for r in records)


def test_plain_http_on_the_tls_port_gets_a_plain_400_and_a_close(tls_mock: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", tls_mock.ports["http"])) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        data = _read_all(s)
    assert data.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert data.endswith(b"this port speaks HTTPS: use an https:// URL instead\r\n")
    assert b"still here" not in data
    assert _counters(tls_mock)["plain_on_tls_port"] == 1
    _still_serves(tls_mock)


def test_a_half_handshake_held_open_is_closed_by_the_header_timeout(tls_mock: MockServer) -> None:
    hello = _client_hello()
    with socket.create_connection(("127.0.0.1", tls_mock.ports["http"])) as s:
        s.sendall(hello[: len(hello) // 2])  # half a ClientHello, then nothing
        assert _read_all(s) == b""  # closed by the server, not by our timeout (which would raise)
    _wait_for(lambda: _counters(tls_mock)["tls_handshake_failures"] == 1, "the stalled handshake is counted")
    _still_serves(tls_mock)


def test_a_silent_connection_is_closed_by_the_header_timeout(tls_mock: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", tls_mock.ports["http"])) as s:
        assert _read_all(s) == b""
    assert _counters(tls_mock)["tls_first_byte_timeouts"] == 1
    _still_serves(tls_mock)


def test_sockets_waiting_for_a_handshake_count_against_max_connections() -> None:
    with _tls_server(max_connections=2, header_timeout_ms=60_000) as mock:
        socks = [socket.create_connection(("127.0.0.1", mock.ports["http"])) for _ in range(3)]
        try:
            # two held plus the reserved slot; the fourth is closed at once
            extra = socket.create_connection(("127.0.0.1", mock.ports["http"]))
            assert _read_all(extra) == b""
            extra.close()
            assert _counters(mock)["tls_refused"] == 1
        finally:
            for s in socks:
                s.close()
        _wait_for(lambda: not mock.server._listeners[0][1]._server._pending, "held sockets are released")
        _still_serves(mock)


def test_tls_client_on_a_plain_port_gets_a_clean_close_and_one_log_line(caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="mockforge")
    from mockforge.tls import plain

    before = plain.counts["tls_on_plain_port"]
    with MockServer(stubs=[HELLO]) as mock:
        port = mock.ports["http"]
        ctx = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", port)) as raw, pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname="localhost")
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(_client_hello())
            assert _read_all(s) == b""  # no HTTP 400 bytes thrown at a TLS client
        assert httpx.get(f"http://127.0.0.1:{port}/hello").text == "still here"
    assert plain.counts["tls_on_plain_port"] - before == 2
    lines = [r for r in caplog.records if "plain HTTP port" in r.getMessage()]
    assert len(lines) == 2 and all(r.exc_info is None for r in caplog.records)


def test_mode_both_bounds_the_same_way() -> None:
    with _tls_server("both") as mock:
        port = mock.ports["http"]
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"\x16garbage" * 10)
            assert not _read_all(s).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", port)) as s:  # plain, but the head never ends
            s.sendall(b"GET /hello HTTP/1.1\r\n")
            data = _read_all(s)
        assert data.startswith(b"HTTP/1.1 408")
        assert httpx.get(f"http://127.0.0.1:{port}/hello").text == "still here"
        assert httpx.get(f"https://127.0.0.1:{port}/hello", verify=mock.ssl_context()).text == "still here"


def test_stats_show_the_tls_listener_counters(tls_mock: MockServer) -> None:
    with socket.create_connection(("127.0.0.1", tls_mock.ports["http"])) as s:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        _read_all(s)
    stats = httpx.get(tls_mock.admin_url + "/stats", verify=tls_mock.ssl_context()).json()
    http = stats["refused"]["http"]["http"]
    assert http["plain_on_tls_port"] == 1
    assert http["tls_handshakes"] >= 1  # this very stats call came over TLS
