"""``ClientCert``: what a mutual-TLS client proved, read once per connection.

Built from ``ssl.SSLObject.getpeercert()`` (already parsed by OpenSSL during the handshake), so
it costs no certificate library and nothing per request: every request of the connection shares
the one frozen object. Stubs match it (``request.client_cert.subject_cn``, see docs/TLS.md) and
the request log shows it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ClientCert:
    subject_cn: str
    #: The subject as ``CN=alice,O=Example`` (RFC 4514 order is not kept: the certificate's order).
    subject: str
    issuer_cn: str
    #: Subject alternative names as ``DNS:x``, ``IP Address:y``, ``email:z``, ``URI:u``; ``sans`` the bare values.
    san: tuple[str, ...]
    serial: str
    not_after: str
    #: SHA-256 of the DER certificate, lowercase hex.
    sha256: str

    @property
    def sans(self) -> tuple[str, ...]:
        return tuple(v.partition(":")[2] for v in self.san)

    def field(self, name: str) -> list[str]:
        """The values a matcher compares for ``name`` (see FIELDS)."""
        if name == "san":
            return list(self.sans)
        value = getattr(self, name)
        return [value] if isinstance(value, str) else list(value)

    def to_dict(self) -> dict[str, Any]:
        return {"subject_cn": self.subject_cn, "subject": self.subject, "issuer_cn": self.issuer_cn,
                "san": list(self.san), "serial": self.serial, "not_after": self.not_after, "sha256": self.sha256}


#: The fields a stub's ``client_cert`` matcher may name.
FIELDS = ("subject_cn", "subject", "issuer_cn", "san", "serial", "sha256")


def _rdns(name: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for rdn in name or ():
        for attr in rdn:
            if isinstance(attr, tuple) and len(attr) == 2:
                out.append((str(attr[0]), str(attr[1])))
    return out


_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
          "localityName": "L", "stateOrProvinceName": "ST", "emailAddress": "emailAddress"}


def from_ssl_object(ssl_object: Any) -> ClientCert | None:
    """The verified client certificate of a TLS connection, or None when the client sent none."""
    if ssl_object is None:
        return None
    info = ssl_object.getpeercert()
    if not info:
        return None
    der = ssl_object.getpeercert(binary_form=True) or b""
    subject = _rdns(info.get("subject"))
    issuer = _rdns(info.get("issuer"))
    return ClientCert(
        subject_cn=next((v for k, v in subject if k == "commonName"), ""),
        subject=",".join(f"{_SHORT.get(k, k)}={v}" for k, v in subject),
        issuer_cn=next((v for k, v in issuer if k == "commonName"), ""),
        san=tuple(f"{kind}:{value}" for kind, value in info.get("subjectAltName", ())),
        serial=str(info.get("serialNumber", "")),
        not_after=str(info.get("notAfter", "")),
        sha256=hashlib.sha256(der).hexdigest(),
    )


def from_transport(transport: Any) -> ClientCert | None:
    return from_ssl_object(transport.get_extra_info("ssl_object"))
