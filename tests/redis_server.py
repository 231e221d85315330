"""A real ``redis-server`` for tests (Debian package ``redis-server``; ``make redis-deps``).

    server = RedisServer(tmp_dir)          # --save '' --appendonly no, a free port on 127.0.0.1
    server.start(); server.url             # redis://127.0.0.1:PORT/0
    server.kill(); server.start()          # SIGKILL and back on the same port
    server.stop()

``persist=True`` turns on the append-only file with ``appendfsync always``, so a SIGKILL loses
nothing that Redis acknowledged (what a production Redis would run with).
In CI (``CI=true``) a missing ``redis-server`` fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def need_redis_server() -> str:
    if Path(REDIS_SERVER).exists():
        return REDIS_SERVER
    message = "redis-server is not installed (make redis-deps installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, directory: Path, *, persist: bool = False) -> None:
        self.binary = need_redis_server()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.persist = persist
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, deadline_s: float = 30) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"), "--protected-mode", "no"]
        args += ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + deadline_s
        while not ping(self.port):
            if self.proc.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {log}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save."""
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
