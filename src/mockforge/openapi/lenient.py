"""Request schemas read the way their authors meant them, so valid requests are not refused.

JSON Schema's ``oneOf`` demands that exactly one branch match, and ignores OpenAPI's
``discriminator``. Real documents use ``oneOf`` for "one of these shapes" with branches that
overlap: ``Cat`` and ``Dog`` both extend ``Pet`` and only add optional properties, so every pet
matches both and a plain validator refuses every request (a false 400). For request validation
(never for generated answers, which stay strict), ``lenient`` rewrites a copy of each schema once:

* ``oneOf`` becomes ``anyOf``: at least one branch must match (a request matching two branches
  is accepted; when in doubt, accept);
* ``allOf`` members with ``additionalProperties: false`` (``Ext: allOf [Base, {x}]`` with a
  closed ``Base``) refuse every property the other members add; the member is opened (a
  ``$ref`` one inlined as a copy) and ``unevaluatedProperties: false`` closes the whole
  ``allOf`` instead, which is what the author meant;
* with a ``discriminator``, the branch its property names must match: for each ``$ref`` branch,
  ``if {propertyName in [names]} then <branch>``, the names being the ``mapping`` keys pointing
  to that branch, else the branch's schema name (OpenAPI's implicit mapping). An unknown value
  only has to match some branch.

    lenient({"oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
             "discriminator": {"propertyName": "petType"}})
    # {"anyOf": [...], "allOf": [{"if": {"properties": {"petType": {"enum": ["Cat"]}},
    #   "required": ["petType"]}, "then": {"$ref": "#/$defs/Cat"}}, ...]}

Hand-written: a tree copy of a few lines; no library knows OpenAPI's discriminator. The input is
the spec (trusted, already depth-bounded by the loader), walked once per schema at preparation.
"""

from __future__ import annotations

from typing import Any

from mockforge.schema.defs import Defs
from mockforge.schema.validate import strip_read_only

__all__ = ["lenient"]

_DEFS = "#/$defs/"


def lenient(node: Any, defs: Defs | None = None, inlined: frozenset[str] = frozenset()) -> Any:
    """A copy of ``node`` with ``oneOf`` read as ``anyOf``, discriminators enforced and closed
    ``allOf`` members opened (above); ``defs`` lets closed ``$ref`` members be seen."""
    if isinstance(node, list):
        return [lenient(v, defs, inlined) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {k: lenient(v, defs, inlined) for k, v in node.items() if k not in ("oneOf", "allOf")}
    members = node.get("allOf")
    if isinstance(members, list):
        opened, closed = _open_members(members, defs, inlined)
        out["allOf"] = opened
        if closed and "additionalProperties" not in node and "unevaluatedProperties" not in node:
            out["unevaluatedProperties"] = False
    elif "allOf" in node:
        out["allOf"] = node["allOf"]
    one = node.get("oneOf")
    if isinstance(one, list):
        branches = [lenient(v, defs, inlined) for v in one]
        if "anyOf" in out:  # both in one object: keep each as its own constraint
            out["allOf"] = [*_as_list(out.get("allOf")), {"anyOf": branches}]
        else:
            out["anyOf"] = branches
    disc = node.get("discriminator")
    choices = one if isinstance(one, list) else node.get("anyOf")
    if isinstance(disc, dict) and isinstance(disc.get("propertyName"), str) and isinstance(choices, list):
        selected = _selected(disc, choices)
        if selected:
            out["allOf"] = [*_as_list(out.get("allOf")), *selected]
    return out


def _open_members(members: list[Any], defs: Defs | None, inlined: frozenset[str]) -> tuple[list[Any], bool]:
    """``allOf`` members with ``additionalProperties: false`` opened (a ``$ref`` one inlined as a
    copy), and whether any was closed: the closure then moves to the whole ``allOf``."""
    out: list[Any] = []
    closed = False
    for member in members:
        target, name = member, None
        ref = member.get("$ref") if isinstance(member, dict) else None
        if isinstance(ref, str) and ref.startswith(_DEFS) and defs is not None and len(member) == 1:
            name = ref[len(_DEFS):].replace("~1", "/").replace("~0", "~")
            found = defs.defs.get(name)
            if isinstance(found, dict) and found.get("additionalProperties") is False and name not in inlined:
                target = strip_read_only(found, defs)
            else:
                target, name = member, None
        if isinstance(target, dict) and target.get("additionalProperties") is False:
            closed = True
            target = {k: v for k, v in target.items() if k != "additionalProperties"}
        out.append(lenient(target, defs, inlined | {name} if name else inlined))
    return out, closed


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _selected(disc: dict[str, Any], choices: list[Any]) -> list[dict[str, Any]]:
    """One ``if``/``then`` per ``$ref`` branch: the discriminator's value picks the branch."""
    prop: str = disc["propertyName"]
    found = disc.get("mapping")
    mapping: dict[str, Any] = found if isinstance(found, dict) else {}
    out: list[dict[str, Any]] = []
    for branch in choices:
        ref = branch.get("$ref") if isinstance(branch, dict) else None
        if not isinstance(ref, str):
            continue
        names = [str(key) for key, target in mapping.items() if target == ref]
        if not names and ref.startswith(_DEFS):
            names = [ref[len(_DEFS):].replace("~1", "/").replace("~0", "~")]
        if names:
            out.append({
                "if": {"properties": {prop: {"enum": names}}, "required": [prop]},
                "then": {"$ref": ref},
            })
    return out
