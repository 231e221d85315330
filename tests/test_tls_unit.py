"""The local CA, the server contexts' checks of bad input, and the client_cert matcher."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mockforge.config import TlsConfig, build_config
from mockforge.core.matching import MatchSubject, RequestPattern
from mockforge.core.model import Request
from mockforge.errors import ConfigError, StubError

ROOT = Path(__file__).resolve().parents[1]


def _ca(tmp_path: Path):  # type: ignore[no-untyped-def]
    from mockforge.tls.ca import LocalCA

    return LocalCA.open(tmp_path / "cache")


# --------------------------------------------------------------------------- the CA


def test_ca_is_created_once_with_a_private_key_and_reused(tmp_path: Path) -> None:
    ca = _ca(tmp_path)
    assert ca.cert_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE(ca.key_path.stat().st_mode) == 0o600
    again = _ca(tmp_path)
    assert again.cert_path.read_bytes() == ca.cert_path.read_bytes()
    assert again.key_path.read_bytes() == ca.key_path.read_bytes()


def test_racing_creators_share_one_ca(tmp_path: Path) -> None:
    from mockforge.tls.ca import LocalCA

    got: list[bytes] = []
    errors: list[BaseException] = []

    def make() -> None:
        try:
            got.append(LocalCA.open(tmp_path / "cache").cert_path.read_bytes())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(got)) == 1
    assert sorted(p.name for p in (tmp_path / "cache" / "tls").iterdir() if p.name.startswith(".")) == []


def test_server_certificate_names_the_default_hosts_and_extra_ones(tmp_path: Path) -> None:
    from cryptography import x509

    ca = _ca(tmp_path)
    pem = ca.server_pem(["mock.internal", "10.1.2.3"])
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(pem.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "mock.internal"}
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1", "10.1.2.3"}
    assert cert.issuer == ca.cert.subject
    assert ca.server_pem(["mock.internal", "10.1.2.3"]) == pem  # reused, not issued again


def test_export_formats_and_issue_client(tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = _ca(tmp_path)
    der = ca.export("der", tmp_path / "ca.der").read_bytes()
    assert x509.load_der_x509_certificate(der) == ca.cert
    p12 = ca.export("p12", tmp_path / "ca.p12").read_bytes()
    store = pkcs12.load_pkcs12(p12, None)
    assert [c.certificate for c in store.additional_certs] == [ca.cert]
    cert, key = ca.issue_client("alice", tmp_path / "out")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    assert leaf.subject.rfc4514_string() == "CN=alice"
    with pytest.raises(ConfigError, match="already exists"):
        ca.issue_client("alice", tmp_path / "out")
    with pytest.raises(ConfigError, match="unknown format"):
        ca.export("jks", tmp_path / "x")


# --------------------------------------------------------------------------- bad cert/key input


def _pair(tmp_path: Path, *, days: int = 30, password: bytes | None = None, name: str = "s") -> tuple[str, str]:
    import trustme
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_cert("localhost", not_before=now - dt.timedelta(days=60), not_after=now + dt.timedelta(days=days))
    cert = tmp_path / f"{name}.pem"
    key = tmp_path / f"{name}-key.pem"
    cert.write_bytes(b"".join(b.bytes() for b in leaf.cert_chain_pems))
    if password is None:
        key.write_bytes(leaf.private_key_pem.bytes())
    else:
        loaded = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
        key.write_bytes(loaded.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(password)))
    return str(cert), str(key)


def _create(tls: TlsConfig, tmp_path: Path) -> ssl.SSLContext:
    from mockforge.tls.context import ALPN_HTTP, ServerTls

    return ServerTls.create(tls, str(tmp_path / "cache"), alpn=ALPN_HTTP, where="http.tls").context


def test_good_pair_and_encrypted_key_load(tmp_path: Path) -> None:
    cert, key = _pair(tmp_path)
    ctx = _create(TlsConfig(cert=cert, key=key), tmp_path)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    cert2, key2 = _pair(tmp_path, password=b"s3cret", name="enc")
    _create(TlsConfig(cert=cert2, key=key2, key_password="s3cret", min_version="1.3"), tmp_path)


@pytest.mark.parametrize("case", ["missing", "garbage", "mismatch", "expired", "wrong_password", "no_password",
                                  "client_auth_without_ca"])
def test_bad_tls_input_is_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    cert, key = _pair(tmp_path)
    _, other_key = _pair(tmp_path, name="other")
    tls = TlsConfig(cert=cert, key=key)
    named = cert
    if case == "missing":
        tls, named = TlsConfig(cert=str(tmp_path / "nope.pem"), key=key), str(tmp_path / "nope.pem")
    elif case == "garbage":
        Path(cert).write_text("not a certificate\n")
    elif case == "mismatch":
        tls, named = TlsConfig(cert=cert, key=other_key), other_key
    elif case == "expired":
        old_cert, old_key = _pair(tmp_path, days=-1, name="old")
        tls, named = TlsConfig(cert=old_cert, key=old_key), old_cert
    elif case in ("wrong_password", "no_password"):
        enc_cert, enc_key = _pair(tmp_path, password=b"right", name="enc")
        tls = TlsConfig(cert=enc_cert, key=enc_key, key_password="wrong" if case == "wrong_password" else None)
        named = enc_key
    else:
        tls, named = TlsConfig(cert=cert, key=key, client_auth="required"), "client_ca"
    with pytest.raises(ConfigError) as err:
        _create(tls, tmp_path)
    text = str(err.value)
    assert "\n" not in text and text.startswith("http.tls")
    assert named in text
    expected = {"missing": "cannot read", "garbage": "no PEM certificate", "mismatch": "does not match",
                "expired": "expired on", "wrong_password": "wrong key_password", "no_password": "key_password",
                "client_auth_without_ca": "needs client_ca"}[case]
    assert expected in text


def test_reload_keeps_the_old_pair_when_the_new_one_is_bad(tmp_path: Path) -> None:
    from mockforge.tls.context import ALPN_HTTP, ServerTls

    cert, key = _pair(tmp_path)
    served = ServerTls.create(TlsConfig(cert=cert, key=key), str(tmp_path), alpn=ALPN_HTTP, where="http.tls")
    _, other_key = _pair(tmp_path, name="other")
    good_key = Path(key).read_bytes()
    Path(key).write_bytes(Path(other_key).read_bytes())
    problem = served.reload()
    assert problem is not None and "does not match" in problem
    Path(key).write_bytes(good_key)
    assert served.reload() is None


# --------------------------------------------------------------------------- config and matcher


def test_tls_config_keys_and_paths_resolve_against_the_file(tmp_path: Path) -> None:
    cfg = build_config({"http": {"tls": {"cert": "c.pem", "key": "k.pem", "mode": "both", "port": 3443}},
                        "grpc": {"tls": {"auto": True}}, "core": {"proxy": {"ca_bundle": "ca.pem"}}},
                       file=str(tmp_path / "mockforge.yaml"), env={})
    assert cfg.http.tls.cert == str(tmp_path / "c.pem") and cfg.http.tls.enabled
    assert cfg.http.tls.mode == "both" and cfg.http.tls.port == 3443
    assert cfg.grpc.tls.enabled and not cfg.websocket.enabled
    assert cfg.core.proxy.ca_bundle == str(tmp_path / "ca.pem")
    assert build_config({}, env={"MOCKFORGE_TLS": "true"}).http.tls.auto is True
    with pytest.raises(ConfigError, match=r"http\.tls\.mode"):
        build_config({"http": {"tls": {"mode": "sometimes"}}}, env={})


def _cert_request(cn: str | None) -> Request:
    from mockforge.core.client_cert import ClientCert

    cert = None if cn is None else ClientCert(cn, f"CN={cn}", "mockforge local CA", ("DNS:svc.example.com",),
                                             "01", "Jan 1 00:00:00 2030 GMT", "ab" * 32)
    return Request(protocol="http", method="GET", path="/admin", client_cert=cert)


def test_client_cert_matcher() -> None:
    p = RequestPattern.compile({"path": "/admin", "client_cert": {"subject_cn": "alice",
                                                                  "san": {"contains": "example.com"}}}, "stub")
    assert p.matches(MatchSubject.from_request(_cert_request("alice")))
    assert not p.matches(MatchSubject.from_request(_cert_request("bob")))
    assert not p.matches(MatchSubject.from_request(_cert_request(None)))
    miss = p.match(MatchSubject.from_request(_cert_request("bob")))
    assert not miss.matched
    none = RequestPattern.compile({"client_cert": {"subject_cn": {"absent": True}}}, "stub")
    assert none.matches(MatchSubject.from_request(_cert_request(None)))
    assert not none.matches(MatchSubject.from_request(_cert_request("alice")))
    with pytest.raises(StubError, match="unknown client_cert field 'cn'"):
        RequestPattern.compile({"client_cert": {"cn": "alice"}}, "stub")


def test_plain_server_never_imports_the_certificate_library() -> None:
    code = """
import asyncio, sys, uvloop
from mockforge.config import build_config
from mockforge.server import Server
async def main():
    s = Server(build_config({"http": {"port": 0, "routes": [{"request": {"path": "/x"}, "response": {"body": "ok"}}]}},
                            env={}))
    await s.start()
    r, w = await asyncio.open_connection("127.0.0.1", s.ports["http"])
    w.write(b"GET /x HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    assert b"ok" in await r.read()
    await s.stop()
uvloop.run(main())
print(sorted(m for m in sys.modules if m.split(".")[0] in ("cryptography", "trustme") or m == "mockforge.tls.ca"))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_restart_with_a_cached_certificate_does_not_import_the_certificate_library(tmp_path: Path) -> None:
    from mockforge.tls.ca import LocalCA

    cache = tmp_path / "cache"
    LocalCA.open(cache).server_pem([])  # the first start of this cache folder
    code = f"""
import asyncio, ssl, sys, uvloop
from mockforge.config import build_config
from mockforge.server import Server
async def main():
    s = Server(build_config({{"core": {{"cache_dir": {str(cache)!r}}},
                              "http": {{"port": 0, "tls": {{"auto": True}},
                                       "routes": [{{"request": {{"path": "/x"}},
                                                    "response": {{"body_text": "ok"}}}}]}}}},
                            env={{}}))
    await s.start()
    ctx = ssl.create_default_context(cafile=s.tls.ca_path)
    r, w = await asyncio.open_connection("127.0.0.1", s.ports["http"], ssl=ctx, server_hostname="localhost")
    w.write(b"GET /x HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    assert (await r.read()).endswith(b"ok")
    await s.stop()
uvloop.run(main())
print(sorted(m for m in sys.modules if m.split(".")[0] == "cryptography"))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
