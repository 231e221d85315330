"""Bytes per request-log entry, measured with tracemalloc (core issue, item 11).

    python benchmarks/request_log_bytes.py

Entries are built the way the HTTP layer builds them (fresh header strings as decoded off the
wire, a JSON body, a response) and appended to a full ring buffer of each size.
"""

from __future__ import annotations

import gc
import tracemalloc

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog

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


def measure(n: int) -> float:
    log = RequestLog(n)
    response = Response(status=201, headers=[("content-type", "application/json")], body=b'{"id": 1}')

    def fill(count: int) -> None:
        for i in range(count):
            headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in WIRE_HEADERS)
            req = Request(protocol="http", method="POST", path=f"/api/v1/users/{i}/orders", raw_query=f"page={i % 7}",
                          headers=headers, body=bytes(BODY), client="127.0.0.1:51234")
            req.route = "/api/v1/users/{id}/orders"
            log.append(log.entry_for(req, response, 1.234))

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    fill(n)
    fill(n)  # a second pass evicts every first-pass entry: the figure is for a full, churning log
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / n


def main() -> None:
    print("entries   bytes/entry   total")
    for n in (1_000, 10_000, 100_000):
        per = measure(n)
        print(f"{n:>7}   {per:>11.0f}   {per * n / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
