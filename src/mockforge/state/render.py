"""How stored documents become answers that validate against the operation's response schema.

A stored document is the client's write plus what the server owns: the id and every required or
``readOnly`` property of the item schema, generated once at creation and kept (``created_doc``).
Rendering (``render``) goes the other way: ``writeOnly`` properties are never returned, a closed
schema (``additionalProperties: false``) keeps only its own properties, and a required property
the document lacks (a list shape with more required fields than the item) is generated, so the
answer validates. Schemas are flattened once per schema object (``Shapes``), not per request.
"""

from __future__ import annotations

import re
from typing import Any

from mockforge.openapi.model import Operation, ResponseSpec, Schema
from mockforge.schema.generate import DataGenerator

__all__ = ["Shapes", "documented", "json_schema"]

_JSON = re.compile(r"^application/([\w.+-]*\+)?json", re.I)


def json_schema(resp: ResponseSpec | None) -> Schema | None:
    """The JSON schema of a documented response (``None``: no JSON body documented)."""
    if resp is None:
        return None
    for ctype, media in resp.content.items():
        if _JSON.match(ctype) and media.schema is not None:
            return media.schema
    return None


def documented(op: Operation, prefer: str = "") -> tuple[int, ResponseSpec | None]:
    """The status to answer and its spec: ``prefer`` when documented, else the first 2xx."""
    if prefer and prefer in op.responses:
        return int(prefer), op.responses[prefer]
    for status in sorted(op.responses):
        if status.startswith("2") and status.isdigit():
            return int(status), op.responses[status]
    if "2XX" in op.responses:
        return int(prefer or 200), op.responses["2XX"]
    return int(prefer or 200), op.responses.get("default")


class Shapes:
    """Flattened schemas and generation for one model (built once with the state service)."""

    def __init__(self, gen: DataGenerator) -> None:
        self.gen = gen
        self._flat: dict[int, tuple[Any, Schema]] = {}
        self._plans: dict[int, tuple[Any, tuple[frozenset[str], frozenset[str] | None, tuple[str, ...]]]] = {}
        self._branches: dict[tuple[int, str | None], tuple[Any, Any]] = {}

    def flat(self, schema: Any) -> Schema:
        hit = self._flat.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        try:
            flat = self.gen.flatten(schema) if isinstance(schema, dict) else {}
        except (KeyError, TypeError, ValueError, IndexError, RecursionError):
            flat = {}
        if len(self._flat) < 10_000:
            self._flat[id(schema)] = (schema, flat)
        return flat

    def props(self, schema: Any) -> dict[str, Any]:
        props = self.flat(schema).get("properties")
        return props if isinstance(props, dict) else {}

    def branch(self, schema: Any, wrapper: str | None) -> Any:
        """The alternative of a ``oneOf``/``anyOf`` response meant for one item: the first with
        the ``wrapper`` property (``{droplet} | {droplets}``), else the first alternative with
        properties; ``schema`` itself when it has properties or no alternatives."""
        hit = self._branches.get((id(schema), wrapper))
        if hit is not None and hit[0] is schema:
            return hit[1]
        flat = self.flat(schema)
        chosen = schema
        alts = [a for kw in ("oneOf", "anyOf") for a in flat.get(kw) or () if isinstance(a, dict)]
        if alts and not self.props(schema):
            with_wrapper = [a for a in alts if wrapper and wrapper in self.props(a)]
            objects = [a for a in alts if self.props(a)]
            chosen = (with_wrapper or objects or [schema])[0]
        if len(self._branches) < 10_000:
            self._branches[(id(schema), wrapper)] = (schema, chosen)
        return chosen

    def prop_flag(self, schema: Any, name: str, flag: str) -> bool:
        sub = self.props(schema).get(name)
        return isinstance(sub, dict) and bool(self.flat(sub).get(flag) or sub.get(flag))

    def created_doc(self, schema: Schema | None, body: dict[str, Any]) -> dict[str, Any]:
        """The client's body plus generated required and readOnly properties (kept from now on);
        a readOnly property the client sent is replaced by the generated one."""
        if not schema:
            return dict(body)
        flat = self.flat(schema)
        required = set(flat.get("required") or ())
        base = self.gen.generate(schema)
        out: dict[str, Any] = {}
        if isinstance(base, dict):
            out = {k: v for k, v in base.items() if k in required or self.prop_flag(schema, k, "readOnly")}
        for k, v in body.items():
            if k not in out or not self.prop_flag(schema, k, "readOnly"):
                out[k] = v
        return out

    def conform(self, schema: Schema | None, doc: dict[str, Any]) -> dict[str, Any]:
        """Each top-level property the item schema types differently (a client's ``"region":
        "nyc3"`` where answers carry a region object) is replaced by a generated value, once, at
        write time: answers stay valid and reads stay cheap."""
        if not schema:
            return doc
        props = self.props(schema)
        for k, v in doc.items():
            sub = props.get(k)
            if isinstance(sub, dict) and not self.gen.is_valid(sub, v):
                doc[k] = self.gen.generate(sub)
        return doc

    def kept(self, schema: Schema | None, old: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """A replacement (PUT) keeps what the server owns: the old readOnly properties."""
        out = dict(body)
        if schema:
            for k, v in old.items():
                if self.prop_flag(schema, k, "readOnly"):
                    out[k] = v
        return out

    def _plan(self, schema: dict[str, Any]) -> tuple[frozenset[str], frozenset[str] | None, tuple[str, ...]]:
        """Per response schema, once: the writeOnly names, the allowed names when closed, the
        required names it has properties for."""
        hit = self._plans.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        flat = self.flat(schema)
        props = self.props(schema)
        write_only = frozenset(k for k in props if self.prop_flag(schema, k, "writeOnly"))
        allowed = frozenset(props) if flat.get("additionalProperties") is False else None
        required = tuple(k for k in flat.get("required") or () if k in props)
        plan = (write_only, allowed, required)
        if len(self._plans) < 10_000:
            self._plans[id(schema)] = (schema, plan)
        return plan

    def render(self, doc: Any, schema: Any) -> Any:
        """``doc`` as an answer under ``schema``: writeOnly out, closed schemas closed, required in.
        ``doc`` is the caller's own copy (the store hands out copies), so values are not copied."""
        if not isinstance(doc, dict) or not isinstance(schema, dict):
            return doc
        write_only, allowed, required = self._plan(schema)
        if write_only or allowed is not None:
            doc = {k: v for k, v in doc.items() if k not in write_only and (allowed is None or k in allowed)}
        for k in required:
            if k not in doc:
                doc[k] = self.gen.generate(self.props(schema)[k])
        return doc

    def problem(self, schema: Any, value: Any) -> str | None:
        """The first reason ``value`` does not validate against ``schema`` (None: it does)."""
        if not isinstance(schema, dict):
            return None
        return self.gen.first_error(schema, value)
