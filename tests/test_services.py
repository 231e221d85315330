"""services.py: the typed record built from the config, its pipeline, and the admin route table."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from mockforge.config import build_config
from mockforge.core.model import Request, Response
from mockforge.core.pipeline import FilterStep, NotFound
from mockforge.http.admin import AdminApi
from mockforge.http.admin_routes import AdminRoute, AdminRoutes
from mockforge.runtime import Runtime
from mockforge.services import Services, build_services

SRC = Path(__file__).resolve().parents[1] / "src" / "mockforge"
PETSTORE = Path(__file__).resolve().parents[1] / "examples" / "petstore.yaml"


def services_for(data: dict[str, Any], model: Any = None) -> tuple[Runtime, Services]:
    runtime = Runtime(build_config(data, env={}))
    return runtime, asyncio.run(build_services(runtime, model))


def test_no_service_is_looked_up_by_a_string_key_in_src() -> None:
    pattern = re.compile(r"services\[|services\.get\(")
    offenders = [f"{p.relative_to(SRC)}:{n}" for p in SRC.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


NO_WS: dict[str, Any] = {"websocket": {"routes": []}}


def test_the_steps_are_decided_from_the_config_once() -> None:
    _, services = services_for(NO_WS)
    assert services.pipeline.steps == (services.stubs,)
    assert isinstance(services.pipeline.final, NotFound)
    assert (services.ws, services.grpc, services.plugins, services.fixtures) == (None, None, None, None)


def test_recorded_fixtures_come_after_the_stubs(tmp_path: Path) -> None:
    _, services = services_for({"core": {"fixtures": {"mode": "replay", "dir": str(tmp_path)}}})
    assert services.fixtures is not None
    assert services.pipeline.steps == (services.stubs, services.fixtures)
    asyncio.run(services.aclose())


def test_state_comes_after_recorded_fixtures_and_before_the_spec(tmp_path: Path) -> None:
    from mockforge.openapi.loader import load_specs

    data = {"core": {"fixtures": {"mode": "replay", "dir": str(tmp_path)}}, "http": {"state": {"mode": "on"}}}
    _, services = services_for(data, load_specs([PETSTORE]))
    assert services.state is not None and services.spec.current is not None
    assert services.pipeline.steps == (services.stubs, services.fixtures, services.state)
    assert services.pipeline.final is services.spec.current
    asyncio.run(services.aclose())


def test_the_record_is_frozen() -> None:
    _, services = services_for({})
    with pytest.raises(AttributeError):
        services.ws = None  # type: ignore[misc]


def test_a_new_spec_replaces_the_final_step_and_the_stub_validator_together() -> None:
    from mockforge.openapi.loader import load_specs

    runtime, services = services_for({})
    answerer = services.spec.answerer(load_specs([str(PETSTORE)], limits=runtime.document_limits))
    services.spec.replace(answerer)
    assert services.spec.current is answerer
    assert services.pipeline.final is answerer and services.stubs.validator is answerer
    services.spec.replace(None)
    assert isinstance(services.pipeline.final, NotFound) and services.stubs.validator is None


def test_a_filter_step_leads_when_plugins_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockforge.plugins import manager

    monkeypatch.setattr(manager.PluginManager, "load_configured", lambda self: None)
    _, services = services_for({"plugins": {"load": ["deny"], "filters": ["deny"]}})
    first = services.pipeline.steps[0]
    assert isinstance(first, FilterStep) and first.plugins is services.plugins
    assert services.pipeline.steps[1:] == (services.stubs,)


# ---- the admin route table -------------------------------------------------------------------
async def _named(name: str, request: Request, sub: str) -> Response | None:
    return Response(status=200, body=f"{name}:{sub}".encode())


def _route(name: str) -> Any:
    async def handler(request: Request, sub: str) -> Response | None:
        return await _named(name, request, sub)

    return handler


def test_exact_rows_win_over_a_prefix_and_a_prefix_serves_its_subpaths() -> None:
    table = AdminRoutes([AdminRoute.exact("GET", "logs.har", _route("core")),
                         AdminRoute.prefix("logs.har", _route("fixtures")),
                         AdminRoute.prefix("stubs", _route("stubs"))])
    assert table.find("GET", "logs.har") is not table.find("POST", "logs.har")
    assert table.find("DELETE", "stubs/a/b") is not None
    assert table.find("GET", "nothing") is None


def test_two_handlers_for_one_row_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="two admin handlers for GET /__mockforge/logs"):
        AdminRoutes([AdminRoute.exact("GET", "logs", _route("a")), AdminRoute.exact("GET", "logs", _route("b"))])
    with pytest.raises(ValueError, match="stubs"):
        AdminRoutes([AdminRoute.prefix("stubs", _route("a")), AdminRoute.prefix("stubs", _route("b"))])


def test_every_service_contributes_its_rows_and_an_unknown_path_is_a_404() -> None:
    runtime, services = services_for(NO_WS)
    api = AdminApi(runtime, services)
    for sub in ("stubs", "verify", "near-misses", "unmatched", "scenarios", "faults"):
        assert api.routes.find("GET", sub) is not None
    assert api.routes.find("GET", "ws/connections") is None  # no WebSocket routes configured
    _, with_ws = services_for({})
    assert AdminApi(runtime, with_ws).routes.find("GET", "ws/connections") is not None
    resp = asyncio.run(api.handle(Request(protocol="http", method="GET", path="/__mockforge/ws/connections")))
    assert resp.status == 404


def test_a_grpc_failure_at_start_up_closes_what_was_already_opened(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mockforge.errors import ProtoError
    from mockforge.grpc.service import GrpcService
    from mockforge.recording.service import FixtureService

    closed: list[str] = []

    async def fail(cls: Any, runtime: Runtime) -> Any:
        raise ProtoError("bad.proto: syntax error")

    async def aclose(self: FixtureService) -> None:
        closed.append("fixtures")

    monkeypatch.setattr(GrpcService, "create", classmethod(fail))
    monkeypatch.setattr(FixtureService, "aclose", aclose)
    runtime = Runtime(build_config({"core": {"fixtures": {"mode": "replay", "dir": str(tmp_path)}},
                                    "grpc": {"proto_dir": str(tmp_path)}}, env={}))
    assert runtime.config.grpc_enabled()
    with pytest.raises(ProtoError):
        asyncio.run(build_services(runtime, None))
    assert closed == ["fixtures"]


def test_closing_is_bounded_when_a_service_never_finishes_closing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    import mockforge.services as services_module

    class NeverCloses:

        async def aclose(self) -> None:
            await asyncio.Event().wait()  # a peer that never answers

    class Closes:
        closed = False

        async def aclose(self) -> None:
            Closes.closed = True

    monkeypatch.setattr(services_module, "CLOSE_TIMEOUT_S", 0.05)
    _, services = services_for(NO_WS)
    stuck = dataclasses.replace(services, fixtures=NeverCloses(), plugins=Closes())  # type: ignore[arg-type]
    asyncio.run(stuck.aclose())  # returns: the stuck one is left behind, the next still closed
    assert Closes.closed
    assert "closing fixtures took over" in caplog.text
