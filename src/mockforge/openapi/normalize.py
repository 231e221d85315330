"""Rewrite one OpenAPI schema object (2.0, 3.0 or 3.1) into the JSON Schema 2020-12 dialect of the model.

Hand-written because no library does this one-pass rewrite: converters such as swagger2openapi
produce another OpenAPI document (which we would still have to walk), and the dereferencing
libraries inline every ``$ref`` (exponential on cross-referencing specs, see
reference/python-stack.md). Here each schema node is visited once; a ``$ref`` is handed to the
caller's hook, which gives back the ``defs`` name, so recursion never expands.

    {"type": "string", "nullable": true, "enum": ["a"]}  (3.0)
    -> {"type": ["string", "null"], "enum": ["a", null]}
    {"$ref": "#/definitions/Pet"}  (2.0)  ->  {"$ref": "#/$defs/Pet"}

Values that would make ``jsonschema_rs`` refuse to compile the schema (``required: true`` on a
property, ``maxLength: "10"``, an unknown ``type``) are dropped rather than passed on: a mock server
should serve a slightly looser schema instead of refusing a real-world spec.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

from mockforge.core.regex import schema_pattern_options
from mockforge.schema.ecma import translate as translate_ecma

Schema = dict[str, Any]

#: Keywords whose value is one subschema.
_ONE = frozenset(
    {
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
#: Keywords whose value is a list of subschemas.
_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
#: Keywords whose value maps names to subschemas.
_MAP = frozenset({"properties", "patternProperties", "dependentSchemas"})
#: Keywords left out: identifiers would change the base URI that ``#/$defs/..`` resolves against,
#: nested definitions are reached through their JSON pointer (so they become defs of their own),
#: and prose is not needed to validate or generate (descriptions were a third of the memory a
#: large spec kept).
_DROP = frozenset(
    {
        "description",
        "$comment",
        "externalDocs",
        "$id",
        "$schema",
        "$anchor",
        "$dynamicAnchor",
        "$dynamicRef",
        "$defs",
        "definitions",
        "$vocabulary",
        "nullable",
        "x-nullable",
        "additionalItems",
        "id",
    }
)
#: Keywords the 2020-12 meta-schema wants as strings / booleans.
_STRINGS = frozenset({"title", "format", "contentMediaType", "contentEncoding"})
_FLAGS = frozenset({"uniqueItems", "readOnly", "writeOnly", "deprecated"})
_TYPES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_NUMBER = frozenset({"minimum", "maximum"})
_COUNT = frozenset(
    {
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "minContains",
        "maxContains",
    }
)
#: Moved to the outer schema when a type-less nullable schema is wrapped in ``anyOf``.
_ANNOTATIONS = (
    "title",
    "description",
    "example",
    "examples",
    "default",
    "readOnly",
    "writeOnly",
    "deprecated",
    "xml",
    "externalDocs",
)


class SchemaHooks(Protocol):
    """How the converter reaches outside the schema it is given (implemented by the resolver)."""

    def ref(self, ref: str) -> str:
        """``$ref`` value -> name in ``defs``; raises when the target cannot be resolved."""
        ...

    def mapping(self, value: str) -> str | None:
        """``discriminator.mapping`` value (a ref or a bare schema name) -> name in ``defs``."""
        ...

    def note(self, message: str) -> None:
        """Something was left out of the schema (reported as a load warning)."""
        ...


@functools.cache
def regex_ok(pattern: str) -> bool:
    """Whether jsonschema_rs runs ``pattern`` on its linear engine (``schema_pattern_options``):
    one bad regex in ``defs`` would make every validator built over them fail to compile, and
    lookaround or backreferences would need the backtracking one."""
    import jsonschema_rs

    try:
        jsonschema_rs.validator_for({"pattern": pattern}, pattern_options=schema_pattern_options())
    except Exception:  # jsonschema_rs raises ValidationError for a bad pattern
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def _unknown_types(value: Any) -> list[Any]:
    """The entries of a ``type`` value that are no JSON Schema type (``strng``)."""
    values = value if isinstance(value, list) else [value]
    return [v for v in values if v != "file" and _type(v) is None]


def _type(value: Any) -> str | list[str] | None:
    if isinstance(value, str):
        if value in _TYPES:
            return value
        low = value.lower()
        return low if low in _TYPES else None
    if isinstance(value, list):
        kept = [t for t in (_type(v) for v in value) if isinstance(t, str)]
        return kept or None
    return None


def convert_schema(node: Any, hooks: SchemaHooks, *, ref_siblings: bool) -> Any:
    """Return the 2020-12 form of ``node`` (a new dict; ``node`` itself is not modified).

    ``ref_siblings`` keeps keywords next to ``$ref`` (3.1); in 2.0 and 3.0 they are ignored.
    """
    if not isinstance(node, dict):
        return node if isinstance(node, bool) else {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        out: Schema = {"$ref": "#/$defs/" + hooks.ref(ref)}
        if not ref_siblings or len(node) == 1:
            if node.get("nullable") is True or node.get("x-nullable") is True:
                # 2.0/3.0 ignore $ref siblings, but authors mean it: null is allowed too
                return {"anyOf": [out, {"type": "null"}]}
            return out
    else:
        out = {}
    conv = convert_schema
    nullable = node.get("nullable") is True or node.get("x-nullable") is True
    for key, value in node.items():
        if key == "$ref" or key in _DROP:
            continue
        if key in _MAP:
            if isinstance(value, dict):
                out[key] = sub = {
                    translate_ecma(str(k)) if key == "patternProperties" else str(k): conv(
                        v, hooks, ref_siblings=ref_siblings
                    )
                    for k, v in value.items()
                }
                if key == "patternProperties":
                    for bad in [k for k in sub if not regex_ok(k)]:
                        hooks.note(
                            f"patternProperties key {bad!r} is not a regex the linear engine runs; left out"
                        )
                        del sub[bad]
        elif key in _LIST:
            if isinstance(value, list):
                out[key] = [conv(v, hooks, ref_siblings=ref_siblings) for v in value]
        elif key in _ONE:
            out[key] = conv(value, hooks, ref_siblings=ref_siblings)
        elif key == "items":
            if isinstance(value, list):  # draft 4 tuple form
                out["prefixItems"] = [conv(v, hooks, ref_siblings=ref_siblings) for v in value]
                if "additionalItems" in node:
                    out["items"] = conv(node["additionalItems"], hooks, ref_siblings=ref_siblings)
            else:
                out["items"] = conv(value, hooks, ref_siblings=ref_siblings)
        elif key == "type":
            if value == "file":
                out["type"] = "string"
                out.setdefault("format", "binary")
            else:
                kind = _type(value)
                if kind is not None:
                    out["type"] = kind
                unknown = _unknown_types(value)
                if unknown:
                    hooks.note(f"unknown type {', '.join(map(repr, unknown))} (known: {', '.join(sorted(_TYPES))})")
        elif key in _COUNT:
            count = _count(value)
            if count is not None:
                out[key] = count
        elif key in _NUMBER:
            if _is_number(value):
                out[key] = value
        elif key == "exclusiveMinimum" or key == "exclusiveMaximum":
            if _is_number(value):
                out[key] = value
            elif value is True:
                bound = node.get("minimum" if key == "exclusiveMinimum" else "maximum")
                if _is_number(bound):
                    out[key] = bound
        elif key == "multipleOf":
            if _is_number(value) and value > 0:
                out[key] = value
        elif key == "required":
            if isinstance(value, list):
                out[key] = [v for v in value if isinstance(v, str)]
        elif key == "enum":
            if isinstance(value, list):
                out[key] = value
        elif key == "pattern":
            if isinstance(value, str):
                value = translate_ecma(value)
                if regex_ok(value):
                    out[key] = value
                else:
                    hooks.note(f"pattern {value!r} is not a regex the linear engine runs; left out")
        elif key in _STRINGS:
            if isinstance(value, str):
                out[key] = value
        elif key in _FLAGS:
            if isinstance(value, bool):
                out[key] = value
        elif key == "examples":  # an array in 2020-12; 3.0 authors sometimes write a mapping
            out[key] = (
                value
                if isinstance(value, list)
                else list(value.values())
                if isinstance(value, dict)
                else [value]
            )
        elif key == "dependencies":  # draft 4: split into the two 2020-12 keywords
            if isinstance(value, dict):
                for name, dep in value.items():
                    if isinstance(dep, list):
                        out.setdefault("dependentRequired", {})[str(name)] = dep
                    else:
                        out.setdefault("dependentSchemas", {})[str(name)] = conv(
                            dep, hooks, ref_siblings=ref_siblings
                        )
        elif key == "discriminator":
            disc = _discriminator(value, hooks)
            if disc is not None:
                out[key] = disc
        else:
            out[key] = value
    # a bound made exclusive by a boolean flag is no longer an inclusive one
    if node.get("exclusiveMinimum") is True and "exclusiveMinimum" in out:
        out.pop("minimum", None)
    if node.get("exclusiveMaximum") is True and "exclusiveMaximum" in out:
        out.pop("maximum", None)
    if nullable:
        return _nullable(out)
    return out


def _nullable(out: Schema) -> Schema:
    kind = out.get("type")
    if isinstance(kind, str):
        if kind != "null":
            out["type"] = [kind, "null"]
    elif isinstance(kind, list):
        if "null" not in kind:
            out["type"] = [*kind, "null"]
    else:
        inner = {k: v for k, v in out.items() if k not in _ANNOTATIONS}
        if not inner:
            return out  # an empty schema already accepts null
        wrapped: Schema = {k: out[k] for k in _ANNOTATIONS if k in out}
        wrapped["anyOf"] = [inner, {"type": "null"}]
        return wrapped
    enum = out.get("enum")
    if isinstance(enum, list) and None not in enum:
        out["enum"] = [*enum, None]
    return out


def _discriminator(value: Any, hooks: SchemaHooks) -> dict[str, Any] | None:
    if isinstance(value, str):  # 2.0: the property name only
        return {"propertyName": value}
    if not isinstance(value, dict):
        return None
    out = dict(value)
    mapping = value.get("mapping")
    if isinstance(mapping, dict):
        rewritten: dict[str, str] = {}
        for tag, target in mapping.items():
            if isinstance(target, str):
                name = hooks.mapping(target)
                if name is not None:
                    rewritten[str(tag)] = "#/$defs/" + name
        out["mapping"] = rewritten
    return out
