"""``/__mockforge/state...``: the admin rows of the state service (one prefix row, ``state``).

    GET    /__mockforge/state                              resources, counts per namespace
    DELETE /__mockforge/state[?namespace=]                 reset everything or one namespace
    GET    /__mockforge/state/{resource}[?namespace=&path=] the stored list
    PUT    /__mockforge/state/{resource}                   replace all with a JSON array
    DELETE /__mockforge/state/{resource}                   clear it
    POST   /__mockforge/state/snapshots                    -> {"id": ...}
    POST   /__mockforge/state/snapshots/{id}/restore

``{resource}`` is a resource's name (``pets``) or, URL-encoded, its collection path; ``path=``
names one scope of a nested collection (``/users/7/orders``). A PUT is checked whole before
anything is stored (each element an object with an id, within ``max_resources``): whole or not at
all. Snapshots live in memory, at most ``MAX_SNAPSHOTS`` (the oldest goes first).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, error_response, json_response
from mockforge.state.service import DEFAULT_NS, StateService
from mockforge.state.store import StoreFull, StoreUnavailable

__all__ = ["MAX_SNAPSHOTS", "StateAdmin"]

MAX_SNAPSHOTS = 16


class StateAdmin:
    """The admin handler over one ``StateService``."""

    def __init__(self, service: StateService) -> None:
        self.service = service
        self._snapshots = service.snapshots

    async def admin(self, request: Request, sub: str) -> Response | None:
        if sub.split("/")[0] != "state":
            return None
        try:
            return await self._admin(request, sub)
        except StoreUnavailable as exc:  # a shared store (Redis) that is gone: nothing was changed
            return error_response(503, "state_unavailable", str(exc), None, [("retry-after", "1")])

    async def _admin(self, request: Request, sub: str) -> Response | None:
        parts = sub.split("/")
        method = request.method
        query = request.query
        ns = query.get("namespace", [None])[0]
        svc = self.service
        if len(parts) == 1:
            if method == "GET":
                return json_response(await self.overview())
            if method == "DELETE":
                return json_response({"deleted": await svc.store.clear(ns)})
            return None
        if parts[1] == "snapshots":
            if len(parts) == 2 and method == "POST":
                return json_response({"id": await self.snapshot()}, 201)
            if len(parts) == 4 and parts[3] == "restore" and method == "POST":
                if not await self.restore(parts[2]):
                    return error_response(404, "not_found", f"no snapshot {parts[2]!r}")
                return json_response({"restored": parts[2]})
            return None
        if len(parts) != 2:
            return None
        res = svc.by_name.get(unquote(parts[1]))
        if res is None:
            known = ", ".join(sorted(r.name for r in svc.plan.resources)) or "none inferred"
            return error_response(404, "not_found", f"no resource {parts[1]!r} (known: {known})")
        bucket = query.get("path", [res.collection])[0]
        ns = ns or DEFAULT_NS
        if method == "GET":
            return json_response(await svc.store.items(ns, bucket))
        if method == "DELETE":
            return json_response({"deleted": await svc.store.clear(ns, bucket)})
        if method == "PUT":
            docs = request.json()
            if not isinstance(docs, list):
                return error_response(400, "invalid_body", "a JSON array of objects is required")
            for i, doc in enumerate(docs):
                if not isinstance(doc, dict) or not isinstance(doc.get(res.id_field), (str, int)):
                    return error_response(
                        400,
                        "invalid_body",
                        f"element {i} has no {res.id_field}",
                        [detail(f"body.{i}.{res.id_field}", "required (a string or integer)")],
                    )
            old = await svc.store.items(ns, bucket)
            await svc.store.clear(ns, bucket)
            try:
                stored = await svc.seed(res, docs, ns, bucket, strict=True)
            except StoreFull as exc:
                await svc.store.clear(ns, bucket)
                await svc.seed(res, old, ns, bucket)
                return error_response(507, "state_full", str(exc))
            return json_response({"stored": stored})
        return None

    async def overview(self) -> dict[str, Any]:
        svc = self.service
        return {
            "mode": svc.cfg.mode,
            "resources": [
                {
                    "name": r.name,
                    "collection": r.collection,
                    "item": r.item,
                    "id_field": r.id_field,
                    "id_kind": r.id_kind,
                    "list_property": r.list_property,
                    "wrapper": r.wrapper,
                }
                for r in svc.plan.resources
            ],
            "namespaces": await svc.store.counts(),
            "snapshots": list(self._snapshots),
        }

    async def snapshot(self) -> str:
        sid = str(next(self.service.snapshot_ids))
        self._snapshots[sid] = await self.service.store.dump()
        while len(self._snapshots) > MAX_SNAPSHOTS:
            self._snapshots.popitem(last=False)
        return sid

    async def restore(self, sid: str) -> bool:
        data = self._snapshots.get(sid)
        if data is None:
            return False
        await self.service.store.load(data)
        return True
