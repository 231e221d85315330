"""Validator pieces shared by request validation, response example checks and the generator.

One way to build a jsonschema-rs validator (formats checked, ``pattern`` on the linear regex
engine of ``core/regex.py``, only the defs the schema reaches), two ways to keep them:

- ``LazySchema`` (request validation): one schema, compiled on its first request, reporting
  ``Problem`` lines (``body.items.0.name: 'name' is a required property``), at most
  ``MAX_PROBLEMS`` per request, each cut to ``MAX_REASON`` characters;
- ``Validators`` (generator and response checks): a cache per schema object with ``is_valid``
  and ``first_error``.

Why jsonschema-rs and not a hand-written validator: it is compiled Rust, about a microsecond per
object, and its memory is a few MB (see ``shared/reference/python-stack.md``). A schema it refuses
(a bad regex) is the spec's fault, not the request's: it is remembered as broken and skipped.

``strip_read_only`` gives the request view of a schema: a ``readOnly`` property is not required
in a request body (OpenAPI 3), so it leaves the ``required`` lists, once per schema at start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jsonschema_rs

from mockforge.core.regex import schema_pattern_options
from mockforge.schema.defs import Defs, reachable_defs

log = logging.getLogger("mockforge.schema")

#: At most this many problems are reported per request (a huge invalid body stays cheap).
MAX_PROBLEMS = 20
#: Reasons longer than this are cut (jsonschema messages may quote whole instances).
MAX_REASON = 200
_BUILD_ERRORS = (jsonschema_rs.ValidationError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: where (``query.limit``) and why (one line)."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


def cut(text: str) -> str:
    """``text`` on one line, at most ``MAX_REASON`` characters."""
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."


def build_validator(schema: Any) -> Any:
    """A jsonschema-rs validator of ``schema`` (which carries its own ``$defs``); raises one of
    ``jsonschema_rs.ValidationError``, ``ValueError``, ``TypeError`` for a schema it refuses."""
    return jsonschema_rs.validator_for(schema, validate_formats=True, pattern_options=schema_pattern_options())


def with_defs(schema: Any, defs: dict[str, Any]) -> Any:
    """``schema`` bundled with the defs it uses (a new dict; ``schema`` itself is kept)."""
    if not isinstance(schema, dict):
        return schema
    return {"$defs": defs, **schema} if defs else dict(schema)


class LazySchema:
    """A schema bundled with the defs it needs; the jsonschema-rs validator is built on first use."""

    __slots__ = ("_validator", "broken", "schema")

    def __init__(self, schema: dict[str, Any], defs: dict[str, Any]) -> None:
        self.schema: dict[str, Any] = with_defs(schema, defs)
        self._validator: Any = None
        self.broken: str | None = None

    def check(self, value: Any, prefix: str, out: list[Problem]) -> None:
        """Append what is wrong with ``value`` to ``out`` (locations start with ``prefix``)."""
        validator = self._validator
        if validator is None:
            if self.broken is not None:
                return
            try:
                validator = self._validator = build_validator(self.schema)
            except _BUILD_ERRORS as exc:
                # A schema the validator rejects (bad regex...) is not the request's fault.
                self.broken = cut(str(exc))
                return
        if validator.is_valid(value):
            return
        for err in validator.iter_errors(value):
            if len(out) >= MAX_PROBLEMS:
                return
            location = prefix + "".join(f".{p}" for p in err.instance_path)
            kind = err.kind
            if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
                location = f"{location}.{kind.property}"
                reason = f"{kind.property!r} is a required property"
            else:
                reason = err.message
            out.append(Problem(location, cut(reason)))


class Validators:
    """Validators of the schemas of one ``defs`` mapping, cached per schema object (the schemas
    live as long as the model, so ``id`` plus an identity check is a safe key)."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self._validators: dict[int, tuple[Any, Any]] = {}
        self._reach: dict[str, frozenset[str]] = {}

    def reachable_defs(self, schema: Any) -> dict[str, Any]:
        """The part of ``defs`` a schema can reach (validators are built from it, not all defs)."""
        return reachable_defs(self.defs, schema, self._reach)

    def validator(self, schema: Any) -> Any:
        """A validator of ``schema``, or ``None`` when jsonschema-rs rejects the schema itself."""
        hit = self._validators.get(id(schema))
        if hit is not None and hit[0] is schema:
            return hit[1]
        full = with_defs(schema, self.reachable_defs(schema)) if isinstance(schema, dict) else schema
        try:
            validator = build_validator(full)
        except _BUILD_ERRORS as exc:
            log.debug("schema not compilable by jsonschema-rs: %s", exc)
            validator = None
        self._validators[id(schema)] = (schema, validator)
        return validator

    def is_valid(self, schema: Any, value: Any) -> bool:
        validator = self.validator(schema)
        try:
            return validator is None or bool(validator.is_valid(value))
        except (ValueError, TypeError):
            return False

    def first_error(self, schema: Any, value: Any) -> str | None:
        """The first validation error as ``"<instance path>: <message>"``, or ``None`` if valid."""
        validator = self.validator(schema)
        if validator is None:
            return None
        try:
            for err in validator.iter_errors(value):
                path = "/" + "/".join(str(p) for p in err.instance_path)
                return f"{path}: {err.message}"
        except (ValueError, TypeError) as exc:
            return str(exc)
        return None


def _read_only_names(schema: Any, defs: Defs) -> frozenset[str]:
    props = defs.properties(schema)
    return frozenset(
        name
        for name, prop in props.items()
        if isinstance(p := defs.resolve(prop), dict) and p.get("readOnly") is True
    )


def strip_read_only(node: Any, defs: Defs, inherited: frozenset[str] = frozenset()) -> Any:
    """A copy of ``node`` whose ``required`` lists leave out ``readOnly`` properties.

    ``{"required": ["id", "name"], "properties": {"id": {"readOnly": true}, ...}}`` becomes
    ``{"required": ["name"], ...}``; a ``required`` in one ``allOf`` member sees the properties
    of the others.
    """
    if isinstance(node, list):
        return [strip_read_only(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    read_only = inherited
    if "properties" in node or "allOf" in node:
        read_only = read_only | _read_only_names(node, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "allOf" and isinstance(value, list):
            out[key] = [strip_read_only(v, defs, read_only) for v in value]
        else:
            out[key] = strip_read_only(value, defs)
    required = node.get("required")
    if isinstance(required, list) and read_only:
        keep = [name for name in required if name not in read_only]
        if keep:
            out["required"] = keep
        else:
            del out["required"]
    return out
