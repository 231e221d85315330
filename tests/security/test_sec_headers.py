"""Issue 12, response splitting: no header is ever written from raw input.

A stub header template fed ``%0d%0a`` from the query, a plugin or fixture answer carrying CR, LF
or NUL: the raw bytes on the socket hold one response whose headers are the ones meant. Literal
bad headers are refused when the stub is added (400 naming the stub and the header).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import httpx
import pytest

from mockforge.core.headers import clean_header, is_clean_value, name_problem, value_problem
from mockforge.core.model import Request, Response
from mockforge.core.stubs import parse_stub
from mockforge.errors import StubError
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp
from mockforge.testing.server import MockServer

SPLIT_STUB = {
    "id": "echo-header",
    "request": {"method": "GET", "path": "/split"},
    "response": {"headers": {"X-Echo": "{{request.query.x}}"}, "body": {"ok": True}},
}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    config = {"http": {"response_template_expand": True, "routes": [SPLIT_STUB]}}
    with MockServer(config=config) as server:
        yield server


def raw_get(port: int, target: str) -> bytes:
    """Send one request on a raw socket and return every byte until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def header_lines(raw: bytes) -> list[str]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    return head.split("\r\n")[1:]


def test_query_fed_crlf_in_a_templated_header_forges_nothing(mock: MockServer) -> None:
    raw = raw_get(mock.ports["http"], "/split?x=%0d%0aSet-Cookie:%20evil=1")
    lines = header_lines(raw)
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.count(b"HTTP/1.1 ") == 1
    assert not any(line.lower().startswith("set-cookie") for line in lines)
    assert "X-Echo: Set-Cookie: evil=1" in lines  # kept, as a value, without the line breaks
    assert raw.endswith(b'{"ok":true}')
    state = mock.runtime.wire_counters["http"]
    assert state.headers_cleaned >= 1


def test_query_fed_crlf_cannot_forge_a_second_response(mock: MockServer) -> None:
    forged = "%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK%0d%0aX-Forged:%201%0d%0a%0d%0a"
    raw = raw_get(mock.ports["http"], f"/split?x={forged}")
    lines = header_lines(raw)
    assert raw.count(b"\r\n\r\n") == 1 and raw.endswith(b'\r\n\r\n{"ok":true}')
    assert not any(line.startswith(("HTTP/", "X-Forged", "Content-Length")) for line in lines)
    assert "X-Echo: Content-Length: 0HTTP/1.1 200 OKX-Forged: 1" in lines  # one inert value


def test_nul_from_the_query_is_not_written(mock: MockServer) -> None:
    raw = raw_get(mock.ports["http"], "/split?x=a%00b%1bc")
    assert "X-Echo: abc" in header_lines(raw)


def test_admin_refuses_a_literal_header_with_crlf_and_stores_nothing(mock: MockServer) -> None:
    bad = {"id": "evil", "request": {"path": "/evil"},
           "response": {"headers": {"X-A": "ok\r\nSet-Cookie: evil=1"}}}
    with httpx.Client(base_url=mock.url, timeout=30) as client:
        resp = client.post("/__mockforge/stubs", json=bad)
        assert resp.status_code == 400
        message = resp.json()["error"]["message"]
        assert "stub 'evil'" in message and "'X-A'" in message and "CR" in message
        assert client.get("/__mockforge/stubs/evil").status_code == 404
        bad_name = {"id": "evil2", "request": {"path": "/evil"}, "response": {"headers": {"X-A\r\nB": "v"}}}
        resp = client.post("/__mockforge/stubs", json=bad_name)
        assert resp.status_code == 400 and "stub 'evil2'" in resp.json()["error"]["message"]
        assert client.get("/__mockforge/stubs/evil2").status_code == 404


def test_config_stub_with_a_bad_header_is_refused_at_load() -> None:
    with pytest.raises(StubError) as info:
        parse_stub({"id": "cfg", "request": {"path": "/x"}, "response": {"headers": {"X-N": "a\x00b"}}},
                   "http.routes[0]", "config")
    assert "stub 'cfg'" in str(info.value) and "NUL" in str(info.value)
    assert "http.routes[0].response.headers.X-N" in str(info.value)


class HostileApp(PlainApp):
    """Stands for a plugin or a replayed fixture: headers straight from outside input."""

    async def handle(self, request: Request) -> Response:
        return Response(status=200, body=b"fine", headers=[
            ("X-Plugin", "a\r\nSet-Cookie: evil=1"),
            ("Set-Cookie\r\nX-Injected", "1"),
            ("X-Tab", "a\tb"),
            ("X-Latin", "caf\u00e9"),
            ("X-Number", 7),  # type: ignore[list-item]
        ])


async def test_plugin_and_fixture_headers_are_cleaned_on_the_wire() -> None:
    listener = HttpListener(HostileApp(), "127.0.0.1", 0)
    port = await listener.start()
    try:
        raw = await asyncio.to_thread(raw_get, port, "/")
    finally:
        await listener.stop(1.0)
    lines = header_lines(raw)
    assert raw.count(b"HTTP/1.1 ") == 1 and raw.endswith(b"\r\n\r\nfine")
    assert not any(line.lower().startswith(("set-cookie", "x-injected")) for line in lines)
    assert "X-Plugin: aSet-Cookie: evil=1" in lines
    assert "X-Tab: a\tb" in lines and "X-Latin: caf\u00e9" in lines and "X-Number: 7" in lines
    assert listener.state.headers_cleaned == 2


@pytest.mark.parametrize(("value", "problem"), [
    ("plain", None), ("a\tb", None), ("caf\u00e9", None), ("\u00a0nbsp", None),
    ("a\rb", "CR"), ("a\nb", "LF"), ("a\x00b", "NUL"), ("a\x1bb", "U+001B"), ("a\x7fb", "U+007F"),
])
def test_value_check(value: str, problem: str | None) -> None:
    found = value_problem(value)
    assert (found is None) == (problem is None) and (problem is None or problem in str(found))
    assert is_clean_value(value) == (problem is None)


def test_name_check_and_cleaning() -> None:
    assert name_problem("X-Request-Id") is None and name_problem("!#$%&'*+-.^_`|~") is None
    for bad in ("", "A B", "A:B", "A\r\nB", "caf\u00e9", "(x)"):
        assert name_problem(bad) is not None
    assert clean_header("X-A", "a\r\nb\x00c") == ("X-A", "abc")
    assert clean_header("Bad Name", "v") is None
    assert clean_header("X-Int", 3) == ("X-Int", "3")
