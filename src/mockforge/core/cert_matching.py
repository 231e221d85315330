"""The ``client_cert`` part of a request matcher (docs/STUBS.md, docs/TLS.md).

    request: {path: /admin, client_cert: {subject_cn: alice, san: {contains: example.com}}}

Each field (``subject_cn``, ``subject``, ``issuer_cn``, ``san``, ``serial``, ``sha256``) takes a
MATCHER; ``san`` matches when any SAN value does. A request without a client certificate has no
values, so ``{subject_cn: {absent: true}}`` matches exactly the requests that showed none. Compiled
once with the stub; matching reads attributes of the connection's one ``ClientCert``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockforge.core.client_cert import FIELDS, ClientCert
from mockforge.core.matchers import ValueMatcher, compile_value_matcher
from mockforge.errors import StubError


def compile_client_cert(spec: Any, where: str) -> tuple[tuple[str, ValueMatcher], ...]:
    if not isinstance(spec, Mapping) or not spec:
        raise StubError(f"'client_cert' takes a mapping of field -> MATCHER (fields: {', '.join(FIELDS)})",
                        where=where)
    out = []
    for name, mspec in spec.items():
        if name not in FIELDS:
            raise StubError(f"unknown client_cert field {name!r} (known: {', '.join(FIELDS)})", where=f"{where}.{name}")
        out.append((str(name), compile_value_matcher(mspec, f"{where}.{name}", f"client_cert.{name}")))
    return tuple(out)


def cert_values(cert: ClientCert | Mapping[str, Any] | None, name: str) -> list[str]:
    """The values of field ``name`` of a live certificate or of a logged one (a dict)."""
    if cert is None:
        return []
    if isinstance(cert, ClientCert):
        return cert.field(name)
    if name == "san":
        return [str(v).partition(":")[2] for v in cert.get("san", ())]
    value = cert.get(name)
    return [] if value is None else [str(value)]
