"""Latency and fault decisions: how long to wait and whether to misbehave, decided per request.

Why hand-written: the config shapes are ours (issue 3 items 5 and 6) and a decision is a few
draws from a seeded ``random.Random``; no library fits better. This module only *decides*. A
status fault becomes a normal ``Response``; a transport fault sets ``Response.transport_fault``
and the listener performs it for real on the wire (reset, EOF, short body, garbage, dribble).

Latency objects: ``{fixed_ms: 200}``, ``{uniform: {min_ms: 50, max_ms: 150}}``,
``{lognormal: {median_ms: 80, sigma: 0.5, max_ms: 60000}}`` (``max_ms`` optional, default 60 s).
Fault objects: ``{rate: 0.1, status: [500, 503], body: ..., transport: null|reset|close|truncate|
malformed|dribble, dribble_ms: 1000}``; ``rate`` defaults to 1.0 and ``status`` to ``[500]`` when
no transport is given. With both ``status`` and ``transport`` the status answer is sent faultily.

    policy = FaultPolicy(config.core)
    delay_s = policy.latency_for("getPet", ["pets"])      # operation > first tag > global
    decision = policy.fault_for("getPet", ["pets"])
    if decision:
        response = apply_fault(decision, response)
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson

from mockforge.config import CoreConfig
from mockforge.core.model import TRANSPORT_FAULTS, Response
from mockforge.core.responses import error_response
from mockforge.errors import ConfigError, MockforgeError

_DEFAULT_MAX_MS = 60_000
_DEFAULT_DRIBBLE_MS = 1000


def _number(value: Any, where: str, error: type[MockforgeError], *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(f"expected a number, got {value!r}", where=where)
    if value < minimum:
        raise error(f"expected a number >= {minimum:g}, got {value!r}", where=where)
    return float(value)


def _check_keys(
    spec: Mapping[str, Any], known: Sequence[str], where: str, error: type[MockforgeError]
) -> None:
    for key in spec:
        if key not in known:
            raise error(f"unknown key '{key}' (known: {', '.join(known)})", where=f"{where}.{key}")


# --------------------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class Latency:
    """A parsed latency object; ``sample`` gives seconds."""

    kind: str
    a: float
    b: float = 0.0
    max_ms: float = _DEFAULT_MAX_MS

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed":
            ms = self.a
        elif self.kind == "uniform":
            ms = rng.uniform(self.a, self.b)
        else:
            ms = min(self.max_ms, self.a * math.exp(self.b * rng.gauss(0.0, 1.0)))
        return ms / 1000.0

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "fixed":
            return {"fixed_ms": self.a}
        if self.kind == "uniform":
            return {"uniform": {"min_ms": self.a, "max_ms": self.b}}
        return {"lognormal": {"median_ms": self.a, "sigma": self.b, "max_ms": self.max_ms}}


def parse_latency(spec: Any, where: str, error: type[MockforgeError] = ConfigError) -> Latency | None:
    """A latency object, or None for null/absent. Errors name the key."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise error("a latency object has exactly one of fixed_ms, uniform, lognormal", where=where)
    ((kind, arg),) = spec.items()
    at = f"{where}.{kind}"
    if kind == "fixed_ms":
        return Latency("fixed", _number(arg, at, error))
    if kind == "uniform":
        if not isinstance(arg, Mapping):
            raise error("expected {min_ms, max_ms}", where=at)
        _check_keys(arg, ("min_ms", "max_ms"), at, error)
        lo = _number(arg.get("min_ms", 0), f"{at}.min_ms", error)
        if "max_ms" not in arg:
            raise error("missing max_ms", where=at)
        hi = _number(arg["max_ms"], f"{at}.max_ms", error)
        if hi < lo:
            raise error(f"max_ms ({hi:g}) is below min_ms ({lo:g})", where=f"{at}.max_ms")
        return Latency("uniform", lo, hi)
    if kind == "lognormal":
        if not isinstance(arg, Mapping):
            raise error("expected {median_ms, sigma}", where=at)
        _check_keys(arg, ("median_ms", "sigma", "max_ms"), at, error)
        for key in ("median_ms", "sigma"):
            if key not in arg:
                raise error(f"missing {key}", where=at)
        median = _number(arg["median_ms"], f"{at}.median_ms", error)
        sigma = _number(arg["sigma"], f"{at}.sigma", error)
        cap = _number(arg.get("max_ms", _DEFAULT_MAX_MS), f"{at}.max_ms", error)
        return Latency("lognormal", median, sigma, cap)
    raise error(f"unknown latency kind '{kind}' (known: fixed_ms, uniform, lognormal)", where=at)


# --------------------------------------------------------------------------- faults

_FAULT_KEYS = ("rate", "status", "body", "transport", "dribble_ms")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A parsed fault object (what the config says); ``FaultDecision`` is one draw of it."""

    rate: float = 1.0
    statuses: tuple[int, ...] = ()
    body: Any = None
    has_body: bool = False
    transport: str | None = None
    dribble_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rate": self.rate}
        if self.statuses:
            out["status"] = list(self.statuses)
        if self.has_body:
            out["body"] = self.body
        out["transport"] = self.transport
        if self.transport == "dribble":
            out["dribble_ms"] = self.dribble_ms
        return out


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """Misbehave for this request: answer ``status`` (when set) and/or do ``transport`` on the wire.
    ``origin`` says which rule fired (``operation:getPet``, ``tag:pets``, ``global``, ``stub:ID``)."""

    status: int | None
    body: Any = None
    has_body: bool = False
    transport: str | None = None
    dribble_ms: int = 0
    origin: str = "global"


def parse_fault(spec: Any, where: str, error: type[MockforgeError] = ConfigError) -> FaultSpec | None:
    """A fault object, or None for null/absent. Errors name the key."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise error("a fault object must be a mapping", where=where)
    _check_keys(spec, _FAULT_KEYS, where, error)
    rate = _number(spec.get("rate", 1.0), f"{where}.rate", error)
    if rate > 1.0:
        raise error(f"expected a rate from 0.0 to 1.0, got {rate:g}", where=f"{where}.rate")
    transport = spec.get("transport")
    if transport is not None and transport not in TRANSPORT_FAULTS:
        raise error(
            f"unknown transport fault {transport!r} (known: {', '.join(TRANSPORT_FAULTS)})",
            where=f"{where}.transport",
        )
    raw_status = spec.get("status")
    statuses: tuple[int, ...] = ()
    if raw_status is not None:
        items = raw_status if isinstance(raw_status, list) else [raw_status]
        if not items:
            raise error("expected at least one status", where=f"{where}.status")
        for i, code in enumerate(items):
            if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
                raise error(
                    f"expected an HTTP status from 100 to 599, got {code!r}", where=f"{where}.status[{i}]"
                )
        statuses = tuple(items)
    elif transport is None:
        statuses = (500,)
    dribble = spec.get("dribble_ms", _DEFAULT_DRIBBLE_MS if transport == "dribble" else 0)
    dribble_ms = int(_number(dribble, f"{where}.dribble_ms", error))
    body = spec.get("body")
    if "body" in spec and not isinstance(body, str):
        try:  # sent with orjson on every faulted request: a body it cannot encode is refused now
            orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise error(f"the fault body does not serialise as JSON ({exc})", where=f"{where}.body") from None
    return FaultSpec(rate, statuses, body, "body" in spec, transport, dribble_ms)


def apply_fault(decision: FaultDecision, response: Response) -> Response:
    """The response to send: a status fault replaces the answer (common error shape unless the
    fault gives a ``body``); a transport fault is marked for the listener to perform."""
    out = response
    if decision.status is not None:
        if decision.has_body:
            body = decision.body
            if isinstance(body, str):
                raw, ctype = body.encode(), "text/plain; charset=utf-8"
            else:
                raw, ctype = orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS), "application/json"
            out = Response(status=decision.status, headers=[("content-type", ctype)], body=raw)
        else:
            out = error_response(
                decision.status, "fault_injected", f"fault injected by mockforge ({decision.origin})"
            )
        out.source = response.source
    if decision.transport is not None:
        out = replace(out, transport_fault=decision.transport, dribble_ms=decision.dribble_ms)
    return out


# --------------------------------------------------------------------------- policy


class FaultPolicy:
    """The configured latency and fault rules plus the run-time global fault, with seeded draws.

    Draws come from two ``random.Random`` seeded from ``core.seed`` (one for latency, one for
    faults), so a seeded run gives the same sequence of delays and faults.
    """

    def __init__(self, core: CoreConfig, *, seed: int | None = None) -> None:
        base = core.seed if seed is None else seed
        self._latency_rng = random.Random(f"latency:{base}") if base is not None else random.Random()
        self._fault_rng = random.Random(f"faults:{base}") if base is not None else random.Random()
        self._lock = threading.Lock()
        self.latency = parse_latency(core.latency, "core.latency")
        self.latency_by_tag = {
            k: lat
            for k, v in core.latency_by_tag.items()
            if (lat := parse_latency(v, f"core.latency_by_tag.{k}")) is not None
        }
        self.latency_by_operation = {
            k: lat
            for k, v in core.latency_by_operation.items()
            if (lat := parse_latency(v, f"core.latency_by_operation.{k}")) is not None
        }
        self.fault = parse_fault(core.faults, "core.faults")
        self.faults_by_tag = {
            k: f
            for k, v in core.faults_by_tag.items()
            if (f := parse_fault(v, f"core.faults_by_tag.{k}")) is not None
        }
        self.faults_by_operation = {
            k: f
            for k, v in core.faults_by_operation.items()
            if (f := parse_fault(v, f"core.faults_by_operation.{k}")) is not None
        }

    # ---- latency -------------------------------------------------------------------
    def sample(self, latency: Latency) -> float:
        with self._lock:
            return latency.sample(self._latency_rng)

    def latency_for(self, operation_id: str | None = None, tags: Sequence[str] = ()) -> float:
        """Seconds to wait (0.0 when no rule applies): operation, then the first tag with a rule,
        then global."""
        if self.latency is None and not self.latency_by_tag and not self.latency_by_operation:
            return 0.0
        chosen = self.latency_by_operation.get(operation_id) if operation_id else None
        if chosen is None:
            chosen = next((self.latency_by_tag[t] for t in tags if t in self.latency_by_tag), None)
        if chosen is None:
            chosen = self.latency
        return 0.0 if chosen is None else self.sample(chosen)

    # ---- faults --------------------------------------------------------------------
    def decide(self, spec: FaultSpec, origin: str) -> FaultDecision | None:
        """One draw of ``spec`` (also used for a stub's own ``response.fault``)."""
        with self._lock:
            if spec.rate <= 0.0 or (spec.rate < 1.0 and self._fault_rng.random() >= spec.rate):
                return None
            status = None
            if spec.statuses:
                status = (
                    spec.statuses[0] if len(spec.statuses) == 1 else self._fault_rng.choice(spec.statuses)
                )
        return FaultDecision(status, spec.body, spec.has_body, spec.transport, spec.dribble_ms, origin)

    def fault_for(self, operation_id: str | None = None, tags: Sequence[str] = ()) -> FaultDecision | None:
        """A fault to inject, or None: the operation's rule, else the first tag's, else global."""
        if self.fault is None and not self.faults_by_tag and not self.faults_by_operation:
            return None
        if operation_id and operation_id in self.faults_by_operation:
            return self.decide(self.faults_by_operation[operation_id], f"operation:{operation_id}")
        for tag in tags:
            if tag in self.faults_by_tag:
                return self.decide(self.faults_by_tag[tag], f"tag:{tag}")
        fault = self.fault
        return None if fault is None else self.decide(fault, "global")

    def rules_for(self, operation_id: str | None = None, tags: Sequence[str] = ()) -> dict[str, Any]:
        """The latency and fault rules that apply, as data, drawing nothing (the seeded sequences
        stay where they are): ``{"latency": {...} | None, "fault": {"origin", ...} | None}``."""
        latency = self.latency_by_operation.get(operation_id) if operation_id else None
        if latency is None:
            latency = next((self.latency_by_tag[t] for t in tags if t in self.latency_by_tag), None)
        if latency is None:
            latency = self.latency
        fault: dict[str, Any] | None = None
        if operation_id and operation_id in self.faults_by_operation:
            fault = {"origin": f"operation:{operation_id}", **self.faults_by_operation[operation_id].to_dict()}
        else:
            tag = next((t for t in tags if t in self.faults_by_tag), None)
            if tag is not None:
                fault = {"origin": f"tag:{tag}", **self.faults_by_tag[tag].to_dict()}
            elif self.fault is not None:
                fault = {"origin": "global", **self.fault.to_dict()}
        return {"latency": None if latency is None else latency.to_dict(), "fault": fault}

    def stub_fault(self, stub_id: str, spec: FaultSpec | None) -> FaultDecision | None:
        """One draw of a stub's own ``response.fault`` (None when it has none or the draw misses)."""
        return None if spec is None else self.decide(spec, f"stub:{stub_id}")

    @staticmethod
    def apply_fault(decision: FaultDecision, response: Response) -> Response:
        """``apply_fault`` as a method, for callers holding only the policy."""
        return apply_fault(decision, response)

    def global_fault(self) -> dict[str, Any] | None:
        return None if self.fault is None else self.fault.to_dict()

    def set_global(self, obj: Any) -> FaultSpec:
        """Replace the global fault (``PUT /__mockforge/faults``); ``ConfigError`` names the key."""
        spec = parse_fault(obj, "fault")
        if spec is None:
            raise ConfigError("expected a fault object", where="fault")
        self.fault = spec
        return spec

    def clear_global(self) -> None:
        """No global fault any more (``DELETE /__mockforge/faults``); tag and operation rules stay."""
        self.fault = None
