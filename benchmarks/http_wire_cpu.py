"""CPU time per request of the HTTP layer alone (``http/protocol.py``), without a socket.

    python benchmarks/http_wire_cpu.py [--requests 20000] [--rounds 7]

Feeds one keep-alive request at a time to an ``HttpProtocol`` on a fake transport and answers
it with a two-header hello world, so parsing, the wire limits, the response-header check and
serialisation are all on the path. It measures process CPU time (best of the rounds), so it
stays comparable on a shared, loaded machine where ``http_bench.py``'s requests/s do not:
run it on two checkouts (``PYTHONPATH=src``) to compare the wire layer of each.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import uvloop

from mockforge.core.model import Request, Response
from mockforge.http.protocol import HttpProtocol, PlainApp, ServerState

BODY = b'{"hello":"world"}'
REQUEST = b"GET /pets/7 HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


class HelloApp(PlainApp):
    async def handle(self, request: Request) -> Response:
        return Response(status=200, headers=[("content-type", "application/json"), ("x-mock", "1")], body=BODY)


class FakeTransport:
    def __init__(self) -> None:
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1

    def get_extra_info(self, key: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if key == "peername" else default

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...


async def measure(requests: int, rounds: int) -> float:
    proto = HttpProtocol(HelloApp(), ServerState())
    transport = FakeTransport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(requests):
            proto.data_received(REQUEST)
            await asyncio.sleep(0)  # the answer task runs
            await asyncio.sleep(0)
        best = min(best, (time.process_time() - started) / requests)
    assert transport.writes == requests * rounds, "every request must be answered"
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    best = uvloop.run(measure(args.requests, args.rounds))
    print(f"HTTP layer: {best * 1e6:.2f} us CPU per keep-alive request (best of {args.rounds})")


if __name__ == "__main__":
    main()
