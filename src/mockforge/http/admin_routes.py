"""The admin route table: (method, subpath) or a first segment -> handler.

It replaces the prefix chains and the lookup of an owner by name: each service contributes its
rows at start-up (``services.Services.admin_routes``) and an admin request costs two dict
lookups. It imports only the core, so services and ``admin.py`` both use it without a cycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mockforge.core.model import Request, Response

__all__ = ["AdminHandler", "AdminRoute", "AdminRoutes"]

#: An admin handler: the request and its subpath (what follows ``/__mockforge/``, no trailing
#: slash) -> the answer, or None when the subpath is not one it serves (a 404).
AdminHandler = Callable[[Request, str], Awaitable[Response | None]]


@dataclass(frozen=True, slots=True)
class AdminRoute:
    """One row of the admin route table.

    ``exact``: ``method`` and the whole subpath (``GET logs``). ``prefix``: every method and
    subpath under a first segment (``stubs`` serves ``stubs`` and ``stubs/{id}``); the handler
    answers 405 itself for a method it does not take.
    """

    method: str
    path: str
    handler: AdminHandler
    is_prefix: bool = False

    @classmethod
    def exact(cls, method: str, path: str, handler: AdminHandler) -> AdminRoute:
        return cls(method, path, handler)

    @classmethod
    def prefix(cls, head: str, handler: AdminHandler) -> AdminRoute:
        return cls("*", head, handler, is_prefix=True)


class AdminRoutes:
    """The route table: exact (method, subpath) rows first, then the first segment; two dict
    lookups per admin request. A second row for the same key is a start-up error."""

    def __init__(self, routes: list[AdminRoute]) -> None:
        self._exact: dict[tuple[str, str], AdminHandler] = {}
        self._prefix: dict[str, AdminHandler] = {}
        for route in routes:
            if route.is_prefix:
                if route.path in self._prefix:
                    raise ValueError(f"two admin handlers for /__mockforge/{route.path}/*")
                self._prefix[route.path] = route.handler
            else:
                key = (route.method, route.path)
                if key in self._exact:
                    raise ValueError(f"two admin handlers for {route.method} /__mockforge/{route.path}")
                self._exact[key] = route.handler

    def find(self, method: str, sub: str) -> AdminHandler | None:
        handler = self._exact.get((method, sub))
        if handler is None:
            handler = self._prefix.get(sub.partition("/")[0])
        return handler


