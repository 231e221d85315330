"""Typed events the core publishes and others subscribe to, instead of being called by name.

    log.logged.subscribe(metrics.on_entry)     # ExchangeLogged: one exchange was logged
    log.logged.publish(entry)                  # the request log does this on every append

A subscriber runs on the caller's thread, inline, for every exchange of every protocol: it must
be cheap and must not raise (the metrics counter costs under a microsecond). The event carries
the ``LogEntry`` itself, not a wrapper, so publishing allocates nothing; the entry is not
settled yet (read only the fields ``RequestLog.capture`` fills: protocol, method, path, route,
status, status_text, duration_ms, matched, truncated).
"""

from __future__ import annotations

from collections.abc import Callable

from mockforge.core.model import LogEntry

__all__ = ["ExchangeLogged"]


class ExchangeLogged:
    """"One exchange was logged": its subscribers, called in the order they subscribed."""

    __slots__ = ("subscribers",)

    def __init__(self) -> None:
        self.subscribers: list[Callable[[LogEntry], None]] = []

    def subscribe(self, fn: Callable[[LogEntry], None]) -> None:
        self.subscribers.append(fn)

    def publish(self, entry: LogEntry) -> None:
        for fn in self.subscribers:
            fn(entry)
