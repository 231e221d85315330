"""``allOf`` merging: fold a schema's ``$ref`` and ``allOf`` members into one schema.

The generator needs one schema to walk (an object's properties gathered from every member, the
tightest bounds, the intersection of types), and the XML writer needs the composed object's
properties and ``xml`` names. Written by hand because merging is not in any JSON Schema library we
use (jsonschema-rs validates ``allOf`` without merging it) and a merge library would not know the
rules below, which only have to be right for generation: the merged schema may be looser than
``allOf`` in corner cases (a second ``oneOf`` list is kept aside as ``x-unmerged``), because every
generated value is validated against the original schema afterwards.

    merge(defs, [{"$ref": "#/$defs/Pet"}, {"required": ["tag"]}])
    # {"type": ["object"], "properties": {...}, "required": ["id", "name", "tag"]}

Cost: one pass over the members and the defs they reference (each ref followed once per merge);
called while compiling a generator, never per request.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from mockforge.schema.defs import target

#: Keywords a merge leaves out: a member's example rarely fits the merged schema.
PREFERRED = ("example", "examples", "default")
_MIN_KEYS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_MAX_KEYS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "propertyNames", "contains", "unevaluatedProperties")


def intersect_types(a: Any, b: Any) -> list[str]:
    """The types both ``type`` values admit (an integer is a number)."""
    la = [a] if isinstance(a, str) else list(a)
    lb = [b] if isinstance(b, str) else list(b)
    out = [t for t in la if t in lb]
    if "integer" in la and "number" in lb and "integer" not in out:
        out.append("integer")
    if "number" in la and "integer" in lb and "integer" not in out:
        out.append("integer")
    return out


def _members(defs: dict[str, Any], parts: list[Any], out: list[dict[str, Any]], seen: set[str]) -> None:
    for part in parts:
        if part is True or part is None:
            continue
        if part is False:
            out.append({"type": []})
            continue
        rest = {k: v for k, v in part.items() if k not in ("$ref", "allOf")}
        ref = part.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            _members(defs, [target(defs, ref)], out, seen)
        if "allOf" in part:
            _members(defs, list(part["allOf"]), out, seen)
        if rest:
            out.append(rest)


def _multiple(cur: Any, v: Any) -> int | float:
    a, b = Fraction(str(cur)), Fraction(str(v))
    lcm = Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))
    return int(lcm) if lcm.denominator == 1 else float(lcm)


def _combine(out: dict[str, Any], k: str, cur: Any, v: Any) -> None:
    """Fold keyword ``k`` of a later member (``v``) into the merged value so far (``cur``)."""
    if k in ("properties", "patternProperties"):
        for pk, pv in v.items():
            cur[pk] = {"allOf": [cur[pk], pv]} if pk in cur and cur[pk] != pv else pv
    elif k == "required":
        out[k] = list(dict.fromkeys([*cur, *v]))
    elif k == "type":
        out[k] = intersect_types(cur, v)
    elif k in _MIN_KEYS:
        out[k] = max(cur, v)
    elif k in _MAX_KEYS:
        out[k] = min(cur, v)
    elif k == "enum":
        out[k] = [x for x in cur if x in v]
    elif k == "const" and cur != v:
        out["type"] = []
    elif k == "uniqueItems":
        out[k] = cur or v
    elif k == "multipleOf":
        out[k] = _multiple(cur, v)
    elif k in _SUBSCHEMA_KEYS:
        out[k] = False if (cur is False or v is False) else {"allOf": [cur, v]}
    elif k == "not":
        out[k] = {"anyOf": [cur, v]}
    elif k in ("oneOf", "anyOf") and cur != v:
        # two alternatives lists: the second is checked by validation only
        out.setdefault("x-unmerged", []).append(v)


def merge(defs: dict[str, Any], parts: list[Any]) -> dict[str, Any]:
    """Fold ``allOf`` members (and the schemas they reference) into one schema; ``KeyError`` when a
    ``$ref`` cannot be followed."""
    flat: list[dict[str, Any]] = []
    _members(defs, parts, flat, set())
    out: dict[str, Any] = {}
    closed: list[set[str]] = []
    for s in flat:
        if s.get("additionalProperties") is False:
            closed.append(set(s.get("properties", {})))
        for k, v in s.items():
            if k in PREFERRED:
                continue
            if k not in out:
                out[k] = dict(v) if k in ("properties", "patternProperties") else v
            else:
                _combine(out, k, out[k], v)
    if closed:
        allowed = set.intersection(*closed)
        out["properties"] = {k: v for k, v in out.get("properties", {}).items() if k in allowed}
        out["additionalProperties"] = False
    return out


def flatten(defs: dict[str, Any], schema: Any) -> dict[str, Any]:
    """``schema`` with its ``$ref`` and ``allOf`` folded into one schema (examples dropped), e.g.
    to list the properties of a composed object."""
    return merge(defs, [schema])
