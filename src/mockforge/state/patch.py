"""JSON Merge Patch (RFC 7396) and JSON Patch (RFC 6902) over plain JSON values.

Both are pure and return a new value (the stored document is never changed in place, so a patch
that fails half-way changes nothing: admin and client writes are whole or not at all). No library
does both with the error messages we want for a 400/422 body, and each is a few lines.
``PatchError`` names the operation index and pointer that failed.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchError", "json_patch", "merge_patch"]


class PatchError(ValueError):
    """A patch that cannot be applied: ``where`` is ``/N`` (operation index) or a pointer."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge, ``null`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _tokens(pointer: Any, where: str) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchError(where, f"{pointer!r} is not a JSON pointer")
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, where: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchError(where, f"{token!r} is not an array index")
    i = int(token)
    if i > len(container) or (i == len(container) and not adding):
        raise PatchError(where, f"index {i} is out of range")
    return i


def _parent(doc: Any, tokens: list[str], where: str) -> Any:
    node = doc
    for t in tokens[:-1]:
        if isinstance(node, dict) and t in node:
            node = node[t]
        elif isinstance(node, list):
            node = node[_index(node, t, where, adding=False)]
        else:
            raise PatchError(where, f"no {t!r} on the way")
    return node


def _get(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(where, f"no member {last!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, where, adding=False)]
    raise PatchError(where, "the target's parent is not a container")


def _remove(doc: Any, tokens: list[str], where: str) -> Any:
    if not tokens:
        raise PatchError(where, "cannot remove the whole document")
    parent = _parent(doc, tokens, where)
    value = _get(doc, tokens, where)
    if isinstance(parent, dict):
        del parent[tokens[-1]]
    else:
        del parent[_index(parent, tokens[-1], where, adding=False)]
    return value


def _add(doc: Any, tokens: list[str], value: Any, where: str) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens, where)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, where, adding=True), value)
    else:
        raise PatchError(where, "the target's parent is not a container")
    return doc


def json_patch(target: Any, operations: Any, max_ops: int) -> Any:
    """RFC 6902 on a copy of ``target``; ``PatchError`` on the first operation that fails.
    ``max_ops`` bounds the operations of one document (``http.state.max_patch_ops``; the
    request's JSON depth and size bound the rest)."""
    if not isinstance(operations, list):
        raise PatchError("/", "a JSON Patch document is an array of operations")
    if len(operations) > max_ops:
        raise PatchError("/", f"more than {max_ops} operations (http.state.max_patch_ops)")
    doc = copy.deepcopy(target)
    for i, op in enumerate(operations):
        where = f"/{i}"
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError(where, "an operation is an object with 'op'")
        name = op["op"]
        path = _tokens(op.get("path"), where)
        if name in ("add", "replace", "test") and "value" not in op:
            raise PatchError(where, f"'{name}' needs 'value'")
        if name == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), where)
        elif name == "remove":
            _remove(doc, path, where)
        elif name == "replace":
            _get(doc, path, where)
            if path:
                _remove(doc, path, where)
            doc = _add(doc, path, copy.deepcopy(op["value"]), where)
        elif name in ("move", "copy"):
            source = _tokens(op.get("from"), where)
            if name == "move" and path[: len(source)] == source and path != source:
                raise PatchError(where, "cannot move a value into itself")
            value = _remove(doc, source, where) if name == "move" else copy.deepcopy(_get(doc, source, where))
            doc = _add(doc, path, value, where)
        elif name == "test":
            if _get(doc, path, where) != op["value"]:
                raise PatchError(where, f"test failed at {op.get('path')!r}")
        else:
            raise PatchError(where, f"unknown op {name!r}")
    return doc
