"""Reading HTTP stubs: stub files, ``http.routes`` and admin bodies into ``Stub`` values.

Every definition is checked whole before anything is stored (a bad file loads nothing, a bad
admin body changes nothing) and errors are one line naming the file and the field, e.g.
``stubs/pets.yaml at [1].request.query.kind: invalid regex``. The request part compiles with
``RequestPattern.compile`` (the matcher table shared with gRPC and WebSocket); gRPC's own file
format is translated to the same model in ``grpc/stubs.py``.

Bounds: files are read through ``decode_document`` (nesting depth, YAML alias expansion), a
``body_file`` must sit under the configured file roots, and a stub that would not serialise for
``GET /__mockforge/stubs`` is refused here rather than breaking the listing later.

    stubs = load_file("stubs/pets.yaml")          # list[Stub]; StubError on the first problem
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from mockforge.core.faults import parse_fault
from mockforge.core.files import FileAccessError, FileRoots
from mockforge.core.headers import name_problem, value_problem
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits, LimitError, check_utf8, decode_document
from mockforge.core.matching import RequestPattern, quote
from mockforge.core.responses import encode_json
from mockforge.core.stub_model import (
    DEFAULT_PRIORITY,
    SOURCE_API,
    SOURCE_CONFIG,
    STUB_KEYS,
    ResponseDefinition,
    ScenarioRule,
    Stub,
)
from mockforge.core.templating import Template, compile_template, compile_value
from mockforge.errors import StubError

STUB_FILE_SUFFIXES = (".yaml", ".yml", ".json")
_RESPONSE_KEYS = (
    "status",
    "headers",
    "body",
    "body_text",
    "body_base64",
    "body_file",
    "delay_ms",
    "fault",
    "plugin",
)
_BODY_KINDS = ("body", "body_text", "body_base64", "body_file")
_YAML_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# --------------------------------------------------------------------------- parsing


def _fail(message: str, where: str, file: str | None) -> StubError:
    return StubError(message, file=file, where=where or None)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _parse_response(
    spec: Any, where: str, file: str | None, base: Path | None, files: FileRoots | None, label: str = ""
) -> ResponseDefinition:
    if spec is None:
        return ResponseDefinition()
    if not isinstance(spec, Mapping):
        raise _fail("'response' must be a mapping", where, file)
    for key in spec:
        if key not in _RESPONSE_KEYS:
            raise _fail(f"unknown key '{key}' (known: {', '.join(_RESPONSE_KEYS)})", _join(where, key), file)
    status = spec.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise _fail(f"expected an HTTP status from 100 to 599, got {status!r}", _join(where, "status"), file)
    headers: list[tuple[str, Template]] = []
    raw_headers = spec.get("headers") or {}
    if not isinstance(raw_headers, Mapping):
        raise _fail("'headers' must be a mapping of name -> value", _join(where, "headers"), file)
    for name, value in raw_headers.items():
        for item in value if isinstance(value, list) else [value]:
            headers.append(
                (str(name), compile_template(item if isinstance(item, str) else quote(item).strip('"')))
            )
    given = [k for k in _BODY_KINDS if spec.get(k) is not None]
    if len(given) > 1:
        raise _fail(f"give one of {', '.join(_BODY_KINDS)}, not {' and '.join(given)}", where, file)
    kwargs: dict[str, Any] = {}
    if "body" in given:
        kwargs["json_body"] = compile_value(spec["body"])
    elif "body_text" in given:
        if not isinstance(spec["body_text"], str):
            raise _fail("'body_text' takes a string", _join(where, "body_text"), file)
        kwargs["text_body"] = compile_template(spec["body_text"])
    elif "body_base64" in given:
        try:
            kwargs["raw_body"] = base64.b64decode(str(spec["body_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise _fail("'body_base64' is not valid base64", _join(where, "body_base64"), file) from None
    elif "body_file" in given:
        if not isinstance(spec["body_file"], str) or not spec["body_file"]:
            raise _fail("'body_file' takes a file path", _join(where, "body_file"), file)
        roots = files or FileRoots.default()
        try:
            kwargs["body_file"] = roots.check(spec["body_file"], base=base, what="body_file")
        except FileAccessError as exc:
            raise _fail(f"{label}{exc.message}", _join(where, "body_file"), file) from None
        kwargs["files"] = roots
    delay = spec.get("delay_ms", 0) or 0
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise _fail(f"expected whole milliseconds >= 0, got {delay!r}", _join(where, "delay_ms"), file)
    try:
        fault = parse_fault(spec.get("fault"), _join(where, "fault"), StubError)
    except StubError as exc:
        raise _fail(exc.message, exc.where or "", file) from None
    plugin = spec.get("plugin")
    params: dict[str, Any] = {}
    if isinstance(plugin, Mapping):
        params = {k: v for k, v in plugin.items() if k != "id"}
        plugin = plugin.get("id")
    if plugin is not None and not isinstance(plugin, str):
        raise _fail("'plugin' takes a plugin id or {id: ..., ...}", _join(where, "plugin"), file)
    return ResponseDefinition(
        status=status,
        headers=tuple(headers),
        delay_ms=delay,
        fault=fault,
        plugin=plugin,
        plugin_params=params,
        **kwargs,
    )


def _check_headers(response: ResponseDefinition, stub_id: str, where: str, file: str | None) -> None:
    """Refuse a header that could forge others (core/headers.py); a templated value is checked
    for its literal text here and cleaned on the wire for what the template brings in."""
    for name, tpl in response.headers:
        problem = name_problem(name)
        if problem is None and (bad := value_problem(tpl.text)) is not None:
            problem = f"header {name!r} value {bad}"
        if problem is not None:
            raise _fail(f"stub '{stub_id}': {problem}", _join(where, name), file)


def _parse_scenario(spec: Any, where: str, file: str | None) -> ScenarioRule | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise _fail("'scenario' must be {name, required_state, new_state}", where, file)
    for key in spec:
        if key not in ("name", "required_state", "new_state"):
            raise _fail(
                f"unknown key '{key}' (known: name, required_state, new_state)", _join(where, key), file
            )
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise _fail("a scenario needs a 'name'", _join(where, "name"), file)
    states = []
    for key in ("required_state", "new_state"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            raise _fail(f"'{key}' takes a state name", _join(where, key), file)
        states.append(value)
    return ScenarioRule(name, states[0], states[1])


def parse_stub(
    data: Any,
    where: str = "",
    source: str = SOURCE_API,
    *,
    default_id: str | None = None,
    files: FileRoots | None = None,
) -> Stub:
    """Validate and compile one stub definition; ``StubError`` names the file (when ``source`` is
    a file path) and the field, e.g. ``stubs/pets.yaml at [1].request.query.kind: invalid regex``.

    ``files`` are the folders a ``body_file`` may name (``FileRoots.default()``, the current
    directory, when not given); a relative ``body_file`` is relative to the stub file, else to the
    current directory."""
    file = None if source in (SOURCE_API, SOURCE_CONFIG) else source
    base = Path(file).resolve().parent if file else None
    if not isinstance(data, Mapping):
        raise _fail("a stub must be a mapping with 'request' and 'response'", where, file)
    for key in data:
        if key not in STUB_KEYS:
            raise _fail(f"unknown key '{key}' (known: {', '.join(STUB_KEYS)})", _join(where, str(key)), file)
    stub_id = data.get("id")
    if stub_id is None:
        stub_id = default_id or str(uuid.uuid4())
    elif not isinstance(stub_id, str | int) or isinstance(stub_id, bool) or not str(stub_id):
        raise _fail("'id' takes a non-empty string", _join(where, "id"), file)
    stub_id = str(stub_id)
    priority = data.get("priority", DEFAULT_PRIORITY)
    if priority is None:
        priority = DEFAULT_PRIORITY
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise _fail(f"expected a whole number, got {priority!r}", _join(where, "priority"), file)
    times = data.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise _fail(f"expected a whole number >= 1 or null, got {times!r}", _join(where, "times"), file)
    validate = data.get("validate", False)
    if not isinstance(validate, bool):
        raise _fail("'validate' must be true or false", _join(where, "validate"), file)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _fail("'enabled' must be true or false", _join(where, "enabled"), file)
    try:
        pattern = RequestPattern.compile(data.get("request"), _join(where, "request"))
    except StubError as exc:
        raise _fail(exc.message, exc.where or "", file) from None
    label = f"stub '{stub_id}': " if data.get("id") is not None else ""
    response = _parse_response(data.get("response"), _join(where, "response"), file, base, files, label)
    _check_headers(response, stub_id, _join(where, "response.headers"), file)
    scenario = _parse_scenario(data.get("scenario"), _join(where, "scenario"), file)
    spec = {k: data[k] for k in STUB_KEYS if k in data}
    spec["id"] = stub_id
    stub = Stub(
        id=stub_id,
        request=pattern,
        response=response,
        priority=priority,
        scenario=scenario,
        times=times,
        validate=validate,
        source=source,
        spec=spec,
        enabled=enabled,
    )
    _check_serialises(stub, where, file)
    return stub


def _check_serialises(stub: Stub, where: str, file: str | None) -> None:
    """A stored stub must list: ``GET /__mockforge/stubs`` serialises every stub with the admin
    API's encoder, so a stub it cannot encode (an int past 64 bits, nesting past 254, a lone
    surrogate, bytes from a YAML tag) is refused here, naming the top-level key."""
    out = stub.to_dict()
    try:
        encode_json(out)
    except TypeError as exc:
        bad = where
        for key, value in out.items():
            try:
                encode_json(value)
            except TypeError:
                bad = _join(where, key)
                break
        raise _fail(f"cannot be stored: it does not serialise as JSON ({exc})", bad, file) from None


def parse_stubs(
    data: Any, source: str, *, where: str = "", default_ids: str | None = None, files: FileRoots | None = None
) -> list[Stub]:
    """One stub or a list of them, all or nothing (the first error raises)."""
    if isinstance(data, list):
        return [
            parse_stub(
                item,
                f"{where}[{i}]",
                source,
                default_id=f"{default_ids}-{i + 1}" if default_ids else None,
                files=files,
            )
            for i, item in enumerate(data)
        ]
    return [parse_stub(data, where, source, default_id=default_ids, files=files)]


def load_file(
    path: str | Path, files: FileRoots | None = None, limits: DocumentLimits = DEFAULT_LIMITS
) -> list[Stub]:
    """The stubs of one ``.yaml``/``.yml``/``.json`` file (one stub or a list); ``StubError`` with
    the file and the line (syntax) or field (content). Stubs without an id get ``<file stem>[-n]``.
    ``limits`` bounds nesting depth and YAML alias expansion (a bad file loads nothing)."""
    p = Path(path).resolve()
    file = str(p)  # the stubs' source: absolute, so a watcher's path finds the same stubs
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise StubError(f"cannot read stub file: {exc.strerror}", file=file) from None
    try:
        data = decode_document(raw, as_json=p.suffix.lower() == ".json", limits=limits, loader=_YAML_LOADER)
    except LimitError as exc:
        raise StubError(exc.message, file=file, where=exc.where) from None
    except msgspec.DecodeError as exc:
        _raise_if_not_utf8(raw, file)
        raise StubError(f"not valid JSON: {exc}", file=file) from None
    except yaml.YAMLError as exc:
        _raise_if_not_utf8(raw, file)
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise StubError(f"not valid YAML: {reason}", file=file, where=where) from None
    if data is None:
        return []
    return parse_stubs(data, file, default_ids=p.stem, files=files)


def _raise_if_not_utf8(raw: bytes, file: str) -> None:
    """A ``StubError`` naming the byte offset when ``raw`` is not UTF-8 (error path only)."""
    try:
        check_utf8(raw)
    except LimitError as exc:
        raise StubError(exc.message, file=file) from None


def stub_files(directory: str | Path) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in STUB_FILE_SUFFIXES and p.is_file())


def parse_config_routes(
    routes: Iterable[Any], where: str = "http.routes", files: FileRoots | None = None
) -> tuple[list[Stub], list[str]]:
    """Stubs of ``http.routes``; a bad route is one problem line and is skipped, the rest load."""
    stubs: list[Stub] = []
    problems: list[str] = []
    for i, item in enumerate(routes):
        try:
            stubs.append(
                parse_stub(item, f"{where}[{i}]", SOURCE_CONFIG, default_id=f"route-{i + 1}", files=files)
            )
        except StubError as exc:
            problems.append(str(exc))
    return stubs, problems
