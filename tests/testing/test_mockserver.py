"""``MockServer`` over real sockets (port 0) with real clients: stubs, verification, the log,
faults, checkpoints, lifecycle and errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockforge import ConfigError, MockServer, SpecError, StubError

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


@pytest.fixture
def mock() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


def test_stub_answers_with_json_status_and_headers(mock: MockServer) -> None:
    mock.stub("GET", "/users/{id}", status=201, json={"id": 1, "name": "Ada"}, headers={"x-trace": "abc"})
    r = httpx.get(mock.url + "/users/1")
    assert r.status_code == 201
    assert r.json() == {"id": 1, "name": "Ada"}
    assert r.headers["x-trace"] == "abc"
    assert r.headers["content-type"] == "application/json"


def test_stub_text_body_and_times_limit_answers(mock: MockServer) -> None:
    mock.stub("POST", "/once", text="only once", times=1)
    first = httpx.post(mock.url + "/once")
    second = httpx.post(mock.url + "/once")
    assert (first.status_code, first.text) == (200, "only once")
    assert second.status_code == 404
    assert "times: already answered 1 of 1 times" in second.text


def test_stub_handle_remove_takes_the_stub_out(mock: MockServer) -> None:
    handle = mock.stub("GET", "/gone", json={"ok": True})
    assert handle.definition is not None and handle.definition["request"]["path"] == "/gone"
    assert httpx.get(mock.url + "/gone").status_code == 200
    assert handle.remove() is True
    assert handle.remove() is False
    assert handle.definition is None
    assert httpx.get(mock.url + "/gone").status_code == 404


def test_stub_handle_as_context_manager_removes_on_exit(mock: MockServer) -> None:
    with mock.stub("GET", "/scoped", json=1):
        assert httpx.get(mock.url + "/scoped").json() == 1
    assert httpx.get(mock.url + "/scoped").status_code == 404


def test_add_stub_takes_the_full_shape_with_matchers_and_scenarios(mock: MockServer) -> None:
    mock.add_stub(
        {
            "id": "pay",
            "request": {"method": "POST", "path": "/orders", "body": {"json_path": {"$.qty": {"matches": "^[1-9]"}}}},
            "response": {"status": 202, "body": {"state": "paid"}},
            "scenario": {"name": "checkout", "required_state": "Started", "new_state": "Paid"},
        }
    )
    mock.add_stub(
        {
            "request": {"method": "POST", "path": "/orders"},
            "response": {"status": 409, "body": {"state": "already paid"}},
            "scenario": {"name": "checkout", "required_state": "Paid"},
        }
    )
    assert httpx.post(mock.url + "/orders", json={"qty": 2}).json() == {"state": "paid"}
    assert httpx.post(mock.url + "/orders", json={"qty": 2}).json() == {"state": "already paid"}
    assert "pay" in [s["id"] for s in mock.stubs()]


def test_add_stub_rejects_a_bad_stub_naming_the_field(mock: MockServer) -> None:
    with pytest.raises(StubError, match=r"response\.status"):
        mock.add_stub({"request": {"path": "/x"}, "response": {"status": 99}})


def test_verify_passes_and_returns_the_result(mock: MockServer) -> None:
    mock.stub("POST", "/orders", status=201)
    with httpx.Client(base_url=mock.url) as client:
        client.post("/orders?source=web", json={"item": "book", "qty": 1}, headers={"X-Tenant": "acme"})
        client.post("/orders", json={"item": "pen", "qty": 3})
    result = mock.verify("POST", "/orders", times=2)
    assert result["ok"] is True and result["count"] == 2
    mock.verify("POST", "/orders", at_least=1, at_most=2)
    mock.verify("POST", "/orders", times=1, query={"source": "web"}, headers={"x-tenant": "acme"})
    mock.verify("POST", "/orders", times=1, json={"item": "pen", "qty": 3})
    mock.verify("ANY", {"glob": "/ord*"}, times=2)
    mock.verify("DELETE", "/orders", times=0)


def test_verify_failure_lists_the_closest_requests(mock: MockServer) -> None:
    mock.stub("GET", "/pets/{id}", json={"id": 8})
    httpx.get(mock.url + "/pets/8?kind=cat")
    with pytest.raises(AssertionError) as info:
        mock.verify("GET", "/pets/7", query={"kind": "dog"})
    text = str(info.value)
    assert text.splitlines()[0] == (
        'expected GET /pets/7 with query kind="dog" at least 1 time, but it was received 0 times'
    )
    assert "Closest logged requests:" in text
    assert "#1 GET /pets/8" in text
    assert 'path: expected "/pets/7", got "/pets/8"' in text
    assert 'query.kind: expected equals "dog", got "cat"' in text
    assert "Logged requests (1): #1 GET /pets/8 -> 200" in text


def test_verify_failure_for_too_many_lists_the_matching_requests(mock: MockServer) -> None:
    for _ in range(3):
        httpx.get(mock.url + "/ping")
    too_many = r"at most 2 times, but it was received 3 times\nMatching requests: #1, #2, #3"
    with pytest.raises(AssertionError, match=too_many):
        mock.verify("GET", "/ping", at_most=2)
    with pytest.raises(AssertionError, match="exactly 1 time, but it was received 3 times"):
        mock.verify("GET", "/ping", times=1)


def test_verify_rejects_times_with_bounds(mock: MockServer) -> None:
    with pytest.raises(TypeError, match="not both"):
        mock.verify("GET", "/x", times=1, at_least=1)


def test_verify_with_an_empty_log_says_so(mock: MockServer) -> None:
    with pytest.raises(AssertionError, match="No request was logged"):
        mock.verify("GET", "/anything")


def test_requests_are_listed_oldest_first_and_filtered(mock: MockServer) -> None:
    with httpx.Client(base_url=mock.url) as client:
        client.get("/a/1")
        client.post("/a/2", content=b"hello")
        client.get("/b")
    assert [(r["method"], r["path"]) for r in mock.requests()] == [("GET", "/a/1"), ("POST", "/a/2"), ("GET", "/b")]
    posted = mock.requests(method="POST")
    assert [(r["path"], r["body_excerpt"]) for r in posted] == [("/a/2", "hello")]
    assert [r["path"] for r in mock.requests(path="/a/*")] == ["/a/1", "/a/2"]


def test_reset_removes_api_stubs_scenario_state_log_and_fault() -> None:
    config_stub = {"id": "cfg", "request": {"path": "/cfg"}, "response": {"body": "config"}}
    with MockServer(stubs=[config_stub]) as mock:
        mock.add_stub(
            {
                "request": {"path": "/step"},
                "response": {"body": "moved"},
                "scenario": {"name": "flow", "new_state": "Done"},
            }
        )
        httpx.get(mock.url + "/step")
        mock.fault(status=503)
        assert mock.server.services.stubs.scenario_store.state("flow") == "Done"
        mock.reset()
        assert [s["id"] for s in mock.stubs()] == ["cfg"]
        assert mock.server.services.stubs.scenario_store.state("flow") == "Started"
        assert mock.requests() == []
        assert httpx.get(mock.url + "/cfg").json() == "config"


def test_fault_sets_and_clears_the_global_fault(mock: MockServer) -> None:
    mock.stub("GET", "/ok", json="fine")
    mock.fault(status=503)
    hurt = httpx.get(mock.url + "/ok")
    assert hurt.status_code == 503 and hurt.json()["error"]["code"] == "fault_injected"
    mock.fault({"status": [502]})
    assert httpx.get(mock.url + "/ok").status_code == 502
    mock.fault(None)
    assert httpx.get(mock.url + "/ok").json() == "fine"
    with pytest.raises(ConfigError, match=r"fault\.rate"):
        mock.fault(rate=2)


def test_rollback_undoes_what_happened_after_the_checkpoint(mock: MockServer) -> None:
    kept = mock.stub("GET", "/kept", json="before")
    replaced = mock.add_stub({"id": "swap", "request": {"path": "/swap"}, "response": {"body": "old"}})
    mock.add_stub({"request": {"path": "/go"}, "scenario": {"name": "s", "new_state": "B"}})
    httpx.get(mock.url + "/kept")
    mark = mock.checkpoint()

    mock.stub("GET", "/added", json="during")
    kept.remove()
    mock.add_stub({"id": "swap", "request": {"path": "/swap"}, "response": {"body": "new"}})
    httpx.get(mock.url + "/go")
    mock.fault(status=500)
    httpx.get(mock.url + "/added")

    mock.rollback(mark)
    assert httpx.get(mock.url + "/added").status_code == 404
    assert httpx.get(mock.url + "/kept").json() == "before"
    assert httpx.get(mock.url + "/swap").json() == "old"
    assert replaced.definition is not None
    assert mock.server.services.stubs.scenario_store.state("s") == "Started"
    paths = [r["path"] for r in mock.requests()]
    assert paths == ["/kept", "/added", "/kept", "/swap"]


def test_start_with_a_spec_serves_its_routes() -> None:
    with MockServer(spec=PETSTORE, seed=3) as mock:
        r = httpx.get(mock.url + "/pets/12")
        assert r.status_code == 200
        assert set(r.json()) >= {"id", "name"}
        mock.verify("GET", "/pets/{id}", times=1)


def test_bad_config_raises_config_error_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"core\.max_request_logs"):
        MockServer({"core": {"max_request_logs": "lots"}})
    bad = tmp_path / "mockforge.yaml"
    bad.write_text("http: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        MockServer(str(bad))
    with pytest.raises(ConfigError, match="config file not found"):
        MockServer(str(tmp_path / "missing.yaml"))


def test_bad_spec_raises_spec_error_at_start(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    spec.write_text("openapi: 3.0.0\npaths: {/x: [\n")
    server = MockServer(spec=spec)
    with pytest.raises(SpecError, match=r"broken\.yaml"):
        server.start()
    assert not server.running
    server.stop()


def test_stopping_twice_is_harmless_and_restart_is_refused() -> None:
    server = MockServer().start()
    url = server.url
    server.stop()
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/x")
    with pytest.raises(RuntimeError, match="create a new one"):
        server.start()


def test_a_server_left_running_is_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    script = tmp_path / "leave_running.py"
    script.write_text(
        textwrap.dedent(
            """
            import atexit, httpx
            holder = {}

            def report():  # registered before mockforge's hook, so it runs after it
                server = holder["server"]
                print("running:", server.running, "stopped:", server.server._stopped.is_set())
                try:
                    httpx.get(holder["url"] + "/x", timeout=2)
                    print("still answering")
                except httpx.ConnectError:
                    print("refused")

            atexit.register(report)
            from mockforge import MockServer
            server = MockServer().start()
            holder.update(server=server, url=server.url)
            print("answers:", httpx.get(server.url + "/x").status_code)
            """
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:3] == ["answers: 404", "running: False stopped: True", "refused"]


async def test_async_with_runs_on_the_callers_loop() -> None:
    async with MockServer() as mock:
        mock.stub("GET", "/async", json={"loop": "shared"})
        async with httpx.AsyncClient(base_url=mock.url) as client:
            r = await client.get("/async")
        assert r.json() == {"loop": "shared"}
        mock.verify("GET", "/async", times=1)
    assert not mock.running


async def test_aiohttp_client_against_the_threaded_server(mock: MockServer) -> None:
    import aiohttp

    mock.stub("PUT", "/items/{id}", status=204)
    async with aiohttp.ClientSession() as session, session.put(mock.url + "/items/5", json={"n": 1}) as resp:
        assert resp.status == 204
    mock.verify("PUT", "/items/5", json={"n": 1})


async def test_websocket_echo_on_ws_url(mock: MockServer) -> None:
    import websockets

    async with websockets.connect(mock.ws_url + "/ws") as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
