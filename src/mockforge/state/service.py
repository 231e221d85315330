"""The state step of the HTTP pipeline (after recorded fixtures, before the spec answer) and the
service the admin API and ``MockServer.state`` use.

    step = StateService(runtime.config.http.state, model, seed=..., validation=..., tail=...)
    await step.start()            # seeds: the spec's examples, then the seed file
    await step.answer(request)    # a Response for a resource operation it can answer, else None

Per request: one route lookup (the compiled ``RouteTable``), one dict lookup from the operation
to its resource and role (decided once), then one store call or two. What ``None`` means: the
request is not for an inferred resource, or (mode ``on``) its id is unknown, so the spec step
answers as it always did. Mode ``strict`` answers the documented 404 for unknown ids and a
missing parent, and refuses invalid writes whatever the validation mode says.

Answers go through the same ``AnswerTail`` as stubs and spec routes (faults, latency). The
changes a request made are kept on it (``request.state_changes``) for its log entry.
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, encode_json, error_response
from mockforge.openapi.error_answers import ErrorAnswers, problems_header, refusal_statuses
from mockforge.openapi.model import ApiModel, Operation, Schema
from mockforge.openapi.responses import ResponsePlanner
from mockforge.openapi.routes import Matched, RouteTable
from mockforge.openapi.validation import RequestValidator
from mockforge.schema.generate import DataGenerator
from mockforge.state.inference import Plan, Resource, infer
from mockforge.state.patch import PatchError, json_patch, merge_patch
from mockforge.state.render import Shapes, documented, json_schema
from mockforge.state.store import MemoryStore, StateStore, StoreFull, StoreUnavailable

if TYPE_CHECKING:
    from mockforge.config import StateConfig, ValidationConfig
    from mockforge.core.pipeline import AnswerTail

__all__ = ["StateService"]

log = logging.getLogger("mockforge.state")
DEFAULT_NS = "default"
_JSON = [("content-type", "application/json")]
_PAGE_SIZE = ("limit", "per_page", "pageSize", "page_size", "perPage", "size", "count", "maxResults")
#: characters that would not survive as one path segment of ``Location``
_UNSAFE_ID = re.compile(r"[/?#%\s]")
_TOTALS = ("total", "count", "total_count", "totalCount", "totalItems", "total_items")


def _target(request: Request) -> str:
    return f"{request.path}?{request.raw_query}" if request.raw_query else request.path


def _int(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


class StateService:
    """Stored resources of one spec, answered from a store (see the module docstring)."""

    def __init__(
        self,
        cfg: StateConfig,
        model: ApiModel,
        *,
        seed: int | None,
        validation: ValidationConfig,
        tail: AnswerTail | None = None,
        store: StateStore | None = None,
    ) -> None:
        self.cfg = cfg
        self.strict = cfg.mode == "strict"
        self.header = cfg.namespace_header.lower()
        self.store: StateStore = store or _open_store(cfg)
        self.validation = validation
        self.tail = tail
        self.seed_value = seed
        self._use(model)
        #: snapshot id -> store dump (the admin API's; kept here so that every handler sees them)
        self.snapshots: OrderedDict[str, Any] = OrderedDict()
        self.snapshot_ids = itertools.count(1)

    async def start(self) -> None:
        """Seed the default namespace (the spec's examples, then ``http.state.seed``); a bad
        seed file raises ``ConfigError`` naming it."""
        if self.cfg.seed_from_examples:
            await self.seed_from_examples()
        if self.cfg.seed:
            await self.seed_file(self.cfg.seed)

    def _use(self, model: ApiModel) -> None:
        """Everything decided from the spec, once (at start and on a hot reload)."""
        self.model = model
        self.plan: Plan = infer(model, self.cfg.resources)
        self.routes = RouteTable(model.operations)
        self.validator = RequestValidator(model.defs)
        self.shapes = Shapes(DataGenerator(model.defs, seed=self.seed_value))
        # its own planner for error bodies only: the spec step's already checked the examples at start
        self.errors = ErrorAnswers(ResponsePlanner(model, seed=self.seed_value, check_examples=False))
        ops: dict[int, tuple[Resource, str]] = {}
        by_name: dict[str, Resource] = {}
        for r in self.plan.resources:
            by_name.setdefault(r.name, r)
            by_name[r.collection] = r
        for op in model.operations:
            path = op.path.rstrip("/") or "/"
            for r in self.plan.resources:
                if path == r.collection:
                    ops[id(op)] = (r, "collection")
                elif path == r.item:
                    ops[id(op)] = (r, "item")
        self._by_item = {r.item: r for r in self.plan.resources}
        self.by_name = by_name
        self._ops = ops

    def reload(self, model: ApiModel) -> None:
        """A new spec (``--watch``): infer again and keep what is stored. The watcher then calls
        ``reload_seed`` (after a spec change, and when the seed file alone changed)."""
        self._use(model)

    async def reload_seed(self) -> int:
        """Load the seed file again (``--watch``); a bad one is logged and the stored state kept
        (a reload never stops the server). How many documents were stored."""
        from mockforge.errors import MockforgeError

        if not self.cfg.seed:
            return 0
        try:
            n = await self.seed_file(self.cfg.seed)
        except MockforgeError as exc:
            log.error("state: seed file not reloaded, the stored state is kept: %s", exc)
            return 0
        log.info("state: seed file %s reloaded: %d resources", self.cfg.seed, n)
        return n

    async def aclose(self) -> None:
        await self.store.aclose()

    # ---- addressing

    @staticmethod
    def bucket(res: Resource, params: dict[str, str]) -> str:
        out = res.collection
        for p in res.parents:
            out = out.replace("{" + p + "}", params.get(p, ""))
        return out

    async def _parent_missing(self, ns: str, res: Resource, params: dict[str, str]) -> bool:
        parent_item = res.collection.rsplit("/", 1)[0]
        parent = self._by_item.get(parent_item)
        if parent is None:
            return False
        key = params.get(parent.item_param, "")
        return await self.store.get(ns, self.bucket(parent, params), key) is None

    # ---- the step

    def _route(self, request: Request) -> tuple[Matched, Resource, str] | None:
        """The spec route and the stored resource (with its role) a request reaches, or None."""
        match = self.routes.match(request.method, _target(request), request.headers)
        if not isinstance(match, Matched):
            return None
        hit = self._ops.get(id(match.operation))
        return None if hit is None else (match, *hit)

    async def answer(self, request: Request) -> Response | None:
        routed = self._route(request)
        if routed is None:
            return None
        match, res, role = routed
        op = match.operation
        params = match.params
        ns = request.headers.get(self.header) or DEFAULT_NS
        try:
            if self.strict and res.parents and await self._parent_missing(ns, res, params):
                response: Response | None = self._not_found(op, res, "parent")
            else:
                response = await self._decide(request, op, res, role, ns, params)
        except StoreUnavailable as exc:  # a shared store (Redis) that is gone: nothing was changed
            return error_response(503, "state_unavailable", str(exc), None, [("retry-after", "1")])
        if response is None:
            return None
        request.route = match.template
        request.path_params = params
        if self.tail is None:
            return response
        done = response
        return await self.tail.finish(request, lambda: done, operation_id=op.operation_id, tags=op.tags)

    async def preview(self, request: Request) -> tuple[str, str, Response | None] | None:
        """What ``answer`` would do, changing nothing: ``(resource, action, answer)`` where
        ``action`` is read, list, create, replace, update, delete or not_found and ``answer`` is
        the response for reads and refusals (None for a write: it is not applied in a preview);
        None when the state step would not answer (``POST /__mockforge/preview``). The store is
        read first; values filled in for missing required fields are then rendered without
        moving the seeded generator (no await inside, so no request can interleave)."""
        routed = self._route(request)
        if routed is None:
            return None
        match, res, role = routed
        op = match.operation
        params = match.params
        ns = request.headers.get(self.header) or DEFAULT_NS
        method = request.method
        if self.strict and res.parents and await self._parent_missing(ns, res, params):
            with self.shapes.gen.kept_sequence():
                return res.name, "not_found", self._not_found(op, res, "parent")
        bucket = self.bucket(res, params)
        if role == "collection":
            if method == "GET":
                items = await self.store.items(ns, bucket)
                with self.shapes.gen.kept_sequence():
                    return res.name, "list", self._list_answer(request, op, res, items)
            return (res.name, "create", None) if method == "POST" else None
        key = params.get(res.item_param, "")
        old = await self.store.get(ns, bucket, key)
        if old is None and not (method == "PUT" and "201" in op.responses):
            if not self.strict:
                return None
            with self.shapes.gen.kept_sequence():
                return res.name, "not_found", self._not_found(op, res, key)
        if method in ("GET", "HEAD"):
            with self.shapes.gen.kept_sequence():
                return res.name, "read", self._doc_answer(op, res, old, "")
        action = {"DELETE": "delete", "PUT": "replace", "PATCH": "update"}.get(method)
        return (res.name, action, None) if action else None

    def resource_of(self, op: Operation) -> str | None:
        """The inferred resource an operation reads or writes (None: the spec answers it)."""
        hit = self._ops.get(id(op))
        return hit[0].name if hit is not None else None

    async def _decide(
        self, request: Request, op: Operation, res: Resource, role: str, ns: str, params: dict[str, str]
    ) -> Response | None:
        bucket = self.bucket(res, params)
        method = request.method
        if method in ("GET", "HEAD", "DELETE"):  # writes are checked with their bodies below
            refused = self._refuse(request, op, params, write=False)
            if refused is not None:
                return refused
        if role == "collection":
            if method == "POST":
                return await self._create(request, op, res, ns, bucket, params)
            if method == "GET":
                return await self._list(request, op, res, ns, bucket)
            return None
        key = params.get(res.item_param, "")
        old = await self.store.get(ns, bucket, key)
        if old is None and not (method == "PUT" and "201" in op.responses):
            return self._not_found(op, res, key) if self.strict else None
        if method in ("GET", "HEAD"):
            return self._doc_answer(op, res, old, "")
        if method == "DELETE":
            gone = await self.store.delete(ns, bucket, key)
            if gone is None:  # deleted by a concurrent request meanwhile
                return self._not_found(op, res, key) if self.strict else None
            self._changed(request, "delete", ns, bucket, key)
            status, spec = documented(op, "204")
            if status == 204 or json_schema(spec) is None:
                return Response(status=status, source="state")
            return self._doc_answer(op, res, gone, "")
        if method in ("PUT", "PATCH"):
            return await self._write(request, op, res, ns, bucket, key, old, params)
        return None

    # ---- answers

    def _doc_answer(
        self, op: Operation, res: Resource, doc: Any, prefer: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        status, spec = documented(op, prefer)
        body = self._item_body(res, json_schema(spec), doc)
        return Response(status=status, headers=[*_JSON, *(headers or [])], body=encode_json(body), source="state")

    def _item_body(self, res: Resource, schema: Schema | None, doc: Any) -> Any:
        """One stored item as the documented answer: the ``oneOf``/``anyOf`` alternative meant
        for one item, and the item put back in its wrapper (``{"droplet": {...}}``) when the
        resource has one; the wrapper's other properties (``links``...) are generated."""
        wrapper = res.wrapper
        if schema is None:
            return {wrapper: doc} if wrapper else doc
        branch = self.shapes.branch(schema, wrapper)
        sub = self.shapes.props(branch).get(wrapper) if wrapper else None
        if wrapper is None or sub is None:
            return self.shapes.render(doc, branch)
        base = self.shapes.gen.generate(branch)
        env: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
        env[wrapper] = self.shapes.render(doc, sub)
        return env

    def _not_found(self, op: Operation, res: Resource, key: str) -> Response:
        """The documented 404 (its schema's body, the summary in its text fields), else ours."""
        what = "its parent" if key == "parent" else f"{res.id_field} {key!r}"
        summary = f"no {res.name} with {what}"
        documented = self.errors.answer(op, (404,), summary, [detail("path", summary)], source="state")
        if documented is not None:
            return documented
        resp = error_response(404, "not_found", summary)
        resp.source = "state"
        return resp

    def _refuse(
        self, request: Request, op: Operation, params: dict[str, str], *, patch: bool = False, write: bool = True
    ) -> Response | None:
        """The validation answer (None: go on): a read or delete follows the validation mode as the
        spec route does; a write too, and strict refuses an invalid write whatever the mode."""
        strict = self.strict and write
        mode = self.validation.overrides.get(op.key, self.validation.mode)
        if mode == "off" and not strict:
            return None
        if patch:  # a patch body is checked by applying it, then the result is validated
            return None
        problems = self.validator.for_operation(op).validate(request, params)
        if not problems:
            return None
        if mode == "warn" and not strict:
            log.warning(
                "state %s %s %s does not match %s: %s",
                "write" if write else "request",
                request.method,
                request.path,
                op.key,
                "; ".join(str(p) for p in problems),
            )
            return None
        details = [detail(p.location, p.reason) for p in problems]
        summary = f"request does not match {op.key}: {details[0]['location']}: {details[0]['reason']}"
        statuses = refusal_statuses(self.validation.status, details)
        documented = self.errors.answer(op, statuses, summary, details, source="state")
        if documented is not None:
            return documented
        resp = error_response(
            self.validation.status, "validation_failed", f"request does not match {op.key}", details,
            [problems_header(details)],
        )
        resp.problems = details
        return resp

    def _body(self, request: Request, res: Resource) -> dict[str, Any] | Response:
        body = self._unwrapped(res, request.json())
        if not isinstance(body, dict):
            return error_response(
                400, "invalid_body", "a JSON object body is required", [detail("body", "not a JSON object")]
            )
        return body

    def _unwrapped(self, res: Resource, body: Any) -> Any:
        """A write that sends the item in its wrapper (``{"droplet": {...}}``) stores the item."""
        if (
            res.wrapper
            and isinstance(body, dict)
            and len(body) == 1
            and isinstance(body.get(res.wrapper), dict)
            and res.wrapper not in self.shapes.props(res.schema)
        ):
            return body[res.wrapper]
        return body

    def _with_parents(self, res: Resource, doc: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        """A nested item that has a property named for a parent's path parameter
        (``customerId`` under ``/customers/{customerId}/...``) carries the parent id of its path."""
        props = self.shapes.props(res.schema)
        for name in res.parents:
            sub = props.get(name)
            value = params.get(name)
            if isinstance(sub, dict) and value is not None:
                kind = self.shapes.flat(sub).get("type")
                doc[name] = int(value) if kind == "integer" and value.isdigit() and len(value) < 19 else value
        return doc

    async def _new_id(self, res: Resource, ns: str, bucket: str) -> tuple[Any, str]:
        if res.id_kind == "integer":
            value = await self.store.next_int(ns, bucket, 1001)
            return value, str(value)
        # a string id follows the id property's format or pattern, else the path parameter's
        # (``/floating_ips/{floating_ip}`` with ``format: ipv4``); else a uuid
        sub = next(
            (
                s
                for s in (self.shapes.props(res.schema).get(res.id_field), res.param_schema)
                if isinstance(s, dict) and (self.shapes.flat(s).get("format") or self.shapes.flat(s).get("pattern"))
            ),
            None,
        )
        if res.id_kind == "string" and sub is not None:
            for _ in range(5):
                cand = self.shapes.gen.generate(sub)
                if (
                    isinstance(cand, str)
                    and cand
                    and not _UNSAFE_ID.search(cand)
                    and await self.store.get(ns, bucket, cand) is None
                ):
                    return cand, cand
        text = str(uuid.uuid4())
        return text, text

    async def _create(
        self, request: Request, op: Operation, res: Resource, ns: str, bucket: str, params: dict[str, str]
    ) -> Response:
        refused = self._refuse(request, op, params)
        if refused is not None:
            return refused
        body = self._body(request, res)
        if isinstance(body, Response):
            return body
        sent = body.get(res.id_field)
        if (
            sent is not None
            and not self.shapes.prop_flag(res.schema, res.id_field, "readOnly")
            and isinstance(sent, (str, int))
        ):
            value: Any = sent
            key = str(sent)
        else:
            value, key = await self._new_id(res, ns, bucket)
        doc = self._with_parents(res, self.shapes.created_doc(res.schema, body), params)
        doc = self.shapes.conform(res.schema, doc)
        doc[res.id_field] = value
        try:  # only_new: the duplicate check and the write are one step of the store
            stored = await self.store.put(ns, bucket, key, doc, only_new=True)
        except StoreFull as exc:
            return error_response(507, "state_full", f"{exc}: delete resources or raise the bound")
        if not stored:
            return error_response(
                409,
                "conflict",
                f"{res.name} with {res.id_field} {key!r} exists",
                [detail(f"body.{res.id_field}", "already exists")],
            )
        self._changed(request, "create", ns, bucket, key)
        location = f"{request.path.rstrip('/')}/{key}"
        return self._doc_answer(op, res, doc, "201", [("location", location)])

    async def _write(
        self,
        request: Request,
        op: Operation,
        res: Resource,
        ns: str,
        bucket: str,
        key: str,
        old: dict[str, Any] | None,
        params: dict[str, str],
    ) -> Response:
        ctype = (request.headers.get("content-type") or "").lower()
        is_json_patch = request.method == "PATCH" and ctype.startswith("application/json-patch+json")
        patching = request.method == "PATCH"  # a patch body is partial: its result is what is checked
        refused = self._refuse(request, op, params, patch=patching)
        if refused is not None:
            return refused
        raw = request.json() if is_json_patch else self._unwrapped(res, request.json())
        if is_json_patch:
            try:
                doc = json_patch(old or {}, raw, self.cfg.max_patch_ops)
            except PatchError as exc:
                return error_response(
                    422, "patch_failed", "the JSON Patch cannot be applied", [detail(f"body{exc.where}", exc.reason)]
                )
        elif not isinstance(raw, dict):
            return error_response(
                400, "invalid_body", "a JSON object body is required", [detail("body", "not a JSON object")]
            )
        elif request.method == "PATCH":
            doc = merge_patch(old or {}, raw)
        else:
            doc = (
                self.shapes.kept(res.schema, old, raw) if old is not None else self.shapes.created_doc(res.schema, raw)
            )
        if not isinstance(doc, dict):
            return error_response(422, "patch_failed", "the patched resource is not an object")
        doc = self._with_parents(res, doc, params)
        doc[res.id_field] = old.get(res.id_field) if old is not None else self._typed_id(res, key)
        mode = self.validation.overrides.get(op.key, self.validation.mode)
        if (self.strict or (patching and mode == "enforce")) and res.schema:
            problem = self.shapes.problem(res.schema, self.shapes.render(doc, res.schema))
            if problem is not None:
                return error_response(
                    422, "invalid_resource", f"the {res.name} would not match the spec", [detail("body", problem)]
                )
        if not self.strict:  # strict refused an invalid result above; on keeps answers valid
            doc = self.shapes.conform(res.schema, doc)
        try:
            created = await self.store.put(ns, bucket, key, doc)
        except StoreFull as exc:
            return error_response(507, "state_full", f"{exc}: delete resources or raise the bound")
        self._changed(request, "create" if created else "update", ns, bucket, key)
        return self._doc_answer(op, res, doc, "201" if created else "")

    @staticmethod
    def _typed_id(res: Resource, key: str) -> Any:
        return int(key) if res.id_kind == "integer" and key.isdigit() else key

    # ---- lists

    async def _list(self, request: Request, op: Operation, res: Resource, ns: str, bucket: str) -> Response:
        return self._list_answer(request, op, res, await self.store.items(ns, bucket))

    def _list_answer(self, request: Request, op: Operation, res: Resource, items: list[dict[str, Any]]) -> Response:
        declared = {p.name for p in op.parameters if p.location == "query"}
        query = request.query
        scalars = {
            k
            for k, v in self.shapes.props(res.schema).items()
            if isinstance(v, dict) and self.shapes.flat(v).get("type") in ("string", "integer", "number", "boolean")
        }
        for name in sorted(declared & scalars & query.keys()):
            want = query[name][0]
            items = [d for d in items if name in d and _text(d[name]) == want]
        total = len(items)
        size = next(
            (n for n in (_int(query.get(k, [None])[0]) for k in _PAGE_SIZE if k in declared) if n is not None), None
        )
        start = 0
        if "offset" in declared:
            start = _int(query.get("offset", [None])[0]) or 0
        elif "cursor" in declared:
            start = _int(query.get("cursor", [None])[0]) or 0
        elif "page" in declared and size:
            page = _int(query.get("page", [None])[0]) or 1
            start = (max(page, 1) - 1) * size
        status, spec = documented(op, "200")
        schema = json_schema(spec)
        cap = self._max_items(schema, res.list_property)
        if cap is not None:
            size = min(size or cap, cap)
        items = items[start : start + size] if size else items[start:]
        body: Any
        if res.list_property and schema is not None:
            body = self._envelope(schema, res.list_property, items, total)
        else:
            item_schema = self.shapes.flat(schema).get("items") if schema is not None else None
            body = [self.shapes.render(d, item_schema) for d in items]
        return Response(status=status, headers=list(_JSON), body=encode_json(body), source="state")

    def _max_items(self, schema: Schema | None, prop: str | None) -> int | None:
        """The documented array's ``maxItems``: a page never holds more (answers stay valid)."""
        if schema is None:
            return None
        arr = self.shapes.flat(self.shapes.props(schema).get(prop, {})) if prop else self.shapes.flat(schema)
        cap = arr.get("maxItems")
        return cap if isinstance(cap, int) and cap > 0 else None

    def _envelope(self, schema: Schema, prop: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
        base = self.shapes.gen.generate(schema)
        env: dict[str, Any] = dict(base) if isinstance(base, dict) else {}
        props = self.shapes.props(schema)
        item_schema = self.shapes.flat(props.get(prop, {})).get("items")
        env[prop] = [self.shapes.render(d, item_schema) for d in items]
        for name in _TOTALS:
            sub = props.get(name)
            if name != prop and isinstance(sub, dict) and self.shapes.flat(sub).get("type") == "integer":
                env[name] = total
        return env

    # ---- seeds, changes

    async def seed_from_examples(self) -> int:
        """Objects in the collection GET's examples seed the default namespace (top-level
        collections only: a nested one has no parent id to file them under)."""
        count = 0
        for op in self.model.operations:
            hit = self._ops.get(id(op))
            if op.method != "GET" or hit is None or hit[1] != "collection" or hit[0].parents:
                continue
            res = hit[0]
            spec = op.responses.get("200")
            for media in spec.content.values() if spec else ():
                examples = [media.example, *media.examples.values()]
                for ex in examples:
                    docs = ex.get(res.list_property) if isinstance(ex, dict) and res.list_property else ex
                    if isinstance(docs, list):
                        count += await self.seed(res, docs)
        return count

    async def seed_file(self, path: str) -> int:
        """Load ``http.state.seed`` (resource name or collection path -> list of objects) into the
        default namespace; the whole file is checked first, then stored (whole or not at all).
        ``ConfigError`` names the file and the key of the first problem."""
        from mockforge.config_files import read_config_file
        from mockforge.errors import ConfigError

        data = read_config_file(path)
        plan: list[tuple[Resource, list[Any]]] = []
        for key, docs in data.items():
            res = self.by_name.get(str(key))
            if res is None:
                known = ", ".join(sorted(r.name for r in self.plan.resources)) or "none inferred"
                raise ConfigError(f"no resource {key!r} (known: {known})", file=path, where=str(key))
            if not isinstance(docs, list):
                raise ConfigError("expected a list of objects", file=path, where=str(key))
            for i, doc in enumerate(docs):
                if not isinstance(doc, dict) or not isinstance(doc.get(res.id_field), (str, int)):
                    raise ConfigError(f"an object with {res.id_field!r} is required", file=path, where=f"{key}.{i}")
            plan.append((res, docs))
        return sum([await self.seed(res, docs) for res, docs in plan])

    async def seed(
        self, res: Resource, docs: list[Any], ns: str = DEFAULT_NS, bucket: str | None = None, *, strict: bool = False
    ) -> int:
        """Store each object of ``docs`` that has an id (kept as given); how many were stored.
        Past ``max_resources`` the rest are left out (logged), or ``StoreFull`` when ``strict``."""
        n = 0
        for doc in docs:
            if isinstance(doc, dict) and isinstance(doc.get(res.id_field), (str, int)):
                try:
                    kept = self.shapes.conform(res.schema, dict(doc))
                    await self.store.put(ns, bucket or res.collection, str(doc[res.id_field]), kept)
                except StoreFull:
                    if strict:
                        raise
                    log.warning("state: seeds for %s stop at http.state.max_resources", res.collection)
                    return n
                n += 1
        return n

    @staticmethod
    def _changed(request: Request, action: str, ns: str, bucket: str, key: str) -> None:
        change = f"{action} {bucket}/{key} in {ns}"
        if request.state_changes is None:
            request.state_changes = [change]
        else:
            request.state_changes.append(change)


def _open_store(cfg: StateConfig) -> StateStore:
    if cfg.store.startswith("sqlite:///"):
        from mockforge.state.sqlite_store import SqliteStore, sqlite_path

        return SqliteStore(sqlite_path(cfg.store) or "state.db", cfg.max_resources, cfg.max_namespaces)
    return MemoryStore(cfg.max_resources, cfg.max_namespaces)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
