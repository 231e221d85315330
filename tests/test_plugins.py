"""WebAssembly plugins: lazy engine, manifest, ABI entry points, limits, containment, admin, CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from mockforge.config import build_config
from mockforge.core.model import Headers, Request
from mockforge.errors import PluginError
from mockforge.plugins.cli import plugin as plugin_cli
from mockforge.plugins.manager import PluginManager
from mockforge.plugins.manifest import load_manifest
from mockforge.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"
LIMITS = Path(__file__).resolve().parent / "plugins_wat"
ECHO = EXAMPLES / "echo-wat"


def make_manager(tmp_path: Path, *paths: Path, **plugins: Any) -> PluginManager:
    data = {
        "core": {"cache_dir": str(tmp_path / "cache")},
        "plugins": {"dirs": [], "load": [str(p) for p in paths], **plugins},
    }
    pm = PluginManager(Runtime(build_config(data, env={})))
    pm.load_configured()
    return pm


@pytest.fixture
def pm(tmp_path: Path) -> Any:
    names = ["trap", "loop", "loop-clock", "membomb", "bigout", "badjson", "stdout"]
    m = make_manager(
        tmp_path, ECHO, EXAMPLES / "text-tools", EXAMPLES / "as-greeter", *(LIMITS / n for n in names)
    )
    yield m
    m.close()


def req(
    path: str = "/pets/7", method: str = "GET", query: str = "", headers: Any = (), body: bytes = b""
) -> Request:
    return Request(
        protocol="http",
        method=method,
        path=path,
        raw_query=query,
        headers=Headers(list(headers)),
        body=body,
        client="127.0.0.1:5000",
    )


def body(resp: Any) -> Any:
    return orjson.loads(resp.body)


# ---- lazy engine ------------------------------------------------------------------------


def test_wasmtime_is_imported_only_when_the_first_plugin_loads(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from mockforge.config import build_config
        from mockforge.runtime import Runtime
        from mockforge.plugins.manager import PluginManager
        import mockforge.plugins.cli, mockforge.plugins.runtime
        data = {{"core": {{"cache_dir": {str(tmp_path)!r}}}, "plugins": {{"dirs": []}}}}
        cfg = build_config(data, env={{}})
        pm = PluginManager(Runtime(cfg))
        pm.load_configured()
        print("before", "wasmtime" in sys.modules, mockforge.plugins.runtime.engine_created())
        pm.load({str(ECHO)!r})
        print("after", "wasmtime" in sys.modules, mockforge.plugins.runtime.engine_created())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split("\n")[:2] == ["before False False", "after True True"]


# ---- ABI entry points ---------------------------------------------------------------------


async def test_generate_response_gets_the_request_route_and_config(pm: PluginManager) -> None:
    request = req("/pets/7", "POST", "limit=2", [("Authorization", "Bearer t")], b'{"name": "Rex"}')
    request.path_params = {"id": "7"}
    resp = await pm.generate_response("echo-wat", request, "/pets/{id}")
    assert resp.status == 200
    assert resp.source == "plugin:echo-wat"
    assert resp.header("x-plugin") == "echo-wat"
    got = body(resp)
    assert got["route"] == "/pets/{id}"
    assert got["config"] == {"note": "passed to every call"}
    r = got["request"]
    assert (r["method"], r["path"], r["query"], r["path_params"]) == (
        "POST",
        "/pets/7",
        {"limit": ["2"]},
        {"id": "7"},
    )
    assert r["body"] == '{"name": "Rex"}'
    assert r["headers"]["authorization"] == "Bearer t"  # plugins see what the log redacts


async def test_filter_denies_a_request_without_the_header_and_allows_one_with_it(tmp_path: Path) -> None:
    pm = make_manager(tmp_path, ECHO, filters=["echo-wat"])
    denied = await pm.filter_request(req(), "/pets/{id}")
    assert denied is not None
    assert denied.status == 401
    assert denied.header("www-authenticate") == "ApiKey"
    assert body(denied) == {"error": "missing x-api-key header"}
    assert await pm.filter_request(req(headers=[("X-Api-Key", "k")]), "/pets/{id}") is None
    pm.close()


async def test_template_function_through_the_manager_and_a_template_token(pm: PluginManager) -> None:
    from mockforge.core.templating import TemplateContext, compile_template

    assert pm.call_template("text-tools", "upper", ['say "hi"\n']) == 'SAY "HI"\n'
    assert pm.call_template("text-tools", "lower", ["MiXeD"]) == "mixed"
    tpl = compile_template('{{plugin.text-tools.upper "hello world"}}!')
    assert tpl.render(TemplateContext(req())) == "HELLO WORLD!"


async def test_assemblyscript_example_builds_a_greeting_from_the_request(pm: PluginManager) -> None:
    resp = await pm.generate_response(
        "as-greeter", req("/greet", "GET", "name=Ada%20L", [("x-user", "bob")]), "/greet"
    )
    assert resp.status == 200
    assert resp.header("x-plugin") == "as-greeter"
    assert body(resp) == {
        "greeting": "Hello, Ada L!",
        "method": "GET",
        "path": "/greet",
        "route": "/greet",
        "body_chars": 0,
    }
    resp = await pm.generate_response(
        "as-greeter", req("/greet", "PUT", headers=[("x-user", "Zoë")], body=b"abc"), None
    )
    assert body(resp)["greeting"] == "Hello, Zoë!"
    assert body(resp)["body_chars"] == 3


# ---- limits and containment ---------------------------------------------------------------

LIMIT_CASES = [
    ("trap", "trap: wasm `unreachable` instruction executed"),
    ("loop", "fuel exhausted (1000000 units)"),
    ("loop-clock", "timed out after 50 ms"),
    ("membomb", "memory limit of 2 MB reached"),
    ("bigout", "output too large (2097152 bytes, limit 1048576)"),
    ("badjson", "returned invalid JSON (10 bytes)"),
]


@pytest.mark.parametrize(("plugin_id", "reason"), LIMIT_CASES)
async def test_a_failing_plugin_gets_a_500_naming_it_and_the_server_keeps_answering(
    pm: PluginManager, plugin_id: str, reason: str
) -> None:
    resp = await pm.generate_response(plugin_id, req(), None)
    assert resp.status == 500
    err = body(resp)["error"]
    assert err["code"] == "plugin_failed"
    assert err["message"].startswith(f"plugin '{plugin_id}' failed: ")
    assert reason in err["message"]
    assert err["details"][0]["location"] == f"plugin.{plugin_id}"
    info = {p["id"]: p for p in pm.list()}[plugin_id]
    assert (info["calls"], info["failures"], info["state"]) == (1, 1, "ready")
    ok = await pm.generate_response("echo-wat", req("/after"), None)
    assert ok.status == 200
    assert body(ok)["request"]["path"] == "/after"
    # the failed plugin itself still answers (and fails the same way) on the next call
    again = await pm.generate_response(plugin_id, req(), None)
    assert reason in body(again)["error"]["message"]


async def test_wall_clock_limit_does_not_block_the_event_loop(pm: PluginManager) -> None:
    from mockforge.plugins.runtime import ticker

    ticks = ticker().ticks
    done: list[str] = []

    async def call(pid: str) -> None:
        await pm.generate_response(pid, req(), None)
        done.append(pid)

    await asyncio.gather(call("loop-clock"), call("echo-wat"))
    assert done == ["echo-wat", "loop-clock"]  # the echo answered while the other plugin ran
    assert ticker().ticks - ticks >= 50 // 2  # the ticker really ran for the 50 ms deadline


async def test_calls_beyond_max_concurrent_get_a_503(pm: PluginManager) -> None:
    first, second = await asyncio.gather(
        pm.generate_response("loop-clock", req(), None), pm.generate_response("loop-clock", req(), None)
    )
    assert first.status == 500
    assert second.status == 503
    assert body(second)["error"]["code"] == "plugin_busy"
    assert "max_concurrent 1" in body(second)["error"]["message"]


async def test_max_failures_disables_the_plugin_until_reloaded(tmp_path: Path) -> None:
    pm = make_manager(tmp_path, LIMITS / "trap", ECHO, max_failures=3)
    for _ in range(3):
        assert (await pm.generate_response("trap", req(), None)).status == 500
    resp = await pm.generate_response("trap", req(), None)
    assert resp.status == 503
    assert body(resp)["error"]["code"] == "plugin_disabled"
    assert "3 consecutive failures" in body(resp)["error"]["message"]
    info = {p["id"]: p for p in pm.list()}
    assert (info["trap"]["state"], info["trap"]["failures"]) == ("disabled", 3)
    assert info["echo-wat"]["state"] == "ready"
    admin = await pm.admin(req("/__mockforge/plugins/trap/reload", "POST"), "plugins/trap/reload")
    assert admin is not None and admin.status == 200
    assert body(admin)["plugin"] == {
        "id": "trap", "name": "trap", "version": "0.0.1", "kinds": ["response"],
        "state": "ready", "calls": 0, "failures": 0, "consecutive_failures": 0,
        "limits": {"memory_mb": 1, "fuel": 10_000_000, "timeout_ms": 100, "max_concurrent": 4,
                   "fs_read": [], "env": []},
    }  # fmt: skip
    assert (await pm.generate_response("trap", req(), None)).status == 500
    pm.close()


async def test_guest_stdout_and_stderr_go_to_the_log(
    pm: PluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mockforge.plugins")
    resp = await pm.generate_response("stdout", req(), None)
    assert (resp.status, resp.body, resp.header("content-type")) == (200, b"ok", "text/plain; charset=utf-8")
    lines = [r.getMessage() for r in caplog.records if r.name == "mockforge.plugins.stdout"]
    assert lines == ["guest stdout: hello from the guest", "guest stderr: warning from the guest"]


# ---- admin --------------------------------------------------------------------------------


async def test_admin_lists_plugins_and_rejects_unknown_paths(pm: PluginManager) -> None:
    resp = await pm.admin(req("/__mockforge/plugins"), "plugins")
    assert resp is not None and resp.status == 200
    listed = body(resp)["plugins"]
    assert {p["id"] for p in listed} >= {"echo-wat", "text-tools", "as-greeter", "trap"}
    echo = next(p for p in listed if p["id"] == "echo-wat")
    assert echo == {
        "id": "echo-wat", "name": "Echo (WAT)", "version": "1.0.0", "kinds": ["response", "request_filter"],
        "state": "ready", "calls": 0, "failures": 0, "consecutive_failures": 0,
        "limits": {"memory_mb": 2, "fuel": 10_000_000, "timeout_ms": 100, "max_concurrent": 4,
                   "fs_read": [], "env": []},
    }  # fmt: skip
    assert body(resp)["max_failures"] == pm.runtime.config.plugins.max_failures
    missing = await pm.admin(req("/x", "POST"), "plugins/nope/reload")
    assert missing is not None and missing.status == 404
    wrong = await pm.admin(req("/x", "DELETE"), "plugins")
    assert wrong is not None and wrong.status == 405
    assert await pm.admin(req("/x"), "requests") is None


# ---- loading, cache and bad input --------------------------------------------------------


def write_plugin(folder: Path, manifest: str, wat: str | None = None, wasm: bytes | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(textwrap.dedent(manifest))
    if wat is not None:
        (folder / "plugin.wat").write_text(wat)
    if wasm is not None:
        (folder / "plugin.wasm").write_bytes(wasm)
    return folder


GOOD = """\
    id: {id}
    name: x
    version: "1"
    kinds: [response]
    entry: {entry}
"""
NO_ENTRY_WAT = (
    '(module (memory (export "memory") 1) (func (export "alloc") (param i32) (result i32) i32.const 0))'
)


def test_compiled_modules_are_cached_by_content_hash(tmp_path: Path) -> None:
    pm = make_manager(tmp_path, ECHO)
    cached = list((tmp_path / "cache" / "wasm").glob("*.cwasm"))
    assert len(cached) == 1 and len(cached[0].stem) == 64
    pm2 = make_manager(tmp_path, ECHO)  # deserialised from the cache this time
    assert asyncio.run(pm2.generate_response("echo-wat", req(), None)).status == 200
    pm.close()
    pm2.close()


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("id: x\nname: [unclosed\n", "plugin.yaml at line 3: not valid YAML"),
        ("name: x\nversion: '1'\nkinds: [response]\nentry: plugin.wat\n", "missing required field `id`"),
        (GOOD.format(id="Bad Id", entry="plugin.wat"), "plugin.yaml at id: 'Bad Id' is not a valid id"),
        (
            GOOD.format(id="x", entry="plugin.wat") + "    capabilities: {memory_mb: 0}\n",
            "at capabilities.memory_mb",
        ),
        (GOOD.format(id="x", entry="plugin.wat") + "    capabilities: {cpu: 1}\n", "unknown field `cpu`"),
        (GOOD.format(id="x", entry="missing.wasm"), "plugin.yaml at entry: file not found"),
        (
            GOOD.format(id="x", entry="plugin.wat")
            + "    config: {n: one}\n    config_schema: {properties: {n: {type: integer}}}\n",
            'plugin.yaml at config.n: does not match config_schema: "one" is not of type "integer"',
        ),
    ],
)
def test_a_bad_manifest_names_the_file_and_key(tmp_path: Path, manifest: str, expected: str) -> None:
    folder = write_plugin(tmp_path / "p", manifest, wat=NO_ENTRY_WAT)
    with pytest.raises(PluginError) as info:
        load_manifest(folder)
    assert str(folder / "plugin.yaml") in str(info.value)
    assert expected in str(info.value)


def test_a_module_that_does_not_compile_or_lacks_exports_is_refused(tmp_path: Path) -> None:
    garbage = write_plugin(
        tmp_path / "garbage", GOOD.format(id="garbage", entry="plugin.wasm"), wasm=b"\0asm junk"
    )
    with pytest.raises(PluginError, match=r"plugin\.wasm: not a valid WebAssembly module"):
        make_manager(tmp_path, garbage)
    no_entry = write_plugin(
        tmp_path / "noentry", GOOD.format(id="noentry", entry="plugin.wat"), wat=NO_ENTRY_WAT
    )
    with pytest.raises(PluginError) as info:
        make_manager(tmp_path, no_entry)
    assert str(no_entry / "plugin.wat") in str(info.value)
    assert "missing export 'generate_response' (needed by kind 'response')" in str(info.value)


def test_on_error_skip_loads_the_rest(tmp_path: Path) -> None:
    bad = write_plugin(
        tmp_path / "plugins" / "bad", GOOD.format(id="bad", entry="plugin.wat"), wat=NO_ENTRY_WAT
    )
    pm = make_manager(tmp_path, ECHO, bad, on_error="skip")
    assert [p["id"] for p in pm.list()] == ["echo-wat"]
    assert "missing export 'generate_response'" in pm.load_errors[str(bad / "plugin.yaml")]
    pm.close()


def test_response_output_variants() -> None:
    from mockforge.plugins.manager import _response_from
    from mockforge.plugins.runtime import CallFailure

    text = _response_from("p", {"status": 201, "headers": [["X-A", "1"]], "body_text": "hi"})
    assert (text.status, text.headers, text.body) == (
        201,
        [("x-a", "1"), ("content-type", "text/plain; charset=utf-8")],
        b"hi",
    )
    raw = _response_from("p", {"body_base64": "AAEC", "headers": {"content-type": "image/png"}})
    assert (raw.status, raw.body, raw.header("content-type")) == (200, b"\x00\x01\x02", "image/png")
    with pytest.raises(CallFailure, match="give one of body, body_text, body_base64"):
        _response_from("p", {"body": 1, "body_text": "x"})
    with pytest.raises(CallFailure, match="invalid status 99"):
        _response_from("p", {"status": 99})


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-a": "1\r\nset-cookie: a=b"}, "header 'x-a' has a control character"),
        ({"x-a": "1\nx"}, "header 'x-a' has a control character"),
        ([["x-a", "nul\x00"]], "header 'x-a' has a control character"),
        ({"x-a\r\nset-cookie": "1"}, "invalid header name"),
        ({"x a": "1"}, "invalid header name"),
        ({"": "1"}, "invalid header name"),
    ],
)
def test_plugin_headers_with_control_characters_or_bad_names_are_refused(headers: Any, reason: str) -> None:
    from mockforge.plugins.manager import _response_from
    from mockforge.plugins.runtime import CallFailure

    with pytest.raises(CallFailure, match=reason):
        _response_from("p", {"headers": headers, "body_text": "x"})
    ok = _response_from("p", {"headers": {"x-tab": "a\tb", "x-utf8": "caf\u00e9"}})
    assert ok.headers[:2] == [("x-tab", "a\tb"), ("x-utf8", "caf\u00e9")]


# ---- CLI ----------------------------------------------------------------------------------


def test_cli_new_validate_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(plugin_cli, ["new", "hello", "--lang", "wat", "--dir", str(tmp_path / "plugins")])
    assert made.exit_code == 0, made.output
    ok = runner.invoke(plugin_cli, ["validate", str(tmp_path / "plugins" / "hello")])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: hello 0.1.0 (response)")
    pm = make_manager(tmp_path, tmp_path / "plugins" / "hello")
    resp = asyncio.run(pm.generate_response("hello", req(), None))
    assert body(resp) == {"plugin": "hello"}
    pm.close()

    bad = write_plugin(tmp_path / "bad", GOOD.format(id="bad", entry="plugin.wat"), wat=NO_ENTRY_WAT)
    failed = runner.invoke(plugin_cli, ["validate", str(bad)])
    assert failed.exit_code == 1
    assert "missing export 'generate_response'" in failed.output

    as_made = runner.invoke(
        plugin_cli, ["new", "ashello", "--lang", "assemblyscript", "--dir", str(tmp_path / "plugins")]
    )
    assert as_made.exit_code == 0
    assert (tmp_path / "plugins" / "ashello" / "assembly" / "index.ts").is_file()

    cfg = tmp_path / "mockforge.yaml"
    cfg.write_text(f"plugins:\n  dirs: [{tmp_path / 'plugins'}]\n")
    listed = runner.invoke(plugin_cli, ["list", "--config", str(cfg), "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["id"]: r for r in orjson.loads(listed.output)["plugins"]}
    assert rows["hello"]["status"] == "ok"
    assert rows["ashello"]["status"].startswith("invalid:") and "file not found" in rows["ashello"]["status"]
