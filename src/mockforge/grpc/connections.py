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
from typing import Any, cast

from grpclib.server import Server

#: How long a refused socket may stay open waiting for the client to close it.
_LINGER_S = 1.0


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
        self._transports: set[asyncio.BaseTransport] = set()

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
        leaves them to the client, so a stopped server would hold them until garbage collection."""
        await super().wait_closed()
        for transport in list(self._transports):
            transport.close()


class _Counted(asyncio.Protocol):
    """grpclib's protocol for one connection, holding one of the server's slots until it ends."""

    __slots__ = ("_inner", "_server", "_transport")

    def __init__(self, server: CappedServer, inner: asyncio.Protocol) -> None:
        self._server: CappedServer | None = server
        self._inner = inner
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._server is not None:
            self._transport = transport
            self._server._transports.add(transport)
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
