"""``mockforge plugin new|validate|list``: scaffold, check and list WebAssembly plugins.

Why hand-written: the commands are thin wrappers over ``manifest.py`` and ``runtime.py``; the
scaffolds are mockforge's own minimal ABI examples (docs/PLUGINS.md).

    mockforge plugin new greeter --lang wat          # ./greeter/{plugin.yaml, plugin.wat}
    mockforge plugin validate greeter                # exit 1 with one reason per line
    mockforge plugin list --config mockforge.yaml
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mockforge.errors import MockforgeError, PluginError

_WAT = r""";; {name}: a mockforge response plugin in WebAssembly text (ABI: docs/PLUGINS.md).
;; generate_response ignores its input and answers a fixed JSON body.
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (data (i32.const 0) "{{\"status\":200,\"body\":{{\"plugin\":\"{name}\"}}}}")
  ;; bump allocator; each call runs in a fresh instance (grow memory here for large inputs)
  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))))))
    (local.get $p))
  (func (export "generate_response") (param $ptr i32) (param $len i32) (result i64)
    (i64.const {length}))
)
"""

_AS = """// {name}: a mockforge response plugin in AssemblyScript (ABI: docs/PLUGINS.md).
// Build: npm install && npm run build  (writes plugin.wasm)

export function alloc(len: i32): i32 {{
  return <i32>heap.alloc(<usize>len);
}}

export function generate_response(ptr: i32, len: i32): i64 {{
  const input = String.UTF8.decodeUnsafe(<usize>ptr, <usize>len);
  const out = '{{"status":200,"body":{{"plugin":"{name}","input_bytes":' + len.toString() + "}}}}";
  const buf = String.UTF8.encode(out);
  return (<i64>changetype<usize>(buf) << 32) | <i64>buf.byteLength;
}}
"""

_PACKAGE = {
    "private": True,
    "scripts": {
        "build": "asc assembly/index.ts --outFile plugin.wasm --runtime stub --optimizeLevel 3 --noAssert"
    },
    "devDependencies": {"assemblyscript": "^0.27.0"},
}

_MANIFEST = """id: {name}
name: {name}
version: 0.1.0
kinds: [response]
entry: {entry}
capabilities:
  memory_mb: 10
  fuel: 10000000
  timeout_ms: 100
  max_concurrent: 4
config: {{}}
"""


@click.group("plugin")
def plugin() -> None:
    """Create, check and list WebAssembly plugins."""


@plugin.command("new")
@click.argument("name")
@click.option("--lang", type=click.Choice(["wat", "assemblyscript"]), default="wat", show_default=True)
@click.option(
    "--dir", "parent", type=click.Path(file_okay=False), default=".", help="Folder to create it in."
)
def new(name: str, lang: str, parent: str) -> None:
    """Scaffold plugin NAME in a new folder."""
    from mockforge.plugins.manifest import _ID_RE

    if not _ID_RE.fullmatch(name):
        raise click.BadParameter("use lower-case letters, digits, '-' and '_'", param_hint="NAME")
    target = Path(parent) / name
    if target.exists():
        raise click.ClickException(f"{target} already exists")
    target.mkdir(parents=True)
    if lang == "wat":
        body = '{"status":200,"body":{"plugin":"' + name + '"}}'
        (target / "plugin.wat").write_text(_WAT.format(name=name, length=len(body.encode())))
        (target / "plugin.yaml").write_text(_MANIFEST.format(name=name, entry="plugin.wat"))
        click.echo(f"created {target}: edit plugin.wat, then `mockforge plugin validate {target}`")
    else:
        (target / "assembly").mkdir()
        (target / "assembly" / "index.ts").write_text(_AS.format(name=name))
        package = {"name": f"mockforge-plugin-{name}", "version": "0.1.0", **_PACKAGE}
        (target / "package.json").write_text(json.dumps(package, indent=2) + "\n")
        (target / ".gitignore").write_text("node_modules/\n")
        (target / "plugin.yaml").write_text(_MANIFEST.format(name=name, entry="plugin.wasm"))
        click.echo(f"created {target}: run `npm install && npm run build` there, then validate it")


@plugin.command("validate")
@click.argument("directory", type=click.Path(exists=True))
def validate(directory: str) -> None:
    """Check a plugin's manifest, module exports and limits; exit 1 with the reasons."""
    from mockforge.plugins.manifest import load_manifest
    from mockforge.plugins.runtime import compile_module, module_problems

    try:
        manifest = load_manifest(directory)
        module = compile_module(manifest.entry_path)
    except PluginError as exc:
        click.echo(f"invalid: {exc}", err=True)
        raise SystemExit(1) from None
    problems, uses_wasi = module_problems(module, manifest)
    if problems:
        for p in problems:
            click.echo(f"invalid: {manifest.entry_path}: {p}", err=True)
        raise SystemExit(1)
    c = manifest.capabilities
    click.echo(
        f"ok: {manifest.id} {manifest.version} ({', '.join(manifest.kinds)}); "
        f"memory {c.memory_mb} MB, fuel {c.fuel or 'off'}, timeout {c.timeout_ms} ms, "
        f"max_concurrent {c.max_concurrent}, wasi {'yes' if uses_wasi else 'no'}"
    )


@plugin.command("list")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="Config file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(config_path: str | None, as_json: bool) -> None:
    """List the plugins found through plugins.dirs and plugins.load (modules are not loaded)."""
    from mockforge.config import load_config
    from mockforge.plugins.manifest import discover, load_manifest

    try:
        cfg = load_config(config_path)
    except MockforgeError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    rows: list[dict[str, object]] = []
    for path in discover(cfg.plugins.dirs, cfg.plugins.load):
        try:
            m = load_manifest(path)
            rows.append({**m.summary(), "dir": str(m.dir), "status": "ok"})
        except PluginError as exc:
            rows.append({"id": path.parent.name, "dir": str(path.parent), "status": f"invalid: {exc}"})
    if as_json:
        click.echo(json.dumps({"plugins": rows}, indent=2))
        return
    if not rows:
        click.echo(f"no plugins found in {', '.join(cfg.plugins.dirs) or '-'}")
    for r in rows:
        kinds = ",".join(r.get("kinds", []))  # type: ignore[arg-type]
        click.echo(f"{r['id']:<20} {r.get('version', '-'):<10} {kinds:<30} {r['status']}  {r['dir']}")
