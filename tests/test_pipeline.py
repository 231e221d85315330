"""core/pipeline.py: the order of the deciding steps, the 404, and the shared tail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mockforge.config import build_config
from mockforge.core.faults import FaultPolicy, parse_fault
from mockforge.core.model import Request, Response
from mockforge.core.pipeline import AnswerTail, FilterStep, NotFound, Pipeline


def req(path: str = "/pets/1") -> Request:
    return Request(protocol="http", method="GET", path=path)


class Fixed:
    def __init__(self, answer: Response | None, seen: list[str], name: str) -> None:
        self._answer, self.seen, self.name = answer, seen, name

    async def answer(self, request: Request) -> Response | None:
        self.seen.append(self.name)
        return self._answer


class Final:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def answer(self, request: Request) -> Response:
        self.seen.append("final")
        return Response(status=299, source="final")


class Plugins:
    def __init__(self, deny: bool = False) -> None:
        self.deny = deny
        self.calls: list[str] = []

    async def filter_request(self, request: Request, route: str | None) -> Response | None:
        self.calls.append("filter")
        return Response(status=403, source="plugin:deny") if self.deny else None

    async def generate_response(self, plugin_id: str, request: Request, route: str | None) -> Response:
        self.calls.append(f"generate:{plugin_id}:{route}")
        return Response(status=201, source=f"plugin:{plugin_id}")

    async def build_off_loop(self, build: Callable[[], Response]) -> Response:
        self.calls.append("off_loop")
        return build()


def policy(**core: Any) -> FaultPolicy:
    return FaultPolicy(build_config({"core": {"seed": 1, **core}}, env={}).core)


def test_the_first_step_that_answers_decides_and_later_steps_are_not_asked() -> None:
    seen: list[str] = []
    pipeline = Pipeline((Fixed(None, seen, "stubs"), Fixed(Response(status=202), seen, "fixtures"),
                         Fixed(Response(status=203), seen, "never")), Final(seen))
    assert asyncio.run(pipeline.answer(req())).status == 202
    assert seen == ["stubs", "fixtures"]


def test_the_final_step_answers_when_no_step_does_and_can_be_replaced_whole() -> None:
    seen: list[str] = []
    pipeline = Pipeline((Fixed(None, seen, "stubs"),), Final(seen))
    assert asyncio.run(pipeline.answer(req())).source == "final"
    other: list[str] = []
    pipeline.replace_final(Final(other))
    asyncio.run(pipeline.answer(req()))
    assert seen == ["stubs", "final", "stubs"] and other == ["final"]


def test_a_filter_denial_answers_before_any_stub() -> None:
    seen: list[str] = []
    plugins = Plugins(deny=True)
    pipeline = Pipeline((FilterStep(plugins), Fixed(Response(), seen, "stubs")), Final(seen))
    assert asyncio.run(pipeline.answer(req())).status == 403
    assert seen == [] and plugins.calls == ["filter"]


def test_not_found_lists_the_closest_stubs_and_routes_and_caps_a_long_path() -> None:
    class Near:
        async def near_miss_details(self, request: Request) -> list[dict[str, Any]]:
            return [{"location": "stub", "reason": "closest stub: s1"}]

    resp = asyncio.run(NotFound(Near(), 8).answer(req("/" + "x" * 50), ["/pets/{id}"]))
    assert resp.status == 404
    text = resp.body.decode()
    assert "closest stub: s1" in text and "closest route: /pets/{id}" in text
    assert "/xxxxxxx... (51 characters)" in text and "x" * 20 not in text


def test_tail_builds_then_applies_the_fault() -> None:
    tail = AnswerTail(policy(faults={"status": 503}), None)
    resp = asyncio.run(tail.finish(req(), lambda: Response(status=200, body=b"ok")))
    assert resp.status == 503


def recorded_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the tail asks ``asyncio.sleep`` for, returned at once (no wall clock in tests)."""
    asked: list[float] = []

    async def sleep(delay: float) -> None:
        asked.append(delay)

    monkeypatch.setattr("mockforge.core.pipeline.asyncio.sleep", sleep)
    return asked


def test_tail_a_stub_fault_replaces_the_global_rules_and_a_stub_delay_replaces_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tail = AnswerTail(policy(faults={"status": 503}, latency={"fixed_ms": 5000}), None)
    spec = parse_fault({"status": 418}, "fault")
    asked = recorded_sleeps(monkeypatch)
    resp = asyncio.run(tail.finish(req(), lambda: Response(), stub_id="s", stub_fault=spec, delay_s=0.0))
    assert resp.status == 418 and all(delay < 1.0 for delay in asked)  # the 5 s latency was replaced


def test_tail_sleeps_the_latency_the_rules_give(monkeypatch: pytest.MonkeyPatch) -> None:
    tail = AnswerTail(policy(latency={"fixed_ms": 60}), None)
    asked = recorded_sleeps(monkeypatch)
    asyncio.run(tail.finish(req(), lambda: Response()))
    assert sum(asked) >= 0.05


def test_tail_a_plugin_answers_instead_of_the_build_and_is_labelled() -> None:
    plugins = Plugins()
    tail = AnswerTail(policy(), plugins)

    def build() -> Response:
        raise AssertionError("the build must not run when a plugin answers")

    resp = asyncio.run(tail.finish(req(), build, plugin="p1", route="/r", source="stub:s"))
    assert (resp.status, resp.source) == (201, "stub:s") and plugins.calls == ["generate:p1:/r"]


def test_tail_a_plugin_that_is_not_loaded_is_a_500_and_nothing_is_drawn() -> None:
    faults = policy(faults={"status": 503, "rate": 0.5})
    tail = AnswerTail(faults, None)
    resp = asyncio.run(tail.finish(req(), lambda: Response(), plugin="gone"))
    assert resp.status == 500 and b"plugin_unavailable" in resp.body
    fresh = policy(faults={"status": 503, "rate": 0.5})
    assert [faults.fault_for() for _ in range(20)] == [fresh.fault_for() for _ in range(20)]


def test_tail_runs_plugin_template_builds_on_the_plugin_pool_and_file_builds_on_a_thread() -> None:
    import threading

    plugins = Plugins()
    tail = AnswerTail(policy(), plugins)
    asyncio.run(tail.finish(req(), lambda: Response(), off_loop="plugins"))
    assert plugins.calls == ["off_loop"]
    threads: list[str] = []

    def build() -> Response:
        threads.append(threading.current_thread().name)
        return Response()

    asyncio.run(tail.finish(req(), build, off_loop="thread"))
    assert threads and threads[0] != threading.main_thread().name
