"""Read spec files and resolve ``$ref`` values, local or relative-file, once each.

Hand-written on purpose (reference/python-stack.md measured the libraries at 23 to 70 MB and
seconds, or exponential, on large specs): a ``$ref`` is followed only when the loader reaches it,
every schema target becomes one entry of ``defs`` named once, and recursion never expands because a
schema reference is rewritten to ``{"$ref": "#/$defs/NAME"}`` instead of being inlined.

Parsed documents live in a ``Resolver`` for the duration of one load and are dropped with it.
YAML is parsed with the C loader, with YAML 1.1 surprises turned off (``2024-01-01`` stays a string,
``yes``/``no``/``on``/``off`` stay strings), and large YAML files can be cached as msgpack in a
cache directory, keyed by the sha256 of their content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from typing import Any
from urllib.parse import unquote

import msgspec
import yaml

from mockforge.core.files import FileRoots
from mockforge.core.limits import (
    DEFAULT_LIMITS,
    DocumentLimits,
    LimitError,
    check_depth,
    check_utf8,
    load_yaml,
    too_deep_to_decode,
)
from mockforge.errors import SpecError
from mockforge.openapi.normalize import Schema, convert_schema

#: YAML files at least this big are cached when a cache directory is given.
YAML_CACHE_MIN_BYTES = 32 * 1024
_CACHE_SALT = b"mockforge-yaml-v2\0"  # v2: written only after the depth/alias checks
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _YamlLoader(yaml.CSafeLoader):
    """CSafeLoader without timestamp parsing and with only true/false as booleans."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class RefError(Exception):
    """A ``$ref`` that cannot be followed; the caller adds the place it was met."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def shown(path: str) -> str:
    """The path as a user reads it: relative to the working directory when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def escape(token: str) -> str:
    """One JSON pointer token: ``/pets/{id}`` -> ``~1pets~1{id}``."""
    return token.replace("~", "~0").replace("/", "~1")


def walk(root: Any, pointer: str) -> Any:
    """Follow a JSON pointer; raises ``LookupError`` naming the first token that is missing."""
    node = root
    if not pointer:
        return node
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~") if "~" in raw else raw
        if isinstance(node, dict):
            if token in node:
                node = node[token]
                continue
            if token.isdigit() and int(token) in node:  # YAML turns `200:` into an int key
                node = node[int(token)]
                continue
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
            continue
        raise LookupError(token)
    return node


def read_document(
    path: str, *, cache_dir: str | None = None, limits: DocumentLimits = DEFAULT_LIMITS
) -> Any:
    """Parse a JSON or YAML file; ``SpecError`` (one line, with the line number or JSON pointer)
    when it cannot be, or when it is past ``limits`` (nesting depth, YAML aliases)."""
    name = shown(path)
    try:
        # non-blocking and checked with fstat: a FIFO or a device named as a spec (or $ref'd by
        # one) is refused instead of blocking start-up or reading forever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise SpecError("is a directory, not a spec file", file=name)
            if not stat.S_ISREG(mode):
                raise SpecError("is not a regular file (a FIFO, device or socket)", file=name)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise SpecError("file not found", file=name) from None
    except IsADirectoryError:
        raise SpecError("is a directory, not a spec file", file=name) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", file=name) from None
    is_json = path.lower().endswith(".json")
    if is_json or data.lstrip()[:1] == b"{":
        doc = _read_json(data, name, is_json, limits)
        if doc is not _NOT_JSON:
            return doc
    return _read_yaml(data, name, cache_dir, limits)


_NOT_JSON = object()


def _read_json(data: bytes, name: str, is_json: bool, limits: DocumentLimits) -> Any:
    """The decoded document, checked against ``limits``; ``_NOT_JSON`` when a file not named
    ``.json`` is not JSON (it is then read as YAML)."""
    try:
        try:  # msgspec builds Python objects directly: 20 MB lower peak than orjson on 12 MB
            doc = msgspec.json.decode(data)
        except msgspec.DecodeError:
            try:  # integers beyond 64 bits, NaN: the standard library still reads them
                doc = json.loads(data)
            except ValueError as exc:
                if not is_json:
                    return _NOT_JSON
                check_utf8(data)
                where = (
                    f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else None
                )
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise SpecError(f"not valid JSON: {msg}", file=name, where=where) from None
        except RecursionError:
            raise too_deep_to_decode(limits.max_depth) from None
        check_depth(doc, limits.max_depth)
    except LimitError as exc:
        raise SpecError(exc.message, file=name, where=exc.where) from None
    return doc


def _read_yaml(data: bytes, name: str, cache_dir: str | None, limits: DocumentLimits) -> Any:
    cache_file = None
    if cache_dir is not None and len(data) >= YAML_CACHE_MIN_BYTES:
        digest = hashlib.sha256(_CACHE_SALT + data).hexdigest()
        cache_file = os.path.join(cache_dir, digest + ".msgpack")
        try:
            with open(cache_file, "rb") as fh:
                doc = msgspec.msgpack.decode(fh.read())
        except (OSError, msgspec.DecodeError, RecursionError):
            pass  # absent or corrupt: parse again and rewrite
        else:
            try:  # written after a passing check, but the limits may have changed since
                check_depth(doc, limits.max_depth)
            except LimitError as exc:
                raise SpecError(exc.message, file=name, where=exc.where) from None
            return doc
    try:
        doc = load_yaml(data, _YamlLoader, limits)
    except LimitError as exc:
        raise SpecError(exc.message, file=name, where=exc.where) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark else None
        raise SpecError(
            f"not valid YAML or JSON: {exc.problem or exc.context}", file=name, where=where
        ) from None
    except yaml.YAMLError as exc:
        try:
            check_utf8(data)
        except LimitError as bad:
            raise SpecError(bad.message, file=name) from None
        raise SpecError(f"not valid YAML or JSON: {exc}", file=name) from None
    if cache_file is not None:
        _write_cache(cache_file, doc)
    return doc


def _write_cache(cache_file: str, doc: Any) -> None:
    try:
        blob = msgspec.msgpack.encode(doc)
    except (TypeError, msgspec.EncodeError):
        return
    tmp = f"{cache_file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, cache_file)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def find_ref(node: Any, ref: str, pointer: str) -> str | None:
    """The pointer, below ``pointer``, of the first ``{"$ref": ref}`` in ``node`` (error path only)."""
    if isinstance(node, dict):
        if node.get("$ref") == ref:
            return pointer
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return None
    for key, value in items:
        found = find_ref(value, ref, f"{pointer}/{escape(str(key))}")
        if found is not None:
            return found
    return None


class _Hooks:
    """Binds schema conversion to the file a schema sits in (its refs are relative to it)."""

    __slots__ = ("file", "resolver", "siblings")

    def __init__(self, resolver: Resolver, file: str, siblings: bool) -> None:
        self.resolver = resolver
        self.file = file
        self.siblings = siblings

    def ref(self, ref: str) -> str:
        return self.resolver.schema_ref(ref, self.file, self.siblings)

    def mapping(self, value: str) -> str | None:
        if "#" in value or "/" in value or value.endswith((".json", ".yaml", ".yml")):
            candidates = [value]
        else:
            candidates = ["#/components/schemas/" + value, "#/definitions/" + value]
        for ref in candidates:
            try:
                return self.ref(ref)
            except RefError:
                continue
        return None

    def note(self, message: str) -> None:
        self.resolver.notes.append(f"{shown(self.file)}: {message}")


class Resolver:
    """Documents read so far, and the ``defs`` built from every schema reached.

    res = Resolver(cache_dir=None)
    doc = res.document("/abs/openapi.yaml")
    schema = res.schema(doc["paths"]["/pets"]["get"]["responses"]["200"]..., file, siblings=False)
    res.finish()  # converts every def reached; res.defs is then complete
    """

    def __init__(
        self,
        *,
        cache_dir: str | None = None,
        limits: DocumentLimits = DEFAULT_LIMITS,
        roots: FileRoots | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.limits = limits
        #: Folders a document may be read from (the top-level specs' folders are added to them);
        #: None: anywhere (tests, `mockforge validate` of files the user names).
        self.roots = roots
        self.docs: dict[str, Any] = {}
        self.defs: dict[str, Schema] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._queue: list[tuple[str, str, str, Any, bool]] = []
        self._hooks: dict[tuple[str, bool], _Hooks] = {}
        self._located: dict[tuple[str, str], tuple[str, str]] = {}
        self._targets: dict[tuple[str, str], Any] = {}
        #: What schema conversion left out, one line each (load warnings).
        self.notes: list[str] = []

    @property
    def files(self) -> set[str]:
        return set(self.docs)

    def document(self, path: str) -> Any:
        try:
            return self.docs[path]
        except KeyError:
            if self.roots is not None and not self.roots.contains(os.path.realpath(path)):
                raise SpecError(
                    "a $ref leads outside the spec's folder and core.file_roots (add the folder to "
                    "core.file_roots to allow it)",
                    file=shown(path),
                ) from None
            doc = self.docs[path] = read_document(path, cache_dir=self.cache_dir, limits=self.limits)
            return doc

    def locate(self, ref: str, file: str) -> tuple[str, str]:
        """``$ref`` met in ``file`` -> (absolute file, JSON pointer)."""
        known = self._located.get((file, ref))
        if known is None:
            known = self._located[(file, ref)] = self._locate(ref, file)
        return known

    @staticmethod
    def _locate(ref: str, file: str) -> tuple[str, str]:
        target, _, fragment = ref.partition("#")
        if target:
            if "://" in target or target.startswith("//"):
                raise RefError(f"remote $ref {ref!r} is not fetched")
            path = os.path.normpath(os.path.join(os.path.dirname(file), unquote(target)))
        else:
            path = file
        if "%" in fragment:
            fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            raise RefError(f"$ref {ref!r}: only JSON pointer fragments are supported")
        return path, fragment

    def target(self, ref: str, path: str, pointer: str) -> Any:
        try:
            return self._targets[(path, pointer)]
        except KeyError:
            pass
        try:
            doc = self.document(path)
        except SpecError as exc:
            raise RefError(f"$ref {ref!r}: {exc}") from None
        try:
            node = self._targets[(path, pointer)] = walk(doc, pointer)
        except LookupError as exc:
            raise RefError(f"$ref {ref!r} does not resolve: no {exc.args[0]!r} in {shown(path)}") from None
        return node

    def deref(self, node: Any, file: str, pointer: str) -> tuple[Any, str, str]:
        """Follow a chain of ``$ref`` (parameters, responses...) to the object it ends at."""
        seen: set[tuple[str, str]] | None = None
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            path, ptr = self.locate(ref, file)
            if seen is None:
                seen = set()
            if (path, ptr) in seen:
                raise RefError(f"$ref {ref!r} is circular")
            seen.add((path, ptr))
            node = self.target(ref, path, ptr)
            file, pointer = path, ptr
        return node, file, pointer

    def schema(self, node: Any, file: str, siblings: bool) -> Any:
        """Convert an inline schema met in ``file``; raises ``RefError`` for a broken ``$ref`` in it."""
        hooks = self._hooks.get((file, siblings))
        if hooks is None:
            hooks = self._hooks[(file, siblings)] = _Hooks(self, file, siblings)
        return convert_schema(node, hooks, ref_siblings=siblings)

    def schema_ref(self, ref: str, file: str, siblings: bool) -> str:
        path, pointer = self.locate(ref, file)
        name = self._names.get((path, pointer))
        if name is None:
            node = self.target(ref, path, pointer)
            name = self.define(path, pointer, node, siblings)
        return name

    def define(self, path: str, pointer: str, node: Any, siblings: bool, name: str | None = None) -> str:
        """Give the schema at (path, pointer) a ``defs`` name and queue its conversion."""
        known = self._names.get((path, pointer))
        if known is not None:
            return known
        name = self._unique(name or self._base_name(path, pointer), path)
        self._names[(path, pointer)] = name
        self.defs[name] = {}  # placeholder keeps discovery order
        self._queue.append((name, path, pointer, node, siblings))
        return name

    def origin(self, name: str) -> tuple[str, str] | None:
        """(file, JSON pointer) the def ``name`` was built from (warnings only: a linear scan)."""
        return next((place for place, known in self._names.items() if known == name), None)

    def finish(self) -> None:
        """Convert every queued def (which may queue more); a broken ``$ref`` is a ``SpecError``."""
        while self._queue:
            name, path, pointer, node, siblings = self._queue.pop()
            try:
                self.defs[name] = self.schema(node, path, siblings)
            except RefError as exc:
                where = pointer
                bad = re.search(r"\$ref '([^']*)'", exc.message)
                if bad:
                    where = find_ref(node, bad.group(1), pointer) or pointer
                raise SpecError(exc.message, file=shown(path), where=where or "/") from None

    @staticmethod
    def _base_name(path: str, pointer: str) -> str:
        stem = os.path.splitext(os.path.basename(path))[0]
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
        if not tokens:
            return stem
        if tokens[:2] == ["components", "schemas"] and len(tokens) > 2:
            tokens = tokens[2:]
        elif tokens[0] in ("definitions", "$defs") and len(tokens) > 1:
            tokens = tokens[1:]
        return "_".join(tokens)

    def _unique(self, base: str, path: str) -> str:
        base = _NAME_UNSAFE.sub("_", base).strip("_") or "schema"
        if base not in self.defs:
            return base
        stem = _NAME_UNSAFE.sub("_", os.path.splitext(os.path.basename(path))[0]).strip("_")
        candidate = f"{stem}_{base}"
        n = 2
        while candidate in self.defs:
            candidate = f"{base}_{n}"
            n += 1
        return candidate
