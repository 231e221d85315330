"""Hot reload (``--watch`` / ``http.watch: true``): spec files and every file they ``$ref``, stub
files, the config's ``http.routes`` and the state seed file (``http.state.seed``) are picked up
within a second of a change.

    task = start_watching(server)     # the server does this after its listeners are up
    task.cancel()                     # stops the watcher (its thread exits within ~30 ms)

Why watchfiles and not polling: it wraps the OS notification API (inotify, FSEvents, kqueue)
in Rust and groups bursts of events, so an idle watcher costs nothing. We watch *directories*,
not files, and without recursion (only the stub folder's subfolders are added one by one):
editors save by writing a temporary file and renaming it over the original, which a watch on
the file itself would lose, and a recursive watch on a spec's folder could cover a whole
repository.

A bad edit (a YAML syntax error, a broken ``$ref``, an invalid stub) is reported once, on one
warning line naming the file and the line or JSON pointer, and the last good version keeps
serving: a spec is swapped only when the whole new model loaded, a stub file only when all of
its stubs parsed, ``http.routes`` only when every route parsed. "Once" holds because a change
is acted on only when the file's content differs from the content last acted on, so the several
events one save can produce do not repeat the warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncGenerator, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from watchfiles import Change, awatch
from watchfiles.main import FileChange

from mockforge.core.stubs import STUB_FILE_SUFFIXES, parse_config_routes
from mockforge.errors import MockforgeError

if TYPE_CHECKING:
    from mockforge.config import Config
    from mockforge.http.mock import SpecAnswerer
    from mockforge.http.stubbing import StubService
    from mockforge.openapi.model import ApiModel
    from mockforge.runtime import Runtime
    from mockforge.services import Services

log = logging.getLogger("mockforge.watch")

#: Longest wait (ms) while grouping a burst of events into one batch.
DEBOUNCE_MS = 200
#: A batch is handed over once no new event came for this long (ms); also how often the
#: watcher thread checks whether it was asked to stop.
STEP_MS = 30

_Stamp = tuple[int, int, int] | None
_MISSING = b""


class Reloadable(Protocol):
    """What the watcher needs of the server (``server.Server``): typed here so that this module
    does not import the server, which imports it (no import cycle)."""

    config: Config
    runtime: Runtime
    services: Services | None

    @property
    def spec(self) -> SpecAnswerer | None: ...

    def load_spec_model(self) -> ApiModel: ...

    def reload_spec(self, model: ApiModel) -> SpecAnswerer: ...


def start_watching(server: Reloadable) -> asyncio.Task[None]:
    """Watch what ``server`` serves from files and reload it on change, until cancelled."""
    watcher = Watcher(server)
    return asyncio.get_running_loop().create_task(watcher.run(), name="mockforge-watch")


def _real(path: str) -> str:
    return os.path.realpath(path)


def _stamp(path: str) -> _Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _digest(path: str) -> bytes:
    """A digest of the file's content (``_MISSING`` when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).digest()
    except OSError:
        return _MISSING


def _is_stub_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in STUB_FILE_SUFFIXES


class Watcher:
    """What one server watches, and how each kind of change is applied."""

    def __init__(self, server: Reloadable) -> None:
        self.server = server
        cfg = server.config
        self.config_file = _real(cfg.source) if cfg.source else None
        service: StubService | None = server.services.stubs if server.services is not None else None
        self.stubs = service
        stubs_dir = service.stubs_dir if service is not None else None
        self.stubs_dir = _real(stubs_dir) if stubs_dir and os.path.isdir(stubs_dir) else None
        self.spec_files: set[str] = self._files_of(server.spec)
        self.routes: list[dict[str, Any]] = list(cfg.http.routes)
        state = server.services.state if server.services is not None else None
        #: the state seed file: loaded again when it changes, and after a spec change
        self.seed_file = _real(state.cfg.seed) if state is not None and state.cfg.seed else None
        #: path -> digest of the content last acted on (spec files are filled on first change)
        self.digests: dict[str, bytes] = {p: _digest(p) for p in self._small_files()}
        #: path -> stat stamp before the OS watches are (re)set, to catch edits made meanwhile
        self.stamps = self._stamps_now()
        self.regrow = False

    # ---- what is watched ---------------------------------------------------------------
    def _files_of(self, spec: SpecAnswerer | None) -> set[str]:
        if spec is None:
            return set()
        return {_real(f) for f in (*spec.model.files, *spec.model.spec_files)}

    def _small_files(self) -> list[str]:
        out = [f for f in (self.config_file, self.seed_file) if f]
        if self.stubs_dir is not None:
            for root, _, names in os.walk(self.stubs_dir):
                out.extend(os.path.join(root, n) for n in names if _is_stub_file(n))
        return out

    def _stamps_now(self) -> dict[str, _Stamp]:
        return {p: _stamp(p) for p in (*self.spec_files, *self._small_files())}

    def directories(self) -> list[str]:
        dirs = {os.path.dirname(f) for f in self.spec_files}
        for single in (self.config_file, self.seed_file):
            if single:
                dirs.add(os.path.dirname(single))
        if self.stubs_dir is not None:
            dirs.update(root for root, _, _ in os.walk(self.stubs_dir))
        return sorted(d for d in dirs if os.path.isdir(d))

    def _under_stubs(self, path: str) -> bool:
        return self.stubs_dir is not None and path.startswith(self.stubs_dir + os.sep)

    def wanted(self, change: Change, path: str) -> bool:
        """The watchfiles filter: our files, and anything under the stub folder (new folders too)."""
        return (
            path in self.spec_files or path == self.config_file or path == self.seed_file or self._under_stubs(path)
        )

    # ---- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            dirs = self.directories()
            if not dirs:
                log.warning("hot reload: nothing to watch (no spec, stub folder or config file)")
                return
            self.regrow = False
            changes = awatch(*dirs, watch_filter=self.wanted, debounce=DEBOUNCE_MS, step=STEP_MS, recursive=False)
            async with contextlib.aclosing(changes):
                batch = await self._first_batch(changes)
                while batch is not None:
                    await self.apply(batch)
                    if self.regrow and self.directories() != dirs:
                        # new folders to watch (a new $ref'd file, a new stub folder): start a
                        # new watcher; edits made until it is up are found by their stamps
                        self.stamps = self._stamps_now()
                        break
                    batch = await anext(changes, None)
                if batch is None:
                    return

    async def _first_batch(self, changes: AsyncGenerator[set[FileChange], None]) -> set[FileChange] | None:
        """Start watching, then apply edits made before the OS watches were set (found by
        comparing stat stamps with those taken when watching began), then wait for a batch."""
        first = asyncio.ensure_future(anext(changes, None))
        try:
            await asyncio.sleep(0)  # the watcher's first step sets the OS watches, then waits in a thread
            await self._catch_up()
            return await first
        except BaseException:
            first.cancel()
            await asyncio.wait([first])  # the generator must be idle before it can be closed
            raise

    async def _catch_up(self) -> None:
        stale = [(Change.modified, p) for p, st in self.stamps.items() if _stamp(p) != st]
        self.stamps.clear()
        if stale:
            await self.apply(set(stale))

    async def apply(self, batch: Iterable[tuple[Change, str]]) -> None:
        """Apply one batch of changes: spec once, config once, each stub file once, the seed file
        once (after the spec: a new spec may name the resources the seeds are for)."""
        spec_changed = False
        config_changed = False
        seed_changed = False
        stub_files: set[str] = set()
        for change, path in batch:
            if path in self.spec_files:
                spec_changed |= self._differs(path)
            if path == self.config_file:
                config_changed |= self._differs(path)
            if path == self.seed_file:
                seed_changed |= self._differs(path)
            if self._under_stubs(path):
                stub_files.update(self._stub_paths(change, path))
        if spec_changed:
            seed_changed |= await self.reload_spec()
        if seed_changed:
            await self.reload_seed()
        # Parsing and compiling stubs takes about 0.2 ms each (10,000 stubs: 2 s): done in a
        # thread so that the loop keeps answering; the store swaps a file's stubs under its lock.
        if config_changed:
            await asyncio.to_thread(self.reload_routes)
        for path in sorted(stub_files):
            if self._differs(path) and self.stubs is not None:
                await asyncio.to_thread(self.stubs.reload_file, path)

    def _differs(self, path: str) -> bool:
        """True (and remembered) when ``path``'s content is not what was last acted on."""
        digest = _digest(path)
        if self.digests.get(path) == digest:
            return False
        self.digests[path] = digest
        return True

    def _stub_paths(self, change: Change, path: str) -> list[str]:
        """The stub files one event touches: the file itself, or every stub file of a folder
        that appeared or went away (which also changes the set of folders watched)."""
        if _is_stub_file(path) and not os.path.isdir(path):
            return [path]
        if os.path.isdir(path):
            self.regrow = True
            return [
                os.path.join(root, n) for root, _, names in os.walk(path) for n in names if _is_stub_file(n)
            ]
        if change == Change.deleted:
            self.regrow = True
            prefix = path + os.sep
            return [p for p in self.digests if p.startswith(prefix)]
        return []

    # ---- reloading -----------------------------------------------------------------------
    async def reload_spec(self) -> bool:
        """True when the new spec serves now."""
        server = self.server
        try:
            model = await asyncio.to_thread(server.load_spec_model)
            answerer = server.reload_spec(model)
        except MockforgeError as exc:
            log.warning("spec not reloaded, the last good version keeps serving: %s", exc)
            return False
        except Exception as exc:  # a bug of ours must not stop the watcher or the old spec
            log.warning("spec not reloaded, the last good version keeps serving: %s: %s", type(exc).__name__, exc)
            return False
        for warning in model.warnings:
            log.warning("%s", warning)
        files = self._files_of(answerer)
        if files != self.spec_files:
            self.regrow = True
        self.spec_files = files
        log.info("spec reloaded: %d operations from %d files", len(model.operations), len(files))
        return True

    async def reload_seed(self) -> None:
        """Store the seed file's documents again (StateService.reload_seed logs a bad file)."""
        state = self.server.services.state if self.server.services is not None else None
        if state is not None:
            await state.reload_seed()

    def reload_routes(self) -> None:
        from mockforge.config import load_config

        assert self.config_file is not None
        try:
            cfg = load_config(self.server.config.source)
        except MockforgeError as exc:
            log.warning("config not reloaded, the last good http.routes keep serving: %s", exc)
            return
        routes = list(cfg.http.routes)
        if routes == self.routes or self.stubs is None:
            return
        _, problems = parse_config_routes(routes)
        if problems:
            where = self.server.config.source
            log.warning("http.routes not reloaded from %s, the last good ones keep serving: %s", where, problems[0])
            return
        self.stubs.load_config_routes(routes)
        self.routes = routes
        log.info("http.routes reloaded: %d routes", len(routes))
