"""Server SSL contexts from a ``TlsConfig``, with every bad input named in one line.

``ServerTls.create(cfg.http.tls, ...)`` checks the files before any socket is bound (readable,
PEM, not expired, key matching, key password right) so a wrong setup exits 2 at start instead of
failing each handshake later. TLS 1.2 and 1.3 only (``min_version`` raises the floor), ciphers are
OpenSSL's secure defaults, ALPN is ``http/1.1`` for HTTP and ``h2`` for gRPC. ``reload()`` loads a
changed pair into the same context (new handshakes use it, open connections keep theirs) after
checking it in a scratch context, so a bad new pair keeps the old one.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from mockforge.config import TlsConfig
from mockforge.errors import ConfigError
from mockforge.tls.peek import validity

log = logging.getLogger("mockforge.tls")

ALPN_HTTP = ["http/1.1"]
ALPN_GRPC = ["h2"]


def _no_password() -> bytes:
    # Never let OpenSSL prompt on the terminal for an encrypted key.
    raise ConfigError("the key is encrypted: set key_password")


def _read(path: str, what: str, where: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror or exc}", where=where) from None


def check_certificate(path: str, where: str) -> None:
    """``ConfigError`` when ``path`` holds no PEM certificate or its first one is expired or not yet valid."""
    data = _read(path, "certificate", where)
    try:
        dates = validity(path) if b"-----BEGIN CERTIFICATE-----" in data else None
        if dates is None:
            from cryptography import x509

            leaf = x509.load_pem_x509_certificates(data)[0]
            dates = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    except ValueError:
        raise ConfigError(f"{path} holds no PEM certificate", where=where) from None
    now = dt.datetime.now(dt.UTC)
    if dates[1] < now:
        raise ConfigError(f"the certificate in {path} expired on {dates[1]:%Y-%m-%d}", where=where)
    if dates[0] > now:
        raise ConfigError(f"the certificate in {path} is not valid before {dates[0]:%Y-%m-%d}", where=where)


def _load_pair(ctx: ssl.SSLContext, cert: str, key: str | None, password: str | None, where: str) -> None:
    check_certificate(cert, f"{where}.cert")
    if key is not None:
        _read(key, "key", f"{where}.key")
    try:
        ctx.load_cert_chain(cert, key, password if password is not None else _no_password)
    except ConfigError as exc:
        raise ConfigError(f"{exc.message}", where=f"{where}.key ({key or cert})") from None
    except ssl.SSLError as exc:
        text = str(exc)
        if "KEY_VALUES_MISMATCH" in text or "key values mismatch" in text:
            reason = f"the key {key or cert} does not match the certificate {cert}"
        elif password is not None and ("decrypt" in text or "BAD_DECRYPT" in text or "PEM lib" in text):
            reason = f"wrong key_password for {key or cert}"
        else:
            reason = f"cannot load the key {key or cert}: {exc.reason or text}"
        raise ConfigError(reason, where=f"{where}.key") from None


def _auto_certificate(cache_dir: str, hosts: list[str]) -> tuple[str, str]:
    """(server PEM, CA PEM) from the local CA: the cached pair without the certificate library
    when it is still good, else the CA issues one (importing ``cryptography``)."""
    from mockforge.tls.peek import cached_server_pem

    names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))
    cached = cached_server_pem(cache_dir, names, dt.timedelta(days=1))
    if cached is not None:
        return str(cached), str(cached.parent / "ca" / "ca.pem")
    from mockforge.tls.ca import LocalCA

    ca = LocalCA.open(cache_dir)
    return str(ca.server_pem(hosts)), str(ca.cert_path)


def _min_version(name: str) -> ssl.TLSVersion:
    return ssl.TLSVersion.TLSv1_3 if name == "1.3" else ssl.TLSVersion.TLSv1_2


@dataclass
class ServerTls:
    """A live server context and where its certificate came from (for reloads and the CLI)."""

    context: ssl.SSLContext
    cert: str
    key: str | None
    password: str | None
    where: str
    #: The local CA's certificate when ``auto`` made the server certificate.
    ca_path: str | None = None
    client_auth: str = "none"
    files: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, tls: TlsConfig, cache_dir: str, *, alpn: list[str], where: str) -> ServerTls:
        ca_path: str | None = None
        if tls.cert is not None:
            cert, key, password = tls.cert, tls.key, tls.key_password
        elif tls.auto:
            cert, ca_path = _auto_certificate(cache_dir, tls.hosts)
            key, password = None, None
        else:
            raise ConfigError("set cert and key, or auto: true", where=where)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = _min_version(tls.min_version)
        ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
        ctx.set_alpn_protocols(alpn)
        _load_pair(ctx, cert, key, password, where)
        client_auth = tls.client_auth or ("required" if tls.client_ca else "none")
        if client_auth != "none":
            if not tls.client_ca:
                raise ConfigError(f"client_auth {client_auth} needs client_ca (a PEM CA bundle)", where=where)
            _read(tls.client_ca, "client CA bundle", f"{where}.client_ca")
            try:
                ctx.load_verify_locations(cafile=tls.client_ca)
            except ssl.SSLError as exc:
                raise ConfigError(f"{tls.client_ca} holds no PEM CA certificate ({exc.reason})",
                                  where=f"{where}.client_ca") from None
            ctx.verify_mode = ssl.CERT_REQUIRED if client_auth == "required" else ssl.CERT_OPTIONAL
        files = [f for f in (cert, key, tls.client_ca) if f]
        return cls(ctx, cert, key, password, where, ca_path, client_auth, files)

    def reload(self) -> str | None:
        """Load the certificate files again into the live context; the reason when they are bad
        (the context keeps the old pair then)."""
        scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            _load_pair(scratch, self.cert, self.key, self.password, self.where)
        except ConfigError as exc:
            return str(exc)
        self.context.load_cert_chain(self.cert, self.key, self.password if self.password is not None else None)
        return None


def client_context(
    ca_path: str | Path | None = None, *, cert: str | Path | None = None, key: str | Path | None = None,
    alpn: list[str] | None = None,
) -> ssl.SSLContext:
    """A client context trusting ``ca_path`` (the system store when None), optionally with a
    client certificate: what tests and the proxy use."""
    ctx = ssl.create_default_context(cafile=str(ca_path) if ca_path is not None else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key is not None else None)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx
