"""Record and replay over real sockets: a real upstream on 127.0.0.1, mockforge in record mode in
front of it, then the upstream stopped and the same requests answered from the files on disk."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from mockforge.core.model import Headers, Request, Response
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp
from mockforge.recording.cli import fixtures as fixtures_cli
from mockforge.recording.fingerprint import FingerprintRules, fingerprint
from mockforge.recording.store import parse_fixture
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]


class Upstream(PlainApp):
    """A tiny real backend: fixed JSON, an echo, a counter, a big body and binary bytes."""

    max_body_bytes = 1 << 20

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.seen_headers: list[dict[str, str]] = []

    async def handle(self, request: Request) -> Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.seen_headers.append(request.headers.to_dict())
        json_ct = ("content-type", "application/json")
        if request.path == "/pets/7":
            return Response(200, [json_ct, ("x-upstream", "real"), ("set-cookie", "sid=s3cr3t; Path=/")],
                            b'{"id": 7, "name": "rex"}')
        if request.path == "/echo":
            got = json.loads(request.body or b"null")
            body = json.dumps({"got": got, "query": request.raw_query}).encode()
            return Response(201, [json_ct, ("x-echo", "1")], body)
        if request.path == "/counter":
            return Response(200, [json_ct], json.dumps({"n": self.hits[request.path]}).encode())
        if request.path == "/big":
            return Response(200, [("content-type", "text/plain")], b"x" * 200_000)
        if request.path == "/bin":
            return Response(200, [("content-type", "application/octet-stream")], bytes(range(256)))
        return Response(404, [json_ct], b'{"upstream": "no such path"}')



class UpstreamServer:
    """The upstream on its own event loop in a thread, so tests can call mockforge synchronously."""

    def __init__(self) -> None:
        self.app = Upstream()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.listener = HttpListener(self.app, "127.0.0.1", 0)
        port = asyncio.run_coroutine_threadsafe(self.listener.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.listener.stop(1.0), self.loop).result(10)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer()
    yield server
    server.close()


def config(fixture_dir: Path, mode: str, upstream: str | None = None, **fixtures: Any) -> dict[str, Any]:
    core: dict[str, Any] = {"fixtures": {"mode": mode, "dir": str(fixture_dir), **fixtures},
                            "max_logged_body_bytes": 65536}
    if upstream:
        core["proxy"] = {"upstream": upstream, "timeout_ms": 5000}
    return {"core": core}


def json_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.name != ".usage.json" and "stubs" not in p.parts)


async def drain(mock: MockServer) -> None:
    """Wait until the server's pending fixture writes are on disk (polling, with a deadline)."""
    store = mock.server.services.fixtures.store
    deadline = time.monotonic() + 10
    while store.pending and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    assert store.pending == 0


def http_cli(*args: str) -> Any:
    return CliRunner().invoke(fixtures_cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------- record / replay


async def test_record_then_replay_with_the_upstream_stopped(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    app, url = upstream.app, upstream.url
    requests: list[tuple[str, str, dict[str, str], Any]] = [
        ("GET", "/pets/7", {}, None),
        ("POST", "/echo", {"q": "1"}, {"b": 2, "a": [1, 2]}),
        ("GET", "/bin", {}, None),
        ("GET", "/nope", {}, None),
    ]
    recorded: list[httpx.Response] = []
    with MockServer(config=config(tmp_path, "record", url)) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            for method, path, params, body in requests:
                recorded.append(await client.request(method, path, json=body, params=params))
        await drain(mock)
    assert [r.status_code for r in recorded] == [200, 201, 200, 404]
    assert recorded[0].headers["set-cookie"] == "sid=s3cr3t; Path=/"  # the client gets the real answer
    assert recorded[2].content == bytes(range(256))
    files = json_files(tmp_path)
    assert len(files) == 4
    assert any(f.parent.name == "pets__7" and f.parent.parent.name == "get" for f in files)
    upstream.stop()

    with MockServer(config=config(tmp_path, "replay_strict")) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            for (method, path, params, body), before in zip(requests, recorded, strict=True):
                again = await client.request(method, path, json=body, params=params)
                assert again.status_code == before.status_code
                assert again.content == before.content
                for name in ("content-type", "x-upstream", "x-echo"):
                    assert again.headers.get(name) == before.headers.get(name)
    assert app.hits["/pets/7"] == 1


async def test_secrets_are_redacted_on_disk(tmp_path: Path, upstream: UpstreamServer) -> None:
    url = upstream.url
    cfg = config(tmp_path, "record", url, redact=["x-internal-token", "password"])
    with MockServer(config=cfg) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            r = await client.post(
                "/echo",
                json={"user": "ann", "password": "hunter2"},
                headers={"Authorization": "Bearer t0psecret", "Cookie": "sid=c00kie", "X-Api-Key": "k3y",
                         "X-Internal-Token": "int3rnal"},
            )
            assert r.json()["got"]["password"] == "hunter2"
            await client.get("/pets/7")
        await drain(mock)
    text = "\n".join(f.read_text() for f in json_files(tmp_path))
    for secret in ("t0psecret", "c00kie", "k3y", "int3rnal", "hunter2", "s3cr3t"):
        assert secret not in text
    assert text.count("<redacted>") >= 6
    # the recorded redacted request is still found by a live request carrying real secrets
    with MockServer(config=config(tmp_path, "replay_strict", redact=["x-internal-token", "password"])) as mock:
        r = httpx.post(mock.url + "/echo", json={"password": "other", "user": "ann"})
        assert r.status_code == 201
        assert r.json()["got"] == {"user": "ann", "password": "<redacted>"}


async def test_json_bodies_match_whatever_the_key_order(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    url = upstream.url
    cfg = config(tmp_path, "record", url, ignore_body_fields=["request_id"])
    with MockServer(config=cfg) as mock:
        first = httpx.post(mock.url + "/echo", content=b'{"a": 1, "b": {"c": 2, "d": [3, 4]}, "request_id": "r1"}',
                           headers={"content-type": "application/json"})
        await drain(mock)
    with MockServer(config=config(tmp_path, "replay_strict", ignore_body_fields=["request_id"])) as mock:
        again = httpx.post(mock.url + "/echo", content=b'{"request_id":"r2","b":{"d":[3,4],"c":2},"a":1}',
                           headers={"content-type": "application/json"})
        assert again.status_code == 201
        assert again.content == first.content
        other = httpx.post(mock.url + "/echo", json={"a": 1, "b": {"c": 2, "d": [4, 3]}})
        assert other.status_code == 404


async def test_replay_strict_answers_404_with_the_fingerprint(tmp_path: Path) -> None:
    with MockServer(config=config(tmp_path, "replay_strict")) as mock:
        r = httpx.get(mock.url + "/pets/8?b=2&a=1")
    assert r.status_code == 404
    err = r.json()["error"]
    expected = fingerprint(Request(protocol="http", method="GET", path="/pets/8", raw_query="a=1&b=2"),
                           FingerprintRules())
    assert err["code"] == "fixture_not_found"
    assert {"location": "fingerprint", "reason": expected} in err["details"]
    assert {"location": "file", "reason": f"http/get/pets__8/{expected}.json"} in err["details"]
    assert r.headers["x-mockforge-fingerprint"] == expected


async def test_replay_falls_through_to_stubs_and_spec(tmp_path: Path) -> None:
    stub = {"request": {"method": "GET", "path": "/hello"}, "response": {"status": 200, "body": {"stub": True}}}
    with MockServer(config=config(tmp_path, "replay"), stubs=[stub]) as mock:
        assert httpx.get(mock.url + "/hello").json() == {"stub": True}
        assert httpx.get(mock.url + "/unknown").json()["error"]["code"] == "not_found"


async def test_record_missing_replays_what_exists_and_records_the_rest(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    app, url = upstream.app, upstream.url
    with MockServer(config=config(tmp_path, "record_missing", url)) as mock:
        async with httpx.AsyncClient(base_url=mock.url) as client:
            first = await client.get("/counter")
            await drain(mock)
            second = await client.get("/counter")
            new = await client.get("/pets/7")
            await drain(mock)
    assert first.json() == second.json() == {"n": 1}
    assert app.hits["/counter"] == 1
    assert new.json()["name"] == "rex"
    assert len(json_files(tmp_path)) == 2


async def test_unreachable_upstream_gives_502_and_writes_nothing(tmp_path: Path) -> None:
    dead = HttpListener(Upstream(), "127.0.0.1", 0)
    port = await dead.start()
    await dead.stop(0.1)  # a port nobody listens on any more
    with MockServer(config=config(tmp_path, "record", f"http://127.0.0.1:{port}")) as mock:
        r = httpx.get(mock.url + "/pets/7")
        assert httpx.get(mock.url + "/health").status_code == 200
        await drain(mock)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_unreachable"
    assert json_files(tmp_path) == []


async def test_corrupt_fixture_gives_500_naming_the_file_and_verify_reports_it(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    url = upstream.url
    with MockServer(config=config(tmp_path, "record", url)) as mock:
        httpx.get(mock.url + "/pets/7")
        httpx.get(mock.url + "/counter")
        await drain(mock)
    broken = next(f for f in json_files(tmp_path) if f.parent.name == "pets__7")
    broken.write_text('{"version": 1, "fingerprint": "trunc')
    with MockServer(config=config(tmp_path, "replay")) as mock:
        r = httpx.get(mock.url + "/pets/7")
        assert r.status_code == 500
        assert r.json()["error"]["code"] == "fixture_corrupt"
        assert str(broken) in r.json()["error"]["message"]
        assert httpx.get(mock.url + "/counter").json() == {"n": 1}  # still serving
    result = http_cli("verify", "--dir", str(tmp_path))
    assert result.exit_code == 1
    assert str(broken) in result.output
    assert "2 fixture(s) checked, 1 problem(s)" in result.output
    broken.unlink()
    assert http_cli("verify", "--dir", str(tmp_path)).exit_code == 0


async def test_big_answers_stream_through_unrecorded_and_pending_writes_are_bounded(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    url = upstream.url
    cfg = config(tmp_path, "record", url, max_pending_writes=0)
    cfg["http"] = {"max_body_bytes": 65536}
    with MockServer(config=cfg) as mock:
        big = httpx.get(mock.url + "/big")
        small = httpx.get(mock.url + "/pets/7")
        stats = httpx.get(mock.admin_url + "/fixtures/stats").json()
    assert big.status_code == 200 and big.content == b"x" * 200_000
    assert small.json()["id"] == 7
    assert stats["not_recorded"] == 1
    assert stats["skipped_pending"] == 1
    assert json_files(tmp_path) == []


# --------------------------------------------------------------------------- admin API and HAR


async def test_admin_api_lists_shows_converts_and_deletes(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    url = upstream.url
    stubs_dir = tmp_path / "stubs-live"
    stubs_dir.mkdir()
    cfg = config(tmp_path / "fx", "record_missing", url)
    cfg["http"] = {"stubs_dir": str(stubs_dir)}
    with MockServer(config=cfg) as mock:
        admin = mock.admin_url
        for path in ("/pets/7", "/counter", "/bin"):
            httpx.get(mock.url + path)
        await drain(mock)
        page = httpx.get(admin + "/fixtures", params={"limit": 2}).json()
        assert page["total"] == 3 and len(page["fixtures"]) == 2 and page["next_offset"] == 2
        rest = httpx.get(admin + "/fixtures", params={"offset": 2}).json()
        every = page["fixtures"] + rest["fixtures"]
        assert {f["path"] for f in every} == {"/pets/7", "/counter", "/bin"}
        pet = next(f for f in every if f["path"] == "/pets/7")
        assert set(pet) == {"id", "method", "path", "status", "recorded_at"}
        shown = httpx.get(f"{admin}/fixtures/{pet['id']}").json()
        assert shown["response"]["status"] == 200 and shown["fingerprint"] == pet["id"]

        made = httpx.post(f"{admin}/fixtures/{pet['id']}/to-stub")
        assert made.status_code == 201
        stub_file = Path(made.json()["file"])
        assert stub_file.parent == stubs_dir and made.json()["loaded"] is True
        assert "/pets/7" in stub_file.read_text()
        assert httpx.delete(f"{admin}/fixtures/{pet['id']}").json() == {"deleted": 1}
        assert httpx.get(f"{admin}/fixtures/{pet['id']}").status_code == 404
        # the stub now answers what the fixture did
        answered = httpx.get(mock.url + "/pets/7")
        assert answered.json() == {"id": 7, "name": "rex"}
        assert answered.headers["x-upstream"] == "real"
        assert httpx.delete(admin + "/fixtures").json() == {"deleted": 2}
        assert httpx.get(admin + "/fixtures").json()["total"] == 0


async def test_the_short_ids_fixtures_list_prints_work_on_every_admin_endpoint(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    stubs_dir = tmp_path / "stubs-short"
    stubs_dir.mkdir()
    cfg = config(tmp_path / "fx", "record_missing", upstream.url)
    cfg["http"] = {"stubs_dir": str(stubs_dir)}
    with MockServer(config=cfg) as mock:
        admin = mock.admin_url
        httpx.get(mock.url + "/pets/7")
        await drain(mock)
        listed = http_cli("list", "--dir", str(tmp_path / "fx"))
        short = listed.output.split()[0]  # what a user copies from `mockforge fixtures list`
        assert len(short) == 12
        full = httpx.get(f"{admin}/fixtures").json()["fixtures"][0]["id"]
        assert full.startswith(short)
        assert httpx.get(f"{admin}/fixtures/{short}").json()["fingerprint"] == full
        assert httpx.post(f"{admin}/fixtures/{short}/to-stub").status_code == 201
        assert httpx.delete(f"{admin}/fixtures/{short[:8]}").json() == {"deleted": 1}
        gone = httpx.get(f"{admin}/fixtures/{short}")
        assert gone.status_code == 404 and short in gone.text
        too_short = httpx.get(f"{admin}/fixtures/{short[:7]}")
        assert too_short.status_code == 404 and "fixtures list" in too_short.text
        for hostile in ("..%2f..%2fetc", "*" * 10, "abcdefg*", "ABCDEF12"):
            assert httpx.get(f"{admin}/fixtures/{hostile}").status_code == 404


async def test_har_export_and_import_round_trip(
    tmp_path: Path, upstream: UpstreamServer
) -> None:
    url = upstream.url
    calls = [("GET", "/pets/7", None), ("POST", "/echo", {"z": 1, "a": "two"}), ("GET", "/counter", None)]
    with MockServer(config=config(tmp_path / "recorded", "record", url)) as mock:
        answers = [httpx.request(m, mock.url + p, json=b, headers={"authorization": "Bearer har-secret"})
                   for m, p, b in calls]
        har = httpx.get(mock.admin_url + "/logs.har").json()
    assert har["log"]["version"] == "1.2"
    entries = har["log"]["entries"]
    assert [(e["request"]["method"], e["response"]["status"]) for e in entries] == [
        ("GET", 200), ("POST", 201), ("GET", 200)]
    assert "har-secret" not in json.dumps(har)
    har_file = tmp_path / "session.har"
    har_file.write_text(json.dumps(har))
    upstream.stop()

    imported = tmp_path / "imported"
    result = http_cli("import", str(har_file), "--dir", str(imported))
    assert result.exit_code == 0, result.output
    assert "3 fixture(s) written" in result.output
    assert http_cli("verify", "--dir", str(imported)).exit_code == 0
    listing = http_cli("list", "--dir", str(imported), "--json")
    assert {json.loads(line)["path"] for line in listing.output.splitlines()} == {"/pets/7", "/echo", "/counter"}
    with MockServer(config=config(imported, "replay_strict")) as mock:
        for (method, path, body), before in zip(calls, answers, strict=True):
            again = httpx.request(method, mock.url + path, json=body)
            assert again.status_code == before.status_code
            assert again.json() == before.json()
            assert again.headers["content-type"] == "application/json"


# --------------------------------------------------------------------------- processes


def test_crash_during_writes_leaves_no_half_file(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from mockforge.recording.fingerprint import FingerprintRules
        from mockforge.recording.store import build_fixture, write_fixture_file

        root, rules, i = Path(sys.argv[1]), FingerprintRules(), 0
        while True:
            f = build_fixture(method="GET", path=f"/item/{i % 50}", raw_query=f"i={i}", request_headers=[],
                              request_body=b"", status=200, response_headers=[("content-type", "text/plain")],
                              response_body=b"y" * 400_000, rules=rules)
            write_fixture_file(root, f, fsync=False)
            i += 1
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while len(json_files(tmp_path)) < 30 and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    files = json_files(tmp_path)
    assert len(files) >= 30
    for f in files:
        fixture = parse_fixture(f.read_bytes(), str(f))
        assert fixture.response_body() == b"y" * 400_000
    result = http_cli("verify", "--dir", str(tmp_path))
    assert all("unfinished write" in line for line in result.output.splitlines() if line.startswith("error:"))
    http_cli("prune", "--dir", str(tmp_path), "--unused-since", "2000-01-01")
    assert http_cli("verify", "--dir", str(tmp_path)).exit_code == 0


def test_replay_mode_never_imports_the_http_client(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, urllib.request, urllib.error
        from mockforge.testing.server import MockServer
        with MockServer(config={"core": {"fixtures": {"mode": "replay_strict", "dir": sys.argv[1]}}}) as mock:
            try:
                urllib.request.urlopen(mock.url + "/pets/1")
            except urllib.error.HTTPError as exc:
                assert exc.code == 404, exc.code
            assert mock.server.services.fixtures is not None
        print("httpx" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


async def test_pure_proxy_service_streams_long_answers(upstream: UpstreamServer,
                                                       tmp_path: Path) -> None:
    from mockforge.recording.service import FixtureService
    from mockforge.runtime import Runtime
    from mockforge.testing.server import make_config

    app, url = upstream.app, upstream.url
    cfg = make_config(config={"core": {"fixtures": {"dir": str(tmp_path)},
                                       "proxy": {"upstream": url, "headers": {"x-added": "yes"}}}})
    service = FixtureService(Runtime(cfg))
    try:
        small = await service.answer(Request(protocol="http", method="GET", path="/pets/7",
                                             headers=Headers([("connection", "x-drop"), ("x-drop", "1")])))
        assert small is not None and small.status == 200 and small.body == b'{"id": 7, "name": "rex"}'
        assert app.seen_headers[-1].get("x-added") == "yes" and "x-drop" not in app.seen_headers[-1]
        big = await service.answer(Request(protocol="http", method="GET", path="/big"))
        assert big is not None and big.stream is not None and big.body == b""
        assert b"".join([chunk async for chunk in big.stream]) == b"x" * 200_000
    finally:
        await service.aclose()
    assert json_files(tmp_path) == []


def test_fixture_file_shape_matches_the_issue(tmp_path: Path) -> None:
    from mockforge.recording.store import build_fixture, encode_fixture

    f = build_fixture(method="GET", path="/a", raw_query="", request_headers=[], request_body=b"", status=204,
                      response_headers=[], response_body=b"", rules=FingerprintRules())
    data = msgspec.json.decode(encode_fixture(f))
    assert list(data) == ["version", "fingerprint", "request", "response", "recorded_at", "duration_ms"]
    assert list(data["request"]) == ["method", "path", "query", "headers", "body", "body_encoding", "body_sha256"]
    assert list(data["response"]) == ["status", "headers", "body", "body_encoding"]


async def test_usage_times_are_saved_at_stop_and_prune_uses_them(tmp_path: Path, upstream: UpstreamServer) -> None:
    with MockServer(config=config(tmp_path, "record", upstream.url)) as mock:
        httpx.get(mock.url + "/pets/7")
        httpx.get(mock.url + "/counter")
        await drain(mock)
    for f in json_files(tmp_path):  # pretend both were recorded long ago
        data = json.loads(f.read_text())
        data["recorded_at"] = "2001-01-01T00:00:00Z"
        f.write_text(json.dumps(data))
    with MockServer(config=config(tmp_path, "replay_strict")) as mock:
        assert httpx.get(mock.url + "/pets/7").status_code == 200
    usage = json.loads((tmp_path / ".usage.json").read_text())
    assert [k.split("/")[2] for k in usage] == ["pets__7"]
    result = http_cli("prune", "--dir", str(tmp_path), "--unused-since", "2020-01-01")
    assert "1 fixture(s) deleted" in result.output
    assert [f.parent.name for f in json_files(tmp_path)] == ["pets__7"]
