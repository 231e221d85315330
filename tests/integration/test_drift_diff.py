"""``mockforge drift diff``: recordings replayed against a live target on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from mockforge.core.model import Request, Response
from mockforge.drift.cli import drift
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp
from mockforge.recording.fingerprint import FingerprintRules
from mockforge.recording.store import build_fixture, write_fixture_file

JSON = [("content-type", "application/json")]
LIVE: dict[tuple[str, str], tuple[int, list[tuple[str, str]], Any]] = {
    ("GET", "/users/1"): (200, JSON, {"id": "1", "name": "a", "updatedAt": "t2", "tags": [{"k": 1}], "extra": True}),
    ("GET", "/health"): (503, [("content-type", "text/plain")], "down"),
    ("GET", "/clock"): (200, JSON, {"now": 3, "name": "y"}),
    ("POST", "/users"): (201, JSON, {"id": 2}),
}


class Live(PlainApp):
    max_body_bytes = 1 << 16

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []

    async def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.path, request.headers.to_dict()))
        status, headers, body = LIVE.get((request.method, request.path), (404, JSON, {}))
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return Response(status, list(headers), raw)


class LiveThread:
    def __init__(self) -> None:
        self.app = Live()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.listener = HttpListener(self.app, "127.0.0.1", 0)
        port = asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def live() -> Iterator[LiveThread]:
    t = LiveThread()
    yield t
    t.close()


def record(root: Path, method: str, path: str, status: int, headers: list[tuple[str, str]], body: Any,
           request_headers: list[tuple[str, str]] | None = None, fingerprint: str | None = None) -> None:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    fixture = build_fixture(method=method, path=path, raw_query="", request_headers=request_headers or [],
                            request_body=b"", status=status, response_headers=headers, response_body=raw,
                            rules=FingerprintRules.create())
    if fingerprint:
        fixture = msgspec.structs.replace(fixture, fingerprint=fingerprint)
    assert write_fixture_file(root, fixture, fsync=False) == "written"


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    root = tmp_path / "fx"
    record(root, "GET", "/users/1", 200, JSON, {"id": 1, "name": "a", "updatedAt": "t1", "tags": [{"k": "x"}]},
           [("authorization", "Bearer live-token"), ("x-secret", "s3cret"), ("x-trace", "abc")])
    record(root, "GET", "/health", 200, [("content-type", "text/plain")], "ok")
    record(root, "GET", "/clock", 200, JSON, {"now": 1, "name": "x"})
    record(root, "GET", "/clock", 200, JSON, {"now": 2, "name": "x"}, fingerprint="f" * 64)
    record(root, "POST", "/users", 201, JSON, {"id": 2})
    return root


def run(*args: str) -> Any:
    return CliRunner().invoke(drift, ["diff", *args])


def test_structural_differences_are_named_by_fixture_and_path(live: LiveThread, recorded: Path,
                                                              tmp_path: Path) -> None:
    config = tmp_path / "mockforge.yaml"
    config.write_text("core:\n  fixtures:\n    redact: [x-secret]\n")
    started = time.monotonic()
    result = run("--fixtures", str(recorded), "--target", live.url, "--ignore", "$.updatedAt", "--rps", "20",
                 "--config", str(config), "--header", "X-Live-Auth: t0k", "--junit", str(tmp_path / "d.xml"))
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    got = sorted((line.split(": ")[1], line.rsplit("(", 1)[1].rstrip(")")) for line in lines)
    assert got == [("$.extra", "diff_extra_path"), ("$.id", "diff_type"), ("$.tags[*].k", "diff_type"),
                   ("/status", "diff_status")]
    assert any("users__1" in line and "recorded number vs live string" in line for line in lines)
    assert "4 request(s) replayed, 4 difference(s)" in result.stderr
    # writes are not replayed without --all-methods; the rate limit held (a lower bound only)
    assert [(m, p) for m, p, _ in live.app.seen] == [("GET", "/clock"), ("GET", "/clock"), ("GET", "/health"),
                                                     ("GET", "/users/1")]
    assert elapsed >= 3 / 20
    sent = live.app.seen[-1][2]
    assert "authorization" not in sent and "x-secret" not in sent
    assert sent["x-trace"] == "abc" and sent["x-live-auth"] == "t0k"
    assert "<failure" in (tmp_path / "d.xml").read_text()


def test_values_compare_only_when_asked_and_not_where_recordings_differed(live: LiveThread, recorded: Path) -> None:
    plain = run("--fixtures", str(recorded), "--target", live.url, "--rps", "1000", "--ignore", "$")
    assert plain.exit_code == 1  # /health still differs in status
    values = run("--fixtures", str(recorded), "--target", live.url, "--rps", "1000", "--compare-values",
                 "--ignore", "$.updatedAt")
    clock = [line for line in values.stdout.splitlines() if "clock" in line]
    # $.now differed between the two recordings: volatile; $.name did not
    assert len(clock) == 2 and all("$.name: recorded 'x' vs live 'y' (diff_value)" in line for line in clock)


def test_max_requests_and_write_confirmation(live: LiveThread, recorded: Path) -> None:
    one = run("--fixtures", str(recorded), "--target", live.url, "--rps", "1000", "--max-requests", "1")
    assert "1 request(s) replayed" in one.stderr
    assert len(live.app.seen) == 1
    refused = run("--fixtures", str(recorded), "--target", live.url, "--all-methods")
    assert refused.exit_code == 2 and "--yes-send-writes" in refused.stderr
    assert len(live.app.seen) == 1
    writes = run("--fixtures", str(recorded), "--target", live.url, "--rps", "1000", "--all-methods",
                 "--yes-send-writes")
    assert ("POST", "/users") in [(m, p) for m, p, _ in live.app.seen]
    assert "5 request(s) replayed" in writes.stderr


def test_bad_input_exits_2(tmp_path: Path, recorded: Path) -> None:
    for args, needle in (
        (["--fixtures", str(tmp_path / "nope"), "--target", "http://127.0.0.1:9"], "nope"),
        (["--fixtures", str(recorded), "--target", "http://127.0.0.1:9", "--header", "novalue"], "--header"),
        (["--fixtures", str(recorded), "--target", "http://127.0.0.1:9", "--ignore", "updatedAt"], "--ignore"),
        (["--fixtures", str(recorded), "--target", "http://127.0.0.1:9", "--rps", "1000"], "127.0.0.1:9"),
    ):
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.stderr
