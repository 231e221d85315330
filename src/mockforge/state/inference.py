"""Resource inference: which paths of an OpenAPI model form a stateful resource, and why.

A resource is a collection path (``/pets``, ``/users/{userId}/orders``) with exactly one item path
one segment below it that is a single path parameter (``/pets/{petId}``). The collection must
answer GET or POST and the item GET, PUT, PATCH or DELETE. Its id field, in order:

1. the item path parameter's name when the item schema has that property;
2. ``id``;
3. ``<singular>Id`` / ``<singular>_id`` (``pets`` -> ``petId``, ``pet_id``);
4. the property with the path parameter's own ``format`` (``/floating_ips/{floating_ip}`` with
   ``format: ipv4`` -> the ``ip`` property with ``format: ipv4``);
5. the first required property with ``format: uuid`` or a name ending in ``id``.

A **wrapped** item: when the item answer is an object whose id cannot be found at its top level
and that has an object property named for one item (``pets`` -> ``pet``) or only one object
property (``{"droplet": {...}}``), that property is the wrapper: the item schema is what it
holds, stored documents are the item itself, and item answers put it back in the wrapper.

The id kind (``integer``, ``uuid``, ``string``) comes from the id property's schema. The list
property is ``None`` when the collection's GET answers a bare array, else the first array
property of the envelope object (``{data: [...], total: n}``). A collection path with path
parameters of its own is scoped by them (nested). ``http.state.resources`` entries override any
of this (matched by collection path). Every decision is kept as a line in ``reasons`` so that
``mockforge state plan`` can print it: inference that cannot be explained is not trusted.

Pure functions over ``ApiModel``: no I/O, nothing built per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mockforge.openapi.model import ApiModel, Operation, Schema
from mockforge.schema.allof import flatten

__all__ = ["Plan", "Resource", "infer", "singular"]

_PARAM = re.compile(r"^\{([^{}/]+)\}$")
_ITEM_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_COLLECTION_METHODS = frozenset({"GET", "POST"})
_JSON = re.compile(r"^application/([\w.+-]*\+)?json", re.I)
OVERRIDE_KEYS = frozenset({"collection", "item", "id_field", "id_kind", "list_property", "wrapper"})


@dataclass(slots=True)
class Resource:
    """One inferred (or configured) resource."""

    name: str  # the collection's last literal segment, e.g. "pets" or "orders"
    collection: str  # "/users/{userId}/orders"
    item: str  # "/users/{userId}/orders/{orderId}"
    item_param: str  # "orderId"
    id_field: str
    id_kind: str  # "integer" | "uuid" | "string"
    list_property: str | None  # None: bare array
    parents: tuple[str, ...]  # the collection's own path parameters, outermost first
    schema: Schema | None  # the item schema (flattened), None when the spec gives none
    reasons: list[str] = field(default_factory=list)
    #: the property item answers wrap the item in (``{"droplet": {...}}``), None: not wrapped
    wrapper: str | None = None
    #: the item path parameter's schema (a new id matches its ``format``/``pattern`` too)
    param_schema: Schema | None = None


@dataclass(slots=True)
class Plan:
    """Every resource found and one line for every path that is not part of one."""

    resources: list[Resource] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out: list[str] = []
        for r in self.resources:
            scope = f" scoped by {', '.join(r.parents)}" if r.parents else ""
            shape = f"envelope .{r.list_property}" if r.list_property else "bare array"
            wrapped = f", item wrapped in .{r.wrapper}" if r.wrapper else ""
            out.append(
                f"resource {r.name}: {r.collection} + {r.item}, id {r.id_field} ({r.id_kind}), list {shape}"
                f"{wrapped}{scope}"
            )
            out.extend(f"  because {why}" for why in r.reasons)
        for path, why in sorted(self.skipped.items()):
            out.append(f"path {path}: no resource ({why})")
        return out


def singular(name: str) -> str:
    """``pets`` -> ``pet``, ``categories`` -> ``category``, ``boxes`` -> ``box`` (plain English rules)."""
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("ses", "xes", "zes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith(("ss", "us")):
        return name[:-1]
    return name


def _json_schema(content: Mapping[str, Any]) -> Schema | None:
    for ctype, media in content.items():
        if _JSON.match(ctype) and media.schema is not None:
            return dict(media.schema)
    return None


def _flat(model: ApiModel, schema: Any) -> Schema | None:
    if not isinstance(schema, dict):
        return None
    try:
        return flatten(model.defs, schema)
    except (KeyError, TypeError, ValueError, IndexError, RecursionError):
        return None


def _response_schema(model: ApiModel, op: Operation | None) -> Schema | None:
    if op is None:
        return None
    for status in sorted(op.responses):
        if status.startswith("2"):
            found = _json_schema(op.responses[status].content)
            if found is not None:
                return _flat(model, found)
    return None


def _body_schema(model: ApiModel, op: Operation | None) -> Schema | None:
    if op is None or op.request_body is None:
        return None
    found = _json_schema(op.request_body.content)
    return _flat(model, found) if found is not None else None


def _props(schema: Schema | None) -> dict[str, Any]:
    props = schema.get("properties") if schema else None
    return props if isinstance(props, dict) else {}


def _scalar(sub: Any) -> bool:
    if not isinstance(sub, dict):
        return False
    t = sub.get("type")
    types = set(t) if isinstance(t, list) else {t}
    if types & {"string", "integer", "number"}:
        return True
    composed = any(k in sub for k in ("$ref", "allOf", "oneOf", "anyOf", "properties", "items"))
    return not types & {"object", "array"} and not composed


def _id_candidate(name: str, param: str, schema: Schema | None) -> bool:
    """Whether rules 1-3 find an id at the top level of ``schema``."""
    props = {k for k, v in _props(schema).items() if _scalar(v)}
    one = singular(name)
    return bool(props & {param, "id", f"{one}Id", f"{one}_id"})


def _unwrap(
    model: ApiModel, name: str, param: str, schema: Schema | None, reasons: list[str]
) -> tuple[Schema | None, str | None]:
    """The item schema inside a single-item wrapper (``{"droplet": {...}}``), and the wrapper's
    name; ``schema`` and None when it is not one (see the module docstring)."""
    if schema is None or _id_candidate(name, param, schema):
        return schema, None
    objects: dict[str, Schema] = {}
    for key, sub in _props(schema).items():
        flat = _flat(model, sub)
        if flat is not None and _props(flat) and flat.get("type") in (None, "object", ["object"]):
            objects[str(key)] = flat
    one = singular(name)
    chosen = one if one in objects else next(iter(objects)) if len(objects) == 1 else None
    if chosen is None:
        return schema, None
    reasons.append(f"the item answer wraps the item in {chosen!r} (no id at its top level)")
    return objects[chosen], chosen


def _id_field(name: str, param: str, schema: Schema | None, reasons: list[str], param_format: Any = None) -> str:
    props = {k: v for k, v in _props(schema).items() if _scalar(v)}  # a wrapper object is no id
    if param in props:
        reasons.append(f"the item schema has the path parameter's name {param!r}")
        return param
    if "id" in props:
        reasons.append("the item schema has 'id'")
        return "id"
    one = singular(name)
    for cand in (f"{one}Id", f"{one}_id"):
        if cand in props:
            reasons.append(f"the item schema has {cand!r} (singular of {name!r})")
            return cand
    if isinstance(param_format, str) and param_format not in ("", "int32", "int64"):
        same = [k for k, v in props.items() if isinstance(v, dict) and v.get("format") == param_format]
        if len(same) == 1:
            reasons.append(f"{same[0]!r} has the path parameter's format {param_format!r}")
            return str(same[0])
    required = schema.get("required", []) if schema else []
    for prop in required if isinstance(required, list) else []:
        sub = props.get(prop)
        if isinstance(sub, dict) and (sub.get("format") == "uuid" or str(prop).lower().endswith("id")):
            reasons.append(f"{prop!r} is the first required uuid or *id property")
            return str(prop)
    reasons.append("no id property in the item schema: the id lives only in the path, field 'id' assumed")
    return "id"


def id_kind(schema: Schema | None, id_field: str) -> str:
    sub = _props(schema).get(id_field)
    if isinstance(sub, dict):
        t = sub.get("type")
        types = t if isinstance(t, list) else [t]
        if "integer" in types or "number" in types:
            return "integer"
        if sub.get("format") == "uuid":
            return "uuid"
        if "string" in types:
            return "string"
    return "integer"


def _param_schema(model: ApiModel, item_ops: dict[str, Operation], param: str) -> Schema | None:
    for op in item_ops.values():
        for p in op.parameters:
            if p.name == param and p.location == "path":
                return _flat(model, dict(p.schema or {})) or {}
    return None


def _param_kind(param_schema: Schema | None, param: str, reasons: list[str]) -> str:
    if param_schema is None:
        return "string"
    kind = id_kind({"properties": {param: param_schema}}, param)
    reasons.append(f"the id kind {kind!r} comes from the path parameter {param!r}")
    return kind


def _list_property(model: ApiModel, op: Operation | None, reasons: list[str]) -> str | None:
    schema = _response_schema(model, op)
    if schema is None:
        reasons.append("the collection GET documents no JSON body: lists answer a bare array")
        return None
    if schema.get("type") == "array" or "items" in schema:
        reasons.append("the collection GET answers a bare array")
        return None
    for prop, sub in _props(schema).items():
        flat = _flat(model, sub)
        if flat is not None and (flat.get("type") == "array" or "items" in flat):
            reasons.append(f"the collection GET answers an envelope with the array property {prop!r}")
            return str(prop)
    reasons.append("the collection GET body has no array: lists answer a bare array")
    return None


def infer(model: ApiModel, overrides: Sequence[Mapping[str, Any]] = ()) -> Plan:
    """The resources of ``model`` with ``overrides`` (``http.state.resources``) applied."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in model.operations:
        by_path.setdefault(op.path.rstrip("/") or "/", {})[op.method] = op
    plan = Plan()
    wanted = {str(o.get("collection", "")).rstrip("/"): o for o in overrides}
    used: set[str] = set()
    for path in sorted(by_path):
        ops = by_path[path]
        segments = path.split("/")
        last = segments[-1]
        if _PARAM.match(last):
            continue  # item paths are decided with their collection
        items = [
            p
            for p in by_path
            if p.startswith(path + "/") and p.count("/") == path.count("/") + 1 and _PARAM.match(p.rsplit("/", 1)[1])
        ]
        override = wanted.get(path)
        if override and override.get("item"):
            items = [str(override["item"]).rstrip("/")]
        if not items:
            plan.skipped[path] = "no item path with one path parameter below it"
            continue
        if len(items) > 1:
            plan.skipped[path] = f"more than one item path below it: {', '.join(sorted(items))}"
            continue
        item = items[0]
        item_ops = by_path.get(item, {})
        if override is None and not (_COLLECTION_METHODS & ops.keys()):
            plan.skipped[path] = "the collection answers neither GET nor POST"
            continue
        if override is None and not (_ITEM_METHODS & item_ops.keys()):
            plan.skipped[path] = "the item path answers none of GET, PUT, PATCH, DELETE"
            continue
        reasons: list[str] = [f"{item} is the one item path below {path}"]
        schema = (
            _response_schema(model, item_ops.get("GET"))
            or _body_schema(model, item_ops.get("PUT"))
            or _body_schema(model, ops.get("POST"))
        )
        param_match = _PARAM.match(item.rsplit("/", 1)[1])
        param = param_match.group(1) if param_match else "id"
        name = last or "root"
        wrapper_forced = override is not None and "wrapper" in override
        if not wrapper_forced:
            schema, wrapper = _unwrap(model, name, param, schema, reasons)
        else:
            wrapper = override.get("wrapper") if override else None
            inner = _props(schema).get(wrapper) if wrapper else None
            schema = _flat(model, inner) if isinstance(inner, dict) else schema
        param_schema = _param_schema(model, item_ops, param)
        id_field = _id_field(name, param, schema, reasons, (param_schema or {}).get("format"))
        list_prop = _list_property(model, ops.get("GET"), reasons)
        parents = tuple(m.group(1) for s in segments if (m := _PARAM.match(s)))
        kind = id_kind(schema, id_field)
        if id_field not in _props(schema):  # the id is only in the path: its parameter's schema says
            kind = _param_kind(param_schema, param, reasons)
        res = Resource(
            name, path, item, param, id_field, kind, list_prop, parents, schema, reasons, wrapper, param_schema
        )
        if override is not None:
            used.add(path)
            for key in ("id_field", "id_kind", "list_property", "wrapper"):
                if key in override:
                    setattr(res, key, override[key])
                    reasons.append(f"http.state.resources sets {key} = {override[key]!r}")
        plan.resources.append(res)
        for p in (path, item):
            plan.skipped.pop(p, None)
    for coll in wanted.keys() - used:
        plan.skipped[coll or "?"] = "named in http.state.resources but no such collection path in the spec"
    for path in by_path:
        known = path in plan.skipped or any(path in (r.collection, r.item) for r in plan.resources)
        if not known and _PARAM.match(path.rsplit("/", 1)[-1]):
            plan.skipped[path] = "an item path whose collection is not a resource"
    return plan
