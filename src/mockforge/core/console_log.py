"""The console request log (``--log-requests`` / ``observability.log_requests``): one line per
exchange, for every protocol, written as the exchange is logged.

    console = ConsoleLog(sys.stderr)
    runtime.log.logged.subscribe(console.on_entry)   # only when the option is on: off costs nothing

    12:04:05.678 http GET /pets/7 200 spec 0.41ms

It is an ``ExchangeLogged`` subscriber and reads only the fields ``RequestLog.capture`` fills.
Everything printed passes ``printable``: a request path (or a stub id) may hold escape
sequences, and a terminal must never receive raw control characters from the network.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from mockforge.core.model import LogEntry

__all__ = ["ConsoleLog", "printable"]

#: Characters of one field written at most (a path is already bounded by the wire limits).
MAX_FIELD_CHARS = 512


def printable(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """``text`` with every non-printable character (and the backslash) escaped, cut to ``limit``
    characters (an ellipsis marks the cut)."""
    if text.isprintable() and "\\" not in text and " " not in text and len(text) <= limit:
        return text
    out: list[str] = []
    size = 0
    for ch in text:
        if ch == "\\":
            piece = "\\\\"
        elif ch == " ":
            piece = "%20"  # one field per column: a space would shift the ones after it
        elif ch.isprintable():
            piece = ch
        else:
            code = ord(ch)
            piece = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
        size += len(piece)
        if size > limit:
            out.append("...")
            break
        out.append(piece)
    return "".join(out)


class ConsoleLog:
    """Writes one line per exchange to ``stream``: local time, protocol, method, path, status,
    what answered (``-`` when nothing matched) and the time taken."""

    __slots__ = ("clock", "stream")

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.time) -> None:
        self.stream = stream
        self.clock = clock

    def line(self, entry: LogEntry, now: float) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        source = printable(entry.matched) if entry.matched else "-"
        return (
            f"{stamp} {printable(entry.protocol, 16)} {printable(entry.method, 128)} {printable(entry.path)} "
            f"{entry.status} {source} {entry.duration_ms:.2f}ms\n"
        )

    def on_entry(self, entry: LogEntry) -> None:
        try:
            self.stream.write(self.line(entry, self.clock()))
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream must never fail an exchange
            pass
