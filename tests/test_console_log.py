"""The console request log (``--log-requests``): one line per exchange, for every protocol, built
from the ExchangeLogged event; control characters from the network never reach the terminal."""

from __future__ import annotations

import io
import time

import httpx
import pytest

from mockforge.config import build_config
from mockforge.core.console_log import ConsoleLog, printable
from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.runtime import Runtime
from mockforge.testing.server import MockServer

#: 2026-01-02 03:04:05.678 local time, as the injected clock's reading
AT = time.mktime((2026, 1, 2, 3, 4, 5, 0, 0, -1)) + 0.678


def logged(request: Request, response: Response, ms: float = 1.234) -> str:
    out = io.StringIO()
    log = RequestLog(10)
    log.logged.subscribe(ConsoleLog(out, clock=lambda: AT).on_entry)
    log.record(request, response, ms)
    return out.getvalue()


def test_one_line_with_time_protocol_method_path_status_source_and_ms() -> None:
    line = logged(Request("http", "GET", "/pets/7", "limit=2", Headers()), Response(200, source="spec"))
    assert line == "03:04:05.678 http GET /pets/7 200 spec 1.23ms\n"


def test_nothing_matched_shows_a_dash_and_grpc_uses_its_own_method() -> None:
    assert logged(Request("http", "GET", "/nope"), Response(404)) == "03:04:05.678 http GET /nope 404 - 1.23ms\n"
    grpc = logged(Request("grpc", "pkg.Greeter/Hello", "/pkg.Greeter/Hello"), Response(200, source="stub:hi"))
    assert grpc == "03:04:05.678 grpc pkg.Greeter/Hello /pkg.Greeter/Hello 200 stub:hi 1.23ms\n"


def test_control_characters_in_the_path_are_escaped() -> None:
    line = logged(Request("http", "GET", "/a\x1b[31mred\r\nX: y\x00 b\\"), Response(200, source="stub:\x07"))
    assert line == "03:04:05.678 http GET /a\\x1b[31mred\\x0d\\x0aX:%20y\\x00%20b\\\\ 200 stub:\\x07 1.23ms\n"
    assert line.count("\n") == 1 and "\x1b" not in line and "\r" not in line


def test_a_long_field_is_cut() -> None:
    text = printable("/" + "é\x01" * 1000, limit=40)
    assert len(text) <= 43 and text.endswith("...")


def test_a_broken_stream_never_fails_the_exchange() -> None:
    out = io.StringIO()
    out.close()
    log = RequestLog(10)
    log.logged.subscribe(ConsoleLog(out).on_entry)
    log.record(Request("http", "GET", "/x"), Response(200), 1.0)
    assert len(log) == 1


def test_off_by_default_no_subscriber() -> None:
    rt = Runtime(build_config({}, env={}))
    assert not any(getattr(fn, "__self__", None).__class__ is ConsoleLog for fn in rt.log.listeners)
    on = Runtime(build_config({"observability": {"log_requests": True}}, env={}))
    assert any(getattr(fn, "__self__", None).__class__ is ConsoleLog for fn in on.log.listeners)


def test_a_served_request_prints_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    stubs = [{"id": "hello", "request": {"method": "GET", "path": "/hello"}, "response": {"body_text": "hi"}}]
    with MockServer(config={"observability": {"log_requests": True}}, stubs=stubs) as mock:
        assert httpx.get(mock.url + "/hello").text == "hi"
        assert httpx.get(mock.url + "/esc%1B[31m").status_code == 404
    err = capsys.readouterr().err.splitlines()
    hello = [line for line in err if " GET /hello " in line]
    assert len(hello) == 1 and hello[0].split()[1:6] == ["http", "GET", "/hello", "200", "stub:hello"]
    assert hello[0].endswith("ms")
    esc = [line for line in err if " GET /esc" in line]
    assert len(esc) == 1 and "\x1b" not in esc[0] and " 404 mockforge " in esc[0]
