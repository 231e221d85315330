"""``plugin.yaml``: the one manifest format, read into typed structs and checked.

Why hand-written: the original had three manifest formats and no validation of the limits; this
is one flat format (issue 7), decoded with msgspec so that every error names the file and the key.

    m = load_manifest("plugins/echo/plugin.yaml")
    m.id, m.kinds, m.capabilities.timeout_ms, m.entry_path

    id: echo                      # [a-z0-9][a-z0-9_-]*
    name: Echo
    version: 1.0.0
    kinds: [response, request_filter, template]
    entry: plugin.wasm            # or plugin.wat; relative to the manifest
    functions: [upper]            # template function names (kind template)
    capabilities: {memory_mb: 10, fuel: 10000000, timeout_ms: 100, max_concurrent: 4,
                   fs_read: [], env: []}
    config: {greeting: hi}
    config_schema: {type: object}

Paths a manifest names are untrusted (a plugin may come from anywhere): given the server's
``FileRoots`` (``core/files.py``), the manifest, its ``entry`` and every ``fs_read`` folder must
resolve (symlinks followed) inside them, and ``entry`` must be a regular file; ``fs_read: [/]`` or
``entry: ../../elsewhere.wasm`` out of the roots is refused when the plugin loads. Without roots
(``mockforge plugin validate``, run by the local user) only the file kinds are checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from mockforge.core.files import FileAccessError, FileRoots
from mockforge.errors import PluginError

Kind = Literal["response", "template", "request_filter"]

#: Kind -> the export it needs.
ENTRY_POINTS: dict[str, str] = {
    "response": "generate_response",
    "template": "template_function",
    "request_filter": "filter_request",
}

MANIFEST_NAME = "plugin.yaml"

#: Upper bounds a manifest may ask for (the runtime's own limits).
MAX_MEMORY_MB = 1024
MAX_TIMEOUT_MS = 60_000
MAX_CONCURRENT = 64
MAX_FUEL = 10**12

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_FN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


class Capabilities(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    memory_mb: int = 10
    #: Instructions' worth of fuel per call; 0 turns the fuel limit off (the wall clock still applies).
    fuel: int = 10_000_000
    timeout_ms: int = 100
    max_concurrent: int = 4
    #: Host directories the guest may read (pre-opened read-only under the same path).
    fs_read: list[str] = []
    #: Names of host environment variables passed to the guest.
    env: list[str] = []


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    version: str
    kinds: list[Kind]
    entry: str
    functions: list[str] = []
    description: str = ""
    capabilities: Capabilities = Capabilities()
    config: dict[str, Any] = {}
    config_schema: dict[str, Any] | None = None
    #: Set by ``load_manifest``: the manifest file and the resolved entry / fs_read paths.
    file: str = ""

    @property
    def dir(self) -> Path:
        return Path(self.file).parent

    @property
    def entry_path(self) -> Path:
        return (self.dir / self.entry).resolve()

    def fs_read_paths(self) -> list[Path]:
        return [(self.dir / p).resolve() for p in self.capabilities.fs_read]

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "version": self.version, "kinds": list(self.kinds)}


def _where(exc: msgspec.ValidationError) -> tuple[str | None, str]:
    text = str(exc)
    reason, _, at = text.partition(" - at `")
    path = at.rstrip("`").removeprefix("$").lstrip(".") if at else ""
    return path or None, reason


def load_manifest(path: str | Path, files: FileRoots | None = None) -> Manifest:
    """Read and check one manifest; ``path`` is the ``plugin.yaml`` or its folder. With ``files``,
    the manifest and the paths it names must resolve inside those roots."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    file = str(p)
    if files is not None:
        try:
            files.check(p, what="plugin manifest")
        except FileAccessError as exc:
            raise PluginError(exc.message, file=file) from None
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PluginError("manifest not found", file=file) from None
    except OSError as exc:
        raise PluginError(f"cannot read manifest: {exc.strerror}", file=file) from None
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise PluginError(f"not valid YAML: {reason}", file=file, where=where) from None
    if not isinstance(data, dict):
        raise PluginError("the manifest must be a mapping", file=file)
    data.pop("file", None)
    try:
        m = msgspec.convert(data, Manifest, strict=False)
    except msgspec.ValidationError as exc:
        where, reason = _where(exc)
        raise PluginError(reason, file=file, where=where) from None
    m = msgspec.structs.replace(m, file=str(p.resolve()))
    check_manifest(m, file, files)
    return m


def check_manifest(m: Manifest, file: str, files: FileRoots | None = None) -> None:
    """Semantic checks msgspec cannot express; raises ``PluginError`` naming the key."""

    def bad(where: str, msg: str) -> PluginError:
        return PluginError(msg, file=file, where=where)

    if not _ID_RE.fullmatch(m.id):
        raise bad("id", f"'{m.id}' is not a valid id (lower-case letters, digits, '-' and '_')")
    if not m.kinds:
        raise bad("kinds", "give at least one of response, template, request_filter")
    if len(set(m.kinds)) != len(m.kinds):
        raise bad("kinds", "a kind is listed twice")
    if "template" in m.kinds and not m.functions:
        raise bad("functions", "kind 'template' needs the list of function names it provides")
    for i, fn in enumerate(m.functions):
        if not _FN_RE.fullmatch(fn):
            raise bad(f"functions.{i}", f"'{fn}' is not a valid function name")
    if not m.entry.endswith((".wasm", ".wat")):
        raise bad("entry", "the entry must be a .wasm (or .wat) file")
    if files is not None:
        try:
            files.check(m.entry_path, what="entry")
        except FileAccessError as exc:
            raise bad("entry", exc.message) from None
    elif not m.entry_path.is_file():
        raise bad("entry", f"file not found: {m.entry_path}")
    c = m.capabilities
    if not 1 <= c.memory_mb <= MAX_MEMORY_MB:
        raise bad("capabilities.memory_mb", f"expected 1 to {MAX_MEMORY_MB}, got {c.memory_mb}")
    if not 0 <= c.fuel <= MAX_FUEL:
        raise bad("capabilities.fuel", f"expected 0 (off) to {MAX_FUEL}, got {c.fuel}")
    if not 1 <= c.timeout_ms <= MAX_TIMEOUT_MS:
        raise bad("capabilities.timeout_ms", f"expected 1 to {MAX_TIMEOUT_MS}, got {c.timeout_ms}")
    if not 1 <= c.max_concurrent <= MAX_CONCURRENT:
        raise bad("capabilities.max_concurrent", f"expected 1 to {MAX_CONCURRENT}, got {c.max_concurrent}")
    for i, d in enumerate(m.fs_read_paths()):
        if files is not None:
            try:
                files.check_dir(d, what="fs_read folder")
            except FileAccessError as exc:
                raise bad(f"capabilities.fs_read.{i}", exc.message) from None
        elif not d.is_dir():
            raise bad(f"capabilities.fs_read.{i}", f"not a directory: {d}")
    for i, name in enumerate(c.env):
        if not name or "=" in name:
            raise bad(f"capabilities.env.{i}", f"'{name}' is not an environment variable name")
    if m.config_schema is not None:
        _check_config(m, file)


def _check_config(m: Manifest, file: str) -> None:
    import jsonschema_rs

    assert m.config_schema is not None

    try:
        validator = jsonschema_rs.validator_for(m.config_schema)
    except Exception as exc:  # the library raises ValidationError/ValueError for a bad schema
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PluginError(f"not a valid JSON Schema: {reason}", file=file, where="config_schema") from None
    errors = list(validator.iter_errors(m.config))
    if errors:
        first = errors[0]
        pointer = "/".join(str(p) for p in first.instance_path)
        where = "config" + (f".{pointer.replace('/', '.')}" if pointer else "")
        raise PluginError(f"does not match config_schema: {first.message}", file=file, where=where)


def discover(dirs: Iterable[str], load: Iterable[str] = ()) -> list[Path]:
    """Manifest files: each subfolder of ``dirs`` holding a ``plugin.yaml`` (missing dirs are
    skipped), then each entry of ``load`` (a plugin folder or its manifest), without duplicates."""
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            out.append(p)

    for d in dirs:
        base = Path(d)
        if not base.is_dir():
            continue
        for sub in sorted(base.iterdir()):
            if (sub / MANIFEST_NAME).is_file():
                add(sub / MANIFEST_NAME)
    for entry in load:
        p = Path(entry)
        add(p / MANIFEST_NAME if p.is_dir() else p)
    return out
