"""Turn ``.proto`` files (or prebuilt descriptor sets) into one serialized FileDescriptorSet.

Why hand-written: the compiler is grpcio-tools' protoc, but we run it in a short-lived
subprocess (``python -m grpc_tools.protoc``) instead of importing it, because importing it keeps
about 7.6 MB in our process for good (reference/python-stack.md section 4). Around it we add what
no library gives: a content-hash cache, one-line errors with file and line, and ``on_error: skip``.

    fds = await load_descriptor_set(config.grpc, cache_dir=config.core.cache_dir)
    # bytes of a google.protobuf.FileDescriptorSet, dependencies before dependants

Nothing here imports protobuf at module level; only ``_merge_sets`` does, inside the function.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mockforge.config import GrpcConfig
from mockforge.errors import ProtoError

log = logging.getLogger("mockforge.grpc")

#: ``/abs/path/file.proto:12:5: Expected ";".``
_PROTOC_LINE = re.compile(r"^(?P<file>[^:\n]+?\.proto):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$", re.M)
#: ``file.proto: File not found.`` / ``file.proto: Import "x" was not found or had errors.``
_PROTOC_FILE = re.compile(r"^(?P<file>[^:\n]+?\.proto): (?P<msg>.+)$", re.M)
_CACHE_VERSION = b"mockforge-grpc-1"


@dataclass(slots=True)
class CompileResult:
    """What the loader produced: the serialized set, where it came from, what was skipped."""

    descriptor_set: bytes
    #: Virtual names (``pkg/file.proto``) of the files given as input, not their imports.
    inputs: list[str] = field(default_factory=list)
    #: One line per file skipped under ``on_error: skip``.
    warnings: list[str] = field(default_factory=list)
    cached: bool = False


def well_known_dir() -> Path | None:
    """grpcio-tools' bundled ``google/protobuf/*.proto``, found without importing the package."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "_proto"
    return path if path.is_dir() else None


def find_protos(proto_dir: str) -> list[str]:
    """Virtual names of every ``.proto`` under ``proto_dir``, sorted (``a/b.proto``)."""
    root = Path(proto_dir)
    if not root.is_dir():
        raise ProtoError("proto_dir is not a folder", file=proto_dir)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto") if p.is_file())


def _include_dirs(cfg: GrpcConfig) -> list[str]:
    dirs = [cfg.proto_dir] if cfg.proto_dir else []
    dirs += [p for p in cfg.include_paths if p]
    wkt = well_known_dir()
    if wkt is not None:
        dirs.append(str(wkt))
    return [str(Path(d).resolve()) for d in dirs if d]


def cache_key(cfg: GrpcConfig) -> str:
    """sha256 over every input file's name and content (protos under the proto folder and include
    paths, descriptor sets), the on_error mode and the grpcio-tools version."""
    h = hashlib.sha256(_CACHE_VERSION)
    h.update(cfg.on_error.encode())
    try:
        h.update(importlib.metadata.version("grpcio-tools").encode())
    except importlib.metadata.PackageNotFoundError:
        pass
    roots = [cfg.proto_dir] if cfg.proto_dir else []
    roots += list(cfg.include_paths)
    for i, root in enumerate(roots):
        h.update(f"\0root{i}\0".encode())
        base = Path(root)
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*.proto")):
            h.update(p.relative_to(base).as_posix().encode() + b"\0")
            h.update(p.read_bytes())
    for ds in cfg.descriptor_sets:
        h.update(b"\0set\0" + ds.encode())
        try:
            h.update(Path(ds).read_bytes())
        except OSError:
            pass
    return h.hexdigest()


def parse_protoc_error(stderr: str, include_dirs: list[str]) -> ProtoError:
    """The first error protoc printed, as one ``ProtoError`` with file and line."""
    m = _PROTOC_LINE.search(stderr)
    if m is not None:
        return ProtoError(
            m.group("msg").strip(),
            file=_disk_path(m.group("file"), include_dirs),
            where=f"line {m.group('line')}, column {m.group('col')}",
        )
    m = _PROTOC_FILE.search(stderr)
    if m is not None:
        return ProtoError(m.group("msg").strip(), file=_disk_path(m.group("file"), include_dirs))
    first = next((ln for ln in stderr.splitlines() if ln.strip()), "protoc failed without a message")
    return ProtoError(first.strip())


def _disk_path(name: str, include_dirs: list[str]) -> str:
    if os.path.isabs(name):
        return name
    for d in include_dirs:
        candidate = Path(d) / name
        if candidate.is_file():
            return str(candidate)
    return name


async def run_protoc(files: list[str], include_dirs: list[str]) -> bytes:
    """Compile ``files`` (virtual names) in a subprocess; the descriptor set's bytes."""
    with tempfile.TemporaryDirectory(prefix="mockforge-protoc-") as tmp:
        out = os.path.join(tmp, "set.pb")
        args = [sys.executable, "-m", "grpc_tools.protoc", *(f"-I{d}" for d in include_dirs)]
        args += ["--include_imports", f"--descriptor_set_out={out}", *files]
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        stderr = err.decode("utf-8", "replace")
        if proc.returncode != 0:
            raise parse_protoc_error(stderr, include_dirs)
        try:
            return Path(out).read_bytes()
        except OSError:
            raise ProtoError(f"protoc wrote no descriptor set: {stderr.strip()}") from None


def _merge_sets(parts: list[bytes]) -> bytes:
    """Join several FileDescriptorSets, keeping the first file of each name, dependencies first."""
    from google.protobuf import descriptor_pb2

    by_name: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for raw in parts:
        fds = descriptor_pb2.FileDescriptorSet.FromString(raw)
        for fdp in fds.file:
            by_name.setdefault(fdp.name, fdp)
    out = descriptor_pb2.FileDescriptorSet()
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in done or name not in by_name or name in trail:
            return
        fdp = by_name[name]
        for dep in fdp.dependency:
            visit(dep, (*trail, name))
        done.add(name)
        out.file.append(fdp)

    for name in by_name:
        visit(name, ())
    data: bytes = out.SerializeToString()
    return data


def _read_descriptor_set(path: str) -> bytes:
    from google.protobuf import descriptor_pb2
    from google.protobuf.message import DecodeError

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ProtoError(f"cannot read descriptor set: {exc.strerror}", file=path) from None
    try:
        descriptor_pb2.FileDescriptorSet.FromString(raw)
    except DecodeError as exc:
        raise ProtoError(f"not a FileDescriptorSet: {exc}", file=path) from None
    return raw


async def load_descriptor_set(cfg: GrpcConfig, *, cache_dir: str | None = None) -> CompileResult:
    """Compile ``proto_dir`` and load ``descriptor_sets`` into one set (cached by content)."""
    key = cache_key(cfg)
    cache_file = Path(cache_dir) / f"grpc-{key[:32]}.pb" if cache_dir else None
    inputs = find_protos(cfg.proto_dir) if cfg.proto_dir else []
    if cache_file is not None and cache_file.is_file():
        try:
            return CompileResult(cache_file.read_bytes(), inputs, [], cached=True)
        except OSError:
            pass
    parts: list[bytes] = []
    warnings: list[str] = []
    if inputs:
        include = _include_dirs(cfg)
        if cfg.on_error == "skip":
            for name in inputs:
                try:
                    parts.append(await run_protoc([name], include))
                except ProtoError as exc:
                    msg = f"skipped {exc}"
                    log.warning("%s", msg)
                    warnings.append(msg)
        else:
            parts.append(await run_protoc(inputs, include))
    for path in cfg.descriptor_sets:
        parts.append(_read_descriptor_set(path))
    merged = _merge_sets(parts) if parts else b""
    if cache_file is not None and not warnings:
        _write_cache(cache_file, merged)
    return CompileResult(merged, inputs, warnings)


def _write_cache(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("descriptor cache not written to %s: %s", path, exc)
