"""The wasmtime side of plugins: one lazy process-wide engine, an epoch ticker, a compiled-module
cache, and ``Sandbox.call`` which runs one ABI call under the manifest's limits.

Why hand-written: wasmtime-py gives the primitives (Store limits, fuel, epochs, WASI) but no
plugin host. ``wasmtime`` is imported only inside ``engine()``: importing it and creating the
Engine costs about 18 MB and 2 threads (reference/python-stack.md section 5), which a server
without plugins must not pay (DESIGN.md rule 3).

    sandbox = Sandbox(manifest, cache_dir=".mockforge-cache")    # compiles, checks exports
    out: bytes = sandbox.call("generate_response", b'{"request": ...}')   # raises CallFailure

Each call gets a fresh ``Store`` and instance: the guest keeps no state between requests, a
trapped instance is never reused, and the memory a bump allocator took is given back. The
measured cost of that is in docs/PLUGINS.md.

Limits per call: ``StoreLimits`` (memory_mb, one memory, one instance), fuel reset to the
manifest's value (``fuel: 0`` means no fuel limit), and an epoch deadline of ``timeout_ms``: a
daemon ticker thread, started with the engine, advances the engine's epoch every ``TICK_MS``
while at least one call is running (it sleeps on a condition when none is).

Guest stdout/stderr never reach a file: ``guest_output.fd_write`` shadows WASI's ``fd_write`` and
keeps at most 4 KiB per stream in memory while the guest writes (why: see that module).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import struct
import threading
import time
from pathlib import Path
from typing import Any

from mockforge.errors import PluginError
from mockforge.plugins.guest_output import MAX_CAPTURED_BYTES, GuestOutput, OutputSlot, fd_write
from mockforge.plugins.manifest import ENTRY_POINTS, Manifest

log = logging.getLogger("mockforge.plugins")

#: Epoch tick in milliseconds: the wall-clock limit's resolution.
TICK_MS = 2
#: Largest output a guest may return.
MAX_OUTPUT_BYTES = 1024 * 1024
#: Fuel given when the manifest turns fuel off (``fuel: 0``): effectively unlimited.
UNLIMITED_FUEL = 2**63 - 1
WASI_MODULE = "wasi_snapshot_preview1"
#: Host functions offered under ``env`` (AssemblyScript's runtime imports these).
ENV_IMPORTS = ("abort", "trace", "seed")

_MIB = 1024 * 1024
_engine: Any = None
_ticker: EpochTicker | None = None
_engine_lock = threading.Lock()


class CallFailure(Exception):
    """A plugin call failed; ``reason`` is one short line for the error response."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EpochTicker(threading.Thread):
    """Advances the engine's epoch every ``TICK_MS`` while calls run; counts its ticks."""

    def __init__(self, engine: Any) -> None:
        super().__init__(name="mockforge-wasm-epoch", daemon=True)
        self._engine = engine
        self._cond = threading.Condition()
        self._active = 0
        self.ticks = 0

    def enter(self) -> None:
        with self._cond:
            self._active += 1
            self._cond.notify()

    def leave(self) -> None:
        with self._cond:
            self._active -= 1

    def run(self) -> None:
        tick_s = TICK_MS / 1000
        while True:
            with self._cond:
                while self._active == 0:
                    self._cond.wait()
            # Catch up on oversleeping so that the deadline follows the real clock.
            start = time.monotonic()
            time.sleep(tick_s)
            n = max(1, int((time.monotonic() - start) / tick_s))
            for _ in range(n):
                self._engine.increment_epoch()
            self.ticks += n


def engine() -> Any:
    """The process-wide ``wasmtime.Engine``, created (and its ticker started) on first use."""
    global _engine, _ticker
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                import wasmtime

                cfg = wasmtime.Config()
                cfg.consume_fuel = True
                cfg.epoch_interruption = True
                cfg.parallel_compilation = False
                eng = wasmtime.Engine(cfg)
                ticker = EpochTicker(eng)
                ticker.start()
                _ticker = ticker
                _engine = eng
    return _engine


def ticker() -> EpochTicker:
    engine()
    assert _ticker is not None
    return _ticker


def engine_created() -> bool:
    return _engine is not None


def _cache_key(wasm: bytes) -> str:
    import wasmtime

    version = getattr(wasmtime, "__version__", "") or _wasmtime_version()
    h = hashlib.sha256()
    h.update(f"wasmtime={version};fuel;epoch;seq\n".encode())
    h.update(wasm)
    return h.hexdigest()


def _wasmtime_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wasmtime")
    except PackageNotFoundError:
        return "unknown"


def read_wasm(path: Path) -> bytes:
    """The module's binary; a ``.wat`` entry is assembled first."""
    import wasmtime

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PluginError(f"cannot read module: {exc.strerror}", file=str(path)) from None
    if path.suffix == ".wat":
        try:
            return bytes(wasmtime.wat2wasm(data.decode("utf-8")))
        except (wasmtime.WasmtimeError, UnicodeDecodeError) as exc:
            raise PluginError(f"not valid WAT: {_first_line(exc)}", file=str(path)) from None
    return data


def compile_module(path: Path, cache_dir: str | None = None) -> Any:
    """Compile (or load from ``cache_dir``) the module at ``path``; raises ``PluginError``.

    Cached artefacts are written by this process under ``<cache_dir>/wasm/<sha256>.cwasm``;
    wasmtime trusts them on load, so the cache directory must not be writable by others.
    """
    import wasmtime

    eng = engine()
    wasm = read_wasm(path)
    cache_file = None
    if cache_dir:
        cache_file = Path(cache_dir) / "wasm" / f"{_cache_key(wasm)}.cwasm"
        if cache_file.is_file():
            try:
                return wasmtime.Module.deserialize_file(eng, str(cache_file))
            except wasmtime.WasmtimeError:
                log.warning("ignoring unreadable compiled-module cache %s", cache_file)
    try:
        module = wasmtime.Module(eng, wasm)
    except wasmtime.WasmtimeError as exc:
        raise PluginError(f"not a valid WebAssembly module: {_first_line(exc)}", file=str(path)) from None
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(bytes(module.serialize()))
            os.replace(tmp, cache_file)
        except OSError as exc:
            log.warning("cannot write compiled-module cache %s: %s", cache_file, exc.strerror)
    return module


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def module_problems(module: Any, manifest: Manifest) -> tuple[list[str], bool]:
    """What in ``module`` breaks the ABI or the manifest's limits, and whether it imports WASI."""
    import wasmtime

    problems: list[str] = []
    exports = {e.name: e.type for e in module.exports}
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    mem = exports.get("memory")
    if not isinstance(mem, wasmtime.MemoryType):
        problems.append("missing export 'memory' (a linear memory)")
    else:
        initial = mem.limits.min * mem.page_size
        if initial > manifest.capabilities.memory_mb * _MIB:
            problems.append(
                f"the initial memory ({initial // 1024} KiB) is larger than "
                f"capabilities.memory_mb ({manifest.capabilities.memory_mb} MB)"
            )
    _check_func(problems, exports, "alloc", [i32], [i32])
    if "dealloc" in exports:
        _check_func(problems, exports, "dealloc", [i32, i32], [])
    for kind in manifest.kinds:
        _check_func(problems, exports, ENTRY_POINTS[kind], [i32, i32], [i64], f" (needed by kind '{kind}')")
    uses_wasi = False
    for imp in module.imports:
        if imp.module == WASI_MODULE:
            uses_wasi = True
        elif not (
            imp.module == "env" and imp.name in ENV_IMPORTS and isinstance(imp.type, wasmtime.FuncType)
        ):
            problems.append(
                f"imports '{imp.module}.{imp.name}', which the host does not provide "
                f"(allowed: {WASI_MODULE}.*, env.abort, env.trace, env.seed)"
            )
    return problems, uses_wasi


def _check_func(
    problems: list[str],
    exports: dict[str, Any],
    name: str,
    params: list[Any],
    results: list[Any],
    why: str = "",
) -> None:
    import wasmtime

    ty = exports.get(name)
    if ty is None:
        problems.append(f"missing export '{name}'{why}")
    elif not isinstance(ty, wasmtime.FuncType) or list(ty.params) != params or list(ty.results) != results:
        want = f"({', '.join(str(p) for p in params)}) -> ({', '.join(str(r) for r in results)})"
        problems.append(f"export '{name}' must be a function {want}")


class Sandbox:
    """A compiled, checked plugin module and the limits to run it under."""

    def __init__(self, manifest: Manifest, *, cache_dir: str | None = None) -> None:
        import wasmtime

        self.manifest = manifest
        self.module = compile_module(manifest.entry_path, cache_dir)
        problems, self.uses_wasi = module_problems(self.module, manifest)
        if problems:
            raise PluginError("; ".join(problems), file=str(manifest.entry_path))
        caps = manifest.capabilities
        self._memory_bytes = caps.memory_mb * _MIB
        self._fuel = caps.fuel or UNLIMITED_FUEL
        self._deadline_ticks = math.ceil(caps.timeout_ms / TICK_MS) + 1
        self._fs_read = [str(p) for p in manifest.fs_read_paths()]
        self._env = [(k, os.environ[k]) for k in caps.env if k in os.environ]
        self._linker = wasmtime.Linker(engine())
        self._output = OutputSlot()
        if self.uses_wasi:
            self._linker.define_wasi()
            self._define_fd_write(wasmtime)
        self._define_env(wasmtime)
        self._log = logging.getLogger(f"mockforge.plugins.{manifest.id}")

    def close(self) -> None:
        """Nothing to release: no capture files exist, and the module is freed with this object."""

    def _define_fd_write(self, wasmtime: Any) -> None:
        """Shadow WASI's ``fd_write`` with the bounded in-memory capture of ``guest_output``."""
        i32 = wasmtime.ValType.i32()
        slot = self._output

        def write(caller: Any, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
            return fd_write(slot, caller, fd, iovs, iovs_len, nwritten)

        self._linker.allow_shadowing = True
        self._linker.define_func(
            WASI_MODULE, "fd_write", wasmtime.FuncType([i32] * 4, [i32]), write, access_caller=True
        )
        self._linker.allow_shadowing = False

    def _define_env(self, wasmtime: Any) -> None:
        i32 = wasmtime.ValType.i32()

        def abort(caller: Any, msg: int, file: int, line: int, col: int) -> None:
            text = _as_string(caller, msg) or "abort"
            where = _as_string(caller, file)
            raise wasmtime.Trap(f"abort: {text}" + (f" at {where}:{line}:{col}" if where else ""))

        def trace(caller: Any, msg: int, n: int, *args: float) -> None:
            self._log.info("trace: %s %s", _as_string(caller, msg), list(args[:n]))

        self._linker.define_func("env", "abort", wasmtime.FuncType([i32] * 4, []), abort, access_caller=True)
        f64 = wasmtime.ValType.f64()
        self._linker.define_func(
            "env", "trace", wasmtime.FuncType([i32, i32] + [f64] * 5, []), trace, access_caller=True
        )
        self._linker.define_func(
            "env", "seed", wasmtime.FuncType([], [f64]), lambda: float(time.time_ns() % 2**52)
        )

    def call(self, entry: str, payload: bytes) -> bytes:
        """Run ``entry`` with ``payload`` (UTF-8 JSON) in a fresh instance; returns the output bytes."""
        import wasmtime

        store = wasmtime.Store(engine())
        store.set_limits(
            memory_size=self._memory_bytes, instances=1, tables=4, memories=1, table_elements=100_000
        )
        store.set_fuel(self._fuel)
        store.set_epoch_deadline(self._deadline_ticks)
        output = None
        if self.uses_wasi:
            # stdout/stderr stay at WASI's default sink; fd_write is ours (see _define_fd_write)
            wasi = wasmtime.WasiConfig()
            output = self._output.current = GuestOutput(MAX_CAPTURED_BYTES)
            for d in self._fs_read:
                wasi.preopen_dir(d, d, fs_mutable=False)
            if self._env:
                wasi.env = self._env
            store.set_wasi(wasi)
        tick = ticker()
        tick.enter()
        memory = None
        try:
            instance = self._linker.instantiate(store, self.module)
            exports: Any = instance.exports(store)
            memory = exports["memory"]
            ptr = exports["alloc"](store, len(payload))
            if ptr < 0 or ptr + len(payload) > memory.data_len(store):
                raise CallFailure(f"alloc returned an invalid pointer {ptr}")
            memory.write(store, payload, ptr)
            packed = exports[entry](store, ptr, len(payload)) & 0xFFFFFFFFFFFFFFFF
            out_ptr, out_len = packed >> 32, packed & 0xFFFFFFFF
            if out_len > MAX_OUTPUT_BYTES:
                raise CallFailure(f"output too large ({out_len} bytes, limit {MAX_OUTPUT_BYTES})")
            if out_ptr + out_len > memory.data_len(store):
                raise CallFailure(f"output pointer {out_ptr}+{out_len} is outside the guest memory")
            return bytes(memory.read(store, out_ptr, out_ptr + out_len))
        except wasmtime.Trap as exc:
            raise CallFailure(self._trap_reason(exc, store, memory)) from None
        except wasmtime.WasmtimeError as exc:
            text = _first_line(exc)
            if "memory" in text and ("limit" in text or "minimum" in text):
                text = f"memory limit of {self.manifest.capabilities.memory_mb} MB exceeded ({text})"
            raise CallFailure(text) from None
        finally:
            tick.leave()
            if output is not None:
                self._output.current = None
                for stream, fd in (("stdout", 1), ("stderr", 2)):
                    if output.kept[fd] or output.dropped[fd]:
                        self._log.info("guest %s: %s", stream, output.text(fd))

    def _trap_reason(self, exc: Any, store: Any, memory: Any) -> str:
        import wasmtime

        code = exc.trap_code
        caps = self.manifest.capabilities
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return f"fuel exhausted ({caps.fuel} units)"
        if code == wasmtime.TrapCode.INTERRUPT:
            return f"timed out after {caps.timeout_ms} ms"
        msg = _trap_message(exc.message)
        if memory is not None and memory.data_len(store) + 65536 > self._memory_bytes:
            return f"memory limit of {caps.memory_mb} MB reached ({msg})"
        return f"trap: {msg}"


def _trap_message(text: str) -> str:
    """The cause of a trap without the backtrace ("wasm `unreachable` instruction executed")."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if "Caused by:" in lines:
        cause = lines[lines.index("Caused by:") + 1 :]
        if cause:
            return re.sub(r"^\d+:\s*", "", cause[0]).removeprefix("wasm trap: ")
    return lines[0] if lines else "trap"


def _as_string(caller: Any, ptr: int) -> str:
    """Read an AssemblyScript string (UTF-16, byte length at ``ptr - 4``) from the guest."""
    if ptr <= 4:
        return ""
    try:
        mem = caller["memory"]
        size = struct.unpack("<I", bytes(mem.read(caller, ptr - 4, ptr)))[0]
        if size > 4096:
            size = 4096
        return bytes(mem.read(caller, ptr, ptr + size)).decode("utf-16-le", "replace")
    except Exception:  # best effort: a diagnostic must not hide the abort itself
        return ""
