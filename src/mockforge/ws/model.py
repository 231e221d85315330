"""WebSocket vocabulary shared by the session, scripts and rules: close codes and messages.

Hand-written rather than taken from ``websockets.frames``: importing that module pulls in the
library, and this module is read by code that must stay importable without it (config checks,
the admin API listing connections).

    msg = Message.text_message('{"type": "ping"}')
    msg.json()            # {"type": "ping"}
    msg.payload()         # b'{"type": "ping"}'
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Literal

import msgspec


class CloseCode(IntEnum):
    #: The purpose of the connection was fulfilled (a script ended with ``close``).
    NORMAL = 1000
    #: The server is going away: shutdown, or the connection sat idle too long.
    GOING_AWAY = 1001
    #: The peer broke the protocol (bad frame, unmasked frame, reserved bits).
    PROTOCOL_ERROR = 1002
    #: No close frame was received before the TCP connection ended (never sent on the wire).
    ABNORMAL = 1006
    #: A text frame was not valid UTF-8.
    INVALID_DATA = 1007
    #: A client that reads too slowly for the per-connection send queue.
    POLICY_VIOLATION = 1008
    #: A message larger than ``websocket.max_message_bytes``.
    MESSAGE_TOO_BIG = 1009
    #: A script gave up waiting (``on_timeout: close``) or the mock failed.
    INTERNAL_ERROR = 1011
    #: The server is overloaded; the client may come back later.
    TRY_AGAIN_LATER = 1013


def valid_close_code(code: int) -> bool:
    """Codes a server may put in a close frame (RFC 6455 7.4)."""
    return code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014) or (
        3000 <= code <= 4999
    )


_UNPARSED: Any = object()


class Message:
    """One complete data message (fragments already joined). ``kind`` is the literal tag;
    ``data`` is ``str`` for text and ``bytes`` for binary. JSON is parsed on first use."""

    __slots__ = ("_json", "data", "kind")

    def __init__(self, kind: Literal["text", "binary"], data: str | bytes) -> None:
        self.kind = kind
        self.data = data
        self._json: Any = _UNPARSED

    @classmethod
    def text_message(cls, text: str) -> Message:
        return cls("text", text)

    @classmethod
    def binary_message(cls, data: bytes) -> Message:
        return cls("binary", data)

    @property
    def text(self) -> str:
        """The text, or a binary payload decoded as UTF-8 with replacements."""
        data = self.data
        return data if isinstance(data, str) else data.decode("utf-8", "replace")

    def payload(self) -> bytes:
        data = self.data
        return data.encode() if isinstance(data, str) else data

    def json(self) -> Any:
        """The message parsed as JSON, or ``None`` when it is not JSON (parsed once)."""
        if self._json is _UNPARSED:
            try:
                self._json = msgspec.json.decode(self.data)
            except msgspec.DecodeError:
                self._json = None
        return self._json

    def template_value(self) -> Any:
        """What ``{{message}}`` sees: the parsed JSON when the message is JSON, else its text."""
        parsed = self.json()
        return self.text if parsed is None else parsed

    def __repr__(self) -> str:
        return f"Message({self.kind!r}, {self.data!r:.60})"
