"""Guest stdout/stderr, captured in memory and bounded while the guest writes.

Why: WASI output used to go to per-thread capture files that wasmtime wrote in full, and the 4 KiB
cap was applied when reading them back: a guest looping on ``fd_write`` filled the disk (2.45 GB
in /tmp in the issue 12 reproduction) before its fuel or wall-clock limit stopped it, and the
files outlived a server that died. wasmtime-py offers files, inheriting the host's streams, or a
``stdout_custom`` Python callback; that callback is called by a tokio worker and, with
wasmtime-py 50, aborted the process at interpreter exit.

So the host shadows WASI's own ``wasi_snapshot_preview1.fd_write`` with ``fd_write`` below, a
synchronous host function like ``env.trace``: writes to fd 1 and 2 are copied into a per-call
``GuestOutput`` until ``MAX_CAPTURED_BYTES`` per stream, and only counted past that. The guest is
told every byte was written, so a writing loop runs on until fuel or the epoch deadline ends it.
Nothing is ever written to disk, so there is no capture directory to keep private or to clean
up after a crash. Any other descriptor answers ``EBADF`` (the guest has no writable file: pre-
opened ``fs_read`` directories are read-only). WASI's own stdout/stderr are left at their default,
a sink, so no other WASI call can reach a host stream.

Cost: one Python call per ``fd_write`` (a few µs) and at most 2 x 4 KiB of memory per running
call; a plugin that never writes pays nothing. At most ``MAX_IOVECS`` iovecs are read per call
(POSIX ``IOV_MAX``), so a hostile ``iovs_len`` cannot make one host call run long.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

#: Guest stdout + stderr kept per stream and call (the rest is dropped and counted).
MAX_CAPTURED_BYTES = 4096
#: Most iovecs one ``fd_write`` may pass (POSIX IOV_MAX); more answer ``EINVAL``.
MAX_IOVECS = 1024

# WASI preview 1 errno values.
ERRNO_SUCCESS = 0
ERRNO_BADF = 8
ERRNO_FAULT = 21
ERRNO_INVAL = 28

_U32 = struct.Struct("<I")


class GuestOutput:
    """What one call wrote to stdout (fd 1) and stderr (fd 2): the first ``cap`` bytes of
    each, and how many bytes were dropped after them."""

    __slots__ = ("cap", "dropped", "kept")

    def __init__(self, cap: int = MAX_CAPTURED_BYTES) -> None:
        self.cap = cap
        self.kept = {1: bytearray(), 2: bytearray()}
        self.dropped = {1: 0, 2: 0}

    def room(self, fd: int) -> int:
        return self.cap - len(self.kept[fd])

    def add(self, fd: int, data: bytes, total: int) -> None:
        """Keep ``data`` (at most ``room(fd)`` bytes) out of ``total`` bytes written."""
        self.kept[fd] += data
        self.dropped[fd] += total - len(data)

    def text(self, fd: int) -> str:
        """The kept text of ``fd`` for the log, with a note of the bytes dropped."""
        text = self.kept[fd].decode("utf-8", "replace").rstrip()
        dropped = self.dropped[fd]
        return text + (f" [... {dropped} bytes dropped]" if dropped else "")


class OutputSlot(threading.local):
    """The ``GuestOutput`` of the call running on this thread (host functions run on the
    calling thread, so a thread-local is the per-call state)."""

    current: GuestOutput | None = None


def fd_write(slot: OutputSlot, caller: Any, fd: int, iovs: int, iovs_len: int, nwritten: int) -> int:
    """WASI ``fd_write(fd, iovs, iovs_len, nwritten_ptr) -> errno`` into ``slot.current``."""
    out = slot.current
    if out is None or fd not in (1, 2):
        return ERRNO_BADF
    if not 0 <= iovs_len <= MAX_IOVECS:
        return ERRNO_INVAL
    mem = caller["memory"]
    size = mem.data_len(caller)
    iovs &= 0xFFFFFFFF
    nwritten &= 0xFFFFFFFF
    if iovs + 8 * iovs_len > size or nwritten + 4 > size:
        return ERRNO_FAULT
    table = bytes(mem.read(caller, iovs, iovs + 8 * iovs_len))
    total = 0
    kept = bytearray()
    room = out.room(fd)
    for i in range(iovs_len):
        ptr, length = struct.unpack_from("<II", table, 8 * i)
        if ptr + length > size:
            return ERRNO_FAULT
        take = min(length, room - len(kept))
        if take > 0:
            kept += bytes(mem.read(caller, ptr, ptr + take))
        total += length
    # The guest sees a whole write; a 32-bit count saturates like a short write would.
    total = min(total, 0xFFFFFFFF)
    out.add(fd, bytes(kept), total)
    mem.write(caller, _U32.pack(total), nwritten)
    return ERRNO_SUCCESS
