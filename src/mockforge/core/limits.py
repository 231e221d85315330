"""Bounds on documents and bodies: JSON nesting depth, YAML alias expansion, UTF-8 text.

What it bounds and why. A JSON request body nested thousands deep makes the decoders raise
``RecursionError`` (a 500) and later walkers recurse; a spec, config or stub file can do the same
at start-up (a traceback). A YAML "billion laughs" document is a few hundred bytes whose aliases
expand to millions of nodes once anything walks or serialises it. Non-UTF-8 bytes in a config gave
a ``UnicodeDecodeError`` traceback. Everything here refuses such input before anything walks,
serialises or stores it, with a one-line reason and a place (JSON pointer, line/column or byte
offset); the caller wraps it in its own error type (``ConfigError``, ``SpecError``, ``StubError``,
a 400).

What it costs:

* JSON depth: decoders are C (msgspec guards its own recursion, which is caught), and the decoded
  containers are then walked once with an explicit stack (``check_depth``): about 30 ms for
  GitHub's 13 MB description, against 80 ms to decode it. (A byte-level scan that skips strings
  measured 70 to 130 ms on the same file, so it was dropped.) Request bodies skip even that: depth
  cannot exceed the number of ``[`` and ``{``, so two ``bytes.count`` calls settle almost every
  body (``decode_request_json``). The JSON pointer of a too-deep place is found on the error
  path only.
* YAML (``load_yaml``): the document is composed into PyYAML's node graph by the C parser, walked
  once iteratively (aliases are the *same* node object, so a memo on node identity keeps the walk
  linear in the written document, not in its expansion), then constructed from that graph, which
  is what ``yaml.load`` does anyway. The walk computes each node's expanded size and height; the
  nodes reached through aliases are ``expanded size - distinct nodes``.
* UTF-8 (``check_utf8``): one strict decode (C), run on the error path of specs and stub files
  (the decoders validate UTF-8 themselves) and up front for configs (small files).

Defaults come from ``core.max_document_depth`` and ``core.max_yaml_alias_nodes`` (documents) and
``http.max_json_depth`` (request bodies, set once at start-up with ``set_request_json_depth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import yaml

#: Defaults of ``core.max_document_depth`` / ``core.max_yaml_alias_nodes`` / ``http.max_json_depth``
#: (kept equal to config.py by a test).
DEFAULT_DOCUMENT_DEPTH = 128
DEFAULT_YAML_ALIAS_NODES = 100_000
DEFAULT_REQUEST_JSON_DEPTH = 64


class LimitError(Exception):
    """A document or body is past a bound; ``message`` is one line, ``where`` a place or None."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class JsonTooDeep(LimitError):
    """A JSON request body nested deeper than ``http.max_json_depth``: answered 400 ``json_too_deep``
    by the HTTP adapter (never a 500)."""

    status = 400
    code = "json_too_deep"


class DocumentBounds(Protocol):
    """The slice of ``core`` config that ``DocumentLimits.of`` reads (typed here so that this
    module does not import ``config``, which imports it: no import cycle)."""

    @property
    def max_document_depth(self) -> int: ...

    @property
    def max_yaml_alias_nodes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """Bounds for specs, configs and stub files (and admin API bodies, which are stub documents)."""

    max_depth: int = DEFAULT_DOCUMENT_DEPTH
    max_alias_nodes: int = DEFAULT_YAML_ALIAS_NODES

    @classmethod
    def of(cls, core: DocumentBounds) -> DocumentLimits:
        return cls(core.max_document_depth, core.max_yaml_alias_nodes)


DEFAULT_LIMITS = DocumentLimits()


# --------------------------------------------------------------------------- UTF-8


def check_utf8(data: bytes) -> None:
    """``LimitError`` naming the byte offset of the first byte that is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LimitError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} ({exc.reason})"
        ) from None


# --------------------------------------------------------------------------- JSON depth


def _deeper(root: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(root, 1)]
    pop = stack.pop
    push = stack.append
    while stack:
        node, depth = pop()
        if depth > limit:
            return True
        depth += 1
        for value in node.values() if type(node) is dict else node:
            kind = type(value)
            if kind is dict or kind is list:
                push((value, depth))
    return False


def _deep_pointer(root: Any, limit: int) -> str:
    """The JSON pointer of the first container deeper than ``limit`` (error path only)."""
    stack: list[tuple[Any, int, str]] = [(root, 1, "")]
    while stack:
        node, depth, pointer = stack.pop()
        if depth > limit:
            return pointer or "/"
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, dict | list):
                token = str(key).replace("~", "~0").replace("/", "~1")
                stack.append((value, depth + 1, f"{pointer}/{token}"))
    return "/"


def check_depth(doc: Any, limit: int) -> None:
    """``LimitError`` (with the JSON pointer) when decoded JSON/YAML data nests dicts and lists
    deeper than ``limit``; iterative, one look at each container (about 30 ms for GitHub's 13 MB
    description)."""
    if isinstance(doc, dict | list) and _deeper(doc, limit):
        raise LimitError(f"nested deeper than {limit} levels", _deep_pointer(doc, limit))


def too_deep_to_decode(limit: int) -> LimitError:
    """What to raise when a JSON decoder itself gave up on the nesting (``RecursionError``)."""
    return LimitError(f"nested deeper than {limit} levels")


# --------------------------------------------------------------------------- request bodies

_request_json_depth = DEFAULT_REQUEST_JSON_DEPTH


def set_request_json_depth(limit: int) -> None:
    """Set ``http.max_json_depth`` for request bodies (once, at start-up; process-wide)."""
    global _request_json_depth
    _request_json_depth = limit


def request_json_depth() -> int:
    return _request_json_depth


def decode_request_json(body: bytes | str) -> Any:
    """Decode a request body (or part of one) as JSON; ``JsonTooDeep`` past ``http.max_json_depth``,
    ``msgspec.DecodeError`` when it is not JSON.

    Depth cannot exceed the number of ``[`` and ``{``, so two ``bytes.count`` calls settle almost
    every body; a body with more brackets is decoded (msgspec guards its own recursion) and its
    containers walked once."""
    raw = body.encode() if isinstance(body, str) else body
    limit = _request_json_depth
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return msgspec.json.decode(raw)
    try:
        value = msgspec.json.decode(raw)
    except RecursionError:
        value = None
        deep = True
    else:
        deep = isinstance(value, dict | list) and _deeper(value, limit)
    if deep:
        raise JsonTooDeep(f"the JSON body is nested deeper than {limit} levels (http.max_json_depth)")
    return value


# --------------------------------------------------------------------------- YAML


def _place(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1} column {mark.column + 1}"


def _deepest(node: yaml.Node, height: dict[int, int]) -> yaml.Node:
    """The innermost node on the tallest path below ``node`` (error path only: names the line)."""
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        node = max(children, key=lambda n: height.get(id(n), 0))
    return node


def check_yaml_graph(root: yaml.Node, limits: DocumentLimits) -> None:
    """Walk a composed node graph once; ``LimitError`` when it is deeper than ``limits.max_depth``
    or reaches more than ``limits.max_alias_nodes`` nodes through aliases (or an alias refers to
    a node that contains it)."""
    size: dict[int, int] = {}  # id(node) -> expanded node count (done)
    height: dict[int, int] = {}
    on_path: set[int] = set()
    max_depth = limits.max_depth
    budget = limits.max_alias_nodes
    distinct = 0
    # (node, children or None when not yet expanded); depth is the stack length
    stack: list[tuple[yaml.Node, list[yaml.Node] | None]] = [(root, None)]
    while stack:
        node, children = stack[-1]
        key = id(node)
        if children is None:
            if key in size:
                stack.pop()
                continue
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            on_path.add(key)
            distinct += 1
            stack[-1] = (node, children)
            for child in children:
                ck = id(child)
                if ck in on_path:
                    raise LimitError("an alias refers to a node that contains it", _place(child))
                if ck not in size:
                    stack.append((child, None))
            continue
        stack.pop()
        on_path.discard(key)
        total = 1
        tallest = 0
        for child in children:
            ck = id(child)
            total += size[ck]
            if height[ck] > tallest:
                tallest = height[ck]
        if tallest + 1 > max_depth:
            raise LimitError(f"nested deeper than {max_depth} levels", _place(_deepest(node, height)))
        size[key] = total
        height[key] = tallest + 1
        # every node outside this one's subgraph appears at least once more in the whole
        # expansion, so this is a lower bound of the document's alias-reached nodes: sound to stop
        if total - distinct > budget:
            raise LimitError(
                f"aliases expand to more than {budget} nodes (core.max_yaml_alias_nodes)", _place(node)
            )


def load_yaml(data: bytes | str, loader: type[Any], limits: DocumentLimits = DEFAULT_LIMITS) -> Any:
    """``yaml.load(data, loader)`` that first checks the composed graph with ``check_yaml_graph``.
    Raises ``LimitError`` or PyYAML's own ``YAMLError``."""
    ld = loader(data)
    try:
        node = ld.get_single_node()
        if node is None:
            return None
        check_yaml_graph(node, limits)
        return ld.construct_document(node)
    finally:
        ld.dispose()


def decode_document(
    raw: bytes, *, as_json: bool, limits: DocumentLimits = DEFAULT_LIMITS, loader: type[Any] | None = None
) -> Any:
    """A stub file, config or admin body: JSON (``as_json``) or YAML (``loader``, default
    ``CSafeLoader``), within ``limits``. Raises ``LimitError``, ``msgspec.DecodeError`` or
    ``yaml.YAMLError``; the caller names the file."""
    if as_json:
        try:
            data = msgspec.json.decode(raw)
        except RecursionError:
            raise too_deep_to_decode(limits.max_depth) from None
        check_depth(data, limits.max_depth)
        return data
    return load_yaml(raw, loader or yaml.CSafeLoader, limits)
