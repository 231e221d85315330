"""Fixtures for shared state: one real redis-server per test session, replicas as real
``mockforge serve`` processes, each test on its own key prefix."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]


class Replica:
    """One ``mockforge serve`` process; ``url`` is its HTTP base."""

    def __init__(self, proc: subprocess.Popen[str], port: int, stderr: Path) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.stderr = stderr
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, f"/__mockforge/{path}", **kw)

    def stop(self) -> int:
        """SIGTERM and wait; the deadline is generous (CI shares 2 cores), not a timing check."""
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate(timeout=30)
            raise AssertionError(f"replica did not stop on SIGTERM; its log ends:\n{self.log_text()[-3000:]}") from None
        return self.proc.returncode

    def log_text(self) -> str:
        return self.stderr.read_text(errors="replace")


def start_replica(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Replica:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    base.update(env or {})
    err = tmp / f"replica-{uuid.uuid4().hex[:6]}.log"
    with err.open("w") as err_fh:
        proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", "--http-port", "0", *args],
                                stdout=subprocess.PIPE, stderr=err_fh, text=True, cwd=tmp, env=base)
    assert proc.stdout is not None
    port = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=10)
            proc.stdout.close()
            raise AssertionError(f"replica exited {proc.returncode}: {err.read_text()}")
        m = re.match(r"\s+HTTP\s+http://[\d.]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        elif " ready " in line:
            break
    assert port is not None
    return Replica(proc, port, err)


@pytest.fixture
def replicas(redis_server: RedisServer, prefix: str, tmp_path: Path) -> Iterator[Callable[..., Replica]]:
    """``replicas(n=2, url=None, extra=())`` starts replicas sharing ``redis_server`` on ``prefix``."""
    started: list[Replica] = []

    def make(n: int = 1, url: str | None = None, extra: tuple[str, ...] = (), spec: bool = True) -> list[Replica]:
        out = []
        for _ in range(n):
            args = ["--shared-state", url or redis_server.url, *(("--spec", str(PETSTORE)) if spec else ()), *extra]
            r = start_replica(tmp_path, *args, env={"MOCKFORGE_SHARED_STATE_PREFIX": prefix})
            started.append(r)
            out.append(r)
        return out

    yield make
    # every replica is stopped even when one fails to: a replica left running would hold sockets
    # that the next test's garbage collection reports
    problems = []
    for r in started:
        try:
            r.stop()
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, "\n".join(problems)


def poll(check: Callable[[], Any], what: str, deadline_s: float = 30) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline_s
    last: Any = None
    while time.monotonic() < end:
        last = check()
        if last:
            return last
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
