"""Reading config documents before they are typed: the file itself (bounded and UTF-8), dotted
key paths, deep merging of layers, unknown keys, and paths made absolute against the file.

Kept apart from ``config.py`` (the typed structs, layering and checks) so that each stays a size
one can read; nothing here knows the ``Config`` struct, so the import goes one way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from mockforge.core.limits import DEFAULT_LIMITS, LimitError, check_utf8, decode_document
from mockforge.errors import ConfigError

#: Keys whose values are paths, resolved against the config file's folder.
PATH_KEYS = (
    "http.specs",
    "http.stubs_dir",
    "grpc.proto_dir",
    "grpc.include_paths",
    "grpc.descriptor_sets",
    "grpc.stubs_dir",
    "core.cache_dir",
    "core.fixtures.dir",
    "http.state.seed",
    "plugins.dirs",
    "plugins.load",
    "core.file_roots",
    "http.tls.cert",
    "http.tls.key",
    "http.tls.client_ca",
    "grpc.tls.cert",
    "grpc.tls.key",
    "grpc.tls.client_ca",
    "core.proxy.ca_bundle",
    "core.proxy.client_cert",
    "core.proxy.client_key",
)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge deeply; any other value (lists included) replaces."""
    out = dict(base)
    for k, v in overlay.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    cur = d
    for p in parts[:-1]:
        nxt = cur.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[p] = nxt
        cur = nxt
    cur[parts[-1]] = value


def get_path(d: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = d
    for p in dotted.split("."):
        if not isinstance(cur, Mapping) or p not in cur:
            return None
        cur = cur[p]
    return cur


def read_config_file(path: str) -> dict[str, Any]:
    """The file's top-level mapping; ``ConfigError`` (one line, naming the file and the line, JSON
    pointer or byte offset) when it cannot be read, is not UTF-8, YAML or JSON, nests deeper than
    ``core.max_document_depth`` or expands YAML aliases past ``core.max_yaml_alias_nodes`` (the
    defaults: the file cannot raise the bounds that protect its own reading)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror}", file=path) from None
    limits = DEFAULT_LIMITS
    try:
        check_utf8(raw)
        data = decode_document(raw, as_json=p.suffix.lower() == ".json", limits=limits)
    except LimitError as exc:
        raise ConfigError(exc.message, file=path, where=exc.where) from None
    except (yaml.YAMLError, msgspec.DecodeError) as exc:
        line = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = f"line {mark.line + 1}"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"not valid YAML/JSON: {reason}", file=path, where=line or None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping", file=path)
    return data


def unknown_keys(data: Mapping[str, Any], struct: type[msgspec.Struct], prefix: str) -> list[str]:
    """Key paths in ``data`` that the struct does not define (nested structs checked too)."""
    out: list[str] = []
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    for key, value in data.items():
        path = f"{prefix}{key}"
        f = fields.get(key)
        if f is None:
            out.append(path)
            continue
        ftype = f.type
        if isinstance(ftype, type) and issubclass(ftype, msgspec.Struct) and isinstance(value, Mapping):
            out.extend(unknown_keys(value, ftype, path + "."))
    return out


def drop_keys(data: dict[str, Any], paths: list[str]) -> None:
    for dotted in paths:
        parts = dotted.split(".")
        cur: Any = data
        for p in parts[:-1]:
            cur = cur.get(p) if isinstance(cur, dict) else None
        if isinstance(cur, dict):
            cur.pop(parts[-1], None)


def resolve_paths(data: dict[str, Any], base: Path) -> None:
    for key in PATH_KEYS:
        value = get_path(data, key)
        if value is None:
            continue
        if isinstance(value, list):
            set_path(data, key, [_abs(v, base) for v in value])
        elif isinstance(value, str):
            set_path(data, key, _abs(value, base))
    ws = get_path(data, "websocket.routes")
    if isinstance(ws, list):
        for route in ws:
            if isinstance(route, dict) and isinstance(route.get("script"), str):
                route["script"] = _abs(route["script"], base)
    for key in ("http.routes", "grpc.stubs"):
        stubs = get_path(data, key)
        if isinstance(stubs, list):
            for stub in stubs:
                resp = stub.get("response") if isinstance(stub, dict) else None
                if isinstance(resp, dict) and isinstance(resp.get("body_file"), str):
                    resp["body_file"] = _abs(resp["body_file"], base)


def _abs(value: Any, base: Path) -> Any:
    if not isinstance(value, str) or not value:
        return value
    p = Path(os.path.expanduser(value))
    return str(p if p.is_absolute() else (base / p).resolve())
