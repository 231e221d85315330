"""The supervisor of ``mockforge serve --workers N`` (N > 1).

    code = supervise(cfg)      # blocks until SIGTERM/SIGINT; the process exit code

It binds the shared ports once (``sockets.Reservation``: port 0 becomes a real port that every
worker then shares), starts worker 1 and waits for it to be ready (a bad spec or plugin is then
reported once, with worker 1's one-line error, and the supervisor exits with its code 2), then
starts the others. Each worker is a fresh interpreter (``subprocess``, ``python -m
mockforge.workers.child``) in its own process group, so a terminal's Ctrl-C reaches only the
supervisor, which forwards SIGTERM.

A worker that dies is started again after a back-off (``RESTART_DELAYS_S``); a worker that dies
``MAX_RESTARTS`` times within ``RESTART_WINDOW_S`` is a crash loop: the supervisor stops every
worker and exits 1 rather than spin. ``/health`` of each worker reports ``workers``: configured,
alive and restarts (sent down the worker's stdin), and its own index and pid.

Hand-written rather than gunicorn/supervisord: those own the listening socket and the HTTP
server (gunicorn) or need their own config and process (supervisord); here each worker must run
mockforge's own listeners (HTTP, TLS, gRPC) on shared ports, which is about 200 lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click
import msgspec

from mockforge.config import Config
from mockforge.version import __version__
from mockforge.workers.sockets import DEFAULT_MODE, BindError, Reservation, shared_listeners, with_ports

#: Wait before the 1st, 2nd, 3rd... restart of one worker within ``RESTART_WINDOW_S``.
RESTART_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
#: Restarts of one worker within ``RESTART_WINDOW_S`` that make a crash loop (then exit 1).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
#: Longest wait for a worker's first "ready" (it loads specs and protos, maybe compiles them).
READY_TIMEOUT_S = 120.0
#: Longest line a worker may report.
MAX_REPORT_LINE = 1024 * 1024


class Slot:
    """Worker ``index`` (1-based) and its current process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: asyncio.subprocess.Process | None = None
        self.ready = False
        self.report: dict[str, Any] = {}
        self.crashes: list[float] = []  # monotonic times of recent deaths
        self.watcher: asyncio.Task[None] | None = None


class Supervisor:
    def __init__(self, cfg: Config, mode: str = DEFAULT_MODE) -> None:
        self.count = cfg.worker_count()
        self.mode = mode
        self.cfg = cfg
        self.reservation: Reservation | None = None
        self.config_line = b""
        self.slots = [Slot(i) for i in range(1, self.count + 1)]
        self.restarts = 0
        self.stopping = False
        self.failed: int | None = None  # exit code when workers cannot run
        self.done = asyncio.Event()

    # ---- start ----------------------------------------------------------------------------
    async def run(self) -> int:
        try:
            self.reservation = Reservation.bind(shared_listeners(self.cfg), self.mode)
        except BindError as exc:
            name, host, port = exc.listener or ("http", "?", 0)
            click.echo(f"mockforge: error: {name} listener: cannot listen on {host}:{port}: "
                       f"{exc.error.strerror or exc.error}", err=True)
            return 2
        try:
            return await self._run()
        finally:
            self.reservation.close()

    async def _run(self) -> int:
        assert self.reservation is not None
        self.config_line = msgspec.json.encode(with_ports(self.cfg, self.reservation.ports)) + b"\n"
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop)
        first = self.slots[0]
        code = await self._start(first)  # worker 1 first: a bad spec is reported once
        if code is None:
            rest = await asyncio.gather(*(self._start(s) for s in self.slots[1:]))
            code = next((c for c in rest if c is not None), None)
        if code is not None or self.stopping:
            await self._stop_all()
            return code if code is not None else 0
        self._announce()
        for slot in self.slots:
            slot.watcher = asyncio.create_task(self._watch(slot))
        await self.done.wait()
        await self._stop_all()
        return self.failed or 0

    async def _start(self, slot: Slot) -> int | None:
        """Start ``slot``'s worker and wait until it is ready: None, or the exit code to end with."""
        assert self.reservation is not None
        read_fd, write_fd = os.pipe()
        setup = {"index": slot.index, "count": self.count, "report_fd": write_fd,
                 "sockets": self.reservation.worker_spec()}
        env = {**os.environ, "MOCKFORGE_WORKER": json.dumps(setup)}
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mockforge.workers.child", stdin=subprocess.PIPE, env=env,
                pass_fds=(write_fd, *self.reservation.fds()), process_group=0,
            )
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            click.echo(f"mockforge: error: cannot start worker {slot.index}: {exc}", err=True)
            return 1
        finally:
            with contextlib.suppress(OSError):
                os.close(write_fd)
        slot.proc, slot.ready = proc, False
        assert proc.stdin is not None
        proc.stdin.write(self.config_line)
        report, timed_out = await self._read_report(read_fd)
        if report.get("ready"):
            slot.ready, slot.report = True, report
            self._broadcast()
            return None
        error = report.get("error")
        if timed_out:
            proc.kill()
            error = f"worker {slot.index} did not start within {READY_TIMEOUT_S:.0f} s"
        code = await proc.wait()
        if self.stopping:
            return 0
        click.echo(f"mockforge: error: {error or f'worker {slot.index} exited with code {code}'}", err=True)
        return 2 if error else 1

    async def _read_report(self, fd: int) -> tuple[dict[str, Any], bool]:
        """The worker's ready/error line ({} when it died without one), and whether none came in time."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_REPORT_LINE)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0))
        timed_out = False
        try:
            line = await asyncio.wait_for(reader.readline(), READY_TIMEOUT_S)
            data = json.loads(line) if line.strip() else {}
        except TimeoutError:
            data, timed_out = {}, True
        except (ValueError, asyncio.LimitOverrunError):
            data = {}
        finally:
            transport.close()
        return (data if isinstance(data, dict) else {}), timed_out

    def _announce(self) -> None:
        for line in self.slots[0].report.get("describe", []):
            click.echo(f"  {line}")
        for slot in self.slots[1:]:
            port = slot.report.get("ports", {}).get("metrics")
            if port is not None:
                click.echo(f"  {'metrics':<10} port {port} (worker {slot.index}; docs/SCALING.md)")
        share = "SO_REUSEPORT" if self.mode == "reuseport" else "one inherited socket"
        pids = ", ".join(str(s.proc.pid) for s in self.slots if s.proc is not None)
        click.echo(f"mockforge {__version__} ready: {self.count} workers (pids {pids}; ports shared with {share}; "
                   f"supervisor pid {os.getpid()}) (SIGINT or SIGTERM stops it)")
        sys.stdout.flush()

    # ---- watch and restart ------------------------------------------------------------------
    async def _watch(self, slot: Slot) -> None:
        while not self.stopping:
            assert slot.proc is not None
            code = await slot.proc.wait()
            slot.ready = False
            if self.stopping:
                return
            now = time.monotonic()
            slot.crashes = [t for t in slot.crashes if now - t < RESTART_WINDOW_S] + [now]
            if len(slot.crashes) > MAX_RESTARTS:
                click.echo(f"mockforge: error: worker {slot.index} died {len(slot.crashes)} times within "
                           f"{RESTART_WINDOW_S:.0f} s (last exit code {code}); stopping", err=True)
                self.failed = 1
                self.done.set()
                return
            delay = RESTART_DELAYS_S[min(len(slot.crashes), len(RESTART_DELAYS_S)) - 1]
            click.echo(f"mockforge: worker {slot.index} (pid {slot.proc.pid}) exited with code {code}; "
                       f"restarting in {delay} s", err=True)
            self._broadcast()
            await asyncio.sleep(delay)
            if self.stopping:
                return
            self.restarts += 1
            if await self._start(slot) is not None and not self.stopping:
                continue  # it died while starting: counted as another crash on the next turn

    def _broadcast(self) -> None:
        """Tell every running worker the counts its /health reports (best effort)."""
        alive = sum(1 for s in self.slots if s.ready and s.proc is not None and s.proc.returncode is None)
        line = json.dumps({"alive": alive, "restarts": self.restarts}).encode() + b"\n"
        for slot in self.slots:
            proc = slot.proc
            if proc is not None and proc.returncode is None and proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.write(line)

    # ---- stop -------------------------------------------------------------------------------
    def _request_stop(self) -> None:
        self.stopping = True
        self.done.set()

    async def _stop_all(self) -> None:
        self.stopping = True
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.returncode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        grace = self.cfg.http.graceful_timeout_ms / 1000 + 5.0
        waits = [asyncio.create_task(p.wait()) for p in procs]
        if waits:
            _, late = await asyncio.wait(waits, timeout=grace)
            for proc in procs:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            if late:
                await asyncio.wait(late)
        for slot in self.slots:
            if slot.watcher is not None:
                slot.watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await slot.watcher
            if slot.proc is not None and slot.proc.stdin is not None:
                slot.proc.stdin.close()


def supervise(cfg: Config, mode: str = DEFAULT_MODE) -> int:
    """Run ``cfg.worker_count()`` workers until SIGTERM/SIGINT; the exit code (0 after a stop)."""
    click.echo(f"mockforge: starting {cfg.worker_count()} workers")
    return asyncio.run(Supervisor(cfg, mode).run())
