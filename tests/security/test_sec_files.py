"""Issue 12, item 2: file access is confined (core/files.py).

Reproductions: a stub added through the admin API (HTTP port, loopback) could serve any file
(``/etc/passwd``, ``/proc/self/environ``, which holds the admin token), a ``body_file`` on a FIFO
blocked the listener, ``/dev/zero`` grew without bound. Now a path must resolve (symlinks followed)
inside the config's folder or ``core.file_roots``, name a regular file, and is read capped at
``http.max_response_bytes``, off the loop, checked again at every read.

Real server on 127.0.0.1 port 0, real httpx client; no sleeps, no wall-clock upper bounds.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mockforge.config import build_config
from mockforge.core.files import FileAccessError, FileRoots, FileTooLarge
from mockforge.core.stubs import load_file, parse_config_routes
from mockforge.errors import FixtureError, PluginError, StubError
from mockforge.plugins.manager import PluginManager
from mockforge.recording.cli import fixtures as fixtures_cli
from mockforge.recording.fingerprint import FingerprintRules
from mockforge.recording.store import FixtureStore, build_fixture, write_fixture_file
from mockforge.runtime import Runtime
from mockforge.testing.server import MockServer

MAX_RESPONSE = 4096
ECHO_WAT = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "echo-wat" / "plugin.wat"


@dataclass
class Env:
    server: MockServer
    client: httpx.Client
    root: Path
    outside: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("sec-files")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    config = {"core": {"file_roots": [str(root)]}, "http": {"max_response_bytes": MAX_RESPONSE}}
    with MockServer(config=config) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        yield Env(server, client, root, outside)


@pytest.fixture
def e(env: Env) -> Env:
    env.client.delete("/__mockforge/stubs").raise_for_status()
    return env


def file_stub(stub_id: str, body_file: str) -> dict[str, Any]:
    return {"id": stub_id, "request": {"method": "GET", "path": f"/{stub_id}"}, "response": {"body_file": body_file}}


def refused(e: Env, stub_id: str, body_file: str) -> str:
    """POST the stub, expect 400 in the common error shape, and that nothing was stored."""
    r = e.client.post("/__mockforge/stubs", json=file_stub(stub_id, body_file))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_stub"
    assert f"stub '{stub_id}'" in error["message"]
    assert error["details"][0]["location"] == "response.body_file"
    assert e.client.get(f"/__mockforge/stubs/{stub_id}").status_code == 404
    assert all(s["id"] != stub_id for s in e.client.get("/__mockforge/stubs").json()["stubs"])
    assert e.client.get(f"/{stub_id}").status_code == 404
    message: str = error["message"]
    return message


def served(e: Env, stub_id: str, body_file: str) -> httpx.Response:
    r = e.client.post("/__mockforge/stubs", json=file_stub(stub_id, body_file))
    assert r.status_code == 201, r.text
    return e.client.get(f"/{stub_id}")


# --------------------------------------------------------------------------- the reproductions


def test_admin_api_refuses_a_stub_serving_etc_passwd_and_stores_nothing(e: Env) -> None:
    message = refused(e, "leak", "/etc/passwd")
    assert "/etc/passwd" in message and "outside the folders mockforge may read" in message
    assert "root:" not in e.client.get("/leak").text


def test_proc_self_environ_cannot_be_read_even_through_a_symlink_or_with_root_as_a_file_root(e: Env) -> None:
    assert "/proc/self/environ" in refused(e, "environ", "/proc/self/environ")
    link = e.root / "environ-link"
    link.symlink_to("/proc/self/environ")
    assert "resolves to /proc/" in refused(e, "environ-link", str(link))
    everything = FileRoots.of(["/"])  # a careless core.file_roots: [/] still never reads /proc, /sys, /dev
    for path in ("/proc/self/environ", "/proc/self/cmdline", "/dev/zero", "/sys/kernel/hostname"):
        with pytest.raises(FileAccessError, match="outside"):
            everything.check(path)
        with pytest.raises(FileAccessError):
            everything.read(path)


def test_dot_dot_escapes_are_refused(e: Env) -> None:
    refused(e, "dotdot-rel", "../../../../../../../../../etc/passwd")
    message = refused(e, "dotdot-abs", f"{e.root}/../outside/secret.txt")
    assert "secret.txt" in message
    assert "top secret" not in e.client.get("/dotdot-abs").text


def test_a_symlink_out_of_the_root_is_refused_and_one_inside_is_served(e: Env) -> None:
    out = e.root / "out-link"
    out.symlink_to(e.outside / "secret.txt")
    assert "resolves to" in refused(e, "symlink-out", str(out))
    (e.root / "real.txt").write_text("inside")
    inside = e.root / "in-link.txt"
    inside.symlink_to(e.root / "real.txt")
    r = served(e, "symlink-in", str(inside))
    assert (r.status_code, r.text) == (200, "inside")


def test_non_regular_files_are_refused_when_the_stub_is_added(e: Env) -> None:
    fifo = e.root / "pipe"
    os.mkfifo(fifo)
    assert "is a FIFO, not a regular file" in refused(e, "fifo", str(fifo))
    (e.root / "folder").mkdir()
    assert "is a directory" in refused(e, "dir", str(e.root / "folder"))
    refused(e, "zero", "/dev/zero")
    assert "not found" in refused(e, "missing", str(e.root / "nope.json"))


def test_a_file_swapped_for_a_fifo_or_a_symlink_after_add_answers_an_error_and_health_still_answers(
    e: Env,
) -> None:
    target = e.root / "swap.json"
    target.write_text('{"v": 1}')
    r = served(e, "swap", str(target))
    assert (r.status_code, r.json(), r.headers["content-type"]) == (200, {"v": 1}, "application/json")
    target.unlink()
    os.mkfifo(target)  # a read would block forever: O_NONBLOCK + fstat refuse it
    r = e.client.get("/swap")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "stub_body_file"
    assert "FIFO" in r.json()["error"]["message"]
    assert e.client.get("/health").json()["status"] == "ok"
    target.unlink()
    target.symlink_to(e.outside / "secret.txt")
    r = e.client.get("/swap")
    assert r.status_code == 500 and "outside the folders" in r.json()["error"]["message"]
    assert "top secret" not in r.text
    assert e.client.get("/health").json()["status"] == "ok"


def test_a_file_over_max_response_bytes_answers_an_error(e: Env) -> None:
    big = e.root / "big.bin"
    big.write_bytes(b"x" * (MAX_RESPONSE + 1))
    r = served(e, "big", str(big))
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "stub_body_file_too_large"
    assert "larger than the limit of 4096 bytes" in error["message"]
    huge = e.root / "huge.bin"
    with open(huge, "wb") as fh:
        fh.truncate(2 * 1024**3)  # sparse: 2 GiB by its size, nothing on disk
    r = served(e, "huge", str(huge))
    assert r.status_code == 500 and r.json()["error"]["code"] == "stub_body_file_too_large"
    exact = e.root / "exact.bin"
    exact.write_bytes(b"y" * MAX_RESPONSE)
    r = served(e, "exact", str(exact))
    assert (r.status_code, len(r.content)) == (200, MAX_RESPONSE)


def test_a_capped_read_never_reads_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts the bytes read: a file whose size already says "too large" is not read at all, and a
    file that lies about its size (as /proc files do) is read to the limit + 1 byte, no further."""
    f = tmp_path / "grows.bin"
    f.write_bytes(b"z" * 100_000)
    roots = FileRoots.of([tmp_path], max_read_bytes=1000)
    read_bytes = 0
    real_read, real_fstat = os.read, os.fstat

    def counting_read(fd: int, n: int) -> bytes:
        nonlocal read_bytes
        data = real_read(fd, n)
        read_bytes += len(data)
        return data

    monkeypatch.setattr(os, "read", counting_read)
    with pytest.raises(FileTooLarge):
        roots.read(f)
    assert read_bytes == 0

    def size_zero(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, 0,
                               int(st.st_atime), int(st.st_mtime), int(st.st_ctime)))

    monkeypatch.setattr(os, "fstat", size_zero)
    with pytest.raises(FileTooLarge):
        roots.read(f)
    assert read_bytes == 1001


# --------------------------------------------------------------------------- config and stub files


def test_a_stub_file_or_config_route_naming_a_file_outside_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    stub_file = tmp_path / "stubs" / "leak.yaml"
    stub_file.parent.mkdir()
    stub_file.write_text("request: {path: /x}\nresponse: {body_file: /etc/passwd}\n")
    roots = FileRoots.of([tmp_path])
    with pytest.raises(StubError) as info:
        load_file(stub_file, roots)
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith(f"{stub_file} at response.body_file: body_file /etc/passwd is outside")
    stubs, problems = parse_config_routes(
        [{"id": "r", "request": {"path": "/r"}, "response": {"body_file": "/etc/shadow"}}], files=roots
    )
    assert stubs == []
    assert problems == [
        f"http.routes[0].response.body_file: stub 'r': body_file /etc/shadow is outside the folders mockforge "
        f"may read (the config's folder and core.file_roots: {os.path.realpath(tmp_path)})"
    ]


def test_roots_are_the_config_folder_file_roots_and_the_folders_the_config_names(tmp_path: Path) -> None:
    cfg_file = tmp_path / "conf" / "mockforge.yaml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(
        "core: {file_roots: [../data], fixtures: {dir: ../rec, mode: replay}}\n"
        "http: {max_response_bytes: 77, stubs_dir: ../stubs}\nplugins: {dirs: [../plugins]}\n"
    )
    from mockforge.config import load_config

    roots = FileRoots.from_config(load_config(str(cfg_file), env={}))
    real = os.path.realpath(tmp_path)
    assert roots.roots == tuple(f"{real}/{name}" for name in ("conf", "data", "stubs", "rec", "plugins"))
    assert roots.max_read_bytes == 77
    no_config = FileRoots.from_config(build_config({}, env={}))
    assert no_config.roots == (os.getcwd(), os.path.join(os.getcwd(), "plugins"))


# --------------------------------------------------------------------------- fixtures


HOSTILE_PATHS = ["/../../etc/passwd", "/..", "/a/../../b", "/./.", "//etc/passwd", "/..\\..\\x", "/%2e%2e/x",
                 "/" + "../" * 200 + "etc", "/\x00/x", "/a/" + "x" * 500]
HOSTILE_METHODS = ["GET", "../..", "G/../../ET", "\x00", ".", "Ü/.."]


def test_fixture_files_named_from_hostile_requests_stay_inside_the_fixture_folder(tmp_path: Path) -> None:
    store = FixtureStore(tmp_path / "fx", workers=1)
    root = os.path.realpath(tmp_path / "fx")
    for method in HOSTILE_METHODS:
        for path in HOSTILE_PATHS:
            target = os.path.realpath(store.path_for(method, path, "a" * 64))
            assert target.startswith(root + os.sep), (method, path, target)
            fixture = build_fixture(
                method=method, path=path, raw_query="", request_headers=[], request_body=b"", status=200,
                response_headers=[], response_body=b"ok", rules=FingerprintRules.create(),
            )
            assert write_fixture_file(tmp_path / "fx", fixture, fsync=False) == "written"
    written = [os.path.realpath(p) for p in (tmp_path / "fx").rglob("*.json")]
    assert len(written) == len(HOSTILE_METHODS) * len(HOSTILE_PATHS)
    assert all(p.startswith(root + os.sep) for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fx"]


def test_a_fixture_whose_fingerprint_is_a_path_is_never_written(tmp_path: Path) -> None:
    fixture = build_fixture(
        method="GET", path="/x", raw_query="", request_headers=[], request_body=b"", status=200,
        response_headers=[], response_body=b"ok", rules=FingerprintRules.create(),
    )
    fixture.fingerprint = "../../../../escaped"
    with pytest.raises(FixtureError, match="not 64 hex digits"):
        write_fixture_file(tmp_path / "fx", fixture, fsync=False)
    assert not any(tmp_path.rglob("escaped*"))


def test_a_fifo_planted_as_a_fixture_is_an_error_not_a_hang(tmp_path: Path) -> None:
    store = FixtureStore(tmp_path, workers=1, files=FileRoots.of([tmp_path]))
    fp = "b" * 64
    target = store.path_for("GET", "/pets", fp)
    target.parent.mkdir(parents=True)
    os.mkfifo(target)

    async def load() -> Any:
        try:
            return await store.load("GET", "/pets", fp)
        finally:
            await store.aclose()

    with pytest.raises(FixtureError, match="FIFO"):
        asyncio.run(load())


def test_cli_har_import_refuses_a_fifo_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "session.har"
    os.mkfifo(fifo)
    result = CliRunner().invoke(fixtures_cli, ["import", str(fifo), "--dir", str(tmp_path / "fx")])
    assert result.exit_code == 2
    assert f"HAR file {fifo} is a FIFO, not a regular file" in result.output


# --------------------------------------------------------------------------- plugins

MANIFEST = """\
    id: {id}
    name: x
    version: "1"
    kinds: [response]
    entry: {entry}
    capabilities: {{fs_read: {fs_read}}}
"""


def plugin_manager(tmp_path: Path, plugin: Path) -> PluginManager:
    data = {"core": {"cache_dir": str(tmp_path / "cache")}, "plugins": {"dirs": [], "load": [str(plugin)]}}
    return PluginManager(Runtime(build_config(data, env={})))


def write_plugin(folder: Path, *, entry: str = "plugin.wat", fs_read: str = "[]") -> Path:
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(textwrap.dedent(MANIFEST.format(id=folder.name, entry=entry, fs_read=fs_read)))
    (folder / "plugin.wat").write_text(ECHO_WAT.read_text())
    return folder


def test_a_plugin_granting_its_guest_the_whole_disk_is_refused(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "plugins" / "greedy", fs_read="[/]")
    with pytest.raises(PluginError) as info:
        plugin_manager(tmp_path, plugin).load_configured()
    assert "at capabilities.fs_read.0: fs_read folder / is outside the folders" in str(info.value)


def test_a_plugin_entry_out_of_the_roots_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "evil.wat").write_text(ECHO_WAT.read_text())
    plugin = write_plugin(tmp_path / "plugins" / "sneaky", entry="../../elsewhere/evil.wat")
    with pytest.raises(PluginError) as info:
        plugin_manager(tmp_path, plugin).load_configured()
    assert "at entry: entry " in str(info.value) and "evil.wat is outside the folders" in str(info.value)
