"""Start ``mockforge serve --workers N`` as a user does: a real process tree on real sockets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPEC = str(EXAMPLES / "petstore.yaml")

LISTENER = re.compile(r"\s+(HTTP|HTTPS|WebSocket|gRPC|admin API|metrics)\s+(?:\w+://)?[\d.]+:(\d+)")
WORKER_METRICS = re.compile(r"\s+metrics\s+port (\d+) \(worker (\d+)")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}


class Tree:
    """The supervisor process, the ports it printed and its output so far."""

    def __init__(self, proc: subprocess.Popen[str], ports: dict[str, int], out: list[str],
                 worker_metrics: dict[int, int]) -> None:
        self.proc = proc
        self.ports = ports
        self.out = out
        self.worker_metrics = worker_metrics

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['HTTP']}"

    def worker_pids(self) -> set[int]:
        return {c.pid for c in psutil.Process(self.proc.pid).children() if c.is_running()
                and c.status() != psutil.STATUS_ZOMBIE}

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def start(*args: str, cmd: list[str] | None = None, cwd: Path | None = None) -> Tree:
    """Run ``mockforge serve ARGS`` (or ``cmd``) until it prints its ready line."""
    argv = cmd or [sys.executable, "-m", "mockforge", "serve", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd or ROOT, env=clean_env())
    ports: dict[str, int] = {}
    worker_metrics: dict[int, int] = {}
    out: list[str] = []
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        if not line:
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"mockforge exited ({proc.returncode}): {''.join(out)}{err}")
        out.append(line)
        if m := WORKER_METRICS.match(line):
            worker_metrics[int(m.group(2))] = int(m.group(1))
        elif m := LISTENER.match(line):
            ports[m.group(1)] = int(m.group(2))
        elif " ready" in line:
            return Tree(proc, ports, out, worker_metrics)


def health(url: str) -> dict[str, int]:
    """``workers`` of /health, on a new connection each time (so each may reach another worker)."""
    r = httpx.get(f"{url}/health", headers={"connection": "close"})
    assert r.status_code == 200, r.text
    workers: dict[str, int] = r.json()["workers"]
    return workers


def until(check, what: str, deadline_s: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll ``check()`` until it returns something truthy (no fixed sleeps)."""
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def indexes_seen(url: str, want: set[int]) -> dict[int, int]:
    """Ask /health on new connections until every worker index in ``want`` answered: index -> pid."""
    seen: dict[int, int] = {}

    def check() -> bool:
        try:
            w = health(url)
        except httpx.TransportError:
            # a connection the kernel queued for a worker that was just killed is reset
            # (SO_REUSEPORT, docs/SCALING.md): ask again on a new one
            return False
        seen[w["index"]] = w["pid"]
        return want <= set(seen)

    until(check, f"answers from workers {sorted(want)}")
    return seen
