"""``$defs`` references: naming, following and collecting the defs a schema reaches.

Every schema of the model (``openapi/model.py``) refers to a shared schema as
``{"$ref": "#/$defs/NAME"}``, so one small set of functions serves the generator, the request
validator and the response checks. Written by hand: a JSON Schema referencing library would
resolve arbitrary URIs (which the loader has already done, inside its file roots) and inline
targets, when all we need is a dictionary lookup.

    ref_name("#/$defs/Pet")                    # "Pet"
    reachable_defs(defs, {"$ref": "#/$defs/Pet"})   # {"Pet": ..., "Tag": ...}
    resolve(defs, {"$ref": "#/$defs/Pet"})     # the Pet schema

``reachable_defs`` is what keeps compiled validators small: a validator carries only the defs its
schema can reach, not the whole document (a large spec has thousands). It walks each def once per
call; the optional cache (name -> direct refs) makes repeated calls cost one pass over the names.
"""

from __future__ import annotations

from typing import Any

DEFS_PREFIX = "#/$defs/"
_PREFIX_LEN = len(DEFS_PREFIX)
#: ``$ref`` chains longer than this are cut (a def that is only a ``$ref`` to itself).
MAX_REF_CHAIN = 64


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def def_name(ref: str) -> str | None:
    """``#/$defs/Pet/properties/id`` -> ``Pet``; ``None`` for a ref outside ``$defs``."""
    if not ref.startswith(DEFS_PREFIX):
        return None
    return _unescape(ref[_PREFIX_LEN:].split("/", 1)[0])


def ref_name(ref: str) -> str:
    """``#/$defs/Pet`` -> ``Pet`` (JSON pointer escapes undone); any other ref is kept whole."""
    name = ref.rsplit("/", 1)[-1] if ref.startswith(DEFS_PREFIX) and ref.count("/") == 2 else ref
    return _unescape(name)


def refs_in(schema: Any) -> frozenset[str]:
    """Names of the defs a schema refers to directly (``#/$defs/NAME...``)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = def_name(ref)
                if name is not None:
                    names.add(name)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    return frozenset(names)


def reachable_defs(
    defs: dict[str, Any], schema: Any, cache: dict[str, frozenset[str]] | None = None
) -> dict[str, Any]:
    """Every def ``schema`` reaches, directly or through other defs, so a validator compiles only
    what it needs; ``cache`` (name -> direct refs) saves re-walking defs across calls."""
    todo = list(refs_in(schema))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        direct = cache.get(name) if cache is not None else None
        if direct is None:
            direct = refs_in(defs[name])
            if cache is not None:
                cache[name] = direct
        todo.extend(direct - seen)
    return {name: defs[name] for name in seen}


def target(defs: dict[str, Any], ref: str) -> Any:
    """The schema ``ref`` points at, following the whole pointer; ``KeyError`` when it cannot."""
    if not ref.startswith(DEFS_PREFIX):
        raise KeyError(ref)
    parts = [_unescape(p) for p in ref[_PREFIX_LEN:].split("/")]
    node: Any = defs[parts[0]]
    for p in parts[1:]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    return node


def resolve(defs: dict[str, Any], schema: Any) -> Any:
    """Follow ``$ref`` until a schema without one (siblings of a ``$ref`` are dropped); a ref that
    cannot be followed raises ``KeyError``."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < MAX_REF_CHAIN:
        schema = target(defs, schema["$ref"])
        seen += 1
    return schema


def resolve_known(defs: dict[str, Any], schema: Any) -> Any:
    """Like ``resolve`` but lenient: a ref outside ``$defs``, or to a missing def, is returned as
    it is (request validation must never fail on the spec's account)."""
    for _ in range(32):
        if not isinstance(schema, dict) or "$ref" not in schema:
            return schema
        name = def_name(schema["$ref"])
        if name is None or name not in defs:
            return schema
        schema = defs[name]
    return schema


class Defs:
    """Read-only lookups into one model's ``defs`` for request validation: lenient ``$ref``
    resolution, the types a schema admits, its properties through ``allOf``/``anyOf``/``oneOf``.
    Nothing raises on a malformed schema: it just says less (no types, no properties)."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def resolve(self, schema: Any) -> Any:
        return resolve_known(self.defs, schema)

    def types(self, schema: Any, depth: int = 0) -> tuple[str, ...]:
        """The JSON types a schema admits, in schema order (``()`` when it does not say)."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > 8:
            return ()
        declared = schema.get("type")
        if isinstance(declared, str):
            return (declared,)
        if isinstance(declared, list):
            return tuple(t for t in declared if isinstance(t, str))
        out: list[str] = []
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or ():
                for t in self.types(sub, depth + 1):
                    if t not in out:
                        out.append(t)
        if not out:
            if "properties" in schema or "additionalProperties" in schema:
                out.append("object")
            elif "items" in schema or "prefixItems" in schema:
                out.append("array")
        return tuple(out)

    def properties(self, schema: Any, depth: int = 0) -> dict[str, Any]:
        """Declared properties, merged through ``allOf``/``anyOf``/``oneOf`` members."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or depth > 8:
            return {}
        out: dict[str, Any] = {}
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in schema.get(key) or ():
                out.update(self.properties(sub, depth + 1))
        props = schema.get("properties")
        if isinstance(props, dict):
            out.update(props)
        return out

    def closure(self, schema: Any) -> dict[str, Any]:
        """Every def reachable from ``schema`` (so a validator compiles only what it needs)."""
        return reachable_defs(self.defs, schema)
