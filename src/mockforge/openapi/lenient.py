"""Request schemas read the way their authors meant them, so valid requests are not refused.

JSON Schema's ``oneOf`` demands that exactly one branch match, and ignores OpenAPI's
``discriminator``. Real documents use ``oneOf`` for "one of these shapes" with branches that
overlap: ``Cat`` and ``Dog`` both extend ``Pet`` and only add optional properties, so every pet
matches both and a plain validator refuses every request (a false 400). For request validation
(never for generated answers, which stay strict), ``lenient`` rewrites a copy of each schema once:

* ``oneOf`` becomes ``anyOf``: at least one branch must match (a request matching two branches
  is accepted; when in doubt, accept);
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

__all__ = ["lenient"]

_DEFS = "#/$defs/"


def lenient(node: Any) -> Any:
    """A copy of ``node`` with ``oneOf`` read as ``anyOf`` and discriminators enforced (above)."""
    if isinstance(node, list):
        return [lenient(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {k: lenient(v) for k, v in node.items() if k != "oneOf"}
    one = node.get("oneOf")
    if isinstance(one, list):
        branches = [lenient(v) for v in one]
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
