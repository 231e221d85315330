"""One worker process: ``python -m mockforge.workers.child``, started by ``supervisor.py``.

What it is given:
- stdin, first line: the config as JSON (already checked, ports already bound by the supervisor);
  later lines: the supervisor's status (``{"alive": 2, "restarts": 1}``) for ``/health``. End of
  stdin means the supervisor is gone (even killed): the worker stops, so no worker is orphaned.
- ``MOCKFORGE_WORKER`` (JSON): ``index``, ``count``, ``report_fd`` (a pipe to the supervisor) and
  ``sockets`` (listener name -> ``sockets.open_share`` spec).
What it answers on ``report_fd``: one JSON line once every listener is bound, ``{"ready": true,
"ports": {...}, "describe": [...]}``, or ``{"error": "..."}`` when it cannot start (exit 2).
SIGTERM and SIGINT stop it gracefully (in-flight requests finish, ``http.graceful_timeout_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

import msgspec

from mockforge.config import Config
from mockforge.errors import MockforgeError
from mockforge.workers.sockets import open_share, worker_metrics_port

log = logging.getLogger("mockforge.workers")

#: Longest status line read from the supervisor; a longer one is dropped.
MAX_STATUS_LINE = 4096
#: Longest config line read from stdin (inline stubs and routes make it big, never this big).
MAX_CONFIG_BYTES = 64 * 1024 * 1024


def _read_config_line(fd: int) -> tuple[bytes, bytes]:
    """The first line of ``fd`` and what was read after it (blocking, before the loop runs)."""
    buf = bytearray()
    while b"\n" not in buf:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise MockforgeError("the supervisor closed the config pipe before sending the config")
        buf += chunk
        if len(buf) > MAX_CONFIG_BYTES:
            raise MockforgeError("the config sent by the supervisor is too large")
    line, _, rest = bytes(buf).partition(b"\n")
    return line, rest


class Worker:
    def __init__(self, cfg: Config, index: int, count: int, shares: dict[str, Any], report_fd: int) -> None:
        self.cfg = cfg
        self.index = index
        self.count = count
        self.shares = shares
        self.report_fd = report_fd
        self.stop = asyncio.Event()
        self._pending = b""

    def _socket(self, name: str) -> socket.socket | None:
        spec = self.shares.get(name)
        return open_share(spec) if spec is not None else None

    def _report(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\n"
        with contextlib.suppress(OSError):  # the supervisor is gone: stdin's end stops us soon
            os.write(self.report_fd, data)

    def _on_stdin(self, runtime_workers: dict[str, int]) -> None:
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the supervisor is gone
            asyncio.get_running_loop().remove_reader(0)
            self.stop.set()
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        if len(self._pending) > MAX_STATUS_LINE:
            self._pending = b""
        for line in lines:
            self._status(line, runtime_workers)

    @staticmethod
    def _status(line: bytes, runtime_workers: dict[str, int]) -> None:
        if len(line) > MAX_STATUS_LINE:
            return
        try:
            data = json.loads(line)
        except ValueError:
            return
        if isinstance(data, dict):
            for key in ("alive", "restarts"):
                if isinstance(data.get(key), int):
                    runtime_workers[key] = data[key]

    async def run(self, pending: bytes) -> int:
        from mockforge.server import Server

        server = Server(self.cfg, sockets=self._socket, worker_index=self.index)
        try:
            await server.start()
        except MockforgeError as exc:
            self._report({"error": str(exc)})
            return 2
        except OSError as exc:
            self._report({"error": f"worker {self.index}: {exc.strerror or exc}"})
            return 2
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        workers = server.runtime.workers
        self._pending = pending
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._status(line, workers)
        os.set_blocking(0, False)
        loop.add_reader(0, self._on_stdin, workers)
        self._report({"ready": True, "pid": os.getpid(), "ports": server.ports, "describe": server.describe()})
        await self.stop.wait()
        with contextlib.suppress(Exception):
            loop.remove_reader(0)
        await server.stop()
        return 0


def main() -> int:
    try:
        setup = json.loads(os.environ["MOCKFORGE_WORKER"])
        index, count, report_fd = int(setup["index"]), int(setup["count"]), int(setup["report_fd"])
        shares = dict(setup["sockets"])
    except (KeyError, ValueError, TypeError):
        print("mockforge: error: mockforge.workers.child is started by `mockforge serve --workers N`",
              file=sys.stderr)
        return 2
    try:
        line, pending = _read_config_line(0)
        cfg = msgspec.json.decode(line, type=Config)
    except (MockforgeError, msgspec.DecodeError) as exc:
        print(f"mockforge: error: worker {index}: {exc}", file=sys.stderr)
        return 2
    metrics_port = worker_metrics_port(cfg, index)
    if metrics_port is not None:
        m = cfg.observability.metrics
        cfg = msgspec.structs.replace(cfg, observability=msgspec.structs.replace(
            cfg.observability, metrics=msgspec.structs.replace(m, port=metrics_port)))
    logging.basicConfig(
        level=getattr(logging, cfg.observability.log_level.upper(), logging.INFO),
        format=f"%(asctime)s %(levelname)-7s [worker {index}] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    worker = Worker(cfg, index, count, shares, report_fd)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a dependency
        runner = asyncio.Runner()
    with runner:
        return runner.run(worker.run(pending))


if __name__ == "__main__":
    sys.exit(main())
