"""The OpenAPI step of the HTTP pipeline (its final step, ``core/pipeline.py``): route, validate,
choose the answer and render its templates; the shared tail (``AnswerTail``) then runs the
plugin or the build, the fault and the latency. Everything per operation is prepared once.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from mockforge.core.model import Request, Response
from mockforge.core.pipeline import AnswerTail, NotFound
from mockforge.core.responses import detail, error_response
from mockforge.openapi.model import ApiModel, Operation
from mockforge.openapi.responses import ResponseChoice, ResponsePlanner
from mockforge.openapi.routes import Matched, MethodNotAllowed, RouteTable
from mockforge.openapi.validation import RequestValidator

if TYPE_CHECKING:
    from mockforge.core.templating import Template
    from mockforge.http.callbacks import CallbackSender
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.http")


def _no_build() -> Response:
    """The build of a route a plugin answers (never called: the plugin's answer is used)."""
    return Response(status=500, source="spec")


def _target(request: Request) -> str:
    """The path with its query: a few specs (flickr's) route on a fixed query parameter."""
    return f"{request.path}?{request.raw_query}" if request.raw_query else request.path


class SpecAnswerer:
    """Answers requests from the loaded OpenAPI model (the final step of the HTTP pipeline).

    ``tail``: plugin or build, fault, latency (shared with the stub step); ``not_found``: the 404
    with the closest stubs and routes, for a request no route matches.
    """

    def __init__(
        self, runtime: Runtime, model: ApiModel, *, tail: AnswerTail, not_found: NotFound,
        callbacks: CallbackSender | None = None,
    ) -> None:
        cfg = runtime.config
        #: Sends the callbacks of operations that have them (None when the model has none).
        self.callbacks = callbacks
        self.runtime = runtime
        self.tail = tail
        self.not_found = not_found
        self.model = model
        self.routes = RouteTable(model.operations)
        self.planner = ResponsePlanner(model, seed=cfg.core.seed, dynamic=cfg.http.dynamic_data)
        self.validator = RequestValidator(model.defs)
        self.validation = cfg.http.validation
        self.template_expand = cfg.http.response_template_expand
        self._templates: dict[bytes, Template] = {}
        self._plugin_routes = dict(cfg.plugins.routes)
        self._defines: dict[str, bool] = {}
        #: id(choice) -> (choice, its headers with content-type first); static choices repeat
        self._heads: dict[int, tuple[ResponseChoice, tuple[tuple[str, str], ...]]] = {}
        # per operation, decided once: validation mode and the plugin answering it (if any)
        self._modes: dict[int, str] = {}
        self._plugins: dict[int, str | None] = {}
        for op in model.operations:
            self._modes[id(op)] = self.validation.overrides.get(op.key, self.validation.mode)
            plugin = op.extensions.get("x-mockforge-plugin") or self._plugin_routes.get(op.key)
            self._plugins[id(op)] = str(plugin) if plugin else None
        runtime.log.add_redacted_headers(model.api_key_headers)

    def defines(self, path: str) -> bool:
        """Whether the spec has its own GET route at ``path`` (health paths; decided once)."""
        known = self._defines.get(path)
        if known is None:
            known = isinstance(self.routes.match("GET", path), Matched)
            if len(self._defines) < 64:
                self._defines[path] = known
        return known

    def mode_for(self, op: Operation) -> str:
        return self._modes[id(op)]

    def validate(self, request: Request, op: Operation, params: dict[str, str]) -> Response | None:
        """The validation answer for a request, or None to serve it (enforce/warn/off)."""
        mode = self.mode_for(op)
        if mode == "off":
            return None
        problems = self.validator.for_operation(op).validate(request, params)
        if not problems:
            return None
        details = [detail(p.location, p.reason) for p in problems]
        if mode == "warn":
            log.warning(
                "request %s %s does not match %s: %s",
                request.method,
                request.path,
                op.key,
                "; ".join(f"{p.location}: {p.reason}" for p in problems),
            )
            return None
        status = self.validation.status
        return error_response(status, "validation_failed", f"request does not match {op.key}", details)

    def validate_route(self, request: Request) -> Response | None:
        """Validate a request answered by a stub with ``validate: true`` against its spec route."""
        match = self.routes.match(request.method, _target(request))
        if not isinstance(match, Matched):
            return None
        if request.route is None:
            request.route = match.template
        return self.validate(request, match.operation, match.params)

    async def answer(self, request: Request) -> Response:
        match = self.routes.match(request.method, _target(request))
        if isinstance(match, MethodNotAllowed):
            allow = ", ".join(match.allow)
            request.route = match.template
            return error_response(
                405, "method_not_allowed", f"{request.method} is not allowed on {match.template}",
                [detail("method", f"allowed: {allow}")], [("allow", allow)],
            )
        if not isinstance(match, Matched):
            return await self.not_found.answer(request, list(getattr(match, "closest", [])))
        op = match.operation
        request.route = match.template
        request.path_params = match.params
        refused = self.validate(request, op, match.params)
        if refused is not None:
            return refused
        # the answer (inline, not a method of its own: one coroutine less per request)
        plugin_id = self._plugins.get(id(op))
        if plugin_id:
            return await self.tail.finish(
                request, _no_build, route=op.key, plugin=plugin_id, operation_id=op.operation_id, tags=op.tags
            )
        choice = self.planner.for_operation(op).respond(request.headers, request.path)
        if not isinstance(choice, ResponseChoice):
            return error_response(
                400, "unknown_example_or_status", str(getattr(choice, "message", choice)),
                [detail("header.prefer", str(getattr(choice, "message", choice)))],
            )
        off_loop = ""
        if self.template_expand and self.tail.plugins is not None and self._calls_plugin_functions(choice):
            off_loop = "plugins"  # {{plugin.ID.NAME}} tokens: not on the event loop
        answer = await self.tail.finish(
            request, partial(self._to_response, request, choice), off_loop=off_loop,
            operation_id=op.operation_id, tags=op.tags,
        )
        if op.callbacks and self.callbacks is not None and 200 <= answer.status < 300 and not answer.transport_fault:
            # tasks that start once this answer is written (http/callbacks.py)
            self.callbacks.fire(self.model, op, request, answer)
        return answer

    def _to_response(self, request: Request, choice: ResponseChoice) -> Response:
        base = self._heads.get(id(choice))
        if base is None or base[0] is not choice:
            head = [("content-type", choice.content_type)] if choice.content_type else []
            base = (choice, (*head, *choice.headers))
            if len(self._heads) >= 4096:
                self._heads.clear()
            self._heads[id(choice)] = base
        headers = list(base[1])
        body = choice.body
        if self.template_expand and b"{{" in body:
            body = self._render(request, body)
            headers = [(k, self._render_text(request, v)) if "{{" in v else (k, v) for k, v in headers]
        return Response(status=choice.status, headers=headers, body=body, source="spec")

    def _calls_plugin_functions(self, choice: ResponseChoice) -> bool:
        """True when the example body or a header template calls a template function."""
        if b"{{" in choice.body and self._template(choice.body).calls_functions():
            return True
        return any("{{" in v and self._template(v.encode()).calls_functions() for _, v in choice.headers)

    def _template(self, body: bytes) -> Template:
        from mockforge.core.templating import compile_template

        tpl = self._templates.get(body)
        if tpl is None:
            tpl = compile_template(body.decode("utf-8", "replace"))
            if len(self._templates) < 10_000:
                self._templates[body] = tpl
        return tpl

    def _render(self, request: Request, body: bytes) -> bytes:
        from mockforge.core.templating import TemplateContext

        ctx = TemplateContext(request=request, path_params=request.path_params)
        return self._template(body).render(ctx).encode()

    def _render_text(self, request: Request, text: str) -> str:
        return self._render(request, text.encode()).decode()

    def routes_info(self) -> list[dict[str, Any]]:
        out = []
        for op in self.model.operations:
            out.append(
                {
                    "method": op.method,
                    "path": op.path,
                    "operation_id": op.operation_id,
                    "tags": op.tags,
                    "base_paths": op.base_paths,
                    "file": op.file,
                }
            )
        return out
