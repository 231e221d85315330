"""``MockServer.state("pets")``: seed, read and clear a stored resource from Python.

    with MockServer({"http": {"state": {"mode": "on"}}}, spec="api.yaml") as mock:
        mock.state("pets").seed([{"id": 1, "name": "rex"}])
        httpx.get(mock.url + "/pets/1", headers=mock.state_headers)   # the same namespace
        mock.state("pets").items(), mock.state("pets").clear()

    async with MockServer(...) as mock:                  # on the test's own loop
        await mock.state("pets").aseed([...])            # the async forms work with every store
        mock.state("pets").items()                       # the plain ones with the memory store

Each call runs on the server's loop (``MockServer._await_on_loop``), so it never races an
answer. The namespace is the server's (``MockServer.namespace``: the pytest ``mockforge``
fixture gives each test its own, ``mockforge_session`` one per worker) unless one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from mockforge.state.store import MemoryStore

if TYPE_CHECKING:
    from mockforge.state.inference import Resource
    from mockforge.state.service import StateService

__all__ = ["StateHandle"]

T = TypeVar("T")


class _Runner(Protocol):
    def __call__(self, make: Callable[[], Coroutine[Any, Any, T]], *, suspends: bool) -> T: ...


class StateHandle:
    """One resource of a running server's state, in one namespace."""

    def __init__(self, service: StateService, resource: str, namespace: str, run: _Runner) -> None:
        res = service.by_name.get(resource)
        if res is None:
            known = ", ".join(sorted(r.name for r in service.plan.resources)) or "none inferred"
            raise KeyError(f"no resource {resource!r} (known: {known})")
        self._svc = service
        self.resource: Resource = res
        self.namespace = namespace
        self._run = run
        #: the memory store's calls never suspend: they also run synchronously on the loop itself
        self._suspends = not isinstance(service.store, MemoryStore)

    async def aseed(self, docs: list[dict[str, Any]]) -> int:
        """Store each object (each must carry the id field); how many were stored."""
        return await self._svc.seed(self.resource, docs, self.namespace, strict=True)

    async def aitems(self) -> list[dict[str, Any]]:
        return await self._svc.store.items(self.namespace, self.resource.collection)

    async def aclear(self) -> int:
        return await self._svc.store.clear(self.namespace, self.resource.collection)

    def seed(self, docs: list[dict[str, Any]]) -> int:
        """``aseed`` from a test's thread."""
        return self._run(lambda: self.aseed(docs), suspends=self._suspends)

    def items(self) -> list[dict[str, Any]]:
        return self._run(self.aitems, suspends=self._suspends)

    def clear(self) -> int:
        return self._run(self.aclear, suspends=self._suspends)

    def __repr__(self) -> str:
        return f"StateHandle({self.resource.name!r}, namespace={self.namespace!r})"
