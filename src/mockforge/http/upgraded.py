"""``UpgradedSocket``: the socket an HTTP connection hands over after an accepted ``Upgrade``.

This is ``http/protocol.py``'s implementation of ``core.connection.UpgradedConnection`` (the
WebSocket adapter only knows that type, so it imports nothing from ``http/``). It lives apart
from the protocol to keep that module, the HTTP wire, under 800 lines, and it is given the
transport, the protocol's ``drain`` and the peer's address rather than the protocol itself, so
neither module imports the other's names back. One object per upgrade; each method is a plain
call on the asyncio transport, so it adds one Python call per frame and nothing per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class UpgradedSocket:
    """The raw connection after an ``Upgrade`` was accepted. The upgrade handler sets
    ``on_data``/``on_close`` and writes with ``write``; ``drain`` waits for the socket buffer."""

    def __init__(
        self, transport: asyncio.Transport, drain: Callable[[], Awaitable[None]], client: str, initial: bytes
    ) -> None:
        self.transport = transport
        self._drain = drain
        self.initial_data = initial
        self.on_data: Callable[[bytes], None] | None = None
        self.on_close: Callable[[], None] | None = None
        self.client = client
        self.write_high_water: int = transport.get_write_buffer_limits()[1]

    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        await self._drain()

    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def close(self) -> None:
        self.transport.close()

    def abort(self) -> None:
        self.transport.abort()

    @property
    def closed(self) -> bool:
        return self.transport.is_closing()
