"""The answer preview and the operation list behind the console's Spec page.

    POST /__mockforge/preview          {method, path, query, headers, body} -> what would answer
    GET  /__mockforge/spec/operations  each operation: answer kind, validation mode, Prefer choices

A preview asks each step of the HTTP pipeline, in the order ``services.build_services`` puts
them (stubs, recorded fixtures, state, spec route, 404), what it *would* do, through a
side-effect-free method of each: ``StubStore.peek`` (no ``times`` consumed, no scenario moved),
``FixtureService.preview`` (no upstream call, no usage time), ``StateService.preview`` (writes
are described, not applied), ``SpecAnswerer.preview`` (no fault drawn, no latency slept, no
plugin called). The 404 lists near misses without recording the request as unmatched. The
admin API's own answers are never logged, so a preview leaves no log entry and no metric.

Why hand-written: this is a dry run of our own pipeline; there is nothing to reuse.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mockforge.core.limits import JsonTooDeep
from mockforge.core.model import Headers, Request, Response
from mockforge.core.responses import detail, error_response, json_response
from mockforge.core.stubs import near_miss_details
from mockforge.http.admin_routes import AdminRoute
from mockforge.http.stubbing import calls_plugin_functions

if TYPE_CHECKING:
    from mockforge.openapi.model import Operation
    from mockforge.services import Services

__all__ = ["AnswerPreview", "routes"]

log = logging.getLogger("mockforge.http")

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$")
_PARAM = re.compile(r"\{([^}/]+)\}")
#: Header and query pairs a preview request may carry (the admin body size bounds them too).
MAX_PAIRS = 200
#: Fixture modes that answer from recorded files (``record`` only writes them).
REPLAY_MODES = ("replay", "replay_strict", "record_missing")


def routes(services: Services) -> list[AdminRoute]:
    preview = AnswerPreview(services)
    return [
        AdminRoute.exact("POST", "preview", lambda r, _s: preview.handle(r)),
        AdminRoute.exact("GET", "spec/operations", lambda _r, _s: preview.operations()),
    ]


def _pairs(value: Any, where: str) -> list[tuple[str, str]] | dict[str, str]:
    """``{name: value | [values]}`` or ``[[name, value], ...]`` as pairs; a dict with the
    location of the problem on bad input."""
    pairs: list[tuple[str, str]] = []
    if value is None:
        return pairs
    if isinstance(value, dict):
        items: list[Any] = []
        for k, v in value.items():
            items.extend([k, x] for x in (v if isinstance(v, list) else [v]))
    elif isinstance(value, list):
        items = value
    else:
        return detail(where, "expected an object or a list of [name, value] pairs")
    if len(items) > MAX_PAIRS:
        return detail(where, f"at most {MAX_PAIRS} entries")
    for i, item in enumerate(items):
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            return detail(f"{where}[{i}]", "expected [name, value] with a string name")
        name, val = item
        if where.endswith("headers") and not _TOKEN.match(name):
            return detail(f"{where}[{i}]", "a header name is a token (letters, digits, !#$%&'*+.^_`|~-)")
        if isinstance(val, bool) or not isinstance(val, str | int | float):
            return detail(f"{where}.{name}", "expected a string value")
        pairs.append((name, str(val)))
    return pairs


def parse_preview_request(data: Any, *, max_target: int = 8 * 1024,
                          max_head: int = 64 * 1024) -> Request | list[dict[str, str]]:
    """The ``Request`` a preview body describes, or the problems (error details). ``max_target``
    and ``max_head`` are the wire's bounds (``http.max_request_line_bytes``, ``max_header_bytes``):
    a request no client could send is refused, not matched at the cost of a megabyte path."""
    if not isinstance(data, dict):
        return [detail("body", "expected a JSON object {method, path, query, headers, body}")]
    problems: list[dict[str, str]] = []
    method = data.get("method", "GET")
    if not isinstance(method, str) or len(method) > 32 or not _TOKEN.match(method):
        problems.append(detail("body.method", "expected an HTTP method name"))
        method = "GET"
    path = data.get("path")
    raw_query = ""
    if not isinstance(path, str) or not path.startswith("/") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in path):
        problems.append(detail("body.path", "expected a path starting with '/' (no spaces or control characters)"))
        path = "/"
    else:
        path, _, raw_query = path.partition("?")
    if path.startswith("/__mockforge"):
        problems.append(detail("body.path", "admin paths are not previewed"))
    query = _pairs(data.get("query"), "body.query")
    headers = _pairs(data.get("headers"), "body.headers")
    for got in (query, headers):
        if isinstance(got, dict):
            problems.append(got)
    body_value = data.get("body")
    body = b""
    content_type: str | None = None
    if isinstance(body_value, str):
        body = body_value.encode()
    elif body_value is not None:
        from mockforge.core.responses import encode_json

        try:
            body = encode_json(body_value)
        except TypeError:
            problems.append(detail("body.body", "cannot be sent as JSON"))
        content_type = "application/json"
    if problems or isinstance(query, dict) or isinstance(headers, dict):
        return problems
    if query:
        extra = urlencode(query)
        raw_query = f"{raw_query}&{extra}" if raw_query else extra
    if len(path.encode()) + len(raw_query.encode()) > max_target:
        return [detail("body.path", f"path and query are longer than http.max_request_line_bytes ({max_target}); "
                                    "the real request would get 414")]
    if sum(len(k) + len(v.encode()) + 4 for k, v in headers) > max_head:
        return [detail("body.headers", f"the headers are larger than http.max_header_bytes ({max_head}); "
                                       "the real request would get 431")]
    hdrs = Headers(headers)
    if content_type and "content-type" not in hdrs:
        hdrs.add("content-type", content_type)
    return Request(protocol="http", method=method.upper(), path=path, raw_query=raw_query, headers=hdrs,
                   body=body, client="preview")


def _sample_path(template: str, op: Operation) -> str:
    """A concrete path for a route template: each ``{param}`` gets its example, else ``1``."""
    examples: dict[str, str] = {}
    for p in op.parameters:
        if p.location == "path" and isinstance(p.example, str | int | float) and not isinstance(p.example, bool):
            examples[p.name] = str(p.example)
    return _PARAM.sub(lambda m: examples.get(m.group(1), "1"), template)


class AnswerPreview:
    """Runs the preview over the typed services (see the module docstring)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        http = self.services.stubs.runtime.config.http
        parsed = parse_preview_request(request.json(), max_target=http.max_request_line_bytes,
                                       max_head=http.max_header_bytes)
        if isinstance(parsed, list):
            return error_response(400, "invalid_preview", "invalid preview request", parsed)
        try:
            return json_response(await self.preview(parsed))
        except JsonTooDeep as exc:  # the previewed body: the real request gets this 400 too
            answer = error_response(exc.status, exc.code, exc.message, [detail("body", exc.message)])
            return json_response(self._failed(parsed, answer, "the request body nests too deep"))
        except Exception:  # what a real request would meet as a 500 (app.py logs it the same way)
            log.exception("preview of %s %s failed", parsed.method, parsed.path)
            answer = error_response(500, "internal_error", "mockforge failed to answer this request; see its log")
            return json_response(self._failed(parsed, answer, "building the answer failed; see the server log"))

    def _failed(self, request: Request, answer: Response, note: str) -> dict[str, Any]:
        return {"request": {"method": request.method, "path": request.path, "query": request.query},
                "source": "error", "answered_by": "", "response": self._response(answer), "validation": None,
                "rules": None, "steps": [], "notes": [note]}

    def _response(self, resp: Response) -> dict[str, Any]:
        cap = self.services.stubs.runtime.config.http.max_response_bytes
        body = resp.body[:cap]
        out: dict[str, Any] = {
            "status": resp.status,
            "headers": [[k, v] for k, v in resp.headers],
            "truncated": len(resp.body) > cap,
        }
        try:
            out["body"] = body.decode("utf-8")
            out["body_encoding"] = "utf-8"
        except UnicodeDecodeError:
            out["body"] = base64.b64encode(body).decode()
            out["body_encoding"] = "base64"
        if resp.transport_fault:
            out["transport_fault"] = resp.transport_fault
        return out

    async def preview(self, request: Request) -> dict[str, Any]:
        services = self.services
        stubs = services.stubs
        out: dict[str, Any] = {
            "request": {"method": request.method, "path": request.path, "query": request.query},
            "source": "",
            "answered_by": "",
            "response": None,
            "validation": None,
            "rules": None,
            "steps": [],
            "notes": [],
        }
        steps: list[dict[str, str]] = out["steps"]
        notes: list[str] = out["notes"]
        cfg = stubs.runtime.config
        if services.plugins is not None and cfg.plugins.filters:
            notes.append("request filters (plugins.filters) are not run in a preview")

        # ---- stubs
        match = stubs.store.peek(request)
        if match is not None:
            stub = match.stub
            request.path_params = match.path_params
            steps.append({"step": "stubs", "result": f"stub {stub.id} matches"})
            out.update(source="stub", answered_by=f"stub:{stub.id}", stub=stub.to_dict())
            definition = stub.response
            out["rules"] = {
                "latency": {"fixed_ms": definition.delay_ms} if definition.delay_ms else None,
                "fault": {"origin": f"stub:{stub.id}", **definition.fault.to_dict()} if definition.fault else None,
            }
            if stub.validate and services.spec.current is not None:
                checked = services.spec.current.check_route(request)
                if checked is not None:
                    out["validation"] = {"mode": checked.mode, "problems": checked.problems}
                    if checked.answer is not None:
                        out["response"] = self._response(checked.answer)
                        notes.append("the stub has validate: true and the request does not match its spec route")
                        return out
            if definition.plugin:
                notes.append(f"plugin '{definition.plugin}' answers this stub; plugins are not run in a preview")
            elif stubs.plugins is not None and calls_plugin_functions(definition):
                notes.append("the stub's templates call plugin functions; plugins are not run in a preview")
            else:
                expand = stubs.expand

                def build() -> Response:
                    return match.build_response(request, expand=expand)

                # a body_file is read from disk: never on the event loop
                resp = await asyncio.to_thread(build) if definition.body_file is not None else build()
                out["response"] = self._response(resp)
            return out
        steps.append({"step": "stubs", "result": "no stub matches"})

        # ---- recorded fixtures / proxy
        if services.fixtures is not None:
            action, answer, info = await services.fixtures.preview(request)
            if action == "replay" and answer is not None:
                steps.append({"step": "fixtures", "result": f"fixture {info} matches"})
                out.update(source="fixture", answered_by=f"fixture:{info}", response=self._response(answer))
                return out
            if action == "strict_miss" and answer is not None:
                steps.append({"step": "fixtures", "result": f"no fixture {info}; replay_strict answers 404"})
                out.update(source="fixture", answered_by="fixture:none", response=self._response(answer))
                return out
            if action in ("proxy", "record"):
                steps.append({"step": "fixtures", "result": f"would {action} from {info}"})
                out.update(source=action, answered_by=info)
                notes.append("the upstream is not called in a preview")
                return out
            steps.append({"step": "fixtures", "result": "no fixture for this request"})

        # ---- state
        if services.state is not None:
            state = await services.state.preview(request)
            if state is not None:
                resource, action, answer = state
                steps.append({"step": "state", "result": f"{action} {resource}"})
                out.update(source="state", answered_by=f"state:{resource}", state_action=action)
                if answer is not None:
                    out["response"] = self._response(answer)
                else:
                    notes.append(f"the state step would {action} a {resource}; writes are not applied in a preview")
                return out
            steps.append({"step": "state", "result": "not a stored resource"})

        # ---- spec route
        spec = services.spec.current
        closest: list[str] = []
        if spec is not None:
            route = spec.preview(request)
            notes.extend(route.notes)
            if route.operation is not None:
                op = route.operation
                steps.append({"step": "spec", "result": f"operation {op.key}"})
                out.update(
                    source="spec",
                    answered_by=op.key,
                    operation={"method": op.method, "path": op.path, "operation_id": op.operation_id},
                    validation={"mode": route.mode, "problems": route.problems},
                    rules=stubs.fault_policy.rules_for(op.operation_id, op.tags),
                )
                if route.plugin:
                    out["source"] = "plugin"
                    out["answered_by"] = f"plugin:{route.plugin}"
                if route.answer is not None:
                    out["response"] = self._response(route.answer)
                return out
            if route.answer is not None:  # 405
                steps.append({"step": "spec", "result": f"{request.method} not allowed on {route.template}"})
                out.update(source="spec", answered_by=route.template or "", response=self._response(route.answer))
                return out
            closest = route.closest
            steps.append({"step": "spec", "result": "no route matches"})

        # ---- 404, with the near misses (not recorded as unmatched)
        details = near_miss_details(await asyncio.to_thread(stubs.store.near_misses, request))
        details.extend(detail("route", f"closest route: {r}") for r in closest)
        path = request.path  # cut as the real 404 cuts it (core.max_near_miss_input_bytes)
        cap = cfg.core.max_near_miss_input_bytes
        if len(path) > cap:
            path = f"{path[:cap]}... ({len(path)} characters)"
        answer = error_response(404, "not_found", f"no stub or route matches {request.method} {path}", details)
        out.update(source="not_found", response=self._response(answer))
        return out

    # ---- the Spec page's operation list
    async def operations(self) -> Response:
        services = self.services
        spec = services.spec.current
        if spec is None:
            return json_response({"operations": [], "spec": False})
        ops = spec.operations_info()
        by_key = {op.key: op for op in spec.model.operations}
        fixtures = services.fixtures
        recorded: dict[str, int] = {}
        scanned = total = 0
        if fixtures is not None and fixtures.mode in REPLAY_MODES:
            requests, total = await fixtures.recorded_requests()
            scanned = len(requests)
            for method, path in requests:
                hit = spec.operation_of(method, path)
                if hit is not None:
                    recorded[hit.key] = recorded.get(hit.key, 0) + 1
        for info in ops:
            op = by_key.get(f"{info['method']} {info['path']}")
            if op is None:
                continue
            # what a request to this operation meets first: a stub, then a stored resource
            sample = Request(protocol="http", method=op.method, path=_sample_path(op.path, op), client="preview")
            match = services.stubs.store.peek(sample)
            if recorded.get(op.key):
                info["fixtures"] = recorded[op.key]
            if match is not None:
                info["answer"] = "stub"
                info["stub"] = match.stub.id
            elif recorded.get(op.key):
                info["answer"] = "fixture"
            elif services.state is not None and (resource := services.state.resource_of(op)) is not None:
                info["answer"] = "state"
                info["resource"] = resource
            info["sample_path"] = sample.path
        return json_response({
            "operations": ops,
            "spec": True,
            "fixtures_mode": fixtures.mode if fixtures is not None else "off",
            "fixtures_scanned": scanned,
            "fixtures_total": total,
        })
