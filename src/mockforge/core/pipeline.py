"""The answer pipeline: which step decides a mock answer, in order, and the tail every answer
goes through (plugin or build, then fault, then latency), written once.

    pipeline = Pipeline((filters, stubs, fixtures), final=spec_or_not_found)
    response = await pipeline.answer(request)      # never None: the final step always answers

gRPC unary and client-streaming calls decide the same way (``grpc/service.py``): stubs, then
the descriptor's generated reply; their answer is which stub replies, not a ``Response``, so a
pipeline is generic in what its steps answer.

Order (issue #13): request filters (plugins) -> stubs -> recorded fixtures -> state (when on)
-> spec/descriptor answer -> not found. A step is anything with ``async answer(request) ->
Response | None``; ``None`` hands the request to the next step. The tuple of steps is decided
once at start-up from what is configured (``services.build_services``), so a request pays one
loop over at most four steps and no branching on the config. A step never calls back into an
adapter: the adapters translate the wire to a ``Request``, call ``answer`` and write what it
returns.

The tail (``AnswerTail.finish``) is the one place that turns a decided answer into a response:
a plugin answers, or the answer is built (on the loop, on the plugin pool when its templates call
plugin functions, or on a thread when it reads a file), then the fault decision is applied, then
the latency is slept. Stubs and spec routes both end there, so a change to that order is made in
one place. It takes keyword arguments rather than a record, so the hot path allocates nothing
for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence, Sized
from typing import Any, Generic, Protocol, TypeVar

from mockforge.core.faults import FaultPolicy, FaultSpec, apply_fault
from mockforge.core.model import Request, Response
from mockforge.core.responses import detail, error_response

__all__ = [
    "AnswerTail",
    "Concludes",
    "Decides",
    "FilterStep",
    "FinalStep",
    "NearMisses",
    "NotFound",
    "Pipeline",
    "PluginHost",
    "RouteValidator",
    "Step",
]


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decides(Protocol[T_co]):
    """One deciding step: an answer, or ``None`` to let the next step decide."""

    async def answer(self, request: Request) -> T_co | None: ...


class Concludes(Protocol[T_co]):
    """The last step: always answers (a spec route, a descriptor's generated reply, the 404)."""

    async def answer(self, request: Request) -> T_co: ...


#: The HTTP steps answer a ``Response``; gRPC's answer which stub replies (``grpc/service.py``).
Step = Decides[Response]
FinalStep = Concludes[Response]


class PluginHost(Protocol):
    """The slice of the plugin manager the pipeline calls."""

    async def filter_request(self, request: Request, route: str | None) -> Response | None: ...

    async def generate_response(self, plugin_id: str, request: Request, route: str | None) -> Response: ...

    async def build_off_loop(self, build: Callable[[], Response]) -> Response: ...


class NearMisses(Protocol):
    """What the 404 asks the stub service: the closest stubs, as error details; and what the spec
    step tells it: a request it answered, whose almost-matching stubs are reported too."""

    async def near_miss_details(self, request: Request) -> list[dict[str, Any]]: ...

    @property
    def loaded(self) -> Sized:
        """The stubs loaded, as a live collection (read once; its truth is checked per request)."""
        ...

    async def note_answered(self, request: Request, answered_by: str) -> None: ...


class RouteValidator(Protocol):
    """Validates a request against the spec route it hits (stubs with ``validate: true``)."""

    def validate_route(self, request: Request) -> Response | None: ...


class Pipeline(Generic[T]):
    """The deciding steps, in order, and the final one. ``replace_final`` is the one change
    made while serving (hot reload of a spec): a single assignment, so a request sees the old or
    the new final step, never a mix."""

    __slots__ = ("final", "steps")

    def __init__(self, steps: Sequence[Decides[T]], final: Concludes[T]) -> None:
        self.steps: tuple[Decides[T], ...] = tuple(steps)
        self.final = final

    def replace_final(self, final: Concludes[T]) -> None:
        self.final = final

    async def answer(self, request: Request) -> T:
        for step in self.steps:
            answered = await step.answer(request)
            if answered is not None:
                return answered
        return await self.final.answer(request)


class FilterStep:
    """Request filters (``plugins.filters``): the first denial is the answer."""

    __slots__ = ("plugins",)

    def __init__(self, plugins: PluginHost) -> None:
        self.plugins = plugins

    async def answer(self, request: Request) -> Response | None:
        return await self.plugins.filter_request(request, None)


class NotFound:
    """The 404: what was asked, the closest stubs and the closest spec routes."""

    __slots__ = ("max_path", "near_misses")

    def __init__(self, near_misses: NearMisses | None, max_path: int) -> None:
        self.near_misses = near_misses
        #: A hostile path is not echoed whole (``core.max_near_miss_input_bytes``).
        self.max_path = max_path

    async def answer(self, request: Request, closest_routes: Sequence[str] = ()) -> Response:
        details: list[dict[str, Any]] = []
        if self.near_misses is not None:
            details.extend(await self.near_misses.near_miss_details(request))
        for route in closest_routes:
            details.append(detail("route", f"closest route: {route}"))
        path = request.path
        if len(path) > self.max_path:
            path = f"{path[:self.max_path]}... ({len(path)} characters)"
        return error_response(404, "not_found", f"no stub or route matches {request.method} {path}", details)


class AnswerTail:
    """Plugin, else build (template), then fault, then latency: the end of every answer.

    The fault and latency are drawn here from the one ``FaultPolicy`` (its seeded generators):
    a stub's own ``fault``/``delay_ms`` when it has them, else the operation/tag/global rules.
    A plugin that is not loaded answers 500 before any draw.
    """

    __slots__ = ("faults", "plugins")

    def __init__(self, faults: FaultPolicy, plugins: PluginHost | None) -> None:
        self.faults = faults
        self.plugins = plugins

    async def finish(
        self,
        request: Request,
        build: Callable[[], Response],
        *,
        route: str | None = None,
        plugin: str | None = None,
        off_loop: str = "",
        operation_id: str | None = None,
        tags: Sequence[str] = (),
        stub_id: str = "",
        stub_fault: FaultSpec | None = None,
        delay_s: float | None = None,
        source: str = "",
    ) -> Response:
        """``build``: makes the answer; ``off_loop``: ``"plugins"`` when it calls plugin template
        functions (run on the plugin pool), ``"thread"`` when it reads a file. ``plugin``: a
        plugin id answers instead (its response is labelled ``source`` when given). ``delay_s``:
        a fixed delay (a stub's ``delay_ms``) instead of the latency rules."""
        plugins = self.plugins
        if plugin and plugins is None:
            return error_response(500, "plugin_unavailable", f"plugin '{plugin}' is not loaded")
        faults = self.faults
        if delay_s is None:
            delay_s = faults.latency_for(operation_id, tags)
        if not plugin and not off_loop:  # the common case: build on the loop
            resp = build()
        elif plugin and plugins is not None:
            resp = await plugins.generate_response(plugin, request, route)
            if source:
                resp.source = source
        elif off_loop == "plugins" and plugins is not None:
            # {{plugin.ID.NAME}} tokens: a plugin call must not run on the event loop
            resp = await plugins.build_off_loop(build)
        elif off_loop == "thread":
            # a file read blocks (disk, or a file swapped for something slow): never on the loop
            resp = await asyncio.to_thread(build)
        else:
            resp = build()
        if stub_fault is not None:
            decision = faults.stub_fault(stub_id, stub_fault)
        else:
            decision = faults.fault_for(operation_id, tags)
        if decision is not None:
            resp = apply_fault(decision, resp)
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        return resp
