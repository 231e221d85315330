"""The stub step of the HTTP pipeline (``core/pipeline.py``): find a stub, optionally validate the
request against the spec route, then hand the answer to the shared tail (plugin or template,
fault, delay: ``AnswerTail``).

It also owns the stub/scenario/fault stores the admin API edits (``admin_stubs`` talks to this
object through ``StubsAdminContext``), so the admin API, the Python API and hot reload share them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockforge.core.faults import FaultPolicy
from mockforge.core.files import FileRoots
from mockforge.core.limits import DocumentLimits
from mockforge.core.matching import set_max_distance_input
from mockforge.core.model import Request, Response
from mockforge.core.pipeline import AnswerTail, PluginHost, RouteValidator
from mockforge.core.request_log import RequestLog
from mockforge.core.scenarios import ScenarioStore
from mockforge.core.stubs import (
    NEAR_MISS_OFFLOOP_COST,
    InMemoryStubStore,
    ResponseDefinition,
    StubMatch,
    StubStore,
    load_file,
    near_miss_details,
    parse_config_routes,
)
from mockforge.errors import StubError

if TYPE_CHECKING:
    from mockforge.core.shared_state import SharedState
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.stubs")

CONFIG_SOURCE = "config"


class StubService:
    """The stub step (``answer``) and the stores the admin API edits.

    ``plugins``: the plugin host answering ``plugin:`` stubs (None when no plugin is loaded).
    ``validator``: what checks a ``validate: true`` stub's request against its spec route.
    """

    def __init__(
        self, runtime: Runtime, *, plugins: PluginHost | None = None, validator: RouteValidator | None = None
    ) -> None:
        cfg = runtime.config
        self.runtime = runtime
        self.plugins = plugins
        self.validator = validator
        self.scenario_store = ScenarioStore()
        self.store = InMemoryStubStore(
            self.scenario_store,
            max_unmatched=cfg.core.max_unmatched,
            max_near_misses=cfg.core.max_near_misses,
            max_near_miss_stubs=cfg.core.max_near_miss_stubs,
            max_near_miss_input=cfg.core.max_near_miss_input_bytes,
        )
        set_max_distance_input(cfg.core.max_near_miss_input_bytes)
        self.fault_policy = FaultPolicy(cfg.core)
        #: Plugin or build, then fault, then delay (shared with the spec step).
        self.tail = AnswerTail(self.fault_policy, plugins)
        self.expand = cfg.http.response_template_expand
        #: The store shared with other replicas (``core.shared_state``); None: this process only.
        self.shared: SharedState | None = None
        self.problems: list[str] = []
        self.stubs_dir: str | None = cfg.http.stubs_dir
        if self.stubs_dir is None and Path("stubs").is_dir():
            self.stubs_dir = str(Path("stubs").resolve())
        #: Where a ``body_file`` may point (the runtime's roots plus the stub folder in use).
        self.files: FileRoots = runtime.files.with_roots([self.stubs_dir] if self.stubs_dir else [])
        self.load_config_routes(cfg.http.routes)
        if self.stubs_dir is not None:
            if not Path(self.stubs_dir).is_dir():
                self._problem(f"{self.stubs_dir}: http.stubs_dir is not a folder")
            else:
                _, problems = self.store.load_dir(self.stubs_dir, self.files, runtime.document_limits)
                for p in problems:
                    self._problem(p)

    # ---- StubsAdminContext ------------------------------------------------------------
    @property
    def stubs(self) -> StubStore:
        return self.store

    @property
    def scenarios(self) -> ScenarioStore:
        return self.scenario_store

    @property
    def faults(self) -> FaultPolicy:
        return self.fault_policy

    @property
    def log(self) -> RequestLog:
        return self.runtime.log

    @property
    def document_limits(self) -> DocumentLimits:
        return self.runtime.document_limits

    # ---- loading and reloading ----------------------------------------------------------
    def _problem(self, line: str) -> None:
        self.problems.append(line)
        log.warning("%s", line)

    def load_config_routes(self, routes: list[dict[str, Any]]) -> None:
        stubs, problems = parse_config_routes(routes, files=self.files)
        for p in problems:
            self._problem(p)
        self.store.replace_source(CONFIG_SOURCE, stubs)

    def reload_file(self, path: str) -> bool:
        """Re-read one stub file (or drop its stubs when it is gone); a bad edit keeps the last good
        version and is reported once."""
        source = str(Path(path).resolve())
        if not Path(path).exists():
            self.store.replace_source(source, [])
            return True
        try:
            stubs = load_file(path, self.files, self.runtime.document_limits)
        except StubError as exc:
            log.warning("stub file not reloaded, the last good version stays: %s", exc)
            return False
        self.store.replace_source(source, stubs)
        return True

    def reset(self) -> None:
        self.store.remove_api_stubs()
        self.scenario_store.reset()
        self.store.clear_reports()

    # ---- the pipeline step --------------------------------------------------------------
    async def answer(self, request: Request) -> Response | None:
        store = self.store
        if not len(store):
            return None
        match = store.find(request) if self.shared is None else await self._find_shared(request, self.shared)
        if match is None:
            return None
        stub = match.stub
        request.path_params = match.path_params
        path = stub.request.path
        if request.route is None and path is not None:
            # the stub's path (template, glob or regex text) labels the log entry and metrics
            request.route = path.text
        if stub.validate and self.validator is not None:
            refused = self.validator.validate_route(request)
            if refused is not None:
                return refused
        definition = stub.response
        if self.plugins is not None and self.expand and calls_plugin_functions(definition):
            off_loop, expand = "plugins", True
        elif definition.body_file is not None:
            off_loop, expand = "thread", self.expand
        else:
            off_loop, expand = "", self.expand
        plugin = definition.plugin
        return await self.tail.finish(
            request,
            lambda: match.build_response(request, expand=expand),
            route=request.route,
            plugin=plugin,
            off_loop=off_loop,
            stub_id=stub.id,
            stub_fault=definition.fault,
            delay_s=definition.delay_ms / 1000 if definition.delay_ms else None,
            source=f"stub:{stub.id}" if plugin else "",
        )

    async def _find_shared(self, request: Request, shared: SharedState) -> StubMatch | None:
        """The best matching stub. Matching is local; when stubs with ``times`` or a scenario
        rule come before the first plain one, the shared store takes the first that may answer
        in one atomic step (this replica decides alone while the store is unreachable)."""
        store = self.store
        pending: list[StubMatch] = []
        for match in store.matching(request):
            pending.append(match)
            stub = match.stub
            if stub.times is None and stub.scenario is None:
                break
        if not pending:
            return None
        if len(pending) == 1 and pending[0].stub.times is None and pending[0].stub.scenario is None:
            return pending[0]
        taken = await shared.consume([m.stub for m in pending])
        if taken is None:
            return next((m for m in pending if store.consume(m.stub)), None)
        return pending[taken] if taken >= 0 else None

    async def near_miss_details(self, request: Request) -> list[dict[str, Any]]:
        """The 404's closest stubs; scored in a worker thread when the estimate says it can take
        over a millisecond (a long path or body against many stubs), so the loop keeps serving."""
        store = self.store
        if store.near_miss_cost(request) <= NEAR_MISS_OFFLOOP_COST:
            return near_miss_details(store.report_miss(request))
        store.near_misses_off_loop += 1
        return near_miss_details(await asyncio.to_thread(store.report_miss, request))

    @property
    def loaded(self) -> Sized:
        """The stubs loaded, live (empty: no near-miss work for requests the spec answers)."""
        return self.store.ids()

    async def note_answered(self, request: Request, answered_by: str) -> None:
        """Record the stubs a request answered by ``answered_by`` (the spec) almost matched;
        scored like a 404's near misses (off the loop when the estimate is large)."""
        store = self.store
        if store.near_miss_cost(request) <= NEAR_MISS_OFFLOOP_COST:
            store.report_answered(request, answered_by)
            return
        store.near_misses_off_loop += 1
        await asyncio.to_thread(store.report_answered, request, answered_by)

    def routes_info(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.store.list()]


def calls_plugin_functions(definition: ResponseDefinition) -> bool:
    """True when rendering the stub's body or headers calls a template function (a plugin);
    O(1) for a stub without such tokens (empty ``function_heads``)."""
    body = definition.json_body if definition.json_body is not None else definition.text_body
    if body is not None and body.calls_functions():
        return True
    return any(tpl.calls_functions() for _, tpl in definition.headers)
