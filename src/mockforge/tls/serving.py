"""``TlsSetup``: the SSL contexts a ``Config`` asks for, made once before any listener binds,
and the reload of their certificate files under ``--watch``.

The HTTP listener (and the WebSocket listener, which takes the same settings) gets one context
with ALPN ``http/1.1``; gRPC gets its own with ALPN ``h2``. A bad file raises ``ConfigError``
naming it here, so ``mockforge serve`` exits 2 before serving anything. Reloading polls the
files' modification times (the watch is for a handful of files, so a stat each second is
cheaper and simpler than another watcher); a bad new pair is reported and the old one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field

from mockforge.config import Config
from mockforge.tls.context import ALPN_GRPC, ALPN_HTTP, ServerTls

log = logging.getLogger("mockforge.tls")

#: Seconds between two looks at the certificate files under --watch.
RELOAD_INTERVAL_S = 1.0


@dataclass
class TlsSetup:
    http: ServerTls | None = None
    grpc: ServerTls | None = None
    #: name -> TlsServer of each listener, for counters (filled by Server)
    reloads: int = 0
    reload_failures: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, cfg: Config) -> TlsSetup:
        cache = cfg.core.cache_dir
        http = ServerTls.create(cfg.http.tls, cache, alpn=ALPN_HTTP, where="http.tls") if cfg.http.tls.enabled else None
        grpc = ServerTls.create(cfg.grpc.tls, cache, alpn=ALPN_GRPC, where="grpc.tls") if cfg.grpc.tls.enabled else None
        return cls(http, grpc)

    @property
    def ca_path(self) -> str | None:
        for s in (self.http, self.grpc):
            if s is not None and s.ca_path:
                return s.ca_path
        return None

    # ---- reload ----------------------------------------------------------------------------
    def start_watching(self, interval_s: float = RELOAD_INTERVAL_S) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(interval_s))

    async def stop_watching(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, interval_s: float) -> None:
        served = [s for s in (self.http, self.grpc) if s is not None]
        seen = {id(s): _stamp(s.files) for s in served}
        while True:
            await asyncio.sleep(interval_s)
            for s in served:
                stamp = _stamp(s.files)
                if stamp != seen[id(s)]:
                    seen[id(s)] = stamp
                    self.check_reload(s)

    def check_reload(self, s: ServerTls) -> bool:
        problem = s.reload()
        if problem is None:
            self.reloads += 1
            log.info("%s: certificate reloaded from %s (new handshakes use it)", s.where, s.cert)
            return True
        self.reload_failures += 1
        log.error("%s: keeping the previous certificate: %s", s.where, problem)
        return False


def _stamp(files: list[str]) -> tuple[tuple[int, int], ...]:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)
