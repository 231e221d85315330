"""OpenAPI callbacks and 3.1 webhooks over real sockets: a receiving HTTP server on 127.0.0.1
port 0 records what mockforge sends; retries, bounds, the allow list (with DNS rebinding) and
redirects; each exchange in the request log; the answer already sent never changes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mockforge.core.model import LogEntry
from mockforge.http.callbacks import CallbackSender
from mockforge.testing.server import MockServer

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "hooks", "version": "1"},
    "paths": {
        "/subscribe": {
            "post": {
                "operationId": "subscribe",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"201": {"description": "ok", "content": {"application/json": {"example": {"id": 1}}}}},
                "callbacks": {
                    "onEvent": {
                        "{$request.body#/callbackUrl}?sub={$request.query.sub}": {
                            "post": {
                                "requestBody": {"content": {"application/json": {
                                    "schema": {"$ref": "#/components/schemas/Event"}}}},
                                "responses": {"204": {"description": "ok"}},
                            }
                        }
                    }
                },
            }
        },
        "/plain": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {
            "example": [1]}}}}}},
    },
    "webhooks": {
        "newPet": {
            "post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}}},
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
    "components": {
        "schemas": {
            "Event": {
                "type": "object", "required": ["kind", "at"],
                "properties": {"kind": {"enum": ["created"]}, "at": {"type": "integer", "minimum": 1}},
            },
            "Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}}},
        }
    },
}


def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.01)


class Receiver:
    """A real HTTP server that records each request and answers from a script of statuses."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.headers: dict[str, str] = {}
        self.body = b""
        self.hold = threading.Event()
        self.hold.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append({"path": self.path, "headers": headers, "body": body})
                receiver.hold.wait(30)
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                for k, v in receiver.headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def serve(tmp_path: Path, callbacks: dict[str, Any] | None = None, **extra: Any) -> MockServer:
    spec = tmp_path / "hooks.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    config = {"http": {"callbacks": {"retry_backoff_ms": 1, **(callbacks or {})}}, **extra}
    return MockServer(config=config, spec=spec, seed=3)


def callback_entries(mock: MockServer) -> list[LogEntry]:
    return [e for e in mock.server.runtime.log.snapshot() if e.matched == "callback"]


class Sleeps:
    """Records the waits between attempts instead of waiting (no timing in tests)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def sender_of(mock: MockServer) -> CallbackSender:
    services = mock.server.services
    assert services is not None and services.spec.callbacks is not None
    return services.spec.callbacks


def test_a_callback_goes_out_after_the_answer_with_a_generated_body(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as mock:
        r = httpx.post(mock.url + "/subscribe?sub=7", json={"callbackUrl": receiver.url + "/events"})
        assert r.status_code == 201 and r.json() == {"id": 1}
        (got,) = eventually(lambda: receiver.received, "the callback is received")
        assert got["path"] == "/events?sub=7"
        event = json.loads(got["body"])
        assert event["kind"] == "created" and isinstance(event["at"], int) and event["at"] >= 1
        assert got["headers"]["content-type"] == "application/json"
        assert got["headers"]["host"] == receiver.url.removeprefix("http://")
        (entry,) = eventually(lambda: callback_entries(mock), "the callback exchange is logged")
        assert entry.method == "POST" and entry.path == receiver.url + "/events?sub=7"
        assert entry.status == 204 and entry.route == "POST /subscribe callback onEvent"
        assert json.loads(entry.body_excerpt) == event


def test_an_answer_that_is_not_2xx_sends_no_callback(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as mock:
        r = httpx.post(mock.url + "/subscribe", json={"callbackUrl": receiver.url}, headers={"Prefer": "code=500"})
        assert r.status_code >= 400
        r = httpx.post(mock.url + "/subscribe", content=b"[1", headers={"content-type": "application/json"})
        assert r.status_code == 400
        assert httpx.get(mock.url + "/plain").json() == [1]
        assert callback_entries(mock) == [] and receiver.received == []


def test_a_failing_receiver_is_retried_with_backoff(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [503, 500, 204]
    with serve(tmp_path, {"retries": 2, "retry_backoff_ms": 200}) as mock:
        sleeps = sender_of(mock).sleep = Sleeps()
        assert httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url}).status_code == 201
        entries = eventually(lambda: len(callback_entries(mock)) == 3 and callback_entries(mock), "three attempts")
        assert [e.status for e in entries] == [503, 500, 204]
        assert sleeps.delays == [0.2, 0.4]
        assert len(receiver.received) == 3


def test_an_unreachable_receiver_never_changes_the_answer(tmp_path: Path) -> None:
    closed = Receiver()
    url = closed.url
    closed.close()  # nothing listens there any more
    with serve(tmp_path, {"retries": 1}) as mock:
        sender_of(mock).sleep = Sleeps()
        r = httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": url + "/gone"})
        assert r.status_code == 201 and r.json() == {"id": 1}
        entries = eventually(lambda: len(callback_entries(mock)) == 2 and callback_entries(mock), "two attempts")
        assert all(e.status == 0 and "ConnectError" in e.status_text for e in entries)
        assert httpx.get(mock.url + "/plain").json() == [1]  # the server goes on serving


@pytest.mark.parametrize("url", [
    "http://10.20.30.40/hook",  # an address not on the list
    "http://example.com/hook",  # a name not on the list
    "file:///etc/passwd",
    "http://user:pw@127.0.0.1/x",
    "http://127.0.0.1/a b",
])
def test_a_host_off_the_allow_list_is_not_called(tmp_path: Path, url: str) -> None:
    with serve(tmp_path) as mock:
        assert httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": url}).status_code == 201
        (entry,) = eventually(lambda: callback_entries(mock), "the refusal is logged")
        assert entry.status == 0 and entry.status_text.startswith("not sent: ")
        assert sender_of(mock).counters()["not_sent"] == 1


def test_a_name_that_resolves_off_the_list_is_refused(tmp_path: Path, receiver: Receiver) -> None:
    """DNS rebinding: the name is allowed, but it resolves to an address that is not."""
    port = receiver.url.rsplit(":", 1)[1]
    with serve(tmp_path, {"allow_hosts": ["hooks.test", "127.0.0.1"]}) as mock:
        answers = {"hooks.test": ["127.0.0.1", "10.0.0.9"]}

        async def resolve(host: str, _port: int) -> list[str]:
            return answers[host]

        sender_of(mock).resolve = resolve
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": f"http://hooks.test:{port}/x"})
        (entry,) = eventually(lambda: callback_entries(mock), "the refusal is logged")
        assert "resolves to 10.0.0.9" in entry.status_text and receiver.received == []
        answers["hooks.test"] = ["127.0.0.1"]  # now only allowed addresses: sent, to the checked one
        httpx.post(mock.url + "/subscribe?sub=2", json={"callbackUrl": f"http://hooks.test:{port}/x"})
        (got,) = eventually(lambda: receiver.received, "the callback is received")
        assert got["headers"]["host"] == f"hooks.test:{port}" and got["path"] == "/x?sub=2"


def test_a_resolver_that_never_answers_is_bounded_by_the_timeout(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path, {"allow_hosts": ["slow.test", "127.0.0.1"], "timeout_ms": 50}) as mock:
        async def hang(host: str, port: int) -> list[str]:
            import asyncio

            await asyncio.Event().wait()
            return []

        sender_of(mock).resolve = hang
        assert httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": "http://slow.test/x"}).status_code == 201
        (entry,) = eventually(lambda: callback_entries(mock), "the refusal is logged")
        assert "did not resolve within http.callbacks.timeout_ms" in entry.status_text
        assert sender_of(mock).counters() == {"in_flight": 0, "dropped": 0, "not_sent": 1}


def test_localhost_is_allowed_by_default_through_real_resolution(tmp_path: Path, receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    with serve(tmp_path) as mock:
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": f"http://localhost:{port}/l"})
        (got,) = eventually(lambda: receiver.received, "the callback is received")
        assert got["path"] == "/l?sub=1"


def test_a_redirect_is_not_followed(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [302]
    receiver.headers = {"location": "http://10.0.0.1/steal"}
    with serve(tmp_path) as mock:
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url})
        (entry,) = eventually(lambda: callback_entries(mock), "the 302 is logged")
        assert entry.status == 302 and len(receiver.received) == 1


def test_bounds_url_length_response_bytes_and_in_flight(tmp_path: Path, receiver: Receiver) -> None:
    receiver.body = b"x" * 100_000
    with serve(tmp_path, {"max_url_bytes": 64, "max_response_bytes": 1000, "max_in_flight": 1}) as mock:
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url + "/" + "a" * 80})
        (long_url,) = eventually(lambda: callback_entries(mock), "the long URL is refused")
        assert "max_url_bytes" in long_url.status_text and receiver.received == []
        receiver.statuses = [200]
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url + "/big"})
        big = eventually(lambda: [e for e in callback_entries(mock) if e.status == 200], "the big answer")
        assert big[0].response_bytes == 1000
        receiver.hold.clear()  # the receiver now holds each request until released
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url + "/held"})
        eventually(lambda: len(receiver.received) == 2, "the held callback arrived")
        httpx.post(mock.url + "/subscribe?sub=1", json={"callbackUrl": receiver.url + "/dropped"})
        assert sender_of(mock).counters()["dropped"] == 1
        receiver.hold.set()
        eventually(lambda: sender_of(mock).counters()["in_flight"] == 0, "the held callback ends")
        assert [r["path"] for r in receiver.received] == ["/big?sub=1", "/held?sub=1"]
        stats = httpx.get(mock.admin_url + "/stats").json()
        assert stats["refused"]["callbacks"] == {"in_flight": 0, "dropped": 1, "not_sent": 1}


def test_admin_fires_a_webhook(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as mock:
        assert httpx.get(mock.admin_url + "/webhooks").json() == {"webhooks": [{"name": "newPet", "methods": ["POST"]}]}
        r = httpx.post(mock.admin_url + "/webhooks/newPet", json={"url": receiver.url + "/pets"})
        assert r.status_code == 200
        assert r.json() == {"webhook": "newPet", "url": receiver.url + "/pets", "status": 204, "attempts": 1,
                            "delivered": True}
        (got,) = receiver.received
        pet = json.loads(got["body"])
        assert isinstance(pet["name"], str) and pet["name"]
        (entry,) = callback_entries(mock)
        assert entry.route == "webhook newPet" and entry.status == 204


def test_admin_webhook_hostile_and_wrong_input(tmp_path: Path, receiver: Receiver) -> None:
    with serve(tmp_path) as mock:
        admin = mock.admin_url
        missing = httpx.post(admin + "/webhooks/nope", json={"url": receiver.url})
        assert missing.status_code == 404 and "newPet" in missing.text
        assert httpx.post(admin + "/webhooks/newPet", json={"href": receiver.url}).status_code == 400
        assert httpx.post(admin + "/webhooks/newPet", json=["x"]).status_code == 400
        assert httpx.post(admin + "/webhooks/newPet", json={"url": receiver.url, "method": "PUT"}).status_code == 400
        off_list = httpx.post(admin + "/webhooks/newPet", json={"url": "http://169.254.169.254/latest"})
        assert off_list.status_code == 403 and "allow_hosts" in off_list.json()["error"]
        assert httpx.get(admin + "/webhooks/newPet").status_code == 405
        assert receiver.received == []


def test_a_spec_without_callbacks_creates_no_sender(tmp_path: Path) -> None:
    spec = tmp_path / "plain.yaml"
    spec.write_text(yaml.safe_dump({**SPEC, "paths": {"/plain": SPEC["paths"]["/plain"]}, "webhooks": {}}))
    with MockServer(spec=spec) as mock:
        services = mock.server.services
        assert services is not None and services.spec.callbacks is None
        assert httpx.post(mock.admin_url + "/webhooks/newPet", json={"url": "http://127.0.0.1:1"}).status_code == 404
