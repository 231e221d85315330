"""What a plain listener does with a TLS client: one log line and a clean close.

Reached only from the HTTP parser's error path (the first bytes of a connection did not parse
and begin with 0x16, a TLS handshake record), so it costs the normal path nothing. Answering
an HTTP 400 would only be garbage to a TLS client; closing lets it report a handshake failure.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("mockforge.tls")

#: Times a TLS client reached a plain-only port since start (all listeners of the process).
counts = {"tls_on_plain_port": 0}


def tls_on_plain_port(transport: Any, client: str) -> None:
    counts["tls_on_plain_port"] += 1
    log.info("TLS handshake from %s on a plain HTTP port: closed (use http://, or configure http.tls)",
             client or "a client")
    transport.close()
