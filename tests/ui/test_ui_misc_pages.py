"""The Fixtures, WebSocket, gRPC and Plugins pages in a real browser, each fed by a real client
(httpx, the websockets client, a grpcio channel) against a real server; values from traffic are
rendered as text; a feature that is not configured gets a notice, not an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_harness import Console, start_server, wait_for

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "examples" / "protos"
ECHO_PLUGIN = ROOT / "examples" / "plugins" / "echo-wat"
PAYLOAD = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>"
NO_XSS = "return window.__xss === undefined && document.querySelectorAll('main img, main script').length === 0"



@pytest.fixture
def server_with(tmp_path: Path) -> Iterator[Any]:
    started: list[MockServer] = []

    def start(config: dict[str, Any], **kw: Any) -> MockServer:
        server = start_server(tmp_path, config, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def use(console: Console, server: MockServer) -> Console:
    """The console pointed at ``server``; browser logs of earlier tests are drained first."""
    console.driver.get_log("browser")
    return Console(console.driver, server, console.shots)


# --------------------------------------------------------------------------- fixtures


def _record(root: Path) -> str:
    from mockforge.recording.fingerprint import FingerprintRules
    from mockforge.recording.store import build_fixture, write_fixture_file

    f = build_fixture(method="GET", path="/recorded", raw_query="", request_headers=[("x-note", PAYLOAD)],
                      request_body=b"", status=200,
                      response_headers=[("content-type", "application/json"), ("x-echo", PAYLOAD)],
                      response_body=b'{"recorded": "' + PAYLOAD.replace('"', '\\"').encode() + b'"}',
                      rules=FingerprintRules.create())
    write_fixture_file(root, f, fsync=False)
    return f.fingerprint


def test_fixtures_list_open_and_to_stub(console: Console, server_with: Any, tmp_path: Path) -> None:
    root = tmp_path / "fixtures"
    fp = _record(root)
    server = server_with({"core": {"fixtures": {"mode": "replay", "dir": str(root)}}})
    with httpx.Client(base_url=server.url) as http:
        assert "recorded" in http.get("/recorded").json()  # replayed to a real client
    page = use(console, server).open("fixtures")
    assert page.text_of('[data-test="fixtures-count"]') == "1 of 1 fixtures"
    assert page.text_of('[data-test="fixtures-mode"]') == "mode replay"
    row = page.find(f'[data-test="fixture-row"][data-id="{fp}"]')
    assert "/recorded" in row.text and "200" in row.text
    row.click()
    assert page.text_of('[data-test="fixture-path"]') == "/recorded"
    assert PAYLOAD in page.text_of('[data-test="fixture-response-headers"]')
    assert PAYLOAD.replace('"', '\\"') in page.text_of('[data-test="fixture-response-body"]')
    assert page.js(NO_XSS)
    page.test_id("fixture-to-stub").click()
    page.wait_ready("stubs")
    assert page.js("return location.hash") == "#/stubs/new"
    # the editor holds the fixture's request and answer; saving it makes a live stub
    assert page.test_id("edit-path").get_attribute("value") == "/recorded"
    assert page.test_id("edit-status").get_attribute("value") == "200"
    page.test_id("edit-save").click()
    with httpx.Client(base_url=server.url) as http, httpx.Client(base_url=server.admin_url + "/") as admin:
        def made_stubs() -> list[dict[str, Any]]:
            return [x for x in admin.get("stubs").json()["stubs"] if x["request"].get("path") == "/recorded"]

        made = wait_for(made_stubs, "the stub made from the fixture")
        assert "recorded" in http.get("/recorded").json()
        stub_id = made[0]["id"]
        assert wait_for(lambda: {x["id"]: x.get("hits") for x in admin.get("stubs").json()["stubs"]}[stub_id] == 1,
                        "the new stub to answer the next identical request")
    assert page.severe_logs() == []


def test_a_binary_fixture_body_is_a_hex_dump_of_its_bytes(console: Console, server_with: Any,
                                                          tmp_path: Path) -> None:
    from mockforge.recording.fingerprint import FingerprintRules
    from mockforge.recording.store import build_fixture, write_fixture_file

    root = tmp_path / "fixtures"
    f = build_fixture(method="GET", path="/logo.png", raw_query="", request_headers=[], request_body=b"",
                      status=200, response_headers=[("content-type", "image/png")],
                      response_body=b"\x89PNG\r\n\x1a\n\x00\xff", rules=FingerprintRules.create())
    write_fixture_file(root, f, fsync=False)
    server = server_with({"core": {"fixtures": {"mode": "replay", "dir": str(root)}}})
    page = use(console, server).open(f"fixtures/{f.fingerprint}")
    body = page.find('[data-test="fixture-response-body"] pre')
    assert body.get_attribute("data-kind") == "hex"
    assert "89 50 4e 47 0d 0a 1a 0a 00 ff" in body.text


def test_fixtures_page_says_when_recording_is_off(console: Console) -> None:
    use(console, console.server).open("fixtures")
    assert "core.fixtures.mode" in console.text_of('[data-test="not-configured"]')
    assert console.severe_logs() == []  # the page asked server-info, it probed nothing into a 404


# --------------------------------------------------------------------------- WebSocket


def test_ws_connections_and_push_box(console: Console, server_with: Any) -> None:
    from websockets.sync.client import connect

    server = server_with({"websocket": {"routes": [{"path": "/ws", "mode": "echo"}]}})
    ws_url = server.url.replace("http://", "ws://") + "/ws"
    with connect(ws_url) as client:
        client.send(PAYLOAD)
        assert client.recv(timeout=10) == PAYLOAD
        page = use(console, server).open("ws")
        row = page.find('[data-test="ws-row"]')
        assert "/ws" in row.text
        conn_id = row.get_attribute("data-id")
        wait_for(lambda: page.find('[data-test="ws-row"]').text.split()[-2:] == ["1", "1"],
                 "the message counts of the connection")
        row.click()
        page.test_id("ws-push-text").send_keys("pushed from the console")
        assert page.test_id("ws-push-target").get_attribute("value") == conn_id
        page.test_id("ws-push-send").click()
        assert client.recv(timeout=10) == "pushed from the console"
        wait_for(lambda: page.text_of('[data-test="ws-push-result"]') == "sent to 1 client", "the push result")
        page.shot("ws")
    wait_for(lambda: page.find_all('[data-test="ws-empty"]'), "the closed connection to leave the list")
    assert page.js(NO_XSS) and page.severe_logs() == []


def test_ws_page_says_when_no_route_is_configured(console: Console, server_with: Any) -> None:
    server = server_with({"websocket": {"routes": []}})
    page = use(console, server).open("ws")
    assert "websocket.routes" in page.text_of('[data-test="not-configured"]')


# --------------------------------------------------------------------------- gRPC


def test_grpc_services_methods_and_stubs(console: Console, server_with: Any) -> None:
    import grpc

    server = server_with({"grpc": {"proto_dir": str(PROTOS)}})
    with grpc.insecure_channel(f"127.0.0.1:{server.ports['grpc']}") as channel:
        call = channel.unary_unary("/mockforge.MockService/UnaryCall")
        assert isinstance(call(b"", timeout=10), bytes)  # a real call, answered from the descriptor
    with httpx.Client(base_url=server.admin_url + "/") as admin:
        admin.post("grpc/stubs", json={"id": "hi", "service": "mockforge.MockService", "method": "UnaryCall",
                                       "response": {"message": {"message": PAYLOAD}}}).raise_for_status()
    page = use(console, server).open("grpc")
    svc = page.find('[data-test="grpc-service"][data-name="mockforge.MockService"]')
    assert "mockforge.MockService" in svc.text
    unary = page.find('[data-test="grpc-method"][data-path="/mockforge.MockService/UnaryCall"]')
    # one stub, and the one real call made above
    assert unary.text.split() == ["UnaryCall", "mockforge.UnaryRequest", "mockforge.UnaryResponse", "unary", "1", "1"]
    stream = page.find('[data-test="grpc-method"][data-path="/mockforge.MockService/BidirectionalStream"]')
    assert "bidirectional stream" in stream.text
    assert page.find_all('[data-test="grpc-service"][data-name="grpc.health.v1.Health"]')
    assert PAYLOAD.replace('"', '\\"') in page.text_of('[data-test="grpc-stub"]')  # JSON text
    assert page.js(NO_XSS) and page.severe_logs() == []
    page.shot("grpc")


def test_grpc_page_says_when_grpc_is_off(console: Console) -> None:
    console.open("grpc")
    assert "grpc.proto_dir" in console.text_of('[data-test="not-configured"]')


# --------------------------------------------------------------------------- plugins


def test_plugins_limits_calls_and_failures(console: Console, server_with: Any) -> None:
    route = {"id": "echo", "request": {"method": "GET", "path": "/echo"}, "response": {"plugin": "echo-wat"}}
    server = server_with({"plugins": {"dirs": [], "load": [str(ECHO_PLUGIN)], "max_failures": 7},
                          "core": {"file_roots": [str(ECHO_PLUGIN.parent)]}}, stubs=[route])
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/echo").status_code == 200
    page = use(console, server).open("plugins")
    row = page.find('[data-test="plugin-row"][data-id="echo-wat"]')
    assert page.text_of('[data-test="plugin-state"]') == "ready"
    assert page.text_of('[data-test="plugin-calls"]') == "1"
    assert page.text_of('[data-test="plugin-failures"]') == "0"
    assert "2 MB" in row.text and "100 ms" in row.text
    assert "7 consecutive failures" in page.find("main").text
    page.test_id("plugin-reload").click()
    wait_for(lambda: page.text_of('[data-test="plugin-result"]') == "reloaded echo-wat", "the reload")
    assert page.severe_logs() == []


def test_plugins_page_says_when_none_is_loaded(console: Console) -> None:
    console.open("plugins")
    assert "plugins.dirs" in console.text_of('[data-test="not-configured"]')
