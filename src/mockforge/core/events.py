"""Typed events the core publishes and others subscribe to, instead of being called by name.

    log.logged.subscribe(metrics.on_entry)     # ExchangeLogged: one exchange was logged (metrics,
                                               # and ExchangeTally for the admin API's /stats)
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

__all__ = ["ExchangeLogged", "ExchangeTally"]

#: WebSocket log entries that are not requests (a handshake, ``CONNECT``, is one).
_WS_NOT_REQUESTS = frozenset({"MESSAGE_IN", "MESSAGE_OUT", "CLOSE"})


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


class ExchangeTally:
    """Exchanges logged since the last reset, by protocol and status class: what the admin API's
    ``GET /__mockforge/stats`` shows as ``since_reset`` (a test suite reads its own traffic after
    ``POST /__mockforge/reset``). A subscriber of ``ExchangeLogged``: one dict update per exchange,
    bounded by protocols x 6 status classes. It counts what ``requests_by_protocol`` counts
    (WebSocket handshakes, not messages), so the totals of ``/stats`` agree.

        tally = ExchangeTally()
        log.logged.subscribe(tally.on_entry)
        tally.snapshot()     # {"http": {"2xx": 3, "4xx": 1}}
    """

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}

    def on_entry(self, entry: LogEntry) -> None:
        if entry.protocol == "ws" and entry.method in _WS_NOT_REQUESTS:
            return  # counted as messages, as the metrics do: the totals of /stats agree
        key = (entry.protocol, entry.status // 100)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1

    def clear(self) -> None:
        self.counts = {}

    def snapshot(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (protocol, klass), n in sorted(self.counts.items()):
            out.setdefault(protocol, {})[f"{klass}xx"] = n
        return out
