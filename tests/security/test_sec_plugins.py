"""Issue 12, plugins (items 5 and 7): the WASM sandbox bounds, tried as a hostile plugin would.

Each test reproduces one finding against a real server on 127.0.0.1 (port 0) with real clients:
- a guest looping on ``fd_write`` wrote 2.45 GB of capture files to /tmp, which outlived the
  server: output must be bounded while the guest writes, and nothing may stay on disk;
- plugin headers with CR/LF split the response: they must be refused, counted, never written;
- template plugin functions ran on the event loop;
- every failure (including in a template function) counts toward ``plugins.max_failures``;
- a plugin reads nothing of the host file system unless ``fs_read`` grants a directory, and
  even then nothing outside it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockforge.plugins.guest_output import MAX_CAPTURED_BYTES, GuestOutput, OutputSlot, fd_write
from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
WAT = ROOT / "tests" / "plugins_wat"
TEXT_TOOLS = ROOT / "examples" / "plugins" / "text-tools"


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def plugin_info(client: httpx.Client, plugin_id: str) -> dict[str, Any]:
    r = client.get("/__mockforge/plugins")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = {p["id"]: p for p in r.json()["plugins"]}[plugin_id]
    return found


def raw_get(port: int, path: str) -> bytes:
    """The whole raw response to one GET (the server closes after ``Connection: close``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of this test's own, so the bytes a plugin puts in "/tmp" can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


# --------------------------------------------------------------------------- output capture


def test_a_guest_flooding_stdout_is_bounded_while_writing_and_leaves_nothing_on_disk(
    private_tmp: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mockforge.plugins")
    config = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(WAT / "outflood")]},
        "http": {"routes": [{"id": "flood", "request": {"path": "/flood"}, "response": {"plugin": "outflood"}}]},
    }
    with MockServer(config=config) as mock, httpx.Client(base_url=mock.url, timeout=30) as client:
        r = client.get("/flood")
        # the loop is ended by the plugin's fuel, and answered in the plugin_failed shape
        assert r.status_code == 500
        err = r.json()["error"]
        assert err["code"] == "plugin_failed"
        assert err["message"] == "plugin 'outflood' failed: fuel exhausted (30000 units)"
        # the guest wrote megabytes, yet what sits on disk (under TMPDIR) stays under the cap
        assert disk_bytes(private_tmp) <= 2 * MAX_CAPTURED_BYTES + 1024
        assert client.get("/health").status_code == 200
        assert plugin_info(client, "outflood")["failures"] == 1
    lines = {
        r.getMessage().split(":", 1)[0]: r.getMessage()
        for r in caplog.records
        if r.name == "mockforge.plugins.outflood"
    }
    assert set(lines) == {"guest stdout", "guest stderr"}
    for line in lines.values():
        kept, _, note = line.partition(" [... ")
        assert kept == "guest " + line.split(" ")[1] + " " + "A" * MAX_CAPTURED_BYTES
        dropped = int(note.removesuffix(" bytes dropped]"))
        assert dropped > 1_000_000  # the guest really wrote far past the cap
    # after stop, nothing of the plugins is left in the temp folder
    assert list(private_tmp.iterdir()) == []


class _Memory:
    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)

    def data_len(self, _store: Any) -> int:
        return len(self.buf)

    def read(self, _store: Any, start: int, stop: int) -> bytes:
        return bytes(self.buf[start:stop])

    def write(self, _store: Any, data: bytes, at: int) -> None:
        self.buf[at : at + len(data)] = data


class _Caller(dict[str, Any]):
    pass


def test_fd_write_refuses_hostile_iovecs_and_other_descriptors() -> None:
    mem = _Memory(65536)
    caller = _Caller(memory=mem)
    slot = OutputSlot()
    slot.current = GuestOutput(cap=8)
    mem.write(None, (100).to_bytes(4, "little") + (20).to_bytes(4, "little"), 0)  # {100, 20}
    mem.buf[100:120] = b"0123456789abcdefghij"
    assert fd_write(slot, caller, 1, 0, 1, 16) == 0
    assert int.from_bytes(mem.buf[16:20], "little") == 20  # the guest is told all was written
    assert (bytes(slot.current.kept[1]), slot.current.dropped[1]) == (b"01234567", 12)
    assert fd_write(slot, caller, 3, 0, 1, 16) == 8  # EBADF: no other descriptor is writable
    assert fd_write(slot, caller, 1, 0, 1_000_000, 16) == 28  # EINVAL: more than IOV_MAX iovecs
    assert fd_write(slot, caller, 1, 65530, 1, 16) == 21  # EFAULT: iovec table out of memory
    mem.write(None, (65000).to_bytes(4, "little") + (4096).to_bytes(4, "little"), 0)
    assert fd_write(slot, caller, 1, 0, 1, 16) == 21  # EFAULT: buffer out of memory
    slot.current = None
    assert fd_write(slot, caller, 1, 0, 1, 16) == 8  # no call running on this thread


# --------------------------------------------------------------------------- headers


def test_plugin_headers_with_crlf_are_refused_counted_and_never_written(tmp_path: Path) -> None:
    config = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(WAT / "badheader")]},
        "http": {"routes": [{"id": "split", "request": {"path": "/split"}, "response": {"plugin": "badheader"}}]},
    }
    with MockServer(config=config) as mock, httpx.Client(base_url=mock.url, timeout=30) as client:
        raw = raw_get(httpx.URL(mock.url).port, "/split")
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500 ")
        assert b"evil" not in head.lower()
        assert b"set-cookie" not in raw.lower()
        assert raw.count(b"HTTP/1.1") == 1  # no forged second response
        assert b'"code":"plugin_failed"' in body
        assert b"has a control character" in body
        info = plugin_info(client, "badheader")
        assert (info["calls"], info["failures"]) == (1, 1)


# --------------------------------------------------------------------------- template functions


@pytest.fixture
def template_server(tmp_path: Path) -> Iterator[MockServer]:
    config = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(TEXT_TOOLS), str(WAT / "tpltrap")], "max_failures": 2},
        "http": {
            "response_template_expand": True,
            "routes": [
                {
                    "id": "upper",
                    "request": {"path": "/upper"},
                    "response": {
                        "body": {"v": '{{plugin.text-tools.upper "abc"}}'},
                        "headers": {"x-v": '{{plugin.text-tools.lower "DEF"}}'},
                    },
                },
                {"id": "boom", "request": {"path": "/boom"}, "response": {"body": {"v": "{{plugin.tpltrap.boom}}"}}},
            ],
        },
    }
    with MockServer(config=config) as mock:
        yield mock


def test_template_plugin_functions_run_off_the_event_loop(template_server: MockServer) -> None:
    pm = template_server.server.services.plugins
    on_loop: list[bool] = []
    original = pm.call_template

    def spy(plugin_id: str, name: str, args: list[Any]) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return original(plugin_id, name, args)

    pm.call_template = spy
    with httpx.Client(base_url=template_server.url, timeout=30) as client:
        r = client.get("/upper")
    assert r.status_code == 200, r.text
    assert r.json() == {"v": "ABC"}
    assert r.headers["x-v"] == "def"
    assert on_loop == [False, False]


def test_template_plugin_failures_answer_plugin_failed_and_count_toward_max_failures(
    template_server: MockServer,
) -> None:
    with httpx.Client(base_url=template_server.url, timeout=30) as client:
        for _ in range(2):
            r = client.get("/boom")
            assert r.status_code == 500
            err = r.json()["error"]
            assert err["code"] == "plugin_failed"
            assert err["message"] == "plugin 'tpltrap' failed: trap: wasm `unreachable` instruction executed"
            assert err["details"] == [
                {"location": "plugin.tpltrap", "reason": "failed: trap: wasm `unreachable` instruction executed"}
            ]
        # max_failures (2) reached: the plugin is disabled, the rest of the server answers
        r = client.get("/boom")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "plugin_disabled"
        info = plugin_info(client, "tpltrap")
        assert (info["state"], info["failures"]) == ("disabled", 2)
        assert client.get("/upper").json() == {"v": "ABC"}


# --------------------------------------------------------------------------- file system


@pytest.fixture
def fs_server(tmp_path: Path) -> Iterator[tuple[MockServer, Path]]:
    """``fsread`` as shipped (no grant) and a copy ``granted`` with ``fs_read: [data]``."""
    granted = tmp_path / "granted"
    shutil.copytree(WAT / "fsread", granted)
    manifest = granted / "plugin.yaml"
    manifest.write_text(manifest.read_text().replace("id: fsread", "id: granted") + "  fs_read: [data]\n")
    (granted / "data").mkdir()
    (granted / "data" / "secret.txt").write_text("granted content")
    outside = tmp_path / "outside.txt"
    outside.write_text("host secret")
    os.symlink(outside, granted / "data" / "link.txt")
    config = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(WAT / "fsread"), str(granted)]},
        "http": {
            "routes": [
                {"id": f"read-{pid}", "request": {"path": f"/read/{pid}"}, "response": {"plugin": pid}}
                for pid in ("fsread", "granted")
            ]
        },
    }
    with MockServer(config=config) as mock:
        yield mock, outside


def read_through(client: httpx.Client, plugin_id: str, name: str) -> str:
    r = client.request("GET", f"/read/{plugin_id}", content=f"@{name}@".encode())
    assert r.status_code == 200, r.text
    return r.text


def test_a_plugin_without_fs_read_sees_no_file_system(fs_server: tuple[MockServer, Path]) -> None:
    mock, outside = fs_server
    with httpx.Client(base_url=mock.url, timeout=30) as client:
        for name in ("secret.txt", str(outside), "/etc/passwd", "../outside.txt"):
            assert read_through(client, "fsread", name) == "errno 08"  # EBADF: no pre-opened dir


def test_fs_read_grants_its_directory_read_only_and_nothing_outside(fs_server: tuple[MockServer, Path]) -> None:
    mock, outside = fs_server
    with httpx.Client(base_url=mock.url, timeout=30) as client:
        assert read_through(client, "granted", "secret.txt") == "granted content"
        # escapes: "..", an absolute path, a symlink pointing out of the granted directory
        for name in ("../outside.txt", str(outside), "/etc/passwd", "link.txt"):
            text = read_through(client, "granted", name)
            assert text.startswith("errno "), text
            assert text != "errno 00"
            assert "secret" not in text


# --------------------------------------------------------------------------- environment


def test_a_plugin_sees_only_the_environment_variables_it_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOCKFORGE_PLUGIN_VISIBLE", "yes")
    monkeypatch.setenv("MOCKFORGE_PLUGIN_HIDDEN", "no")
    monkeypatch.setenv("MOCKFORGE_ADMIN_TOKEN", "not-for-plugins")
    granted = tmp_path / "envgranted"
    shutil.copytree(WAT / "envdump", granted)
    manifest = granted / "plugin.yaml"
    text = manifest.read_text().replace("id: envdump", "id: envgranted")
    manifest.write_text(text + "  env: [MOCKFORGE_PLUGIN_VISIBLE, MOCKFORGE_PLUGIN_UNSET]\n")
    config = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(WAT / "envdump"), str(granted)]},
        "http": {
            "routes": [
                {"id": f"env-{pid}", "request": {"path": f"/env/{pid}"}, "response": {"plugin": pid}}
                for pid in ("envdump", "envgranted")
            ]
        },
    }
    with MockServer(config=config) as mock, httpx.Client(base_url=mock.url, timeout=30) as client:
        assert client.get("/env/envdump").text == ""
        assert client.get("/env/envgranted").text == "MOCKFORGE_PLUGIN_VISIBLE=yes;"
