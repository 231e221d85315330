"""``TlsServer``: the accept loop of an HTTP listener with TLS, plain-or-TLS by the first byte.

asyncio's ``create_server(ssl=...)`` cannot serve plain and TLS on one port, cannot answer a
plain client on a TLS port, and does not count connections that are still handshaking. So this
module accepts sockets itself and, for each, waits (without reading) until the first byte
arrives, *peeks* it (``MSG_PEEK``, nothing is consumed), and only then hands the socket to the
loop with ``connect_accepted_socket(ssl=context or None)``:

* 0x16 (a TLS handshake record): TLS, with ``ssl_handshake_timeout`` = what is left of
  ``http.header_timeout_ms`` since accept, so a stalled or half handshake is closed like a
  stalled request head;
* anything else: plain HTTP when ``tls.mode: both``, else a plain ``400`` saying the port
  speaks HTTPS, and a close.

Bounds: sockets waiting for their first byte or handshaking count against
``http.max_connections`` together with open connections; each waits at most the header
timeout. A failed handshake is one log line at INFO and a counter, never a traceback. Cost on
the request path: none (after the handshake the connection is an ordinary ``HttpProtocol``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from mockforge.tls.context import ServerTls

log = logging.getLogger("mockforge.tls")

_ACCEPT_BATCH = 64
_PLAIN_ON_TLS = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 53\r\n\r\n"
    b"this port speaks HTTPS: use an https:// URL instead\r\n"
)


class TlsServer:
    """Looks like the part of ``asyncio.Server`` that ``HttpListener`` uses: ``sockets``, ``close()``."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], tls: ServerTls, *, mode: str,
                 state: Any, header_timeout_s: float, max_connections: int) -> None:
        self.factory = factory
        self.tls = tls
        self.mode = mode
        self.state = state  # the listener's ServerState: open connections live there
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections
        self.sockets: list[socket.socket] = []
        self._pending: dict[socket.socket, asyncio.TimerHandle] = {}
        #: connections being handed to a protocol (TLS handshake or plain), with their raw socket
        self._handshaking: dict[asyncio.Task[None], socket.socket] = {}
        self._loop = asyncio.get_running_loop()
        #: for /stats and tests
        self.handshakes = 0
        self.handshake_failures = 0
        self.plain_on_tls = 0
        self.refused = 0
        self.timeouts = 0

    def counters(self) -> dict[str, int]:
        return {"tls_handshakes": self.handshakes, "tls_handshake_failures": self.handshake_failures,
                "plain_on_tls_port": self.plain_on_tls, "tls_refused": self.refused,
                "tls_first_byte_timeouts": self.timeouts}

    async def start(self, host: str, port: int, sock: socket.socket | None = None) -> int:
        """Bind and accept; with ``sock`` (a worker's share of a port) accept on it instead."""
        if sock is None:
            sock = await self._bind(host, port)
        else:
            sock.setblocking(False)
        self.sockets = [sock]
        self._loop.add_reader(sock.fileno(), self._accept, sock)
        return int(sock.getsockname()[1])

    async def _bind(self, host: str, port: int) -> socket.socket:
        infos = await self._loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(addr)
            sock.listen(2048)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self.sockets = []
        for conn, timer in list(self._pending.items()):
            self._drop(conn, timer)
        # a handshake in flight is ended by shutting its socket down, not by cancelling it: the
        # handshake then fails and asyncio closes the transport it made (a cancelled one would be
        # left unclosed); ``wait_closed`` waits for them
        for conn in list(self._handshaking.values()):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    async def wait_closed_handshakes(self, timeout: float = 2.0) -> None:
        """Wait (at most ``timeout``) for the handshakes ``close`` ended; cancel what is left.
        Then wait (briefly) until their sockets are closed: a failed handshake's transport
        closes its socket a loop turn after the handshake task ended, and a loop closed before
        then leaves the socket to the garbage collector (reported unclosed)."""
        tasks = list(self._handshaking)
        if not tasks:
            return
        conns = list(self._handshaking.values())
        _, left = await asyncio.wait(tasks, timeout=timeout)
        for task in left:
            task.cancel()
        deadline = self._loop.time() + 0.5
        while any(c.fileno() != -1 for c in conns) and self._loop.time() < deadline:
            await asyncio.sleep(0.001)

    # ---- accept and sniff ------------------------------------------------------------------
    def _accept(self, listening: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                conn, _addr = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and friends: try again on the next readiness
                log.warning("accept failed: %s", exc)
                return
            conn.setblocking(False)
            busy = len(self._pending) + len(self._handshaking) + len(self.state.connections)
            if busy > self.max_connections:  # one over: the listener's reserved health slot
                self.refused += 1
                conn.close()
                continue
            timer = self._loop.call_later(self.header_timeout_s, self._expire, conn)
            self._pending[conn] = timer
            self._loop.add_reader(conn.fileno(), self._first_byte, conn)

    def _drop(self, conn: socket.socket, timer: asyncio.TimerHandle | None) -> None:
        self._pending.pop(conn, None)
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(Exception):
            self._loop.remove_reader(conn.fileno())
        conn.close()

    def _expire(self, conn: socket.socket) -> None:
        if conn in self._pending:
            self.timeouts += 1
            self._drop(conn, None)

    def _first_byte(self, conn: socket.socket) -> None:
        try:
            head = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            head = b""
        timer = self._pending.pop(conn, None)
        self._loop.remove_reader(conn.fileno())
        if not head:  # closed before saying anything
            if timer is not None:
                timer.cancel()
            conn.close()
            return
        left = max(timer.when() - self._loop.time(), 0.05) if timer is not None else self.header_timeout_s
        if timer is not None:
            timer.cancel()
        if head[0] == 0x16:
            self._hand_over(conn, left, tls=True)
        elif self.mode == "both":
            self._hand_over(conn, left, tls=False)
        else:
            self.plain_on_tls += 1
            log.info("plain HTTP on the TLS port from %s: answered 400 (use https://)", _peer(conn))
            with contextlib.suppress(OSError):
                conn.send(_PLAIN_ON_TLS)
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_WR)
            conn.close()

    def _hand_over(self, conn: socket.socket, timeout_s: float, *, tls: bool) -> None:
        task = self._loop.create_task(self._connect(conn, timeout_s, tls))
        self._handshaking[task] = conn
        task.add_done_callback(lambda t: self._handshaking.pop(t, None))

    async def _connect(self, conn: socket.socket, timeout_s: float, tls: bool) -> None:
        peer = _peer(conn)
        try:
            if tls:
                await self._loop.connect_accepted_socket(
                    self.factory, conn, ssl=self.tls.context, ssl_handshake_timeout=timeout_s
                )
                self.handshakes += 1
            else:
                await self._loop.connect_accepted_socket(self.factory, conn)
        except asyncio.CancelledError:
            conn.close()
            raise
        except (OSError, TimeoutError, ConnectionError, ValueError) as exc:
            self.handshake_failures += 1
            reason = getattr(exc, "reason", None) or type(exc).__name__
            log.info("TLS handshake from %s failed: %s", peer, reason)
            conn.close()


def _peer(conn: socket.socket) -> str:
    try:
        host, port = conn.getpeername()[:2]
    except OSError:
        return "a client"
    return f"{host}:{port}"
