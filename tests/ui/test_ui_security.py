"""Security of the console in a real browser: the token login (a form when admin.token is set, a
wrong token refused with a message, the right one loads data, kept in sessionStorage only: no
cookie, never in a URL), and traffic carrying <script> and <img onerror> payloads in its path,
query, headers and body executes nothing on the Traffic and Misses pages or in the detail
panel, and is shown as text."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_harness import Console, start_server, wait_for

from mockforge.testing.server import MockServer

TOKEN = "t0ken-for-the-console"


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[MockServer]:
    server = start_server(tmp_path, {"admin": {"token": TOKEN}})
    try:
        yield server
    finally:
        server.stop()


def test_token_login(browser: Any, token_server: MockServer, tmp_path: Path) -> None:
    console = Console(browser, token_server, tmp_path)
    with httpx.Client(timeout=10) as client:
        client.get(token_server.url + "/login-probe")
    try:
        console.open("traffic", ready=False)
        form = console.find("[data-test=login-form]")
        assert form.is_displayed()
        assert console.find_all("[data-test=traffic-row]") == []  # no data without the token
        console.shot("login", keep=False)
        console.find("[data-test=login-token]").send_keys("wrong")
        console.find("[data-test=login-submit]").click()
        wait_for(lambda: "refused" in console.text_of("[data-test=login-error]"), "the refusal")
        assert console.js("return sessionStorage.getItem('mockforge.token')") is None
        token_input = console.find("[data-test=login-token]")
        token_input.clear()
        token_input.send_keys(TOKEN)
        console.find("[data-test=login-submit]").click()
        console.wait_ready("traffic")
        wait_for(lambda: console.find_all("[data-test=traffic-row]"), "the log, loaded with the token")
        paths = [e.text for e in console.find_all("[data-test=row-path]")]
        assert "/login-probe" in paths  # (the refused admin calls are logged too, as 401s)
        assert console.js("return sessionStorage.getItem('mockforge.token')") == TOKEN
        # the live feed, too, is read with the token (fetch sends the header; EventSource could not)
        wait_for(lambda: console.text_of("[data-test=traffic-live]") == "live", "the feed")
        with httpx.Client(timeout=10) as client:
            client.get(token_server.url + "/after-login")
        wait_for(lambda: "/after-login" in [e.text for e in console.find_all("[data-test=row-path]")], "a live row")
        assert console.js("return document.cookie") == ""
        assert console.driver.get_cookies() == []
        assert TOKEN not in console.driver.current_url
        # a reload keeps the tab's token; "forget token" drops it and the form is back
        console.open("traffic")
        console.find("[data-test=logout]").click()
        console.find("[data-test=login-form]")
        assert console.js("return sessionStorage.getItem('mockforge.token')") is None
    finally:
        browser.execute_script("sessionStorage.clear()")
        browser.get("about:blank")


SCRIPT = "<script>window.__pwned=1</script>"
IMG = "<img src=x onerror=window.__pwned=2>"


def _raw(port: int, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> None:
    """Send bytes as they are (httpx would quote the path)."""
    head = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            f"Content-Length: {len(body)}", *[f"{k}: {v}" for k, v in headers.items()]]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        while sock.recv(65536):
            pass


def _not_pwned(console: Console) -> None:
    assert console.js("return window.__pwned") is None
    assert console.js("return document.querySelectorAll('main img, main script').length") == 0
    assert console.js("return Array.from(document.querySelectorAll('*')).filter("
                      "e => Array.from(e.attributes).some(a => a.name.startsWith('on'))).length") == 0


def test_payloads_in_traffic_execute_nothing_and_show_as_text(console: Console, admin: httpx.Client) -> None:
    port = console.server.ports["http"]
    # path, query, headers and body carry the payloads, raw (no spaces: a request target has none)
    _raw(port, "POST", "/x/<script>window.__pwned=1</script>?q=<img/src=x/onerror=window.__pwned=2>",
         {"X-Evil": IMG, "Content-Type": "application/json"}, ('{"html": "' + SCRIPT + '"}').encode())
    _raw(port, "GET", "/<img/src=x/onerror=window.__pwned=3>", {"X-Evil": SCRIPT})
    admin.post("stubs", json={"id": "evil", "request": {"method": "GET", "path": "/evil"},
                              "response": {"status": 200, "body_text": IMG, "headers": {"x-e": "ok"}}})
    _raw(port, "GET", "/evil", {"X-Other": SCRIPT})

    console.open("traffic")
    wait_for(lambda: len(console.find_all("[data-test=traffic-row]")) == 3, "3 rows")
    paths = [e.text for e in console.find_all("[data-test=row-path]")]
    assert "/x/<script>window.__pwned=1</script>?q=<img/src=x/onerror=window.__pwned=2>" in paths
    assert "/<img/src=x/onerror=window.__pwned=3>" in paths
    for i in range(3):
        console.js("document.querySelectorAll('[data-test=traffic-row]')[arguments[0]].click()", i)
        wait_for(lambda: console.find("[data-test=detail-headers]"), "the detail")
        _not_pwned(console)
    # the POST: the header and body payloads are text on the page
    console.js("Array.from(document.querySelectorAll('[data-test=traffic-row]')).find("
               "r => r.querySelector('[data-test=row-method]').textContent === 'POST').click()")
    wait_for(lambda: IMG in console.find("[data-test=detail-headers]").text, "the header payload as text")
    assert SCRIPT in console.find("[data-test=detail-request-body]").text
    assert "onerror" in console.find("[data-test=detail-query]").text
    console.js("Array.from(document.querySelectorAll('[data-test=traffic-row]')).find("
               "r => r.querySelector('[data-test=row-path]').textContent === '/evil').click()")
    wait_for(lambda: IMG in console.find("[data-test=detail-response-body]").text, "the response payload as text")
    _not_pwned(console)

    console.go("misses")
    wait_for(lambda: len(console.find_all("[data-test=miss]")) == 2, "2 misses")
    assert "GET /<img/src=x/onerror=window.__pwned=3>" in [m.text for m in console.find_all("[data-test=miss-request]")]
    _not_pwned(console)
    # the editor pre-filled from the payload request holds it as a value, not markup
    console.find("[data-test=miss-create-stub]").click()
    console.wait_ready("stubs")
    _not_pwned(console)
    assert console.severe_logs() == []
