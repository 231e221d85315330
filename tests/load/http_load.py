"""HTTP load generator for when wrk is missing, and the paced load of the memory benchmarks.

Sends the petstore mix of ``tests/load/http_mix.lua`` (40 % GET /pets, 30 % GET /pets/{id},
20 % POST /pets, 10 % DELETE /pets/{id}) over keep-alive HTTP/1.1 connections on raw asyncio
sockets, so the client costs little CPU next to the server on a 2-core machine.

    python tests/load/http_load.py --url http://127.0.0.1:3000 --connections 50 --seconds 20
    python tests/load/http_load.py --url http://127.0.0.1:3000 --rate 1000 --seconds 60 --json out.json
    python tests/load/http_load.py --url http://127.0.0.1:3000 --requests 10000 --seconds 120

Both the count (``--requests``) and the wall time (``--seconds``) are bounded; loopback only.
``--rate`` paces the total request rate (0 = as fast as the connections go). Prints the figures
and, with ``--json``, writes them in the shape that ``check_thresholds.py`` reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from urllib.parse import urlsplit

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
KINDS = ("list",) * 4 + ("get",) * 3 + ("post",) * 2 + ("delete",)
PET_KINDS = ("dog", "cat", "bird")
MAX_REQUESTS = 5_000_000


def percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(q / 100 * (len(sorted_ms) - 1))))
    return sorted_ms[k]


class Mix:
    """Builds request bytes for one connection; ``mix`` is ``petstore``, ``item`` or ``health``."""

    def __init__(self, host: str, mix: str, seed: int) -> None:
        self.host = host
        self.mix = mix
        self.rng = random.Random(seed)
        self.n = 0

    def _pet_id(self) -> int:
        i = self.rng.randint(1, 999)
        return 14 if i == 13 else i  # examples/stubs/pets.yaml makes pet 13 a 404

    def next(self) -> tuple[str, bytes]:
        self.n += 1
        kind = "health" if self.mix == "health" else "get" if self.mix == "item" else self.rng.choice(KINDS)
        head = f"Host: {self.host}\r\nUser-Agent: mockforge-load\r\n"
        if kind == "list":
            return kind, f"GET /pets?limit=5 HTTP/1.1\r\n{head}\r\n".encode()
        if kind == "get":
            return kind, f"GET /pets/{self._pet_id()} HTTP/1.1\r\n{head}\r\n".encode()
        if kind == "delete":
            return kind, f"DELETE /pets/{self._pet_id()} HTTP/1.1\r\n{head}\r\n".encode()
        if kind == "health":
            return kind, f"GET /health HTTP/1.1\r\n{head}\r\n".encode()
        body = json.dumps({"name": f"pet-{self.n}", "kind": self.rng.choice(PET_KINDS), "tags": ["load"]})
        data = body.encode()
        return kind, (f"POST /pets HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                      f"Content-Length: {len(data)}\r\n\r\n").encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns (status, server wants the connection closed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = -1
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name == "connection" and "close" in value.lower():
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    elif length < 0 and status not in (204, 304) and status >= 200:
        await reader.read()  # no length: the body runs to the end of the connection
        close = True
    return status, close


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        if parts.hostname not in LOOPBACK:
            raise SystemExit("--url must be on loopback (127.0.0.1, localhost, ::1)")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.args = args
        self.latencies: list[float] = []
        self.by_kind: dict[str, int] = {}
        self.status_errors: dict[int, int] = {}
        self.socket_errors = 0
        self.issued = 0
        self.late = 0
        self.deadline = 0.0
        self.started = 0.0

    def _take(self) -> int | None:
        """The next request number, or None when the count or time bound is reached."""
        if self.issued >= self.args.requests or time.perf_counter() >= self.deadline:
            return None
        self.issued += 1
        return self.issued - 1

    async def worker(self, index: int) -> None:
        mix = Mix(f"{self.host}:{self.port}", self.args.mix, self.args.seed * 1000 + index)
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        rate = self.args.rate
        while (n := self._take()) is not None:
            if rate > 0:
                due = self.started + n / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif wait < -0.1:
                    self.late += 1
            kind, data = mix.next()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
                assert reader is not None and writer is not None
                t0 = time.perf_counter()
                writer.write(data)
                status, close = await asyncio.wait_for(read_response(reader), self.args.timeout)
                self.latencies.append((time.perf_counter() - t0) * 1000)
                self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
                if status >= 400:
                    self.status_errors[status] = self.status_errors.get(status, 0) + 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
                self.socket_errors += 1
                if writer is not None:
                    writer.close()
                writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    async def run(self) -> dict[str, object]:
        self.started = time.perf_counter()
        self.deadline = self.started + self.args.seconds
        await asyncio.gather(*(self.worker(i) for i in range(self.args.connections)))
        elapsed = time.perf_counter() - self.started
        lat = sorted(self.latencies)
        status_errors = sum(self.status_errors.values())
        return {
            "tool": "python",
            "requests": len(lat),
            "duration_s": round(elapsed, 3),
            "rps": round(len(lat) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(percentile(lat, 50), 3),
            "p90_ms": round(percentile(lat, 90), 3),
            "p95_ms": round(percentile(lat, 95), 3),
            "p99_ms": round(percentile(lat, 99), 3),
            "max_ms": round(lat[-1], 3) if lat else float("nan"),
            "errors": status_errors + self.socket_errors,
            "errors_status": status_errors,
            "errors_socket": self.socket_errors,
            "status_errors": {str(k): v for k, v in sorted(self.status_errors.items())},
            "by_kind": dict(sorted(self.by_kind.items())),
            "late_over_100ms": self.late,
            "target_rate": self.args.rate,
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="base URL of a running mock (loopback only)")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0, help="wall-time bound")
    p.add_argument("--requests", type=int, default=MAX_REQUESTS, help="request-count bound")
    p.add_argument("--rate", type=float, default=0.0, help="total requests/s (0 = unpaced)")
    p.add_argument("--mix", choices=["petstore", "item", "health"], default="petstore")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the figures here as JSON")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    if not (1 <= args.connections <= 2000 and 0 < args.seconds <= 3600 and 0 < args.requests <= MAX_REQUESTS):
        p.error("--connections 1..2000, --seconds 0..3600, --requests 1..5000000")
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        result = runner.run(Load(args).run())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    if not args.quiet:
        print(f"requests: {result['requests']} in {result['duration_s']} s = {result['rps']} req/s "
              f"({args.connections} connections{f', paced at {args.rate:g}/s' if args.rate else ''})")
        print(f"latency ms: p50 {result['p50_ms']}  p90 {result['p90_ms']}  p95 {result['p95_ms']}  "
              f"p99 {result['p99_ms']}  max {result['max_ms']}")
        print(f"errors: {result['errors']} (status {result['status_errors']}, socket {result['errors_socket']}); "
              f"by kind {result['by_kind']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
