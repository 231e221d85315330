"""Bytes per request-log entry, measured with tracemalloc (core issue, item 11).

    python benchmarks/request_log_bytes.py

Requests are built the way the HTTP layer builds them (header bytes decoded by the wire layer,
a JSON body, a response) and logged into a full ring buffer of each size, both ways the server
logs: built at once (WebSocket, gRPC) and recorded as pending HTTP entries, read or unread.
"""

from __future__ import annotations

import gc
import tracemalloc

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.http.protocol import HttpProtocol, PlainApp, ServerState

WIRE_HEADERS = [
    (b"Host", b"127.0.0.1:3000"),
    (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"),
    (b"Accept", b"application/json"),
    (b"Accept-Encoding", b"gzip, deflate, br"),
    (b"Authorization", b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"),
    (b"Content-Type", b"application/json"),
    (b"X-Request-Id", b"4bf92f3577b34da6a3ce929d0e0e4736"),
    (b"Traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    (b"Connection", b"keep-alive"),
    (b"Content-Length", b"180"),
]
BODY = b'{"name": "Rex", "kind": "dog", "tags": ["good", "brave"], "owner": {"id": 42, "email": "a@example.org"}}' * 2


def measure(n: int, *, pending: bool = False, read: bool = False) -> float:
    log = RequestLog(n)
    wire = HttpProtocol(PlainApp(), ServerState())
    response = Response(status=201, headers=[("content-type", "application/json")], body=b'{"id": 1}')

    def fill(count: int) -> None:
        for i in range(count):
            # decode the headers the way the wire layer does (http/protocol.py), so values that
            # repeat from request to request are shared as they are in the server
            wire.on_message_begin()
            for k, v in WIRE_HEADERS:
                wire.on_header(k, bytes(v))
            assert wire._cur is not None
            headers = Headers(wire._cur.headers, lowered=True)
            req = Request(protocol="http", method="POST", path=f"/api/v1/users/{i}/orders", raw_query=f"page={i % 7}",
                          headers=headers, body=bytes(BODY), client="127.0.0.1:51234")
            req.route = "/api/v1/users/{id}/orders"
            if pending:
                log.record(req, response, 1.234, len(response.body))
            else:
                log.append(log.entry_for(req, response, 1.234))

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fill(n)
    fill(n)  # a second pass evicts every first-pass entry: the figure is for a full, churning log
    if read:
        log.snapshot()
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / n


def main() -> None:
    # One LogEntry shape for every protocol (RequestLog.capture): its text fields are filled on
    # first read, so a busy ring evicts most entries before paying for them.
    print("entries   built at once   HTTP, unread   HTTP, after a read")
    for n in (1_000, 10_000, 100_000):
        built = measure(n)
        unread = measure(n, pending=True)
        after = measure(n, pending=True, read=True)
        print(f"{n:>7}   {built:>9.0f} B   {unread:>9.0f} B   {after:>12.0f} B"
              f"      ({max(built, unread, after) * n / 2**20:.1f} MB at most)")


async def _in_a_loop() -> None:
    main()  # the wire layer's protocol object needs a running loop, as in a server


if __name__ == "__main__":
    import asyncio

    asyncio.run(_in_a_loop())
