"""``MockServer.state("pets")``: seed, read and clear a stored resource from Python.

    with MockServer({"http": {"state": {"mode": "on"}}}, spec="api.yaml") as mock:
        mock.state("pets").seed([{"id": 1, "name": "rex"}])
        httpx.get(mock.url + "/pets/1", headers=mock.state_headers)   # the same namespace
        mock.state("pets").items(), mock.state("pets").clear()

Each call runs on the server's loop (``MockServer._on_loop``), so it never races an answer. The
namespace is the server's (``MockServer.namespace``: the pytest ``mockforge`` fixture gives each
test its own, ``mockforge_session`` one per worker) unless one is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockforge.state.inference import Resource
    from mockforge.state.service import StateService

__all__ = ["StateHandle"]


class StateHandle:
    """One resource of a running server's state, in one namespace."""

    def __init__(
        self, service: StateService, resource: str, namespace: str, on_loop: Callable[[Callable[[], Any]], Any]
    ) -> None:
        res = service.by_name.get(resource)
        if res is None:
            known = ", ".join(sorted(r.name for r in service.plan.resources)) or "none inferred"
            raise KeyError(f"no resource {resource!r} (known: {known})")
        self._svc = service
        self.resource: Resource = res
        self.namespace = namespace
        self._on_loop = on_loop

    def seed(self, docs: list[dict[str, Any]]) -> int:
        """Store each object (each must carry the id field); how many were stored."""
        return int(self._on_loop(lambda: self._svc.seed(self.resource, docs, self.namespace, strict=True)))

    def items(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = self._on_loop(
            lambda: self._svc.store.items(self.namespace, self.resource.collection)
        )
        return out

    def clear(self) -> int:
        return int(self._on_loop(lambda: self._svc.store.clear(self.namespace, self.resource.collection)))

    def __repr__(self) -> str:
        return f"StateHandle({self.resource.name!r}, namespace={self.namespace!r})"
