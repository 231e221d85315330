"""The typed services of one server, built once at start-up from the config (``build_services``).

    services = await build_services(runtime, model)   # model: the loaded OpenAPI model or None
    services.pipeline.answer(request)                 # the HTTP answer (core/pipeline.py)
    services.ws                                       # WebSocketHub | None (not configured)

Why a frozen record and not a dict: every reader gets a type (mypy, IDEs and people see what
``services.ws`` is), and what exists is decided once, so the request path branches on nothing
but its tuple of pipeline steps. Each service is given what it needs when it is built (the stub
step gets the plugin host, the fixtures get the stub service), so no service looks another up
by name. Each imports its own libraries, so what is not configured costs nothing: no plugins
found means wasmtime is never imported, fixtures off means no HTTP client.

gRPC is built here too (its descriptors load before any listener binds); it binds after HTTP,
and what listeners attach as they bind (their refusal counters) has its typed home on the
runtime (``runtime.wire_counters``, ``runtime.admin_refused``).

The one thing that changes while serving is the spec (hot reload): ``SpecInUse.replace`` swaps
it in the stub validator and the pipeline's final step.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockforge.core.events import ExchangeTally
from mockforge.core.model import Request, Response
from mockforge.core.pipeline import FilterStep, NotFound, Pipeline, Step
from mockforge.core.shared_state import SharedState
from mockforge.runtime import Runtime

if TYPE_CHECKING:
    from mockforge.drift.service import DriftService
    from mockforge.grpc.service import GrpcService
    from mockforge.http.admin_routes import AdminRoute
    from mockforge.http.callbacks import CallbackSender
    from mockforge.http.mock import SpecAnswerer
    from mockforge.http.stubbing import StubService
    from mockforge.openapi.model import ApiModel
    from mockforge.plugins.manager import PluginManager
    from mockforge.recording.service import FixtureService
    from mockforge.state.service import StateService
    from mockforge.ws.hub import WebSocketHub

__all__ = ["Services", "SpecInUse", "build_services"]

log = logging.getLogger("mockforge")

#: Seconds each service may take to close when the server stops.
CLOSE_TIMEOUT_S = 5.0


class SpecInUse:
    """The OpenAPI answerer serving now (None without a spec), and how a new one replaces it."""

    def __init__(self, runtime: Runtime, stubs: StubService, pipeline: Pipeline[Response], not_found: NotFound) -> None:
        self.runtime = runtime
        self.current: SpecAnswerer | None = None
        #: The state step, told of a new spec (it infers again; docs/STATE.md).
        self.state: StateService | None = None
        #: Sends OpenAPI callbacks and webhooks; created with the first model that has any.
        self.callbacks: CallbackSender | None = None
        self._stubs = stubs
        self._pipeline = pipeline
        self._not_found = not_found

    def answerer(self, model: ApiModel) -> SpecAnswerer:
        """A new answerer for ``model`` sharing the tail and 404 of the one in use."""
        from mockforge.http.mock import SpecAnswerer

        if self.callbacks is None and (model.webhooks or any(op.callbacks for op in model.operations)):
            from mockforge.http.callbacks import CallbackSender

            self.callbacks = CallbackSender(self.runtime)  # kept across reloads; httpx loads on first send
        answerer = SpecAnswerer(self.runtime, model, tail=self._stubs.tail, not_found=self._not_found,
                                callbacks=self.callbacks)
        for warning in answerer.planner.warnings:
            log.warning("%s", warning)
        return answerer

    def replace(self, answerer: SpecAnswerer | None) -> None:
        """Serve ``answerer`` from now on (each reader switches with one assignment)."""
        if self.state is not None and answerer is not None and self.current is not None:
            self.state.reload(answerer.model)
        self.current = answerer
        self._stubs.validator = answerer
        self._pipeline.replace_final(answerer if answerer is not None else self._not_found)


@dataclass(frozen=True, slots=True)
class Services:
    """What this server runs, each typed; ``None`` when not configured."""

    stubs: StubService
    spec: SpecInUse
    pipeline: Pipeline[Response]
    ws: WebSocketHub | None = None
    grpc: GrpcService | None = None
    plugins: PluginManager | None = None
    fixtures: FixtureService | None = None
    #: Checks proxied answers against the spec (``http.drift.mode`` report/enforce).
    drift: DriftService | None = None
    state: StateService | None = None
    #: Exchanges since the last reset, for the admin API (subscribed to the log's ExchangeLogged).
    tally: ExchangeTally = field(default_factory=ExchangeTally)
    #: The store shared with other replicas (``core.shared_state``: Redis); None: this process only.
    shared: SharedState | None = None

    def admin_routes(self) -> list[AdminRoute]:
        """Every service's admin endpoints (``http/admin.py`` adds its own)."""
        from mockforge.http.admin_routes import AdminRoute
        from mockforge.http.admin_stubs import routes as stub_routes

        out = stub_routes(self.stubs)
        out.append(AdminRoute.prefix("webhooks", self._webhooks_admin))
        if self.ws is not None:
            out.append(AdminRoute.prefix("ws", self.ws.admin))
        if self.grpc is not None:
            out.append(AdminRoute.prefix("grpc", self.grpc.admin))
        if self.plugins is not None:
            out.append(AdminRoute.prefix("plugins", self.plugins.admin))
        if self.fixtures is not None:
            out.append(AdminRoute.prefix("fixtures", self.fixtures.admin))
            out.append(AdminRoute.prefix("logs.har", self.fixtures.admin))
        if self.drift is not None:
            out.append(AdminRoute.prefix("drift", self.drift.admin))
        if self.state is not None:
            from mockforge.state.admin import StateAdmin

            out.append(AdminRoute.prefix("state", StateAdmin(self.state).admin))
        return out

    async def _webhooks_admin(self, request: Request, sub: str) -> Response | None:
        from mockforge.http.webhooks_admin import fire_webhook

        current = self.spec.current
        return await fire_webhook(current.model if current is not None else None, self.spec.callbacks, request, sub)

    async def aclose(self) -> None:
        """Close what holds resources (fixture writers, plugin pools); one failure stops none."""
        closing: tuple[tuple[str, Any], ...] = (
            ("fixtures", self.fixtures),
            ("plugins", self.plugins),
            ("state", self.state),
            ("shared state", self.shared),
        )
        for name, svc in closing:
            if svc is not None:
                try:  # bounded: a service that cannot close (a peer that never answers) stops none
                    await asyncio.wait_for(svc.aclose(), CLOSE_TIMEOUT_S)
                except TimeoutError:
                    log.warning("closing %s took over %.0f s; left behind", name, CLOSE_TIMEOUT_S)
                except Exception:
                    log.exception("closing %s failed", name)
        if self.spec.callbacks is not None:
            try:
                await self.spec.callbacks.aclose()
            except Exception:
                log.exception("closing callbacks failed")


def _plugins_configured(runtime: Runtime) -> bool:
    cfg = runtime.config.plugins
    if cfg.load:
        return True
    return any(Path(d).is_dir() and any(Path(d).glob("*/plugin.yaml")) for d in cfg.dirs)


async def _start_state(state: StateService, *, shared: bool) -> None:
    """Seed the state store; a shared one only when it holds nothing yet (the first replica seeds,
    a replica started later must not undo what clients changed)."""
    if not shared:
        await state.start()
        return
    from mockforge.errors import ConfigError
    from mockforge.state.store import StoreUnavailable

    try:
        if not await state.store.counts():
            await state.start()
    except StoreUnavailable as exc:
        raise ConfigError(str(exc), where="core.shared_state") from None


async def _start_shared(runtime: Runtime, stubs: StubService, ws: WebSocketHub | None) -> SharedState:
    """Connect to the shared store (ConfigError, exit 2, when it cannot be used) and plug it into
    the stub step, readiness and WebSocket push."""
    from mockforge.shared.redis_state import RedisSharedState

    shared = RedisSharedState(runtime, stubs.store, stubs.scenario_store, stubs.files)
    await shared.start()
    stubs.shared = shared
    runtime.degraded = lambda: shared.degraded
    runtime.metrics.shared = shared.stats
    if ws is not None:
        ws.fanout = shared
        shared.on_ws(ws.deliver)
    return shared


async def build_services(runtime: Runtime, model: ApiModel | None) -> Services:
    """Create the services the config asks for and the HTTP pipeline over them."""
    cfg = runtime.config
    from mockforge.http.stubbing import StubService

    ws = None
    if cfg.websocket.routes:
        from mockforge.ws.hub import WebSocketHub

        ws = WebSocketHub(runtime)

    plugins = None
    if _plugins_configured(runtime):
        from mockforge.plugins.manager import PluginManager

        plugins = PluginManager(runtime)
        plugins.load_configured()

    stubs = StubService(runtime, plugins=plugins)
    runtime.reset_hooks.append(stubs.reset)

    drift = None
    if cfg.http.drift.mode != "off" and model is not None:
        from mockforge.drift.service import DriftService

        drift = DriftService(runtime, model)
    elif cfg.http.drift.mode != "off":
        log.warning("http.drift.mode %s without a spec: nothing to check answers against", cfg.http.drift.mode)
    fixtures = None
    if cfg.core.fixtures.mode != "off" or cfg.core.proxy.upstream or cfg.core.proxy.rules:
        from mockforge.recording.service import attach_fixtures

        fixtures = attach_fixtures(runtime, stubs, drift)

    steps: list[Step] = []
    if plugins is not None and cfg.plugins.filters:
        steps.append(FilterStep(plugins))
    steps.append(stubs)
    if fixtures is not None:
        steps.append(fixtures)
    state = None
    if cfg.http.state.mode != "off" and model is not None:  # off: state/ is never imported
        from mockforge.state.service import StateService

        store = None
        if cfg.core.shared_state != "memory":  # resources shared by replicas (docs/SHARED_STATE.md)
            from mockforge.shared.redis_store import RedisStateStore

            if cfg.http.state.store != "memory":
                log.warning("http.state.store %s is not used: with core.shared_state the resources are in Redis",
                            cfg.http.state.store)

            store = RedisStateStore(cfg.core.shared_state, cfg.core.shared_state_prefix,
                                    cfg.http.state.max_resources, cfg.http.state.max_namespaces)
        state = StateService(cfg.http.state, model, seed=cfg.core.seed, validation=cfg.http.validation, tail=stubs.tail,
                             store=store)
        try:
            await _start_state(state, shared=store is not None)
        except BaseException:  # a bad seed file: the store (an SQLite file and its thread) is closed
            await state.aclose()
            raise
        steps.append(state)
    not_found = NotFound(stubs, cfg.core.max_near_miss_input_bytes)
    pipeline: Pipeline[Response] = Pipeline(steps, not_found)
    spec = SpecInUse(runtime, stubs, pipeline, not_found)
    if model is not None:
        spec.replace(spec.answerer(model))
    spec.state = state

    services = Services(
        stubs=stubs, spec=spec, pipeline=pipeline, ws=ws, plugins=plugins, fixtures=fixtures, drift=drift,
        state=state,
    )
    if cfg.core.shared_state != "memory":  # memory: redis is never imported
        try:
            services = replace(services, shared=await _start_shared(runtime, stubs, ws))
        except BaseException:  # Redis unusable: what was opened above is closed, then the error stands
            await services.aclose()
            raise
    runtime.log.logged.subscribe(services.tally.on_entry)
    runtime.reset_hooks.append(services.tally.clear)
    if cfg.grpc_enabled():
        from mockforge.grpc.service import GrpcService

        try:
            grpc = await GrpcService.create(runtime)
        except BaseException:  # bad protos: what was opened above is closed, then the error stands
            await services.aclose()
            raise
        services = replace(services, grpc=grpc)
    return services
