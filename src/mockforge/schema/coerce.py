"""Coerce strings to the types a schema admits: ``"5"`` is the integer 5 for ``type: integer``.

Query, header, cookie and form values arrive as strings (or lists and dicts of strings after
style deserialisation); JSON Schema validates typed values. ``shape_of`` reads a schema once into a
small ``Shape`` tree (types, item shape, property shapes, bounded depth) at start-up, so coercing a
value per request is a walk of the value only, never of the schema. A string that fits none of the
types raises ``CoerceError`` with its location and a one-line reason.

    shape = shape_of({"type": "array", "items": {"type": "integer"}}, Defs(model.defs))
    coerce(["1", "2"], shape, "query.ids")      # [1, 2]

Written by hand: the coercion follows OpenAPI's rules (a lone value for an array is a one-item
array, ``null`` accepts an empty string), which no validation library applies to raw strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mockforge.schema.defs import Defs

_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUM_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_MAX_SHAPE_DEPTH = 4


class CoerceError(Exception):
    """A value that cannot become what its schema asks for, at ``path`` (``query.ids.1``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(slots=True)
class Shape:
    """What a string-serialised value should become: types, item shape, property shapes."""

    types: tuple[str, ...]
    items: Shape | None = None
    props: dict[str, Shape] | None = None
    extra: Shape | None = None
    binary: bool = False
    #: "array", "object" or "scalar" (decided once from ``types``)
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        types = self.types
        self.kind = "array" if "array" in types else "object" if "object" in types else "scalar"


ANY = Shape(())


def shape_of(schema: Any, defs: Defs, depth: int = 0) -> Shape:
    """What ``schema`` asks a string-serialised value to become (deeper than 4 levels: anything)."""
    resolved = defs.resolve(schema)
    if not isinstance(resolved, dict) or depth > _MAX_SHAPE_DEPTH:
        return ANY
    shape = Shape(defs.types(resolved), binary=resolved.get("format") in ("binary", "byte"))
    kind = shape.kind
    if kind == "array":
        items = resolved.get("items")
        shape.items = shape_of(items, defs, depth + 1) if isinstance(items, dict) else ANY
    elif kind == "object":
        shape.props = {k: shape_of(v, defs, depth + 1) for k, v in defs.properties(resolved).items()}
        extra = resolved.get("additionalProperties")
        shape.extra = shape_of(extra, defs, depth + 1) if isinstance(extra, dict) else ANY
    return shape


def _expected(types: tuple[str, ...], text: str) -> str:
    return f"expected {' or '.join(types)}, got {text!r}"


def scalar(text: str, types: tuple[str, ...], path: str) -> Any:
    """One string as the first of ``types`` it reads as (integer, number, boolean, string, null)."""
    if not types:
        return text
    try:
        if "integer" in types and _INT_RE.fullmatch(text):
            return int(text)
        if "number" in types and _NUM_RE.fullmatch(text):
            return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:  # past Python's 4,300-digit int conversion limit: a request, not a crash
        raise CoerceError(path, f"a number of {len(text)} digits is too long") from None
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    if "string" in types:
        return text
    if "null" in types and text in ("", "null"):
        return None
    raise CoerceError(path, _expected(types, text))


def coerce(raw: Any, shape: Shape, path: str = "") -> Any:
    """Turn strings (and lists/dicts of strings) into the values ``shape`` asks for."""
    kind = shape.kind
    if isinstance(raw, list):
        if kind != "array":
            if len(raw) == 1:
                return coerce(raw[0], shape, path)
            raise CoerceError(path, f"expected {' or '.join(shape.types)}, got {len(raw)} values")
        item = shape.items or ANY
        return [coerce(v, item, f"{path}.{i}") for i, v in enumerate(raw)]
    if isinstance(raw, dict):
        if kind != "object":
            raise CoerceError(path, f"expected {' or '.join(shape.types)}, got an object")
        props = shape.props or {}
        return {k: coerce(v, props.get(k) or shape.extra or ANY, f"{path}.{k}") for k, v in raw.items()}
    if not isinstance(raw, str):
        return raw
    if kind == "array":
        return [] if raw == "" else [coerce(raw, shape.items or ANY, f"{path}.0")]
    if kind == "object":
        if "string" in shape.types:
            return raw
        raise CoerceError(path, _expected(shape.types, raw))
    return scalar(raw, shape.types, path)
