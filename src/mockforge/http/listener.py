"""One listening socket serving an ``HttpApp`` over ``http/protocol.py``: plain TCP, or TLS (and
plain-or-TLS on one port) through ``mockforge.tls.listener`` when the listener has a context.
Kept apart from the protocol so each module stays one concept (and under 800 lines)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from mockforge.http.protocol import HttpApp, HttpProtocol, ServerState
from mockforge.http.wire_limits import WireLimits


class HttpListener:
    """One listening socket serving an ``HttpApp``."""

    def __init__(self, app: HttpApp, host: str, port: int, limits: WireLimits | None = None,
                 tls: Any = None, tls_mode: str = "tls") -> None:
        self.app = app
        self.tls = tls  # a mockforge.tls.context.ServerTls: serve through mockforge.tls.listener
        self.tls_mode = tls_mode
        self.host = host
        self.port = port
        self.state = ServerState(limits)
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket | None = None) -> int:
        """Bind ``host:port`` and serve; with ``sock`` (a worker's share of a port, see
        ``mockforge.workers.sockets``) serve that socket instead. Returns the bound port."""
        loop = asyncio.get_running_loop()
        if self.tls is not None:
            from mockforge.tls.listener import TlsServer

            self.state.tls = True
            server = TlsServer(lambda: HttpProtocol(self.app, self.state), self.tls, mode=self.tls_mode,
                               state=self.state, header_timeout_s=self.state.limits.header_timeout_s,
                               max_connections=self.state.limits.max_connections)
            self.state.tls_counters = server.counters
            self.port = await server.start(self.host, self.port, sock=sock)
            self._server = server  # type: ignore[assignment]
            return self.port
        if sock is not None:
            self._server = await loop.create_server(lambda: HttpProtocol(self.app, self.state), sock=sock,
                                                    backlog=2048)
        else:
            self._server = await loop.create_server(
                lambda: HttpProtocol(self.app, self.state), self.host, self.port, backlog=2048, reuse_address=True
            )
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        return self.port

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (within ``timeout``), then close."""
        if self._server is None:
            return
        self.state.closing = True
        self._server.close()
        for conn in list(self.state.connections):
            conn.shutdown()
        deadline = time.monotonic() + timeout
        while self.state.connections and time.monotonic() < deadline:
            busy = [c for c in self.state.connections if not c.idle]
            for c in list(self.state.connections):
                if c.idle:
                    c.transport.close()
            if not busy:
                break
            await asyncio.sleep(0.02)
        for conn in [*self.state.connections, *self.state.refusing]:
            conn.transport.abort()
        wait_handshakes = getattr(self._server, "wait_closed_handshakes", None)
        if wait_handshakes is not None:  # TLS: connections still handshaking when the stop came
            await wait_handshakes()
        # an aborted transport closes its socket on the next loop turn (TLS: two turns); a loop
        # closed before then leaves the socket to the garbage collector, reported as unclosed
        deadline = time.monotonic() + 0.5
        while (self.state.connections or self.state.refusing) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        self._server = None

