"""Admin endpoints for stubs, verification, scenarios and faults (``/__mockforge/<subpath>``).

Why hand-written: these are thin translations from HTTP to the core stores; each endpoint is a
few lines and a framework router would add more than it saves. Request bodies are JSON, or YAML
when the content type says so (``admin_guard`` has already refused any other content type with
415). Bad input answers 400 in the common error shape, naming the field.

    POST   stubs               one stub or a list -> 201 {"stubs": [...]}
    GET    stubs               {"stubs": [...]}
    DELETE stubs               removes stubs added through the API -> {"removed": n}
    GET|PUT|DELETE stubs/{id}
    POST   verify              {"request": MATCHER, "count": {...}}
    POST   verify/sequence     {"requests": [MATCHER, ...]}
    GET|DELETE near-misses, unmatched
    GET    scenarios;  POST scenarios/reset;  PUT scenarios/{name} {"state": ...}
    GET|PUT|DELETE faults      the global fault object
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol
from urllib.parse import unquote

import msgspec
import yaml

from mockforge.core.faults import FaultPolicy
from mockforge.core.files import FileRoots
from mockforge.core.limits import DEFAULT_LIMITS, DocumentLimits, LimitError, decode_document
from mockforge.core.model import Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.responses import detail, error_response, json_response
from mockforge.core.scenarios import ScenarioStates
from mockforge.core.shared_state import SharedState, SharedUnavailable
from mockforge.core.stubs import SOURCE_API, Stub, StubStore, parse_stub, parse_stubs
from mockforge.core.verification import verify, verify_sequence
from mockforge.errors import MockforgeError
from mockforge.http.admin_routes import AdminRoute


class StubsAdminContext(Protocol):
    """What the handlers need; the runtime (or a small holder) provides it (read-only)."""

    @property
    def stubs(self) -> StubStore: ...

    @property
    def scenarios(self) -> ScenarioStates: ...

    @property
    def faults(self) -> FaultPolicy: ...

    @property
    def log(self) -> RequestLog: ...

    @property
    def files(self) -> FileRoots: ...

    @property
    def document_limits(self) -> DocumentLimits: ...

    @property
    def shared(self) -> SharedState | None:
        """The store shared with other replicas (``core.shared_state``), None for this process only."""
        ...


class _BadBody(Exception):
    pass


_YAML_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _body(request: Request, limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """The body as JSON (or YAML when the content type says so), bounded like a stub file:
    nesting past ``core.max_document_depth`` or YAML aliases past ``core.max_yaml_alias_nodes``
    are a 400, before anything is parsed into a stub."""
    if not request.body.strip():
        raise _BadBody("the request body is empty")
    ctype = (request.headers.get("content-type") or "").lower()
    kind = "YAML" if "yaml" in ctype else "JSON"
    try:
        return decode_document(request.body, as_json=kind == "JSON", limits=limits, loader=_YAML_LOADER)
    except LimitError as exc:
        raise _BadBody(f"the body is refused: {exc}") from None
    except (yaml.YAMLError, msgspec.DecodeError) as exc:
        raise _BadBody(f"the body is not valid {kind}: {exc}") from None


def _invalid(exc: MockforgeError, code: str = "invalid_stub") -> Response:
    location = exc.where or "body"
    return error_response(400, code, str(exc), [detail(location, exc.message)])


def _not_allowed(request: Request, allowed: str) -> Response:
    return error_response(
        405,
        "method_not_allowed",
        f"{request.method} is not allowed on {request.path} (allowed: {allowed})",
        None,
        [("allow", allowed)],
    )


def _not_found(what: str) -> Response:
    return error_response(404, "not_found", what)


#: The first path segments ``handle`` serves (its rows in the admin route table).
HEADS = ("stubs", "verify", "near-misses", "unmatched", "scenarios", "faults")


def routes(ctx: StubsAdminContext) -> list[AdminRoute]:
    """This module's rows of the admin route table, answering from ``ctx``."""
    return [AdminRoute.prefix(head, partial(handle, ctx)) for head in HEADS]


async def handle(ctx: StubsAdminContext, request: Request, subpath: str) -> Response | None:
    """Answer ``subpath`` (what follows ``/__mockforge/``), or None when it is not ours."""
    sub = subpath.strip("/")
    head, _, rest = sub.partition("/")
    try:
        if head == "stubs":
            return await (_stubs(ctx, request, unquote(rest)) if rest else _stubs_root(ctx, request))
        if head == "verify" and rest in ("", "sequence"):
            if request.method != "POST":
                return _not_allowed(request, "POST")
            return await _verify(ctx, request, sequence=rest == "sequence")
        if sub in ("near-misses", "unmatched"):
            return await _reports(ctx, request, sub)
        if head == "scenarios":
            return await _scenarios(ctx, request, unquote(rest))
        if sub == "faults":
            return _faults(ctx, request)
    except _BadBody as exc:
        return error_response(400, "invalid_body", str(exc), [detail("body", str(exc))])
    except SharedUnavailable as exc:
        return unavailable(exc)
    return None


def _listed(stub: Stub, hits: dict[str, int]) -> dict[str, Any]:
    """A stub as the admin API lists it: its definition, ``enabled`` and the requests it answered."""
    return {**stub.to_dict(), "enabled": stub.enabled, "hits": hits.get(stub.id, 0)}


def unavailable(exc: SharedUnavailable) -> Response:
    """503 for an admin write while the shared store is unreachable (nothing was changed)."""
    message = f"{exc.reason}; nothing was changed, try again once it is back (GET /health/ready)"
    return error_response(503, "shared_state_unavailable", message, None, [("retry-after", "1")])


async def shared_log(ctx: StubsAdminContext) -> tuple[RequestLog, str | None]:
    """The log to read and what it covers when not everything: every replica's (shared), or this
    one's with the reason when the shared store is unreachable."""
    shared = ctx.shared
    if shared is None:  # independent workers: the log is one worker's, and says so (docs/SCALING.md)
        return ctx.log, ctx.log.scope
    try:
        return await shared.log_view(), None
    except SharedUnavailable as exc:
        return ctx.log, f"this replica only: {exc.reason}"


async def _stubs_root(ctx: StubsAdminContext, request: Request) -> Response:
    if request.method == "GET":
        hits = ctx.stubs.hits()
        return json_response({"stubs": [_listed(s, hits) for s in ctx.stubs.list()]})
    if request.method == "DELETE":
        if ctx.shared is not None:
            await ctx.shared.remove_stubs(None)
        return json_response({"removed": ctx.stubs.remove_api_stubs()})
    if request.method != "POST":
        return _not_allowed(request, "GET, POST, DELETE")
    data = _body(request, ctx.document_limits)
    try:
        parsed = parse_stubs(data, SOURCE_API, files=ctx.files)
    except MockforgeError as exc:
        return _invalid(exc)
    if ctx.shared is not None:  # Redis first: when it refuses, nothing changes here either
        await ctx.shared.put_stubs(parsed)
    stored = ctx.stubs.add_all(parsed)  # all validated above; stored in one step under the lock
    return json_response({"stubs": [s.to_dict() for s in stored]}, 201)


async def _stubs(ctx: StubsAdminContext, request: Request, stub_id: str) -> Response:
    current = ctx.stubs.get(stub_id)
    if request.method == "GET":
        if current is None:
            return _not_found(f"no stub with id '{stub_id}'")
        return json_response(_listed(current, ctx.stubs.hits()))
    if request.method == "DELETE":
        shared = await ctx.shared.remove_stubs([stub_id]) if ctx.shared is not None else 0
        if not ctx.stubs.remove(stub_id) and not shared:
            return _not_found(f"no stub with id '{stub_id}'")
        return json_response({"deleted": stub_id})
    if request.method != "PUT":
        return _not_allowed(request, "GET, PUT, DELETE")
    data = _body(request, ctx.document_limits)
    if isinstance(data, dict):
        data = {**data, "id": stub_id}
    try:
        stub = parse_stub(data, "", SOURCE_API, files=ctx.files)
    except MockforgeError as exc:
        return _invalid(exc)
    if current is None:
        return _not_found(f"no stub with id '{stub_id}' (POST /__mockforge/stubs creates one)")
    if ctx.shared is not None:
        await ctx.shared.put_stubs([stub])
    stored = ctx.stubs.replace(stub_id, stub)
    if stored is None:
        return _not_found(f"no stub with id '{stub_id}' (POST /__mockforge/stubs creates one)")
    return json_response(stored.to_dict())


async def _verify(ctx: StubsAdminContext, request: Request, *, sequence: bool) -> Response:
    data = _body(request, ctx.document_limits)
    if not isinstance(data, dict):
        return error_response(
            400, "invalid_body", "expected a JSON object", [detail("body", "expected an object")]
        )
    try:
        if sequence:
            patterns = data.get("requests")
            if not isinstance(patterns, list):
                return error_response(
                    400,
                    "invalid_verification",
                    'expected {"requests": [MATCHER, ...]}',
                    [detail("requests", "expected a list of request matchers")],
                )
            log, scope = await shared_log(ctx)
            out = verify_sequence(log, patterns)
        else:
            log, scope = await shared_log(ctx)
            out = verify(log, data.get("request"), data.get("count"))
    except MockforgeError as exc:
        return _invalid(exc, "invalid_verification")
    if scope is not None:
        out["scope"] = scope
    return json_response(out)


async def _reports(ctx: StubsAdminContext, request: Request, sub: str) -> Response:
    shared = ctx.shared
    if request.method == "DELETE":
        if shared is not None:
            await shared.clear_reports()
        ctx.stubs.clear_reports()
        return json_response({"cleared": True})
    if request.method != "GET":
        return _not_allowed(request, "GET, DELETE")
    key = "requests" if sub == "unmatched" else "near_misses"
    if shared is not None:
        try:
            return json_response({key: await shared.reports(sub)})
        except SharedUnavailable as exc:
            scope: dict[str, Any] = {"scope": f"this replica only: {exc.reason}"}
    else:
        scope = {}
    if sub == "unmatched":
        return json_response({"requests": ctx.stubs.unmatched(), **scope})
    return json_response({"near_misses": ctx.stubs.near_miss_log(), **scope})


async def _scenario_list(ctx: StubsAdminContext) -> dict[str, str]:
    shared = ctx.shared
    if shared is not None:
        try:
            return await shared.scenarios()
        except SharedUnavailable:
            pass  # the local mirror, as of the last event
    return ctx.scenarios.list()


async def _scenarios(ctx: StubsAdminContext, request: Request, name: str) -> Response:
    shared = ctx.shared
    if not name:
        if request.method != "GET":
            return _not_allowed(request, "GET")
        states = await _scenario_list(ctx)
        return json_response({"scenarios": [{"name": n, "state": s} for n, s in states.items()]})
    if name == "reset":
        if request.method != "POST":
            return _not_allowed(request, "POST")
        if shared is not None:
            await shared.reset_scenarios()
        ctx.scenarios.reset()
        states = await _scenario_list(ctx)
        return json_response({"scenarios": [{"name": n, "state": s} for n, s in states.items()]})
    if request.method != "PUT":
        return _not_allowed(request, "PUT")
    data = _body(request, ctx.document_limits)
    state = data.get("state") if isinstance(data, dict) else None
    if not isinstance(state, str) or not state:
        return error_response(
            400,
            "invalid_scenario",
            'expected {"state": "<name>"}',
            [detail("state", "expected a state name")],
        )
    if shared is not None:
        await shared.set_scenario(name, state)
    ctx.scenarios.set(name, state)
    return json_response({"name": name, "state": state})


def _faults(ctx: StubsAdminContext, request: Request) -> Response:
    if request.method == "GET":
        return json_response({"fault": ctx.faults.global_fault()})
    if request.method == "DELETE":
        ctx.faults.clear_global()
        return json_response({"fault": None})
    if request.method != "PUT":
        return _not_allowed(request, "GET, PUT, DELETE")
    data = _body(request, ctx.document_limits)
    try:
        spec = ctx.faults.set_global(data)
    except MockforgeError as exc:
        return _invalid(exc, "invalid_fault")
    return json_response({"fault": spec.to_dict()})
