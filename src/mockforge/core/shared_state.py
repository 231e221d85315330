"""The seam between the core services and a store shared by replicas (docs/SHARED_STATE.md).

With ``core.shared_state: memory`` (the default) there is no shared store: the services keep
their in-process stores (``core/stubs.py``, ``core/scenarios.py``, ``core/request_log.py``) and
nothing here is called, so the default costs nothing. With a Redis URL, ``services.build_services``
builds ``mockforge.shared.redis_state.RedisSharedState``, which implements ``SharedState``; the
core and the adapters only see this Protocol, so none of them imports Redis.

What stays local either way (the hot path): the stub index and its compiled matchers (kept
current from the shared store's change channel), the spec routes, and the request log ring,
which the shared store copies to Redis off the answer path. What waits on the shared store: a
stub with ``times`` or a scenario rule (one atomic script per answer) and every admin call.

    shared = services.shared                  # SharedState | None
    await shared.put_stubs(stubs)             # SharedUnavailable -> the admin API answers 503
    taken = await shared.consume(candidates)  # index, -1, or None when unreachable
    log = await shared.log_view()             # a RequestLog over the whole shared log
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from mockforge.core.request_log import RequestLog
from mockforge.core.stub_model import Stub

__all__ = ["SharedState", "SharedUnavailable", "WsFanout"]


class SharedUnavailable(Exception):
    """The shared store cannot be reached now; ``reason`` says why (one line)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Delivers a WebSocket push received from another replica to this replica's connections:
#: ``(path, text, binary, connection_id) -> connections reached``.
WsDeliver = Callable[[str, str | None, bytes | None, str | None], Awaitable[int]]


class WsFanout(Protocol):
    """What the WebSocket hub needs to push to connections held by other replicas."""

    async def publish_ws(self, path: str, text: str | None, binary: bytes | None, connection_id: str | None) -> int:
        """Send the push to every other replica; how many replicas received it."""
        ...

    def on_ws(self, deliver: WsDeliver) -> None:
        """Call ``deliver`` for each push another replica publishes."""
        ...


class SharedState(WsFanout, Protocol):
    """Stubs, ``times`` counters, scenarios, miss reports and the request log kept in a store
    that every replica reads and writes. Writes raise ``SharedUnavailable`` and change nothing
    when the store cannot be reached."""

    @property
    def degraded(self) -> str | None:
        """Why the store is unreachable now (None while it is reachable)."""
        ...

    async def put_stubs(self, stubs: Sequence[Stub]) -> None: ...

    async def remove_stubs(self, ids: Sequence[str] | None) -> int:
        """Drop these stubs (None: every stub added through the API); how many were shared."""
        ...

    async def consume(self, stubs: Sequence[Stub]) -> int | None:
        """Take one answer of the first of ``stubs`` (matching candidates, best first) whose
        ``times`` and scenario rule allow it, in one atomic step across replicas: its position,
        -1 when none may answer, None when the store is unreachable (the caller decides on this
        replica)."""
        ...

    async def scenarios(self) -> dict[str, str]: ...

    async def set_scenario(self, name: str, state: str) -> None: ...

    async def reset_scenarios(self) -> None: ...

    async def log_view(self) -> RequestLog:
        """The shared log as a ``RequestLog`` (oldest first), for queries and verification."""
        ...

    async def clear_log(self) -> None: ...

    async def reports(self, kind: str) -> list[dict[str, Any]]:
        """``unmatched`` or ``near-misses``, newest last, from every replica."""
        ...

    async def clear_reports(self) -> None: ...

    async def reset(self) -> None:
        """The shared part of ``POST /__mockforge/reset``: API stubs, counters, scenarios,
        reports and the log."""
        ...

    def stats(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...
