"""The supervisor of ``mockforge serve --workers N`` (N > 1): ``python -m mockforge.workers.supervisor``,
exec'd by ``launch.py`` with the shared ports already bound. It imports only the standard library
(plus the version string), so it costs about 12 MB for the life of the server.

It starts worker 1 and waits for it to be ready (a bad spec, a plugin that fails or Redis that
cannot be reached is then reported once, with worker 1's one-line error, and the supervisor exits
with code 2), then starts the others. Each worker is a fresh interpreter (``subprocess``, ``python
-m mockforge.workers.child``; never ``fork`` after an event loop exists) in its own process
group, so a terminal's Ctrl-C reaches only the supervisor, which forwards SIGTERM.

A worker that dies is started again after a back-off (``RESTART_DELAYS_S``); one that dies
``MAX_RESTARTS`` + 1 times within ``RESTART_WINDOW_S`` is a crash loop: the supervisor stops every
worker and exits 1 rather than spin. Each worker's ``/health`` reports ``workers``: configured,
alive and restarts (sent down the worker's stdin), and its own index and pid.

Hand-written rather than gunicorn or supervisord: those own the listening socket and the HTTP
server (gunicorn) or need their own config and daemon (supervisord); here each worker runs
mockforge's own listeners (HTTP, TLS, gRPC) on shared ports, in about 250 lines of stdlib code.
One thread: ``selectors`` over the workers' report pipes and a signal wake-up pipe.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Any

#: Wait before the 1st, 2nd, 3rd... restart of one worker within ``RESTART_WINDOW_S``.
RESTART_DELAYS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
#: Restarts of one worker within ``RESTART_WINDOW_S``; one more death is a crash loop (exit 1).
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
#: Longest wait for a worker's "ready" (it loads specs and protos, maybe compiles them).
READY_TIMEOUT_S = 120.0
#: Longest line a worker may report.
MAX_REPORT_LINE = 1024 * 1024
#: A worker still running this long after the graceful stop time is killed.
KILL_AFTER_S = 5.0


def _say(line: str, err: bool = False) -> None:
    print(line, file=sys.stderr if err else sys.stdout, flush=True)


class Slot:
    """Worker ``index`` (1-based) and its current process."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.proc: subprocess.Popen[bytes] | None = None
        self.report_fd: int | None = None
        self.report_buf = b""
        self.report: dict[str, Any] = {}
        self.ready = False
        self.ready_by = 0.0  # monotonic deadline for "ready"
        self.restart_at: float | None = None  # a restart is due then
        self.crashes: list[float] = []  # monotonic times of recent deaths

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Supervisor:
    def __init__(self, plan: dict[str, Any], config_line: bytes) -> None:
        self.plan = plan
        self.count = int(plan["count"])
        self.config_line = config_line
        self.slots = [Slot(i) for i in range(1, self.count + 1)]
        self.restarts = 0
        self.stopping = False
        self.sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.sel.register(self._wake_r, selectors.EVENT_READ, None)

    # ---- signals and waiting --------------------------------------------------------------
    def _install_signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w)  # a signal makes select() return at once

        def stop(_sig: int, _frame: Any) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # only to wake select() when a worker dies

    def _wait(self, timeout: float) -> None:
        """Sleep until a signal, a report line or ``timeout``; read what arrived."""
        for key, _ in self.sel.select(max(0.0, timeout)):
            if key.data is None:
                while True:
                    try:
                        if not os.read(self._wake_r, 4096):
                            break
                    except BlockingIOError:
                        break
            else:
                self._read_report(key.data)

    def _read_report(self, slot: Slot) -> None:
        assert slot.report_fd is not None
        try:
            chunk = os.read(slot.report_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        slot.report_buf += chunk
        if b"\n" in slot.report_buf or not chunk or len(slot.report_buf) > MAX_REPORT_LINE:
            line = slot.report_buf.partition(b"\n")[0] if b"\n" in slot.report_buf else b""
            self._close_report(slot)
            try:
                data = json.loads(line) if line.strip() else {}
            except ValueError:
                data = {}
            slot.report = data if isinstance(data, dict) else {}
            if slot.report.get("ready") and slot.running:
                slot.ready = True
                self._broadcast()

    def _close_report(self, slot: Slot) -> None:
        if slot.report_fd is not None:
            self.sel.unregister(slot.report_fd)
            os.close(slot.report_fd)
            slot.report_fd = None
        slot.report_buf = b""

    # ---- workers ----------------------------------------------------------------------------
    def _start(self, slot: Slot) -> None:
        read_fd, write_fd = os.pipe()
        setup = {"index": slot.index, "count": self.count, "report_fd": write_fd, "sockets": self.plan["sockets"]}
        env = {k: v for k, v in os.environ.items() if k != "MOCKFORGE_SUPERVISOR"}
        env["MOCKFORGE_WORKER"] = json.dumps(setup)
        slot.ready, slot.report, slot.restart_at = False, {}, None
        slot.ready_by = time.monotonic() + READY_TIMEOUT_S
        try:
            slot.proc = subprocess.Popen(
                [sys.executable, "-m", "mockforge.workers.child"], stdin=subprocess.PIPE, env=env,
                pass_fds=(write_fd, *self.plan["inherit_fds"]), process_group=0,
            )
        except OSError as exc:
            os.close(read_fd)
            slot.proc = None
            slot.report = {"error": f"cannot start worker {slot.index}: {exc}"}
            return
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        slot.report_fd = read_fd
        self.sel.register(read_fd, selectors.EVENT_READ, slot)
        assert slot.proc.stdin is not None
        try:
            slot.proc.stdin.write(self.config_line)  # the worker reads it first: this does not block long
            slot.proc.stdin.flush()
        except OSError:
            pass  # it died at once: seen as an exit
        os.set_blocking(slot.proc.stdin.fileno(), False)

    def _broadcast(self) -> None:
        """Tell every running worker the counts its /health reports (best effort, never blocks)."""
        alive = sum(1 for s in self.slots if s.ready and s.running)
        line = json.dumps({"alive": alive, "restarts": self.restarts}).encode() + b"\n"
        for slot in self.slots:
            if slot.running and slot.proc is not None and slot.proc.stdin is not None:
                try:
                    os.write(slot.proc.stdin.fileno(), line)
                except OSError:  # full (a stuck worker) or closed: the next update says it again
                    pass

    def _failed_start(self, slot: Slot) -> int | None:
        """None while ``slot`` may still become ready; else the exit code (its error said once)."""
        error = slot.report.get("error")
        if slot.ready:
            return None
        if slot.proc is not None and slot.running:
            if time.monotonic() < slot.ready_by:
                return None
            slot.proc.kill()
            slot.proc.wait()
            error = f"worker {slot.index} did not start within {READY_TIMEOUT_S:.0f} s"
        if slot.report_fd is not None and slot.proc is not None:
            # it exited: its error line may still be in the pipe
            self._read_report(slot)
            error = slot.report.get("error") or error
        code = slot.proc.returncode if slot.proc is not None else 1
        _say(f"mockforge: error: {error or f'worker {slot.index} exited with code {code}'}", err=True)
        return 2 if slot.report.get("error") else 1

    def _startup(self) -> int | None:
        """Worker 1, then the others: None once all are ready, else the exit code."""
        for group in (self.slots[:1], self.slots[1:]):
            for slot in group:
                self._start(slot)
            while True:
                if self.stopping:
                    return 0
                for slot in group:
                    code = self._failed_start(slot)
                    if code is not None:
                        return code
                if all(s.ready for s in group):
                    break
                self._wait(0.5)
        return None

    def _announce(self) -> None:
        for line in self.slots[0].report.get("describe", []):
            _say(f"  {line}")
        for slot in self.slots[1:]:
            port = slot.report.get("ports", {}).get("metrics")
            if port is not None:
                _say(f"  {'metrics':<10} port {port} (worker {slot.index}; docs/SCALING.md)")
        share = "SO_REUSEPORT" if self.plan["mode"] == "reuseport" else "one inherited socket"
        pids = ", ".join(str(s.proc.pid) for s in self.slots if s.proc is not None)
        _say(f"mockforge {self.plan['version']} ready: {self.count} workers (pids {pids}; ports shared with "
             f"{share}; supervisor pid {os.getpid()}) (SIGINT or SIGTERM stops it)")

    def _serve(self) -> int:
        """Restart workers that die until asked to stop (0) or a crash loop (1)."""
        while not self.stopping:
            now = time.monotonic()
            next_due = now + 1.0
            for slot in self.slots:
                if slot.restart_at is None and not slot.running:
                    code = self._died(slot, now)
                    if code is not None:
                        return code
                if slot.restart_at is not None:
                    if now >= slot.restart_at:
                        self.restarts += 1
                        self._start(slot)
                    else:
                        next_due = min(next_due, slot.restart_at)
                elif not slot.ready and slot.running and now > slot.ready_by:
                    assert slot.proc is not None
                    slot.proc.kill()  # hung while starting: its exit is a death like any other
            self._wait(next_due - time.monotonic())
        return 0

    def _died(self, slot: Slot, now: float) -> int | None:
        code = slot.proc.returncode if slot.proc is not None else None
        self._close_report(slot)
        if slot.proc is not None and slot.proc.stdin is not None:
            slot.proc.stdin.close()
        slot.ready = False
        slot.crashes = [t for t in slot.crashes if now - t < RESTART_WINDOW_S] + [now]
        if len(slot.crashes) > MAX_RESTARTS:
            _say(f"mockforge: error: worker {slot.index} died {len(slot.crashes)} times within "
                 f"{RESTART_WINDOW_S:.0f} s (last exit code {code}); stopping", err=True)
            return 1
        delay = RESTART_DELAYS_S[min(len(slot.crashes), len(RESTART_DELAYS_S)) - 1]
        error = slot.report.get("error")
        _say(f"mockforge: worker {slot.index} (pid {slot.proc.pid if slot.proc else '?'}) exited with code "
             f"{code}{f' ({error})' if error else ''}; restarting in {delay} s", err=True)
        slot.restart_at = now + delay
        self._broadcast()
        return None

    # ---- stop -------------------------------------------------------------------------------
    def _stop_all(self) -> None:
        self.stopping = True
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for proc in procs:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + float(self.plan["grace_s"]) + KILL_AFTER_S
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            self._wait(min(0.5, deadline - time.monotonic()))
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for slot in self.slots:
            self._close_report(slot)
            if slot.proc is not None and slot.proc.stdin is not None:
                slot.proc.stdin.close()

    def run(self) -> int:
        self._install_signals()
        try:
            code = self._startup()
            if code is None:
                self._announce()
                code = self._serve()
        finally:
            self._stop_all()
        return code


def main() -> int:
    try:
        plan = json.loads(os.environ["MOCKFORGE_SUPERVISOR"])
        config_fd = int(plan["config_fd"])
    except (KeyError, ValueError, TypeError):
        _say("mockforge: error: mockforge.workers.supervisor is started by `mockforge serve --workers N`", err=True)
        return 2
    with os.fdopen(config_fd, "rb") as f:
        config_line = f.read()
    code = Supervisor(plan, config_line).run()
    for fd in plan.get("held_fds", []):  # the shared ports are released only now
        try:
            os.close(int(fd))
        except OSError:
            pass
    return code


if __name__ == "__main__":
    sys.exit(main())
