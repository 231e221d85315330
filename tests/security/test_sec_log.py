"""Issue 12, item 4: a request log entry is bounded in header bytes as well as body bytes, and an
entry that lost data says ``truncated: true``. Before, 100 entries with 1 MB headers kept 105 MB."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from mockforge.core.model import Headers, Request, Response
from mockforge.core.request_log import RequestLog, cut_headers, header_bytes

MB = 1024 * 1024


def request(headers: list[tuple[str, str]], body: bytes = b"") -> Request:
    return Request(protocol="http", method="POST", path="/p", headers=Headers(headers), body=body)


# --------------------------------------------------------------------------- the log itself


def test_headers_past_the_cap_are_cut_and_the_entry_says_truncated() -> None:
    log = RequestLog(10, max_body_bytes=16, max_header_bytes=100)
    big = [("host", "h"), ("x-big", "a" * 1000), ("x-after", "b")]
    log.record(request(big), Response(), 1.0, 0)
    log.record(request([("host", "h")]), Response(), 1.0, 0)
    log.record(request([("host", "h")], b"x" * 40), Response(), 1.0, 0)
    cut, small, long_body = log.snapshot()
    assert cut.truncated and not cut.body_truncated
    assert cut.headers == {"host": "h", "x-big": "a" * (100 - len("host") - 1 - len("x-big"))}
    assert header_bytes(cut.headers.items()) == 100
    assert not small.truncated and small.headers == {"host": "h"}
    assert long_body.truncated and long_body.body_truncated and len(long_body.body_excerpt) == 16
    assert log.headers_truncated == 1


def test_entries_built_at_once_are_cut_too() -> None:
    log = RequestLog(10, max_header_bytes=64)
    entry = log.entry_for(request([("x-big", "z" * 10_000)]), Response(), 1.0)
    assert entry.truncated and len(entry.headers["x-big"]) == 64 - len("x-big")
    assert log.headers_truncated == 1


def test_cut_headers_copies_what_it_keeps() -> None:
    value = "v" * 10_000
    kept = cut_headers([("a", "1"), ("b", value), ("c", "2")], 50)
    assert kept == [("a", "1"), ("b", "v" * 47)]
    assert cut_headers([("long-name" * 10, "x")], 20) == []


# --------------------------------------------------------------------------- a real server

CONFIG = """
http:
  # the wire layer's own header bound is raised so that the log's bound is what is tested
  max_header_bytes: 4194304
  routes:
    - id: big
      request: {method: GET, path: /big}
      response: {body: {ok: true}}
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    (tmp_path / "mockforge.yaml").write_text(CONFIG)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    proc = subprocess.Popen([sys.executable, "-m", "mockforge", "serve", "--config", "mockforge.yaml",
                             "--http-port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)
    assert proc.stdout is not None
    port = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        m = re.match(r"\s+HTTP\s+(?:\w+://)?[\d.]+:(\d+)", line)
        if m:
            port = int(m.group(1))
        elif " ready " in line:
            break
    assert port
    try:
        yield proc, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)
        for pipe in (proc.stdout, proc.stderr):  # no ResourceWarning for the pipes
            if pipe is not None:
                pipe.close()


def send_big_header(port: int, size: int) -> bytes:
    head = b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_100_entries_with_1_mb_headers_keep_little_memory(server: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = server
    rss = psutil.Process(proc.pid)
    for _ in range(5):  # warm up allocator pools and caches with the same traffic
        assert send_big_header(port, MB).startswith(b"HTTP/1.1 200")
    before = rss.memory_info().rss
    for _ in range(100):
        answer = send_big_header(port, MB)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"ok":true}')
    grown = rss.memory_info().rss - before
    # before the cap this was about 105 MB (each entry kept its 1 MB header)
    assert grown < 30 * MB, f"RSS grew {grown / MB:.1f} MB"
    logs = httpx.get(f"http://127.0.0.1:{port}/__mockforge/logs?limit=200", timeout=30).json()
    entries = logs["entries"]
    assert len(entries) == 105
    for entry in entries:
        assert entry["truncated"] is True and entry["body_truncated"] is False
        assert sum(len(k) + len(v) for k, v in entry["headers"].items()) <= 8 * 1024
        assert entry["headers"]["x-big"].startswith("aaaa")
