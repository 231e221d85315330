"""Read a PEM certificate's validity, and find a cached server certificate, without importing
``cryptography`` (about 13 MB of RSS, measured by benchmarks/tls_bench.py's idea of idle cost).

Every start after the first one of a cache folder needs no new certificate, so it only has to
check dates: OpenSSL, through the ``ssl`` module, decodes the certificate. ``ssl`` exposes that
decoder only as ``_ssl._test_decode_cert`` (stable since Python 3.3 and used by its own test
suite); when it is missing the callers fall back to ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from pathlib import Path

_decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)


def validity(path: str | Path) -> tuple[dt.datetime, dt.datetime] | None:
    """(not before, not after) of the first certificate in ``path``; None when this Python cannot
    tell (use ``cryptography``). ``ValueError`` when the file holds no PEM certificate."""
    if _decode is None:
        return None
    try:
        info = _decode(str(path))
    except ssl.SSLError:
        raise ValueError(f"{path} holds no PEM certificate") from None
    after = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(info["notAfter"]), dt.UTC)
    before = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(info["notBefore"]), dt.UTC)
    return before, after


def server_pem_name(ca_pem: bytes, names: list[str]) -> str:
    """The cache file name of the server certificate for ``names`` issued by the CA ``ca_pem``."""
    fingerprint = hashlib.sha256(ssl.PEM_cert_to_DER_cert(ca_pem.decode("ascii"))).hexdigest()
    return f"server-{hashlib.sha256(chr(10).join([*names, fingerprint]).encode()).hexdigest()[:16]}.pem"


def cached_server_pem(cache_dir: str | Path, names: list[str], renew_before: dt.timedelta) -> Path | None:
    """The cached server certificate for ``names`` when it exists and stays valid for longer than
    ``renew_before``; None when a new one must be issued (with ``cryptography``)."""
    folder = Path(cache_dir).resolve() / "tls"
    try:
        ca_pem = (folder / "ca" / "ca.pem").read_bytes()
        path = folder / server_pem_name(ca_pem, names)
        if not path.is_file():
            return None
        dates = validity(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if dates is None or dates[1] - dt.datetime.now(dt.UTC) <= renew_before:
        return None
    return path
