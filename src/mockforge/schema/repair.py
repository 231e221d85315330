"""Repair a value (a spec's example) so that it validates against its schema, keeping what is right.

Real documents often carry examples that fail their own schema: numbers written for string
properties (``"errorCode": 257``), numbers or booleans written as strings (``"12.5"``), JSON text
where an object is declared, a required property missing, a property ``additionalProperties:
false`` forbids, a value outside an ``enum``. Serving them as written breaks clients that trust the
spec; replacing the whole example by generated data throws away what the author meant. ``repair``
walks the value beside its schema and fixes only the parts that fail:

* a scalar of the wrong type is converted when the conversion is lossless (``257`` -> ``"257"``,
  ``"12.5"`` -> ``12.5``, ``"true"`` -> ``True``, JSON text -> the object or array it spells);
* an object keeps its valid properties, repairs the others, drops those the schema forbids and
  gets generated values for missing required ones; an array repairs its items, is cut to
  ``maxItems`` and filled up to ``minItems``;
* any other part that still fails is replaced by a value generated from its own subschema.

The result is checked against the whole schema; ``None`` means no repair validated (the caller
then serves a generated body). Written by hand: no JSON Schema library repairs instances. Work is
bounded (``MAX_DEPTH`` levels, ``MAX_STEPS`` visited parts) and done once per example at start-up.

    repair(gen, {"type": "object", "properties": {"code": {"type": "string"}}}, {"code": 257}, rng)
    # {"code": "257"}
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from mockforge.schema.coerce import CoerceError, scalar
from mockforge.schema.generate import DataGenerator, types_of
from mockforge.schema.node import clone

#: Nesting levels walked; deeper parts that fail are replaced whole.
MAX_DEPTH = 32
#: Parts of one example visited at most (an example of a few thousand nodes is still repaired).
MAX_STEPS = 20_000
_TEXT_MAX = 1 << 20
#: ``_fix`` at the top level: the value would have to be generated whole.
_WHOLE: Any = object()


class _Budget:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


def repair(gen: DataGenerator, schema: Any, value: Any, rng: random.Random) -> Any | None:
    """``value`` changed as little as needed to validate against ``schema``, or ``None``."""
    if gen.validator(schema) is None:  # a schema the validator refuses: nothing to repair against
        return None
    try:
        fixed = _fix(gen, schema, clone(value), rng, 0, _Budget())
    except (KeyError, TypeError, ValueError, RecursionError):
        return None
    if fixed is _WHOLE:  # nothing of the example could be kept: that is a replacement
        return None
    return fixed if gen.is_valid(schema, fixed) else None


def _convert(value: Any, types: list[str]) -> Any:
    """``value`` as one of ``types`` when that is lossless, else ``value`` unchanged."""
    if isinstance(value, str):
        if ("object" in types or "array" in types) and len(value) <= _TEXT_MAX:
            text = value.strip()
            if text[:1] in ("{", "["):
                try:
                    parsed = orjson.loads(text)
                except orjson.JSONDecodeError:
                    return value
                if ("object" in types and isinstance(parsed, dict)) or ("array" in types and isinstance(parsed, list)):
                    return parsed
            return value
        scalars = tuple(t for t in ("integer", "number", "boolean", "null") if t in types)
        if scalars and "string" not in types:
            try:
                return scalar(value.strip(), scalars, "")
            except CoerceError:
                return value
        return value
    if isinstance(value, bool):
        return ("true" if value else "false") if "string" in types and "boolean" not in types else value
    if isinstance(value, int | float):
        if "string" in types and "number" not in types and not ("integer" in types and isinstance(value, int)):
            return str(value)
        if "integer" in types and "number" not in types and isinstance(value, float) and value.is_integer():
            return int(value)
    return value


def _fix(gen: DataGenerator, schema: Any, value: Any, rng: random.Random, depth: int, budget: _Budget) -> Any:
    budget.steps += 1
    if gen.is_valid(schema, value):
        return value

    def whole() -> Any:
        return _WHOLE if depth == 0 else gen.generate(schema, rng)

    if depth >= MAX_DEPTH or budget.steps > MAX_STEPS or not isinstance(schema, dict):
        return whole()
    flat = gen.flatten(schema)
    for kw in ("oneOf", "anyOf"):
        alts = flat.get(kw)
        if isinstance(alts, list) and alts:
            rest = {k: v for k, v in flat.items() if k not in ("oneOf", "anyOf")}
            for alt in alts:
                # same depth: an alternative generated whole is still a replacement at the top
                candidate = _fix(gen, {"allOf": [rest, alt]} if rest else alt, clone(value), rng, depth, budget)
                if candidate is not _WHOLE and gen.is_valid(schema, candidate):
                    return candidate
            return whole()
    types = types_of(flat)
    value = _convert(value, types)
    if isinstance(value, dict) and "object" in types:
        value = _fix_object(gen, flat, value, rng, depth, budget)
    elif isinstance(value, list) and "array" in types:
        value = _fix_array(gen, flat, value, rng, depth, budget)
    if gen.is_valid(schema, value):
        return value
    return whole()


def _fix_object(gen: DataGenerator, flat: dict[str, Any], value: dict[str, Any], rng: random.Random,
                depth: int, budget: _Budget) -> dict[str, Any]:
    props: dict[str, Any] = flat.get("properties") or {}
    patterns = flat.get("patternProperties") or {}
    ap = flat.get("additionalProperties", True)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in props:
            if props[key] is False:
                continue
            out[key] = _fix(gen, props[key], item, rng, depth + 1, budget)
        elif patterns:
            out[key] = item  # pattern-matched keys are left to the final check
        elif ap is False:
            continue
        elif isinstance(ap, dict):
            out[key] = _fix(gen, ap, item, rng, depth + 1, budget)
        else:
            out[key] = item
    for key in flat.get("required") or []:
        if key not in out:
            sub = props.get(key, ap if isinstance(ap, dict) else {})
            out[key] = gen.generate(sub, rng)
    return out


def _fix_array(gen: DataGenerator, flat: dict[str, Any], value: list[Any], rng: random.Random,
               depth: int, budget: _Budget) -> list[Any]:
    items = flat.get("items", True)
    prefix = flat.get("prefixItems") or []
    out: list[Any] = []
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else items
        out.append(_fix(gen, sub, item, rng, depth + 1, budget) if isinstance(sub, dict) else item)
    mx = flat.get("maxItems")
    if isinstance(mx, int) and len(out) > mx:
        out = out[:mx]
    mn = flat.get("minItems")
    if isinstance(mn, int) and isinstance(items, dict):
        while len(out) < mn:
            out.append(gen.generate(items, rng))
    return out
