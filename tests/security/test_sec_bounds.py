"""Every bound is documented with its default in docs/SECURITY.md and shown in force by /stats."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from mockforge.config import BOUND_KEYS, Config, bounds
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]


def test_each_bound_is_documented_with_its_default() -> None:
    text = (ROOT / "docs" / "SECURITY.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    defaults = bounds(Config())
    for key in BOUND_KEYS:
        section, _, name = key.rpartition(".")
        row = next((r for r in rows if f"`{key}`" in r or f"`{section}.{name}`" in r), None)
        assert row is not None, f"{key} has no row in docs/SECURITY.md"
        assert re.search(rf"\b{defaults[key]}\b", row), f"{key}: default {defaults[key]} not in its row: {row}"


def test_stats_show_the_bounds_in_force() -> None:
    with MockServer(config={"http": {"max_headers": 42}, "core": {"max_document_depth": 9}}) as server:
        shown = httpx.get(server.admin_url + "/stats").json()["bounds"]
    assert set(shown) == set(BOUND_KEYS)
    assert shown["http.max_headers"] == 42
    assert shown["core.max_document_depth"] == 9
    assert shown["http.max_header_bytes"] == 64 * 1024


def test_stats_count_what_the_bounds_refused() -> None:
    import socket

    with MockServer(config={"http": {"max_header_bytes": 2048}}) as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
            head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 431")
        refused = httpx.post(server.admin_url + "/stubs", content=b"{}", headers={"content-type": "text/plain"})
        assert refused.status_code == 415
        stats = httpx.get(server.admin_url + "/stats").json()["refused"]
    assert stats["http"]["http"]["headers_too_large"] == 1
    assert stats["admin"]["content_type"] == 1
    assert stats["log"] == {"headers_truncated": 0}
