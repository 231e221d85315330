"""The console's files over real HTTP (httpx): security headers on every answer, assets confined
to their folder, only on admin surfaces, Host/Origin checks applied, the token rule (the shell
loads without the token, data does not), and nothing of ``mockforge.ui`` imported before the
first console request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockforge.config import build_config
from mockforge.server import Server
from mockforge.testing.server import MockServer
from mockforge.ui import serving

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    mock = MockServer({"admin": {"enabled": True}}).start()
    try:
        yield mock
    finally:
        mock.stop()


@pytest.fixture
def admin(server: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.admin_url, timeout=10) as client:
        yield client


def _raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """A GET with the target sent byte for byte (httpx would normalise ``..``)."""
    import socket

    given = {"Host": f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
    lines = [f"GET {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in given.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _secure(resp: httpx.Response) -> None:
    assert resp.headers["content-security-policy"] == CSP
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


def test_index_and_assets_are_served_with_types_and_the_strict_csp(admin: httpx.Client) -> None:
    index = admin.get("/ui/")
    assert index.status_code == 200 and index.headers["content-type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="assets/app.js"></script>' in index.content
    assert b"<script>" not in index.content and b"style=" not in index.content
    _secure(index)
    for path, ctype, marker in (("app.js", "text/javascript", b"export function navigate"),
                                ("dom.js", "text/javascript", b"export function h("),
                                ("api.js", "text/javascript", b"export async function stream("),
                                ("app.css", "text/css", b"--accent"),
                                ("pages/traffic.js", "text/javascript", b"export async function mount")):
        resp = admin.get(f"/ui/assets/{path}")
        assert resp.status_code == 200, path
        assert resp.headers["content-type"].startswith(ctype)
        assert marker in resp.content
        _secure(resp)
    redirect = admin.get("/ui")
    assert redirect.status_code == 308 and redirect.headers["location"] == "/__mockforge/ui/"


def test_etag_revalidation_answers_304(admin: httpx.Client) -> None:
    first = admin.get("/ui/assets/app.js")
    assert first.headers["cache-control"] == "no-cache"
    again = admin.get("/ui/assets/app.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_no_app_script_uses_html_sinks() -> None:
    """The app builds elements with dom.h() only: no HTML parsing sink anywhere in its code."""
    found = []
    for path in serving.ASSETS.rglob("*.js"):
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            if sink in text:
                found.append(f"{path.name}: {sink}")
    assert found == []


@pytest.mark.parametrize("target", [
    "/__mockforge/ui/assets/../../config.py",
    "/__mockforge/ui/assets/%2e%2e/%2e%2e/config.py",
    "/__mockforge/ui/assets/%2E%2E%2F%2E%2E%2Fconfig.py",
    "/__mockforge/ui/assets//etc/passwd",
    "/__mockforge/ui/assets/%2Fetc%2Fpasswd",
    "/__mockforge/ui/assets/.hidden.js",
    "/__mockforge/ui/assets/pages/../../serving.py",
    "/__mockforge/ui/assets/app.js%00.css",
    "/__mockforge/ui/assets/nope.js",
    "/__mockforge/ui/assets/",
    "/__mockforge/ui/other",
])
def test_paths_outside_the_assets_are_404(server: MockServer, target: str) -> None:
    status, body = _raw_get(server.ports["admin"], target)
    assert status in (400, 404), target
    assert b"import" not in body and b"root:" not in body


def test_symlinks_leading_out_of_the_assets_are_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   admin: httpx.Client) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "index.html").write_text("<!doctype html><title>t</title>")
    (assets / "ok.js").write_text("export const ok = 1;\n")
    secret = tmp_path / "secret.js"
    secret.write_text("SECRET")
    os.symlink(secret, assets / "out.js")
    os.symlink(assets / "ok.js", assets / "in.js")
    monkeypatch.setattr(serving, "ASSETS", assets)
    monkeypatch.setattr(serving, "_roots", None)
    assert admin.get("/ui/assets/ok.js").text == "export const ok = 1;\n"
    out = admin.get("/ui/assets/out.js")
    assert out.status_code == 404 and b"SECRET" not in out.content
    _secure(out)
    assert admin.get("/ui/assets/in.js").status_code == 200  # a link that stays inside is a file there


def test_writes_to_the_console_are_refused(admin: httpx.Client) -> None:
    resp = admin.post("/ui/assets/app.js", json={})
    assert resp.status_code == 405 and resp.headers["allow"] == "GET, HEAD"


def test_host_and_origin_checks_apply_to_the_console(server: MockServer) -> None:
    port = server.ports["admin"]
    status, body = _raw_get(port, "/__mockforge/ui/", {"Host": "evil.example"})
    assert status == 403 and b"forbidden_host" in body
    status, body = _raw_get(port, "/__mockforge/ui/", {"Origin": "http://evil.example"})
    assert status == 403 and b"forbidden_origin" in body
    # the console's own calls carry its origin: http:// + the Host it was loaded from
    status, body = _raw_get(port, "/__mockforge/server-info", {"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200 and b'"version"' in body
    # DNS rebinding: Origin and Host agree, but the name is not ours
    status, body = _raw_get(port, "/__mockforge/server-info",
                            {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"})
    assert status == 403 and b"forbidden_host" in body
    # look-alikes of the own origin
    for origin in (f"http://127.0.0.1:{port}.evil.example", f"ftp://127.0.0.1:{port}", "null",
                   f"http://127.0.0.1:{port}/", f"127.0.0.1:{port}"):
        status, _ = _raw_get(port, "/__mockforge/server-info", {"Origin": origin})
        assert status == 403, origin
    # another local port is another origin
    status, body = _raw_get(port, "/__mockforge/server-info", {"Origin": f"http://127.0.0.1:{port + 1}"})
    assert status == 403


async def test_the_console_is_only_on_admin_surfaces() -> None:
    """Off loopback without a token the admin paths are off on the HTTP port: the console too."""
    server = Server(build_config({"http": {"host": "0.0.0.0", "port": 0}}, env={}))
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            resp = await client.get(f"http://127.0.0.1:{server.ports['http']}/__mockforge/ui/")
            assert resp.status_code == 404 and "admin.token" in resp.json()["error"]["message"]
    finally:
        await server.stop()


def test_token_rule_shell_without_it_data_with_it() -> None:
    with MockServer({"admin": {"enabled": True, "token": "s3cret"}}) as mock, \
            httpx.Client(base_url=mock.admin_url, timeout=10) as client:
        assert client.get("/ui/").status_code == 200
        assert client.get("/ui/assets/app.js").status_code == 200
        assert client.get("/logs").status_code == 401
        assert client.get("/events").status_code == 401
        # the token exemption covers the console's files only, whatever the path says
        assert client.get("/ui/../logs").status_code in (401, 404)
        assert b"entries" not in client.get("/ui/%2e%2e/logs").content
        assert client.post("/ui/", json={}).status_code == 401
        ok = client.get("/logs", headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "entries" in ok.json()


_PROBE = """
import asyncio, json, sys
import httpx
from mockforge.config import build_config
from mockforge.server import Server
from mockforge.testing.server import MockServer
mock = MockServer({"admin": {"enabled": True}}).start()
try:
    with httpx.Client(timeout=10) as c:
        c.get(mock.url + "/anything")
        c.get(mock.admin_url + "/logs")
        before = sorted(m for m in sys.modules if m.startswith("mockforge.ui"))
        c.get(mock.admin_url + "/ui/")
        after = sorted(m for m in sys.modules if m.startswith("mockforge.ui"))
finally:
    mock.stop()
print(json.dumps([before, after]))
"""


def test_nothing_of_the_console_is_imported_before_its_first_request() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True)
    before, after = json.loads(out.stdout.splitlines()[-1])
    assert before == []
    assert after == ["mockforge.ui", "mockforge.ui.serving"]
