"""HTTPS, wss://, mutual TLS and plain+TLS on one port, with real clients over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"id": "hello", "request": {"method": "GET", "path": "/hello"},
          "response": {"status": 200, "body_text": "hello over tls"}}]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_https_with_httpx_and_the_ssl_module(mockforge_tls: MockServer) -> None:
    mockforge_tls.add_stub(HELLO[0])
    assert mockforge_tls.url.startswith("https://127.0.0.1:")
    r = httpx.get(mockforge_tls.url + "/hello", verify=mockforge_tls.ssl_context())
    assert (r.status_code, r.text) == (200, "hello over tls")
    # the ssl module: ALPN http/1.1, TLS 1.2+ and a certificate for localhost
    ctx = ssl.create_default_context(cafile=mockforge_tls.ca_path)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("localhost", _port(mockforge_tls.url))) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        tls.sendall(b"GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello over tls")
    # a client that trusts only the system store refuses the local CA's certificate
    with pytest.raises(httpx.ConnectError):
        httpx.get(mockforge_tls.url + "/hello")


def test_tls_1_2_client_refused_when_min_version_is_1_3() -> None:
    with MockServer(config={"http": {"tls": {"auto": True, "min_version": "1.3"}}}, stubs=HELLO) as mock:
        ctx = mock.ssl_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            httpx.get(mock.url + "/hello", verify=ctx)
        r = httpx.get(mock.url + "/hello", verify=mock.ssl_context())
        assert r.text == "hello over tls"


async def test_wss_on_the_http_port_and_on_the_websocket_listener() -> None:
    from websockets.asyncio.client import connect

    async with MockServer(config={"websocket": {"enabled": True}}, tls=True) as mock:
        assert mock.ws_url.startswith("wss://")
        ctx = mock.ssl_context()
        for port in (mock.ports["http"], mock.ports["ws"]):
            async with connect(f"wss://127.0.0.1:{port}/ws", ssl=ctx) as ws:
                await ws.send("ping over tls")
                assert await asyncio.wait_for(ws.recv(), 30) == "ping over tls"


def test_mode_both_serves_plain_http_and_tls_on_one_port() -> None:
    with MockServer(config={"http": {"tls": {"auto": True, "mode": "both"}}}, stubs=HELLO) as mock:
        port = mock.ports["http"]
        tls = httpx.get(f"https://127.0.0.1:{port}/hello", verify=mock.ssl_context())
        plain = httpx.get(f"http://127.0.0.1:{port}/hello")
        assert tls.text == plain.text == "hello over tls"
        with httpx.Client(verify=mock.ssl_context()) as c:  # keep-alive over TLS
            assert [c.get(f"https://127.0.0.1:{port}/hello").status_code for _ in range(5)] == [200] * 5


def test_second_tls_only_port_beside_plain_http() -> None:
    with MockServer(config={"http": {"tls": {"auto": True, "port": 3443}}}, stubs=HELLO) as mock:
        assert set(mock.ports) >= {"http", "https"} and mock.ports["https"] != 3443
        assert httpx.get(f"http://127.0.0.1:{mock.ports['http']}/hello").text == "hello over tls"
        assert httpx.get(f"https://127.0.0.1:{mock.ports['https']}/hello", verify=mock.ssl_context()).text \
            == "hello over tls"
        assert mock.url == f"https://127.0.0.1:{mock.ports['https']}"


# --------------------------------------------------------------------------- mutual TLS


def _mtls_config(tmp_path: Path, client_auth: str) -> dict[str, Any]:
    from mockforge.tls.ca import LocalCA

    cache = tmp_path / "cache"
    ca = LocalCA.open(cache)
    return {"core": {"cache_dir": str(cache)},
            "http": {"tls": {"auto": True, "client_ca": str(ca.cert_path), "client_auth": client_auth},
                     "routes": [
                         {"id": "alice-only", "priority": 1,
                          "request": {"path": "/who", "client_cert": {"subject_cn": "alice"}},
                          "response": {"body_text": "hello alice"}},
                         {"id": "no-cert", "priority": 2,
                          "request": {"path": "/who", "client_cert": {"subject_cn": {"absent": True}}},
                          "response": {"body_text": "anonymous"}},
                         {"id": "other", "priority": 3, "request": {"path": "/who"},
                          "response": {"body_text": "someone"}},
                     ]}}


def _foreign_client(tmp_path: Path) -> tuple[str, str]:
    import trustme

    other = trustme.CA().issue_cert("mallory")
    cert, key = tmp_path / "mallory.pem", tmp_path / "mallory-key.pem"
    cert.write_bytes(b"".join(b.bytes() for b in other.cert_chain_pems))
    key.write_bytes(other.private_key_pem.bytes())
    return str(cert), str(key)


def test_mtls_required_accepts_the_issued_cert_and_refuses_none_or_another_ca(tmp_path: Path) -> None:
    with MockServer(config=_mtls_config(tmp_path, "required")) as mock:
        cert, key = mock.issue_client_cert("alice", tmp_path / "certs")
        r = httpx.get(mock.url + "/who", verify=mock.ssl_context(cert, key))
        assert (r.status_code, r.text) == (200, "hello alice")
        bob = mock.issue_client_cert("bob", tmp_path / "certs")
        assert httpx.get(mock.url + "/who", verify=mock.ssl_context(*bob)).text == "someone"
        for ctx in (mock.ssl_context(), mock.ssl_context(*_foreign_client(tmp_path))):
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                httpx.get(mock.url + "/who", verify=ctx)
        logged = mock.requests(path="/who")
        assert [e["client_cert"]["subject_cn"] for e in logged] == ["alice", "bob"]
        assert logged[0]["client_cert"]["issuer_cn"] == "mockforge local CA"
        assert len(logged[0]["client_cert"]["sha256"]) == 64
        # the server still answers after refused handshakes
        assert httpx.get(mock.url + "/who", verify=mock.ssl_context(cert, key)).text == "hello alice"


def test_mtls_optional_serves_clients_without_a_cert(tmp_path: Path) -> None:
    with MockServer(config=_mtls_config(tmp_path, "optional")) as mock:
        assert httpx.get(mock.url + "/who", verify=mock.ssl_context()).text == "anonymous"
        cert, key = mock.issue_client_cert("alice", tmp_path / "certs")
        assert httpx.get(mock.url + "/who", verify=mock.ssl_context(cert, key)).text == "hello alice"
        assert [e["client_cert"] is None for e in mock.requests(path="/who")] == [True, False]


# --------------------------------------------------------------------------- record over TLS


def test_record_from_an_https_upstream_with_a_custom_ca_and_a_client_cert(tmp_path: Path) -> None:
    up_cfg = _mtls_config(tmp_path / "up", "required")
    with MockServer(config=up_cfg) as upstream:
        cert, key = upstream.issue_client_cert("alice", tmp_path / "certs")
        recorder = {"core": {"cache_dir": str(tmp_path / "rec-cache"),
                             "fixtures": {"mode": "record", "dir": str(tmp_path / "fixtures")},
                             "proxy": {"upstream": upstream.url, "ca_bundle": upstream.ca_path,
                                       "client_cert": cert, "client_key": key, "timeout_ms": 10_000}}}
        with MockServer(config=recorder) as mock:
            r = httpx.get(mock.url + "/who")
            assert (r.status_code, r.text) == (200, "hello alice")
        written = [p for p in (tmp_path / "fixtures").rglob("*") if p.is_file() and p.suffix == ".json"]
        assert written and any("hello alice" in p.read_text() for p in written)


# --------------------------------------------------------------------------- CLI


def _mockforge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mockforge", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd, env=_env())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_serve_tls_and_curl_with_the_cacert_from_ca_path(tmp_path: Path) -> None:
    (tmp_path / "mockforge.yaml").write_text(
        "http:\n  port: 0\n  routes:\n    - request: {path: /hello}\n      response: {body_text: hello curl}\n")
    path = _mockforge("ca", "path", cwd=tmp_path)
    assert path.returncode == 0, path.stderr
    ca_path = path.stdout.strip()
    assert ca_path == str((tmp_path / ".mockforge-cache" / "tls" / "ca" / "ca.pem").resolve())
    proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", "--tls"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=_env())
    try:
        assert proc.stdout is not None
        port = None
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if line.strip().startswith("HTTP") and "https://" in line:
                port = int(line.rsplit(":", 1)[1])
            if " ready " in line or not line:
                break
        assert port is not None, lines
        assert any(ca_path in x for x in lines)
        out = subprocess.run(["curl", "-sS", "--cacert", ca_path, f"https://localhost:{port}/hello"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout == "hello curl", out.stderr
        refused = subprocess.run(["curl", "-sS", f"https://localhost:{port}/hello"], capture_output=True, text=True,
                                 timeout=30, env={**_env(), "CURL_CA_BUNDLE": "/dev/null"})
        assert refused.returncode != 0
    finally:
        proc.terminate()
        proc.communicate(timeout=20)  # waits, and closes both pipes


def test_ca_export_and_issue_client_commands(tmp_path: Path) -> None:
    from cryptography import x509

    out = _mockforge("ca", "export", "--format", "der", "ca.der", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert x509.load_der_x509_certificate((tmp_path / "ca.der").read_bytes()).subject.rfc4514_string() \
        == "O=mockforge,CN=mockforge local CA"
    out = _mockforge("ca", "issue-client", "svc-a", "--out", "certs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "certs" / "svc-a.pem").is_file() and (tmp_path / "certs" / "svc-a-key.pem").is_file()
    again = _mockforge("ca", "issue-client", "svc-a", "--out", "certs", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_serve_with_a_bad_certificate_exits_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("nope\n")
    (tmp_path / "mockforge.yaml").write_text("http:\n  port: 0\n  tls: {cert: bad.pem, key: bad.pem}\n")
    out = _mockforge("serve", cwd=tmp_path)
    assert out.returncode == 2
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and str(tmp_path / "bad.pem") in lines[0] and "http.tls.cert" in lines[0], out.stderr


# --------------------------------------------------------------------------- hot reload


async def test_watch_reloads_the_certificate_and_keeps_the_old_one_when_the_new_is_bad(tmp_path: Path) -> None:
    from mockforge.tls.ca import LocalCA

    ca = LocalCA.open(tmp_path / "cache")
    cfg = {"core": {"cache_dir": str(tmp_path / "cache")},
           "http": {"tls": {"cert": str(tmp_path / "server.pem"), "key": str(tmp_path / "server-key.pem")}}}
    server_pem = ca.server_pem(["first.test"]).read_bytes()
    (tmp_path / "server.pem").write_bytes(server_pem)
    (tmp_path / "server-key.pem").write_bytes(server_pem)
    async with MockServer(config=cfg, stubs=HELLO) as mock:
        setup = mock.server.tls
        ctx = ssl.create_default_context(cafile=str(ca.cert_path))

        async def names() -> set[str]:
            _, w = await asyncio.open_connection("127.0.0.1", mock.ports["http"], ssl=ctx,
                                                 server_hostname="localhost")
            peer = w.get_extra_info("peercert")
            w.close()
            return {v for k, v in peer["subjectAltName"]}

        assert "first.test" in await names()
        new = ca.server_pem(["second.test"]).read_bytes()
        (tmp_path / "server.pem").write_bytes(new)
        (tmp_path / "server-key.pem").write_bytes(new)
        assert setup.check_reload(setup.http)
        assert "second.test" in await names()
        (tmp_path / "server-key.pem").write_bytes(server_pem)  # the key of another certificate
        assert not setup.check_reload(setup.http)
        assert "second.test" in await names()  # the old pair is kept
        assert (setup.reloads, setup.reload_failures) == (1, 1)


def test_log_entry_json_has_client_cert_null_without_tls(mockforge: MockServer) -> None:
    mockforge.add_stub(HELLO[0])
    httpx.get(mockforge.url + "/hello")
    entry = mockforge.requests(path="/hello")[0]
    assert entry["client_cert"] is None
    json.dumps(entry)
