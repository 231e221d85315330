"""A cap on the gRPC listener's open connections (``grpc.max_connections``).

Why: every HTTP/2 connection costs a descriptor, h2's state, and up to one connection window
(4 MiB, see ``framing.server_config``) of data a handler has not read yet (Health's Watch reads
one message and then only writes). Without a cap, a client opening connections in a loop runs the
process out of descriptors and memory; HTTP has ``http.max_connections`` and WebSocket
``websocket.max_connections``, this is the gRPC one.

How: grpclib's ``Server`` builds one ``H2Protocol`` per accepted socket in ``_protocol_factory``
and has no public hook for it, so ``CappedServer`` overrides that method: under the cap it wraps
grpclib's protocol in ``_Counted``, which forwards every socket event and gives the slot back in
``connection_lost``; at the cap the socket gets ``_Refused``, which answers the HTTP/2 preface with
a GOAWAY (ENHANCE_YOUR_CALM, its debug data naming the key) and closes, before any stream is read.
gRPC clients report that as UNAVAILABLE. Cost: a comparison per accepted socket and one forwarding
call per socket event.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import weakref
from typing import Any, cast

from grpclib.server import Server

#: How long a refused socket may stay open waiting for the client to close it.
_LINGER_S = 1.0
#: How long ``wait_closed`` lets closed connections finish (a TLS close waits for the client's
#: close_notify, a handshake in flight for the client's next bytes) before aborting them.
_DRAIN_S = 1.0


class CappedServer(Server):
    """grpclib's ``Server`` with at most ``max_connections`` open connections."""

    def __init__(self, handlers: Any, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(handlers, **kwargs)
        self.max_connections = max(1, max_connections)
        #: Connections open now.
        self.open_connections = 0
        #: Connections refused at the cap since start (for /__mockforge/stats).
        self.connections_refused = 0
        #: Sockets of the counted connections open now, closed by ``wait_closed``.
        self._transports: set[asyncio.Transport] = set()
        #: TLS: every socket the listener accepted (a handshake in flight has no protocol yet)
        self._accepted: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    async def start(  # type: ignore[override]
        self, host: str | None = None, port: int | None = None, *, ssl: Any = None, sock: socket.socket | None = None,
        **kwargs: Any,
    ) -> None:
        """grpclib's start; with TLS on a listening socket of ours that remembers what it accepts,
        so that ``wait_closed`` can end handshakes still in flight (asyncio's server cannot).
        ``sock``: a listening socket the workers share (``mockforge.workers``), served as it is."""
        if sock is not None:
            await super().start(sock=sock, ssl=ssl, **kwargs)
            return
        if ssl is None:
            await super().start(host, port, **kwargs)
            return
        loop = asyncio.get_running_loop()
        family, kind, proto, _, addr = (
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        )[0]
        sock = _Listening(family, kind, proto, accepted=self._accepted)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            await super().start(sock=sock, ssl=ssl)
        except BaseException:
            sock.close()
            raise

    def _protocol_factory(self) -> asyncio.Protocol:  # type: ignore[override]
        if self.open_connections >= self.max_connections:
            self.connections_refused += 1
            return _Refused(self.max_connections)
        self.open_connections += 1
        return _Counted(self, super()._protocol_factory())

    def _release(self) -> None:
        self.open_connections -= 1

    async def wait_closed(self) -> None:
        """grpclib's wait (running calls end), then close the sockets clients kept open: grpclib
        leaves them to the client, so a stopped server would hold them until garbage collection.

        Then wait (at most ``_DRAIN_S``) until every socket the listener accepted is closed,
        those still in their TLS handshake included (asyncio's server counts them; grpclib never
        sees them), aborting what is left halfway. Without the wait a TLS connection was still
        closing when its event loop was closed, and its socket was reported unclosed when
        garbage collected (a TLS close is a close_notify exchange, a refused handshake's socket
        is closed a loop turn after the refusal; asyncio 3.11's ``Server.wait_closed`` waits for
        neither)."""
        await super().wait_closed()
        for transport in list(self._transports):
            transport.close()
        serving = {_fileno(t) for t in self._transports}
        for conn in list(self._accepted):  # handshakes in flight: they fail and close themselves
            if conn.fileno() not in (-1, *serving):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        await self._drain(_DRAIN_S / 2)
        for transport in list(self._transports):  # a client that does not answer close_notify
            transport.abort()
        await self._drain(_DRAIN_S / 2)

    async def _drain(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._accepted_open() and loop.time() < deadline:
            await asyncio.sleep(0.005)

    def _accepted_open(self) -> int:
        """Sockets the listener accepted that are not closed yet (asyncio's own count)."""
        server = self._server
        return int(getattr(server, "_active_count", 0)) + len(self._transports)


def _fileno(transport: asyncio.BaseTransport) -> int:
    sock = transport.get_extra_info("socket")
    return int(sock.fileno()) if sock is not None else -1


class _Listening(socket.socket):
    """A listening socket that remembers (weakly) every socket it accepts."""

    __slots__ = ("_remember",)

    def __init__(self, *args: Any, accepted: weakref.WeakSet[socket.socket]) -> None:
        super().__init__(*args)
        self._remember = accepted

    def accept(self) -> tuple[socket.socket, Any]:
        conn, addr = super().accept()
        self._remember.add(conn)
        return conn, addr


class _Counted(asyncio.Protocol):
    """grpclib's protocol for one connection, holding one of the server's slots until it ends."""

    __slots__ = ("_inner", "_server", "_transport")

    def __init__(self, server: CappedServer, inner: asyncio.Protocol) -> None:
        self._server: CappedServer | None = server
        self._inner = inner
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._server is not None:
            self._transport = cast(asyncio.Transport, transport)
            self._server._transports.add(self._transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        server, self._server = self._server, None
        if server is not None:
            server._release()
            if self._transport is not None:
                server._transports.discard(self._transport)
        self._inner.connection_lost(exc)


class _Refused(asyncio.Protocol):
    """Says GOAWAY to one connection over the cap, then ends it: the write side at once (so the
    GOAWAY is not lost to a reset if the client's preface is still unread), the socket when the
    client closes or after ``_LINGER_S``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        import h2.config
        import h2.connection
        from h2.errors import ErrorCodes

        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        reason = f"grpc.max_connections ({self._limit}) reached; try again later"
        conn.close_connection(error_code=ErrorCodes.ENHANCE_YOUR_CALM, additional_data=reason.encode())
        writer = cast(asyncio.WriteTransport, transport)
        writer.write(conn.data_to_send())
        if writer.can_write_eof():
            writer.write_eof()
        self._timer = asyncio.get_running_loop().call_later(_LINGER_S, writer.abort)

    def data_received(self, data: bytes) -> None:
        return None  # the client's preface and anything after it: dropped

    def eof_received(self) -> bool:
        return False  # close the socket

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
