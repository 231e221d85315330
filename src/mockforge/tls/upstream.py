"""The TLS a proxy or recorder shows an HTTPS upstream: ``core.proxy.ca_bundle`` (trusted besides
the system store) and ``core.proxy.client_cert``/``client_key`` (mutual TLS).

Built once when the proxy is created; without either key the proxy keeps httpx's default
(``verify_tls``), so nothing changes for existing setups. Uses only the ``ssl`` module.
"""

from __future__ import annotations

import ssl

from mockforge.config import ProxyConfig
from mockforge.errors import ConfigError


def upstream_verify(cfg: ProxyConfig) -> bool | ssl.SSLContext:
    """What to pass as httpx's ``verify``: a bool, or a context with the CA bundle and client cert."""
    if not cfg.ca_bundle and not cfg.client_cert:
        return cfg.verify_tls
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not cfg.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.ca_bundle:
        try:
            ctx.load_verify_locations(cafile=cfg.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot load the CA bundle {cfg.ca_bundle}: {reason}",
                              where="core.proxy.ca_bundle") from None
    if cfg.client_cert:
        try:
            ctx.load_cert_chain(cfg.client_cert, cfg.client_key)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigError(f"cannot load the client certificate {cfg.client_cert}: {reason}",
                              where="core.proxy.client_cert") from None
    return ctx
