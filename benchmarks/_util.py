"""Shared helpers for the benchmarks: start a server process, wait for it, measure RSS, run wrk.

Timing figures are only compared with a baseline measured in the same run (the machines are
shared and noisy); memory figures are RSS of the whole process tree (psutil).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CORPUS = ROOT.parent / "shared" / "corpus"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def mb(n: float) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Poll until ``url`` answers (any status); returns the time it took."""
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {err}")
        try:
            httpx.get(url, timeout=1.0)
            return time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.005)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def server_process(args: list[str], health_url: str, env: dict[str, str] | None = None,
                   timeout: float = 60.0) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start ``args``; yield (process, seconds from spawn to first answered request)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    try:
        wait_http(health_url, timeout, proc)
        yield proc, time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def mockforge_args(*extra: str) -> list[str]:
    return [PY, "-m", "mockforge", "serve", "--log-level", "warning", *extra]


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, *, seconds: int = 5, connections: int = 50, threads: int = 1,
        script: str | None = None) -> dict[str, float]:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    lat = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if m:
            v = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
            lat[f"p{pct}_ms"] = v
    return {"rps": rps, "errors": errors, **lat}


class PeakSampler:
    """Samples the RSS of a process tree in a thread; ``peak`` after ``stop()``."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
