from __future__ import annotations

import math
import statistics
from typing import Any

import orjson
import pytest

from mockforge.config import CoreConfig
from mockforge.core.faults import FaultDecision, FaultPolicy, apply_fault, parse_fault, parse_latency
from mockforge.core.model import Response
from mockforge.errors import ConfigError


def policy(**kw: Any) -> FaultPolicy:
    return FaultPolicy(CoreConfig(seed=7, **kw))


# ---- latency -----------------------------------------------------------------------------------


def test_no_latency_by_default() -> None:
    assert FaultPolicy(CoreConfig()).latency_for("op", ["t"]) == 0.0


def test_fixed_latency() -> None:
    assert policy(latency={"fixed_ms": 250}).latency_for() == 0.25


def test_uniform_latency_stays_in_range_and_is_seeded() -> None:
    spec = {"uniform": {"min_ms": 50, "max_ms": 150}}
    draws = [policy(latency=spec).latency_for() for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]  # same seed, same first draw
    p = policy(latency=spec)
    values = [p.latency_for() for _ in range(2000)]
    assert all(0.05 <= v <= 0.15 for v in values)
    assert 0.09 < statistics.mean(values) < 0.11
    other = FaultPolicy(CoreConfig(seed=8, latency=spec))
    assert [other.latency_for() for _ in range(5)] != values[:5]


def test_lognormal_latency_has_the_median_and_is_capped() -> None:
    p = policy(latency={"lognormal": {"median_ms": 80, "sigma": 0.5}})
    values = sorted(p.latency_for() for _ in range(4001))
    assert math.isclose(values[2000], 0.080, rel_tol=0.08)
    capped = policy(latency={"lognormal": {"median_ms": 80, "sigma": 3, "max_ms": 100}})
    assert max(capped.latency_for() for _ in range(500)) == 0.1


def test_latency_precedence_operation_then_tag_then_global() -> None:
    p = policy(
        latency={"fixed_ms": 1},
        latency_by_tag={"pets": {"fixed_ms": 2}, "store": {"fixed_ms": 4}},
        latency_by_operation={"getPet": {"fixed_ms": 3}},
    )
    assert p.latency_for("getPet", ["pets"]) == 0.003
    assert p.latency_for("listPets", ["other", "pets", "store"]) == 0.002
    assert p.latency_for("listPets", []) == 0.001
    assert p.latency_for(None, ()) == 0.001


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"fixed_ms": -1}, "core.latency.fixed_ms"),
        ({"fixed_ms": "x"}, "core.latency.fixed_ms"),
        ({"uniform": {"min_ms": 10, "max_ms": 5}}, "core.latency.uniform.max_ms"),
        ({"uniform": {"min_ms": 10, "max": 5}}, "core.latency.uniform.max"),
        ({"lognormal": {"median_ms": 10}}, "core.latency.lognormal"),
        ({"gaussian": {}}, "core.latency.gaussian"),
        ({"fixed_ms": 1, "uniform": {}}, "core.latency"),
    ],
)
def test_bad_latency_names_the_key(spec: Any, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_latency(spec, "core.latency")
    assert err.value.where == where


# ---- faults ------------------------------------------------------------------------------------


def test_fault_rate_is_honoured_over_many_draws_and_seeded() -> None:
    spec = {"rate": 0.2, "status": [500, 503]}
    p = policy(faults=spec)
    draws = [p.fault_for() for _ in range(5000)]
    hits = [d for d in draws if d is not None]
    assert 900 < len(hits) < 1100
    assert {d.status for d in hits} == {500, 503}
    again = policy(faults=spec)
    assert [again.fault_for() for _ in range(5000)] == draws


def test_rate_zero_never_and_default_rate_always() -> None:
    never = policy(faults={"rate": 0.0})
    assert all(never.fault_for() is None for _ in range(200))
    always = policy(faults={})
    assert all(always.fault_for() == FaultDecision(500, origin="global") for _ in range(20))


def test_fault_precedence_and_origin() -> None:
    p = policy(
        faults={"status": 500},
        faults_by_tag={"pets": {"status": 502}},
        faults_by_operation={"getPet": {"status": 504}},
    )
    assert p.fault_for("getPet", ["pets"]) == FaultDecision(504, origin="operation:getPet")
    assert p.fault_for("listPets", ["pets"]) == FaultDecision(502, origin="tag:pets")
    assert p.fault_for("other", []) == FaultDecision(500, origin="global")


def test_set_and_clear_global_at_run_time() -> None:
    p = policy()
    assert p.fault_for() is None
    spec = p.set_global({"transport": "reset"})
    assert spec.to_dict() == {"rate": 1.0, "transport": "reset"}
    decision = p.fault_for()
    assert decision is not None and decision.transport == "reset" and decision.status is None
    p.clear_global()
    assert p.fault_for() is None and p.global_fault() is None


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"rate": 1.5}, "fault.rate"),
        ({"rate": "often"}, "fault.rate"),
        ({"status": [200, 99]}, "fault.status[1]"),
        ({"status": []}, "fault.status"),
        ({"transport": "explode"}, "fault.transport"),
        ({"dribble_ms": -5, "transport": "dribble"}, "fault.dribble_ms"),
        ({"delay": 5}, "fault.delay"),
    ],
)
def test_bad_fault_names_the_key(spec: Any, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_fault(spec, "fault")
    assert err.value.where == where


def test_bad_config_fault_names_the_config_key() -> None:
    with pytest.raises(ConfigError) as err:
        FaultPolicy(CoreConfig(faults_by_tag={"pets": {"rate": 3}}))
    assert err.value.where == "core.faults_by_tag.pets.rate"


# ---- applying decisions ------------------------------------------------------------------------

OK = Response(status=200, headers=[("content-type", "application/json")], body=b'{"id":1}', source="spec")


def test_status_fault_uses_the_common_error_shape() -> None:
    out = apply_fault(FaultDecision(503, origin="tag:pets"), OK)
    assert out.status == 503
    assert orjson.loads(out.body) == {
        "error": {"code": "fault_injected", "message": "fault injected by mockforge (tag:pets)"}
    }
    assert out.transport_fault is None and out.source == "spec"


def test_status_fault_with_a_body() -> None:
    out = apply_fault(FaultDecision(500, body={"oops": True}, has_body=True), OK)
    assert (out.status, out.body, out.header("content-type")) == (500, b'{"oops":true}', "application/json")
    text = apply_fault(FaultDecision(500, body="down", has_body=True), OK)
    assert (text.body, text.header("content-type")) == (b"down", "text/plain; charset=utf-8")


@pytest.mark.parametrize("kind", ["reset", "close", "truncate", "malformed", "dribble"])
def test_transport_faults_are_marked_for_the_listener_not_faked(kind: str) -> None:
    p = policy(faults={"transport": kind, "dribble_ms": 300})
    decision = p.fault_for()
    assert decision is not None
    out = p.apply_fault(decision, OK)
    assert out.transport_fault == kind
    assert out.status == 200 and out.body == OK.body  # the real answer, sent faultily
    assert out.dribble_ms == 300
    assert OK.transport_fault is None  # the original is untouched


def test_dribble_has_a_default_duration() -> None:
    spec = parse_fault({"transport": "dribble"}, "f")
    assert spec is not None and spec.dribble_ms == 1000


def test_status_and_transport_together() -> None:
    decision = policy(faults={"status": 502, "transport": "truncate"}).fault_for()
    assert decision is not None
    out = apply_fault(decision, OK)
    assert (out.status, out.transport_fault) == (502, "truncate")
