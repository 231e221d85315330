"""The baseline for throughput ratios: a bare hello-world app on the same HTTP layer mockforge
uses (our httptools protocol on uvloop), with no routing, logging or generation."""

from __future__ import annotations

import asyncio
import sys

import uvloop

from mockforge.core.model import Request, Response
from mockforge.http.listener import HttpListener
from mockforge.http.protocol import PlainApp

BODY = b'{"hello":"world"}'


class HelloApp(PlainApp):
    max_body_bytes = 1 << 20

    async def handle(self, request: Request) -> Response:
        return Response(status=200, headers=[("content-type", "application/json")], body=BODY)


async def main(port: int) -> None:
    listener = HttpListener(HelloApp(), "127.0.0.1", port)
    await listener.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
