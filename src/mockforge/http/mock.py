"""The OpenAPI step of the HTTP pipeline (its final step, ``core/pipeline.py``): route, validate,
choose the answer and render its templates; the shared tail (``AnswerTail``) then runs the
plugin or the build, the fault and the latency. Everything per operation is prepared once.
"""

from __future__ import annotations

import logging
from collections.abc import Sized
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from mockforge.core.model import Request, Response
from mockforge.core.pipeline import AnswerTail, NotFound
from mockforge.core.responses import detail, error_response
from mockforge.openapi.error_answers import ErrorAnswers, problems_header, refusal_statuses
from mockforge.openapi.model import MISSING, ApiModel, Operation
from mockforge.openapi.responses import (
    OperationResponder,
    ResponseChoice,
    ResponsePlanner,
    choose_media,
    default_status,
)
from mockforge.openapi.routes import Matched, MethodNotAllowed, RouteTable
from mockforge.openapi.validation import RequestValidator

if TYPE_CHECKING:
    from mockforge.core.templating import Template
    from mockforge.http.callbacks import CallbackSender
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.http")


def _has_example(op: Operation, status: str | None, responder: OperationResponder | None) -> bool | None:
    """Whether the default answer is an example (None: no body), from the prepared responder or
    else from the document."""
    if status is None:
        return None
    if responder is not None:
        return responder.has_example(status)
    spec = {str(k): v for k, v in op.responses.items()}.get(status)
    if spec is None or not spec.content:
        return None
    media_name = choose_media(spec.content, None)
    if media_name is None:
        return None
    media = spec.content[media_name]
    if media.example is not MISSING or media.examples:
        return True
    return False if media.schema is not None else None


def _no_build() -> Response:
    """The build of a route a plugin answers (never called: the plugin's answer is used)."""
    return Response(status=500, source="spec")


def _target(request: Request) -> str:
    """The path with its query: a few specs (flickr's) route on a fixed query parameter."""
    return f"{request.path}?{request.raw_query}" if request.raw_query else request.path


@dataclass(slots=True)
class RoutePreview:
    """What the spec step would answer for one request (``SpecAnswerer.preview``)."""

    operation: Operation | None = None
    #: The route template matched (also for a 405), else None.
    template: str | None = None
    #: Validation mode in force for the operation (off, warn, enforce).
    mode: str = "off"
    #: Validation problems as error details (reported whatever the mode).
    problems: list[dict[str, str]] = field(default_factory=list)
    #: The answer; None when a plugin answers (not run in a preview) or no route matched.
    answer: Response | None = None
    plugin: str | None = None
    #: Closest routes when none matched.
    closest: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
        self._near = not_found.near_misses
        #: The stubs loaded, live: while empty, a request the spec answers costs no near-miss work.
        self._stubs_loaded: Sized = self._near.loaded if self._near is not None else ()
        self.model = model
        self.routes = RouteTable(model.operations)
        self.planner = ResponsePlanner(model, seed=cfg.core.seed,
                                       dynamic=cfg.http.responses.dynamic or cfg.http.dynamic_data,
                                       trust_examples=cfg.http.examples.trust)
        self.validator = RequestValidator(model.defs)
        self.errors = ErrorAnswers(self.planner)
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
        return self.refusal(request, op, details)

    def refusal(self, request: Request, op: Operation, details: list[dict[str, str]]) -> Response:
        """The answer refusing an invalid request: the error the operation documents (its body
        from its schema, with the summary in its text fields), else our own error shape; both
        carry every problem in ``X-Mockforge-Problems`` and the log entry."""
        statuses = refusal_statuses(self.validation.status, details)
        first = details[0]
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        summary = f"request does not match {op.key}: {first['location']}: {first['reason']}{more}"
        # source "mockforge": a refusal of ours (log, metrics), even in the spec's own shape
        documented = self.errors.answer(
            op, statuses, summary, details, request.headers.get("accept"), source="mockforge"
        )
        if documented is not None:
            return documented
        resp = error_response(
            self.validation.status, "validation_failed", f"request does not match {op.key}", details,
            [problems_header(details)],
        )
        resp.problems = details
        return resp

    def validate_route(self, request: Request) -> Response | None:
        """Validate a request answered by a stub with ``validate: true`` against its spec route."""
        match = self.routes.match(request.method, _target(request), request.headers)
        if not isinstance(match, Matched):
            return None
        if request.route is None:
            request.route = match.template
        return self.validate(request, match.operation, match.params)

    async def answer(self, request: Request) -> Response:
        match = self.routes.match(request.method, _target(request), request.headers)
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
        if self._stubs_loaded:
            # a stub it almost matched shows in /__mockforge/near-misses, flagged as answered
            await self._near.note_answered(request, "spec")  # type: ignore[union-attr]
        refused = self.validate(request, op, match.params)
        if refused is not None:
            return refused
        # the answer (inline, not a method of its own: one coroutine less per request)
        plugin_id = self._plugins.get(id(op))
        if plugin_id:
            return await self.tail.finish(
                request, _no_build, route=op.key, plugin=plugin_id, operation_id=op.operation_id, tags=op.tags
            )
        choice = self.planner.for_operation(op).respond(request.headers)
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

    def operation_of(self, method: str, path: str) -> Operation | None:
        """The operation a request would route to (None: no route)."""
        match = self.routes.match(method, path)
        return match.operation if isinstance(match, Matched) else None

    def check_route(self, request: Request) -> RoutePreview | None:
        """``validate_route`` as a preview: the mode, the problems and the refusal (when the mode
        enforces), logging nothing; None when no spec route matches."""
        match = self.routes.match(request.method, _target(request), request.headers)
        if not isinstance(match, Matched):
            return None
        op = match.operation
        out = RoutePreview(operation=op, template=match.template, mode=self.mode_for(op))
        if out.mode != "off":
            problems = self.validator.for_operation(op).validate(request, match.params)
            out.problems = [detail(p.location, p.reason) for p in problems]
            if problems and out.mode == "enforce":
                out.answer = self.refusal(request, op, out.problems)
        return out

    def preview(self, request: Request) -> RoutePreview:
        """What ``answer`` would answer, built the same way but with no fault, latency, plugin
        call or log line (``POST /__mockforge/preview``). Caches of prepared answers fill as
        they would for a real request; nothing a later request sees changes."""
        match = self.routes.match(request.method, _target(request), request.headers)
        if isinstance(match, MethodNotAllowed):
            allow = ", ".join(match.allow)
            answer = error_response(
                405, "method_not_allowed", f"{request.method} is not allowed on {match.template}",
                [detail("method", f"allowed: {allow}")], [("allow", allow)],
            )
            return RoutePreview(template=match.template, answer=answer)
        if not isinstance(match, Matched):
            return RoutePreview(closest=list(getattr(match, "closest", [])))
        op = match.operation
        request.route = match.template
        request.path_params = match.params
        out = RoutePreview(operation=op, template=match.template, mode=self.mode_for(op))
        if out.mode != "off":
            problems = self.validator.for_operation(op).validate(request, match.params)
            out.problems = [detail(p.location, p.reason) for p in problems]
            if problems and out.mode == "enforce":
                out.answer = self.refusal(request, op, out.problems)
                return out
        plugin_id = self._plugins.get(id(op))
        if plugin_id:
            out.plugin = plugin_id
            out.notes.append(f"plugin '{plugin_id}' answers this operation; plugins are not run in a preview")
            return out
        choice = self.planner.for_operation(op).respond(request.headers, peek=True)
        if not isinstance(choice, ResponseChoice):
            message = str(getattr(choice, "message", choice))
            out.answer = error_response(400, "unknown_example_or_status", message, [detail("header.prefer", message)])
            return out
        if self.template_expand and self.tail.plugins is not None and self._calls_plugin_functions(choice):
            out.notes.append("the answer calls plugin template functions; plugins are not run in a preview")
            return out
        out.answer = self._to_response(request, choice)
        return out

    def operations_info(self) -> list[dict[str, Any]]:
        """Each operation with its validation mode, the answer it gives without ``Prefer``
        (example, generated or empty) and the ``Prefer`` choices it documents.

        An operation no request has reached yet is not prepared for this list (preparing checks
        every example against its schema: 150 ms and 16 MB for a 290-operation spec); its answer
        kind is then read from the document (an example that fails its schema turns out
        ``generated`` once the operation first answers)."""
        out = []
        for op in self.model.operations:
            responder = self.planner.prepared(op)
            default = responder.default_status if responder is not None else default_status(op)
            statuses = []
            for status, spec in op.responses.items():
                examples = sorted({name for media in spec.content.values() for name in media.examples})
                media_types = list(spec.content)
                statuses.append({"status": str(status), "description": spec.description,
                                 "media_types": media_types, "examples": examples})
            out.append({
                "method": op.method,
                "path": op.path,
                "operation_id": op.operation_id,
                "tags": op.tags,
                "validation": self.mode_for(op),
                "answer": self._answer_kind(op, _has_example(op, default, responder)),
                "default_status": default,
                "plugin": self._plugins.get(id(op)),
                "responses": statuses,
                "file": op.file,
            })
        return out

    def _answer_kind(self, op: Operation, has_example: bool | None) -> str:
        """plugin, empty (no body documented), example or generated."""
        if self._plugins.get(id(op)):
            return "plugin"
        if has_example is None:
            return "empty"
        return "example" if has_example else "generated"

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
