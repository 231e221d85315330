"""File access confinement: which files a stub, fixture, HAR import or plugin may read, and how.

Why: a stub added through the admin API names a file (``response.body_file``) that mockforge later
reads and sends to whoever asks; a plugin manifest names the module to run and folders the guest
may read; fixture files are named from request values. Without a bound, any of these reads
``/etc/passwd``, ``/proc/self/environ`` (the admin token), or blocks a thread forever on a FIFO or
``/dev/zero``. ``FileRoots`` is the one place that decides, so every caller refuses the same things
with the same one-line reasons.

The rule: a path resolves (``os.path.realpath``, so ``..`` and symlinks are followed first) inside
one of the roots, and names a regular file. The roots are fixed at start-up (``from_config``): the
config file's folder (the current directory when there is none), ``core.file_roots``, and the
folders the config names for mockforge's own files (``http.stubs_dir``, ``core.fixtures.dir`` when
fixtures are on, ``plugins.dirs``/``plugins.load``): those are chosen by the user who runs the server. ``/proc``,
``/sys`` and ``/dev`` are refused even inside a root (``/proc`` files claim to be regular).

``check`` runs when a path is accepted (a stub added, a manifest loaded) and gives a clear error
then; ``read`` checks again at every read, because the file may have been swapped for a FIFO or a
symlink since: it opens with ``O_NONBLOCK | O_NOFOLLOW`` (a FIFO cannot block the open, a final
symlink fails the open), ``fstat``s the descriptor (regular files only), on Linux checks where the
descriptor really points (``/proc/self/fd``, closing the race between resolving and opening), and
reads at most ``max_read_bytes`` (+1 byte to tell "too large"; a file whose size already says so
is not read at all). Cost: a realpath (one ``lstat`` per path component), an open, an ``fstat``
and a ``readlink`` per read; callers run reads off the event loop (``asyncio.to_thread`` or an
executor), never on it.

    roots = FileRoots.from_config(cfg)
    path = roots.check("data/pet.json", base=Path("stubs"), what="body_file")   # FileAccessError
    body = roots.read(path)                                   # FileAccessError, FileTooLarge
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mockforge.errors import MockforgeError

if TYPE_CHECKING:
    from mockforge.config import Config

#: ``http.max_response_bytes``'s default: the largest file read to answer with.
DEFAULT_MAX_READ_BYTES = 10 * 1024 * 1024
#: Pseudo file systems: never read, whatever the roots say.
SPECIAL_DIRS = ("/proc", "/sys", "/dev")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 256 * 1024
_FD_LINKS = sys.platform.startswith("linux") and os.path.isdir("/proc/self/fd")


class FileAccessError(MockforgeError):
    """A path mockforge will not read: outside the roots, not a regular file, missing, unreadable."""

    kind = "file"

    def __init__(self, message: str, *, path: str, file: str | None = None, where: str | None = None) -> None:
        self.path = path
        super().__init__(message, file=file, where=where)


class FileMissing(FileAccessError):
    """The path does not exist (a fixture not recorded yet, a body_file deleted since)."""


class FileTooLarge(FileAccessError):
    """The file is over the read limit; nothing past the limit was read."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _inside(real: str, root: str) -> bool:
    return real == root or real.startswith(root if root.endswith(os.sep) else root + os.sep)


def _special(real: str) -> bool:
    return any(_inside(real, d) for d in SPECIAL_DIRS)


def read_regular_file(path: str | Path, limit: int | None = None, *, what: str = "file") -> bytes:
    """Read a regular file without following a final symlink or blocking on a FIFO; at most
    ``limit`` bytes (``FileTooLarge`` beyond). No root check: for paths the local user named (CLI)."""
    text = str(path)
    return _read_fd(_open_regular(text, what), text, limit, what, roots=None)


def _open_regular(real: str, what: str) -> int:
    try:
        return os.open(real, _OPEN_FLAGS)
    except (FileNotFoundError, NotADirectoryError):
        raise FileMissing(f"{what} {real} not found", path=real) from None
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):
            raise FileAccessError(f"{what} {real} is a symlink (changed since it was checked)", path=real) from None
        raise FileAccessError(f"cannot read {what} {real}: {exc.strerror}", path=real) from None


def _read_fd(fd: int, shown: str, limit: int | None, what: str, roots: FileRoots | None) -> bytes:
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileAccessError(f"{what} {shown} is {_kind(st.st_mode)}, not a regular file", path=shown)
        if roots is not None and _FD_LINKS:
            try:
                real = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                real = ""
            if real and (not roots.contains(real) or _special(real)):
                raise FileAccessError(f"{what} {shown} now resolves outside the allowed folders", path=shown)
        if limit is not None and st.st_size > limit:
            raise FileTooLarge(f"{what} {shown} is larger than the limit of {limit} bytes", path=shown)
        want = limit + 1 if limit is not None else None
        chunks: list[bytes] = []
        got = 0
        while want is None or got < want:
            chunk = os.read(fd, _CHUNK if want is None else min(_CHUNK, want - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if limit is not None and got > limit:
            raise FileTooLarge(f"{what} {shown} is larger than the limit of {limit} bytes", path=shown)
        return b"".join(chunks)
    except OSError as exc:
        raise FileAccessError(f"cannot read {what} {shown}: {exc.strerror}", path=shown) from None
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class FileRoots:
    """The folders files may be read from (real paths, fixed at start-up) and the read cap."""

    roots: tuple[str, ...]
    max_read_bytes: int = DEFAULT_MAX_READ_BYTES
    #: What an error names as the source of the roots (kept short, one line).
    hint: str = field(default="the config's folder and core.file_roots", compare=False)

    @classmethod
    def of(cls, roots: Iterable[str | Path], max_read_bytes: int = DEFAULT_MAX_READ_BYTES) -> FileRoots:
        seen: list[str] = []
        for r in roots:
            real = os.path.realpath(os.path.expanduser(str(r)))
            if real not in seen:
                seen.append(real)
        return cls(tuple(seen), max_read_bytes)

    @classmethod
    def default(cls) -> FileRoots:
        """The current directory only (no config file, no ``core.file_roots``)."""
        return cls.of([os.getcwd()])

    @classmethod
    def from_config(cls, cfg: Config) -> FileRoots:
        """The config file's folder (or the current directory), ``core.file_roots`` and the folders
        the config names for stubs, fixtures and plugins; reads capped at ``http.max_response_bytes``."""
        # the loader made the paths of a config file absolute; a relative one left (a default such
        # as ./fixtures) is used relative to the current directory, so it is rooted there too
        cwd = os.getcwd()
        base = os.path.dirname(os.path.realpath(cfg.source)) if cfg.source else cwd
        roots: list[str] = [base, *(_rooted(r, cwd) for r in cfg.core.file_roots)]
        if cfg.http.stubs_dir:
            roots.append(_rooted(cfg.http.stubs_dir, cwd))
        if cfg.core.fixtures.mode != "off":
            roots.append(_rooted(cfg.core.fixtures.dir, cwd))
        roots.extend(_rooted(d, cwd) for d in cfg.plugins.dirs)
        for entry in cfg.plugins.load:
            p = _rooted(entry, cwd)
            roots.append(p if not p.endswith((".yaml", ".yml")) else os.path.dirname(p))
        return cls.of(roots, cfg.http.max_response_bytes)

    def with_roots(self, extra: Iterable[str | Path]) -> FileRoots:
        more = FileRoots.of(extra)
        return FileRoots(
            (*self.roots, *(r for r in more.roots if r not in self.roots)), self.max_read_bytes, self.hint
        )

    def contains(self, real: str) -> bool:
        """Is the real path ``real`` inside a root? (O(number of roots) string checks.)"""
        return any(_inside(real, root) for root in self.roots)

    # ---- checks ------------------------------------------------------------------------------
    def _resolve(self, path: str | Path, base: str | Path | None, what: str) -> tuple[str, str]:
        text = os.path.expanduser(str(path))
        if "\x00" in text:
            raise FileAccessError(f"{what} {text!r} contains a NUL byte", path=text)
        if not os.path.isabs(text):
            text = os.path.join(str(base) if base is not None else os.getcwd(), text)
        text = os.path.normpath(text)
        real = os.path.realpath(text)
        if _special(real) or not self.contains(real):
            shown = text if real == text else f"{text} (resolves to {real})"
            raise FileAccessError(
                f"{what} {shown} is outside the folders mockforge may read ({self.hint}: "
                f"{', '.join(self.roots)})",
                path=text,
            )
        return text, real

    def check(self, path: str | Path, *, base: str | Path | None = None, what: str = "file") -> str:
        """The absolute path of a regular file inside the roots (``base`` anchors a relative path);
        ``FileAccessError`` naming ``what`` and the path otherwise. Keeps the path as given (not
        the real one) so that ``read`` resolves it again."""
        text, real = self._resolve(path, base, what)
        try:
            st = os.stat(real)
        except FileNotFoundError:
            raise FileMissing(f"{what} {text} not found", path=text) from None
        except OSError as exc:
            raise FileAccessError(f"cannot read {what} {text}: {exc.strerror}", path=text) from None
        if not stat.S_ISREG(st.st_mode):
            raise FileAccessError(f"{what} {text} is {_kind(st.st_mode)}, not a regular file", path=text)
        return text

    def check_dir(self, path: str | Path, *, base: str | Path | None = None, what: str = "folder") -> str:
        """Like ``check`` for a folder; returns its real path (what a sandbox is given)."""
        text, real = self._resolve(path, base, what)
        if not os.path.isdir(real):
            raise FileAccessError(f"{what} {text} is not a directory", path=text)
        return real

    def read(self, path: str | Path, *, limit: int | None = -1, what: str = "file") -> bytes:
        """The bytes of the regular file ``path`` after checking it again (see the module
        docstring); at most ``max_read_bytes`` unless ``limit`` says otherwise (``None``: no cap,
        the file's size bounds it). Blocking: call it off the event loop."""
        _, real = self._resolve(path, None, what)
        cap = self.max_read_bytes if limit == -1 else limit
        return _read_fd(_open_regular(real, what), str(path), cap, what, self)


def _rooted(path: str, base: str) -> str:
    p = os.path.expanduser(path)
    return p if os.path.isabs(p) else os.path.join(base, p)
