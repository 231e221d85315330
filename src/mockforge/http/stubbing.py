"""The stub step of the HTTP pipeline: find a stub, optionally validate the request against the
spec route, build the answer (template, plugin), then apply the stub's fault and delay.

It also owns the stub/scenario/fault stores the admin API edits (``admin_stubs`` talks to this
object through ``StubsAdminContext``), so the admin API, the Python API and hot reload share them.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockforge.core.faults import FaultPolicy, apply_fault
from mockforge.core.files import FileRoots
from mockforge.core.limits import DocumentLimits
from mockforge.core.matching import set_max_distance_input
from mockforge.core.model import Request, Response
from mockforge.core.request_log import RequestLog
from mockforge.core.scenarios import ScenarioStore
from mockforge.core.stubs import (
    NEAR_MISS_OFFLOOP_COST,
    InMemoryStubStore,
    ResponseDefinition,
    StubStore,
    load_file,
    near_miss_details,
    parse_config_routes,
)
from mockforge.errors import StubError

if TYPE_CHECKING:
    from mockforge.http.app import HttpMockApp
    from mockforge.runtime import Runtime

log = logging.getLogger("mockforge.stubs")

CONFIG_SOURCE = "config"


class StubService:
    def __init__(self, runtime: Runtime) -> None:
        cfg = runtime.config
        self.runtime = runtime
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
        self.expand = cfg.http.response_template_expand
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
    async def answer(self, request: Request, app: HttpMockApp) -> Response | None:
        match = self.store.find(request)
        if match is None:
            return None
        stub = match.stub
        request.path_params = match.path_params
        path = stub.request.path
        if request.route is None and path is not None:
            # the stub's path (template, glob or regex text) labels the log entry and metrics
            request.route = path.text
        if stub.validate and app.spec is not None:
            refused = app.spec.validate_route(request)
            if refused is not None:
                return refused
        definition = stub.response
        if definition.plugin:
            plugins = self.runtime.services.get("plugins")
            if plugins is None:
                from mockforge.core.responses import error_response

                return error_response(500, "plugin_unavailable", f"plugin '{definition.plugin}' is not loaded")
            resp: Response = await plugins.generate_response(definition.plugin, request, request.route)
            resp.source = f"stub:{stub.id}"
        elif self.expand and "plugins" in self.runtime.services and _calls_plugin_functions(definition):
            # {{plugin.ID.NAME}} tokens: a plugin call must not run on the event loop
            resp = await self.runtime.services["plugins"].build_off_loop(
                partial(match.build_response, request, expand=True)
            )
        elif definition.body_file is not None:
            # a file read blocks (disk, or a file swapped for something slow): never on the loop
            resp = await asyncio.to_thread(match.build_response, request, expand=self.expand)
        else:
            resp = match.build_response(request, expand=self.expand)
        if definition.fault is not None:
            decision = self.fault_policy.stub_fault(stub.id, definition.fault)
        else:
            decision = self.fault_policy.fault_for(None, ())
        if decision is not None:
            resp = apply_fault(decision, resp)
        delay = definition.delay_ms / 1000 if definition.delay_ms else self.fault_policy.latency_for(None, ())
        if delay > 0:
            await asyncio.sleep(delay)
        return resp

    async def near_miss_details(self, request: Request) -> list[dict[str, Any]]:
        """The 404's closest stubs; scored in a worker thread when the estimate says it can take
        over a millisecond (a long path or body against many stubs), so the loop keeps serving."""
        store = self.store
        if store.near_miss_cost(request) <= NEAR_MISS_OFFLOOP_COST:
            return near_miss_details(store.report_miss(request))
        store.near_misses_off_loop += 1
        return near_miss_details(await asyncio.to_thread(store.report_miss, request))

    def routes_info(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.store.list()]


def _calls_plugin_functions(definition: ResponseDefinition) -> bool:
    """True when rendering the stub's body or headers calls a template function (a plugin);
    O(1) for a stub without such tokens (empty ``function_heads``)."""
    body = definition.json_body if definition.json_body is not None else definition.text_body
    if body is not None and body.calls_functions():
        return True
    return any(tpl.calls_functions() for _, tpl in definition.headers)
