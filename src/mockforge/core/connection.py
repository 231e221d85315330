"""``UpgradedConnection``: the raw byte stream a protocol takes over after an HTTP ``Upgrade``.

    async def upgrade(self, request: Request, conn: UpgradedConnection) -> Response | None:
        conn.on_data = feed                 # bytes as they arrive (``conn.initial_data`` first)
        conn.on_close = gone                # the peer or the server closed the socket
        conn.write(handshake)
        if conn.write_buffer_size() > conn.write_high_water:
            await conn.drain()              # back-pressure: wait for the socket buffer

Why a ``Protocol`` here and not the class in ``http/protocol.py``: the WebSocket adapter needs a
socket, not HTTP. With the type below both adapters, ``ws/`` imports nothing from ``http/``
(adapters do not import each other, tests/test_architecture.py), and another transport (TLS
termination, a test double) only has to provide these members. It costs nothing at run time:
``http/protocol.py`` implements it with plain methods over the asyncio transport, and nobody
checks it with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class UpgradedConnection(Protocol):
    """One upgraded socket, as the protocol that took it over sees it."""

    #: bytes that arrived after the upgrade request, in the same read
    initial_data: bytes
    #: ``host:port`` of the peer ("" when unknown)
    client: str
    #: the upper bound the socket's write buffer should stay under (bytes)
    write_high_water: int
    on_data: Callable[[bytes], None] | None
    on_close: Callable[[], None] | None

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the socket (dropped once the socket is closing)."""

    async def drain(self) -> None:
        """Wait until the socket's write buffer is below its low-water mark."""

    def write_buffer_size(self) -> int:
        """Bytes written but not yet handed to the kernel."""

    def pause_reading(self) -> None:
        """Stop reading from the peer (``on_data`` is not called until the socket closes)."""

    def close(self) -> None:
        """Close after what is buffered is sent."""

    def abort(self) -> None:
        """Close at once, dropping what is buffered."""

    @property
    def closed(self) -> bool:
        """True once closing or closed."""
