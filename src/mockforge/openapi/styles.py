"""OpenAPI parameter styles: turn the text of a path, header, query or cookie value into the
strings, lists and objects its ``style``/``explode`` describe (OpenAPI 3, "Style Values").

    simple("3,4,5", "array", False, "path.ids")              # ["3", "4", "5"]
    matrix(";id=3;id=4", "id", "array", True, "path.id")     # ["3", "4"]
    from_form({"color[R]": ["100"]}, "color", "deepObject", True, shape, frozenset(), "query.color")
    # {"R": "100"}

The result is still strings: ``mockforge.schema.coerce`` then turns them into the types the
schema asks for. Written by hand because the rules are OpenAPI's own (no URL or form library
knows ``label``, ``matrix`` or ``deepObject``); each reader is one split of a bounded value (the
request line and headers are capped on the wire) and raises ``CoerceError`` with the parameter's
location on malformed text.
"""

from __future__ import annotations

from typing import Any

from mockforge.core.model import Request
from mockforge.schema.coerce import CoerceError, Shape


def pairs(items: list[str], path: str) -> dict[str, str]:
    """``["x", "1", "y", "2"]`` -> ``{"x": "1", "y": "2"}``."""
    if len(items) % 2:
        raise CoerceError(path, f"expected key,value pairs, got {','.join(items)!r}")
    return dict(zip(items[::2], items[1::2], strict=True))


def _kv(items: list[str], path: str) -> dict[str, str]:
    """``["x=1", "y=2"]`` -> ``{"x": "1", "y": "2"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CoerceError(path, f"expected key=value, got {item!r}")
        out[key] = value
    return out


def split(text: str, sep: str) -> list[str]:
    return [] if text == "" else text.split(sep)


def simple(text: str, kind: str, explode: bool, path: str) -> Any:
    """``simple`` style (path and header): ``3,4,5``, ``a,1,b,2`` or ``a=1,b=2``."""
    if kind == "array":
        return [s.strip() for s in split(text, ",")]
    if kind == "object":
        items = [s.strip() for s in split(text, ",")]
        return _kv(items, path) if explode else pairs(items, path)
    return text


def label(text: str, kind: str, explode: bool, path: str) -> Any:
    """``label`` style: ``.5``, ``.3.4.5`` / ``.3,4,5``, ``.a=1.b=2`` / ``.a,1,b,2``."""
    if not text.startswith("."):
        raise CoerceError(path, f"expected a label-style value starting with '.', got {text!r}")
    text = text[1:]
    if kind == "array":
        return split(text, "." if explode else ",")
    if kind == "object":
        return _kv(split(text, "."), path) if explode else pairs(split(text, ","), path)
    return text


def matrix(text: str, name: str, kind: str, explode: bool, path: str) -> Any:
    """``matrix`` style: ``;id=5``, ``;id=3;id=4`` / ``;id=3,4``, ``;a=1;b=2`` / ``;id=a,1,b,2``."""
    if not text.startswith(";"):
        raise CoerceError(path, f"expected a matrix-style value starting with ';', got {text!r}")
    items = text[1:].split(";")
    if kind == "object" and explode:
        return _kv(items, path)
    values = []
    for item in items:
        key, _, value = item.partition("=")
        if key != name:
            raise CoerceError(path, f"expected ';{name}=...', got {text!r}")
        values.append(value)
    if kind == "array":
        return values if explode else split(values[0], ",")
    if kind == "object":
        return pairs(split(values[0], ","), path)
    return values[0]


def request_cookies(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for header in request.headers.get_all("cookie"):
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep:
                out.setdefault(key, []).append(value)
    return out


MISSING: Any = object()


def _not_text(items: Shape | None) -> bool:
    """Items that cannot be text containing a comma (numbers, booleans): known types, no string."""
    return items is not None and bool(items.types) and "string" not in items.types \
        and items.kind == "scalar"


def from_form(
    values: dict[str, list[str]],
    name: str,
    style: str,
    explode: bool,
    shape: Shape,
    claimed: frozenset[str],
    path: str,
) -> Any:
    """Read one form-like value (query, cookie, urlencoded field); ``MISSING`` when absent."""
    kind = shape.kind
    if style == "deepObject":
        prefix = f"{name}["
        obj: dict[str, Any] = {}
        for key, vals in values.items():
            if key.startswith(prefix) and key.endswith("]"):
                node = obj
                keys = key[len(prefix) : -1].split("][")
                for k in keys[:-1]:
                    child = node.setdefault(k, {})
                    if not isinstance(child, dict):
                        raise CoerceError(path, f"conflicting keys for {key!r}")
                    node = child
                node[keys[-1]] = vals[0] if len(vals) == 1 else vals
        return obj if obj else MISSING
    if kind == "object" and explode and style == "form":
        if shape.props:
            obj = {k: v[0] for k, v in values.items() if k in shape.props}
        else:
            obj = {k: v[0] for k, v in values.items() if k not in claimed}
        return obj if obj else MISSING
    found = values.get(name)
    if found is None:
        return MISSING
    if kind == "array":
        if explode:
            if found == [""]:
                return []
            if len(found) == 1 and "," in found[0] and _not_text(shape.items):
                # ``ids=1,2`` for an exploded list of numbers: clients often send the
                # non-exploded form; no item can hold a comma, so reading it as a list is safe
                return found[0].split(",")
            return found
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return split(found[0], sep)
    if kind == "object":
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        return pairs(split(found[0], sep), path)
    return found[0]
