"""Issue 12, admin surface: no web page, DNS-rebound name or network neighbour drives the admin API.

Each attack is the request a page on http://evil.example makes the user's browser send; the
store is then read back by a plain client (no Origin) to show that nothing happened.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockforge.config import build_config
from mockforge.core.model import Headers, Request
from mockforge.errors import ConfigError
from mockforge.http.admin_guard import AdminGuard, host_name, is_loopback
from mockforge.server import Server
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
EVIL = "http://evil.example"
STUB = {"request": {"method": "GET", "path": "/secret"}, "response": {"status": 200, "body_text": "pwned"}}
TEXT_STUB = '{"request": {"method": "GET", "path": "/secret"}, "response": {"body_file": "/etc/passwd"}}'


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(config={"admin": {"cors_origins": ["http://console.test"]}}) as server:
        yield server


@pytest.fixture(autouse=True)
def _reset(mock: MockServer) -> None:
    httpx.post(mock.url + "/__mockforge/reset").raise_for_status()


def stubs(mock: MockServer) -> list[dict[str, Any]]:
    r = httpx.get(mock.url + "/__mockforge/stubs")
    assert r.status_code == 200
    result: list[dict[str, Any]] = r.json()["stubs"]
    return result


def error_code(r: httpx.Response) -> str:
    code: str = r.json()["error"]["code"]
    return code


def no_cors(r: httpx.Response) -> bool:
    return not any(name.startswith("access-control-") for name in r.headers)


# ---- a page on another origin ----------------------------------------------------------------
def test_evil_page_cannot_create_a_stub_with_a_text_plain_post(mock: MockServer) -> None:
    r = httpx.post(mock.url + "/__mockforge/stubs", content=TEXT_STUB,
                   headers={"Origin": EVIL, "Content-Type": "text/plain"})
    assert r.status_code == 403 and error_code(r) == "forbidden_origin"
    assert "evil.example" in r.json()["error"]["message"] and no_cors(r)
    assert stubs(mock) == []
    served = httpx.get(mock.url + "/secret")
    assert served.status_code == 404 and "root:" not in served.text


def test_text_plain_body_is_415_even_without_origin(mock: MockServer) -> None:
    r = httpx.post(mock.url + "/__mockforge/stubs", content=TEXT_STUB, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and error_code(r) == "unsupported_media_type"
    assert "application/json" in r.json()["error"]["message"]
    r = httpx.post(mock.url + "/__mockforge/stubs", content=TEXT_STUB)  # no content type at all
    assert r.status_code == 415
    assert stubs(mock) == []


def test_every_admin_body_needs_json(mock: MockServer) -> None:
    """The check sits in the admin dispatch, so endpoints owned by other services get it too."""
    for method, path in (("PUT", "/faults"), ("POST", "/verify"), ("PUT", "/scenarios/s1"),
                         ("POST", "/grpc/stubs"), ("POST", "/ws/send"), ("POST", "/plugins/x/reload")):
        r = httpx.request(method, mock.url + "/__mockforge" + path, content='{"status": 500}',
                          headers={"Content-Type": "text/plain"})
        assert r.status_code == 415, (method, path, r.text)
    assert httpx.get(mock.url + "/__mockforge/faults").json() == {"fault": None}


def test_yaml_is_accepted_where_documented_only(mock: MockServer) -> None:
    r = httpx.post(mock.url + "/__mockforge/stubs", content="request: {path: /y}\nresponse: {status: 204}\n",
                   headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201 and r.json()["stubs"][0]["request"]["path"] == "/y"
    r = httpx.post(mock.url + "/__mockforge/ws/send", content="path: /ws\ntext: hi\n",
                   headers={"Content-Type": "application/yaml"})
    assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]


def test_evil_page_cannot_delete_stubs(mock: MockServer) -> None:
    created = httpx.post(mock.url + "/__mockforge/stubs", json=STUB)
    assert created.status_code == 201
    before = stubs(mock)
    for headers in ({"Origin": EVIL}, {"Origin": EVIL, "Content-Type": "text/plain"}, {"Origin": "null"}):
        r = httpx.delete(mock.url + "/__mockforge/stubs", headers=headers)
        assert r.status_code == 403 and error_code(r) == "forbidden_origin" and no_cors(r)
    assert stubs(mock) == before and httpx.get(mock.url + "/secret").text == "pwned"


def test_evil_page_cannot_read_the_log(mock: MockServer) -> None:
    httpx.get(mock.url + "/private", headers={"Authorization": "Bearer user-secret"})
    r = httpx.get(mock.url + "/__mockforge/logs", headers={"Origin": EVIL})
    assert r.status_code == 403 and no_cors(r)
    assert "entries" not in r.json() and "user-secret" not in r.text
    assert any(e["path"] == "/private" for e in httpx.get(mock.url + "/__mockforge/logs").json()["entries"])


def test_preflight_for_delete_stubs_is_not_approved(mock: MockServer) -> None:
    r = httpx.options(mock.url + "/__mockforge/stubs",
                      headers={"Origin": EVIL, "Access-Control-Request-Method": "DELETE"})
    assert r.status_code == 403 and error_code(r) == "forbidden_origin" and no_cors(r)


def test_mock_routes_keep_their_permissive_cors(mock: MockServer) -> None:
    r = httpx.options(mock.url + "/anything", headers={"Origin": EVIL, "Access-Control-Request-Method": "DELETE"})
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    r = httpx.get(mock.url + "/anything", headers={"Origin": EVIL})
    assert r.status_code == 404 and r.headers["access-control-allow-origin"] == "*"


def test_an_allowed_origin_gets_proper_cors(mock: MockServer) -> None:
    origin = "http://console.test"
    pre = httpx.options(mock.url + "/__mockforge/stubs",
                        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                 "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"]
    r = httpx.post(mock.url + "/__mockforge/stubs", json=STUB, headers={"Origin": origin})
    assert r.status_code == 201 and r.headers["access-control-allow-origin"] == origin
    assert r.headers["vary"] == "Origin"
    assert [s["request"]["path"] for s in stubs(mock)] == ["/secret"]


# ---- DNS rebinding: the page's own name in Host ----------------------------------------------
def test_foreign_host_is_refused(mock: MockServer) -> None:
    for method, kw in (("GET", {}), ("POST", {"json": STUB}), ("DELETE", {})):
        r = httpx.request(method, mock.url + "/__mockforge/stubs", headers={"Host": "evil.example:3000"}, **kw)
        assert r.status_code == 403 and error_code(r) == "forbidden_host", method
        assert "admin.allowed_hosts" in r.json()["error"]["message"]
    assert stubs(mock) == []
    for host in ("localhost", f"localhost:{mock.ports['http']}", "127.0.0.1", "[::1]:80", "app.localhost"):
        assert httpx.get(mock.url + "/__mockforge/stubs", headers={"Host": host}).status_code == 200, host
    # the mock routes are not the admin API: any Host reaches them
    assert httpx.get(mock.url + "/x", headers={"Host": "evil.example"}).status_code == 404


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_http10_without_host_passes_the_host_check(mock: MockServer) -> None:
    """Browsers always send Host, so a request without one is no rebinding attempt (documented)."""
    port = mock.ports["http"]
    answer = raw(port, b"GET /__mockforge/stubs HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200") and b'"stubs":[]' in answer
    answer = raw(port, b"GET /__mockforge/stubs HTTP/1.0\r\nHost: evil.example\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403") and b"forbidden_host" in answer


def request(host: str | None = None, origin: str | None = None, **kw: Any) -> Request:
    headers = [(k, v) for k, v in (("host", host), ("origin", origin)) if v is not None]
    return Request(protocol="http", method=kw.pop("method", "GET"), path="/__mockforge/stubs",
                   headers=Headers(headers + kw.pop("headers", [])), **kw)


def test_host_check_against_the_bound_address_and_allowed_hosts() -> None:
    cfg = build_config({"admin": {"allowed_hosts": ["Mock.Internal"], "token": "t"}}, env={})
    auth = [("authorization", "Bearer t")]
    bound = AdminGuard(cfg, "192.0.2.10")
    assert bound.check(request("192.0.2.10:9080", headers=auth), "stubs") is None
    assert bound.check(request("mock.internal.", headers=auth), "stubs") is None
    refused = bound.check(request("192.0.2.11:9080", headers=auth), "stubs")
    assert refused is not None and refused.status == 403
    wildcard = AdminGuard(cfg, "0.0.0.0")
    assert wildcard.check(request("127.0.0.1:9080", headers=auth), "stubs") is None
    assert wildcard.check(request("mock.internal:9080", headers=auth), "stubs") is None
    for host in ("0.0.0.0", "192.0.2.10", "evil.example"):
        answer = wildcard.check(request(host, headers=auth), "stubs")
        assert answer is not None and answer.status == 403, host
    assert wildcard.refused["host"] == 3
    assert host_name("[::1]:9080") == "::1" and host_name("LOCALHOST.:1") == "localhost"
    assert is_loopback("127.9.9.9") and is_loopback("::1") and not is_loopback("0.0.0.0")


def test_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr("mockforge.http.admin_guard.hmac.compare_digest", spy)
    guard = AdminGuard(build_config({"admin": {"token": "s3cret"}}, env={}), "127.0.0.1")
    assert guard.check(request("127.0.0.1", headers=[("authorization", "Bearer s3cret")]), "stubs") is None
    wrong = guard.check(request("127.0.0.1", headers=[("authorization", "Bearer s3creT")]), "stubs")
    assert wrong is not None and wrong.status == 401
    assert seen == [(b"Bearer s3cret", b"Bearer s3cret"), (b"Bearer s3creT", b"Bearer s3cret")]
    assert guard.refused["token"] == 1


def test_a_set_token_is_required_on_loopback_too() -> None:
    with MockServer(config={"admin": {"token": "s3cret"}}) as server:
        url = server.url + "/__mockforge/stubs"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = httpx.get(url, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json() == {"stubs": []}


# ---- start-up: an admin surface off loopback -------------------------------------------------
async def test_admin_listener_on_all_interfaces_without_token_refuses_to_start() -> None:
    server = Server(build_config({"http": {"port": 0}, "admin": {"host": "0.0.0.0", "port": 0}}, env={}))
    with pytest.raises(ConfigError) as err:
        await server.start()
    text = str(err.value)
    assert "admin.token" in text and "admin.insecure" in text and "0.0.0.0" in text and "\n" not in text
    assert server.ports == {}


async def test_admin_listener_insecure_starts_warns_and_checks_host(caplog: pytest.LogCaptureFixture) -> None:
    cfg = build_config({"http": {"port": 0}, "admin": {"host": "0.0.0.0", "port": 0, "insecure": True,
                                                       "allowed_hosts": ["mock.internal"]}}, env={})
    server = Server(cfg)
    with caplog.at_level(logging.WARNING, logger="mockforge.admin"):
        await server.start()
    try:
        assert any("admin.insecure" in r.getMessage() for r in caplog.records)
        url = f"http://127.0.0.1:{server.ports['admin']}/__mockforge/stubs"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).json() == {"stubs": []}
            assert (await client.get(url, headers={"Host": "mock.internal:1"})).status_code == 200
            assert (await client.get(url, headers={"Host": "localhost"})).status_code == 200
            r = await client.get(url, headers={"Host": "evil.example"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_host"
            r = await client.delete(url, headers={"Origin": EVIL})
            assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
            r = await client.get(f"http://127.0.0.1:{server.ports['http']}/__mockforge/stubs",
                                 headers={"Host": "evil.example"})
            assert r.status_code == 403
        # one set of counters for both listeners, for /__mockforge/stats
        assert server.runtime.admin_refused == {"host": 2, "origin": 1, "token": 0, "content_type": 0}
    finally:
        await server.stop()


async def test_public_http_port_keeps_admin_off_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    server = Server(build_config({"http": {"host": "0.0.0.0", "port": 0}}, env={}))
    with caplog.at_level(logging.WARNING, logger="mockforge.admin"):
        await server.start()
    try:
        assert any("admin paths" in r.getMessage() and "off" in r.getMessage() for r in caplog.records)
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{server.ports['http']}/__mockforge/stubs")
            assert r.status_code == 404 and "admin.token" in r.json()["error"]["message"]
    finally:
        await server.stop()


async def test_public_http_port_insecure_opens_admin_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    server = Server(build_config({"http": {"host": "0.0.0.0", "port": 0}, "admin": {"insecure": True}}, env={}))
    with caplog.at_level(logging.WARNING, logger="mockforge.admin"):
        await server.start()
    try:
        assert any("admin.insecure" in r.getMessage() and "HTTP port" in r.getMessage() for r in caplog.records)
        url = f"http://127.0.0.1:{server.ports['http']}/__mockforge/stubs"
        async with httpx.AsyncClient() as client:
            assert (await client.get(url)).json() == {"stubs": []}
            r = await client.get(url, headers={"Host": "evil.example"})  # still no rebinding
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_host"
    finally:
        await server.stop()


def test_cli_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "mockforge.yaml"
    config.write_text("http: {port: 0}\nadmin: {host: 0.0.0.0, port: 0}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    proc = subprocess.run([sys.executable, "-m", "mockforge", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mockforge: error: ")
    assert f"{config} at admin.token:" in lines[0] and "admin.insecure" in lines[0]


def test_cli_insecure_starts_and_warns_on_every_start(tmp_path: Path) -> None:
    config = tmp_path / "mockforge.yaml"
    config.write_text("http: {port: 0}\nadmin: {host: 0.0.0.0, port: 0, insecure: true}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        ready = False
        while time.monotonic() < deadline and not ready:
            line = proc.stdout.readline()
            if not line:
                break
            ready = " ready " in line
        assert ready
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "admin.insecure" in err and "WARNING" in err


# ---- review of the console's same-origin rule (issue 19) --------------------------------------
def test_allowed_hosts_star_without_token_gives_a_rebinding_page_no_same_origin_writes() -> None:
    # A page on http://evil.example:9080 rebinds its name to 127.0.0.1: its POST carries its own
    # origin and Host. "*" lets the Host in (reads, as documented) but the write must not pass.
    star = AdminGuard(build_config({"admin": {"allowed_hosts": ["*"]}}, env={}), "127.0.0.1")
    rebound = star.check(request("evil.example:9080", "http://evil.example:9080", method="POST"), "reset")
    assert rebound is not None and rebound.status == 403 and b"forbidden_origin" in rebound.body
    for host in ("127.0.0.1:9080", "localhost:9080", "[::1]:9080"):  # the console itself still works
        assert star.check(request(host, f"http://{host}", method="POST"), "reset") is None, host
    listed = AdminGuard(build_config({"admin": {"allowed_hosts": ["*", "mock.internal"]}}, env={}), "0.0.0.0")
    assert listed.check(request("mock.internal:9080", "http://mock.internal:9080", method="POST"), "reset") is None
    # with a token the rebinding page lacks it anyway, so the console on any name may write
    tokened = AdminGuard(build_config({"admin": {"allowed_hosts": ["*"], "token": "t"}}, env={}), "0.0.0.0")
    auth = [("authorization", "Bearer t")]
    assert tokened.check(request("box:9080", "http://box:9080", method="POST", headers=auth), "reset") is None


def test_a_host_with_junk_after_the_name_is_no_loopback_name() -> None:
    guard = AdminGuard(build_config({}, env={}), "127.0.0.1")
    for host in ("localhost:1@evil.example", "127.0.0.1:x", "[::1]evil.example", "[::1]:1@evil"):
        refused = guard.check(request(host, None), "stubs")
        assert refused is not None and refused.status == 403, host
    assert host_name("localhost:1@evil.example") == "localhost:1@evil.example"
    assert host_name("[::1]") == "::1" and host_name("localhost") == "localhost"


def test_refused_and_failed_admin_requests_leave_no_log_entry(mock: MockServer) -> None:
    # a hostile page's no-cors POSTs are refused; they must not fill the request log (pushing real
    # traffic out, showing its payloads on the console's Traffic page) any more than admin successes
    httpx.get(mock.url + "/real-traffic")
    admin = mock.url + "/__mockforge/"
    for _ in range(5):
        assert httpx.post(admin + "stubs", content=b"x", headers={"Origin": EVIL}).status_code == 403
        assert httpx.post(admin + "stubs", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
        assert httpx.post(admin + "preview", json=[1]).status_code == 400
        assert httpx.get(admin + "no-such-endpoint").status_code == 404
    entries = httpx.get(admin + "logs").json()["entries"]
    assert [(e["method"], e["path"]) for e in entries] == [("GET", "/real-traffic")]
