"""The local certificate authority: one CA per cache folder, created once, never overwritten.

Layout (``core.cache_dir/tls/``)::

    ca.pem  ca-key.pem (0600)          the CA: 10 years, EC P-256, path length 0
    server-<hash>.pem (0600)           a server certificate and key per host set, reused while
                                       it has more than a day left (825 days, the browser limit)

Creation is atomic: the CA is written into a fresh temporary folder which is then renamed onto
``tls/ca`` with ``os.rename``; a rename onto a folder that already holds a CA fails, so two
processes racing (xdist workers, two servers) end up sharing the first CA and a CA a user has
trusted is never silently replaced. EC keys make issuing a certificate take about a millisecond,
so per-test servers cost nothing noticeable; the CA itself is shared by a whole test session.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mockforge.errors import ConfigError
from mockforge.tls.peek import server_pem_name

CA_NAME = "mockforge local CA"
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
_CA_DAYS = 3650
_LEAF_DAYS = 825
RENEW_BEFORE = dt.timedelta(days=1)


def server_names(hosts: list[str] | tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys([*DEFAULT_HOSTS, *hosts]))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only, atomically (temp file + replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(hosts: list[str] | tuple[str, ...]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class LocalCA:
    """A CA loaded from ``folder`` (``tls/ca`` in the cache)."""

    folder: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_path(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def key_path(self) -> Path:
        return self.folder / "ca-key.pem"

    # ---- load or create ----------------------------------------------------------------
    @classmethod
    def open(cls, cache_dir: str | Path, *, create: bool = True) -> LocalCA:
        """The CA under ``cache_dir``, created on first use. ``ConfigError`` naming the folder
        when it cannot be read or made."""
        folder = Path(cache_dir).resolve() / "tls" / "ca"
        try:
            if not (folder / "ca.pem").exists():
                if not create:
                    raise ConfigError("no local CA yet (start a server with TLS or run 'mockforge ca path')",
                                      where=str(folder))
                cls._create(folder)
            return cls._load(folder)
        except OSError as exc:
            raise ConfigError(f"cannot use the local CA: {exc.strerror or exc}", where=str(folder)) from None

    @classmethod
    def _create(cls, folder: Path) -> None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mockforge"),
        ])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".ca-"))
        try:
            _write_private(tmp / "ca-key.pem", _key_pem(key))
            (tmp / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            try:
                os.rename(tmp, folder)  # fails when another process made the CA first: keep theirs
            except OSError:
                if not (folder / "ca.pem").exists():
                    raise
        finally:
            if tmp.exists():
                for f in tmp.iterdir():
                    f.unlink()
                tmp.rmdir()

    @classmethod
    def _load(cls, folder: Path) -> LocalCA:
        cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError("the CA key is not an EC key", where=str(folder / "ca-key.pem"))
        return cls(folder, cert, key)

    # ---- issue -------------------------------------------------------------------------
    def _leaf(self, subject: str, san: list[str] | tuple[str, ...], server: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=_LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(_san(san), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def server_pem(self, hosts: list[str] | tuple[str, ...] = ()) -> Path:
        """A PEM file holding a server certificate (for the default hosts and ``hosts``) and its
        key; reused while it has more than a day left."""
        names = server_names(hosts)
        path = self.folder.parent / server_pem_name(self.cert.public_bytes(serialization.Encoding.PEM), names)
        if path.exists():
            try:
                cert = x509.load_pem_x509_certificate(path.read_bytes())
                if cert.not_valid_after_utc - _now() > RENEW_BEFORE:
                    return path
            except ValueError:
                pass  # damaged: issue a new one
        cert_pem, key_pem = self._leaf(names[0], names, server=True)
        _write_private(path, cert_pem + key_pem)
        return path

    def issue_client(self, name: str, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``NAME.pem`` and ``NAME-key.pem`` (0600) into ``out_dir``: a client certificate
        with CN ``name`` signed by this CA. Existing files are not overwritten."""
        out = Path(out_dir)
        cert_path, key_path = out / f"{name}.pem", out / f"{name}-key.pem"
        for p in (cert_path, key_path):
            if p.exists():
                raise ConfigError("already exists (remove it first)", where=str(p))
        cert_pem, key_pem = self._leaf(name, [], server=False)
        out.mkdir(parents=True, exist_ok=True)
        _write_private(key_path, key_pem)
        cert_path.write_bytes(cert_pem)
        return cert_path, key_path

    def export(self, fmt: str, out: str | Path) -> Path:
        """The CA certificate as ``pem``, ``der`` or ``p12`` (a trust store: certificate only)."""
        path = Path(out)
        if fmt == "pem":
            data = self.cert.public_bytes(serialization.Encoding.PEM)
        elif fmt == "der":
            data = self.cert.public_bytes(serialization.Encoding.DER)
        elif fmt == "p12":
            from cryptography.hazmat.primitives.serialization import pkcs12

            data = pkcs12.serialize_java_truststore([
                pkcs12.PKCS12Certificate(self.cert, CA_NAME.encode())
            ], serialization.NoEncryption())
        else:
            raise ConfigError(f"unknown format {fmt!r} (pem, der, p12)", where="mockforge ca export")
        path.write_bytes(data)
        return path
