"""The shared JSON Schema helpers (``mockforge.schema``): refs, reachable defs, allOf merging,
coercion, the request view of a schema, and the package's import rule."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from mockforge.schema.allof import flatten, merge
from mockforge.schema.coerce import CoerceError, coerce, shape_of
from mockforge.schema.defs import Defs, def_name, reachable_defs, ref_name, refs_in, resolve, resolve_known, target
from mockforge.schema.generate import DataGenerator
from mockforge.schema.validate import LazySchema, Problem, Validators, cut, strip_read_only

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mockforge" / "schema"

DEFS = {
    "Pet": {"type": "object", "required": ["id", "name"],
            "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"},
                           "tag": {"$ref": "#/$defs/Tag"}}},
    "Tag": {"type": "object", "properties": {"label": {"type": "string"}, "parent": {"$ref": "#/$defs/Tag"}}},
    "a/b": {"type": "string"},
    "Alias": {"$ref": "#/$defs/Pet"},
    "Lonely": {"type": "boolean"},
}


def test_ref_names_undo_pointer_escapes() -> None:
    assert ref_name("#/$defs/Pet") == "Pet"
    assert ref_name("#/$defs/a~1b") == "a/b"
    assert ref_name("other.yaml#/Pet") == "other.yaml#/Pet"
    assert def_name("#/$defs/Pet/properties/id") == "Pet"
    assert def_name("#/components/schemas/Pet") is None


def test_reachable_defs_follow_refs_through_defs_and_recursion() -> None:
    assert refs_in({"items": {"$ref": "#/$defs/Pet"}}) == {"Pet"}
    cache: dict[str, frozenset[str]] = {}
    reached = reachable_defs(DEFS, {"items": {"$ref": "#/$defs/Alias"}}, cache)
    assert set(reached) == {"Alias", "Pet", "Tag"}
    assert reachable_defs(DEFS, {"items": {"$ref": "#/$defs/Alias"}}, cache) == reached
    assert reachable_defs(DEFS, {"$ref": "#/$defs/Missing"}) == {}


def test_strict_resolve_raises_lenient_resolve_keeps_the_schema() -> None:
    assert resolve(DEFS, {"$ref": "#/$defs/Alias"}) is DEFS["Pet"]
    assert target(DEFS, "#/$defs/Pet/properties/name") == {"type": "string"}
    with pytest.raises(KeyError):
        resolve(DEFS, {"$ref": "#/$defs/Missing"})
    unknown = {"$ref": "#/$defs/Missing"}
    assert resolve_known(DEFS, unknown) is unknown
    assert resolve_known(DEFS, {"$ref": "#/$defs/Alias"}) is DEFS["Pet"]


def test_defs_lookups_see_through_composition() -> None:
    defs = Defs(DEFS)
    composed = {"allOf": [{"$ref": "#/$defs/Pet"}, {"properties": {"age": {"type": "integer"}}}]}
    assert defs.types(composed) == ("object",)
    assert set(defs.properties(composed)) == {"id", "name", "tag", "age"}
    assert defs.types({"oneOf": [{"type": "string"}, {"type": "integer"}]}) == ("string", "integer")


def test_allof_merge_takes_the_tightest_bounds_and_unites_requirements() -> None:
    merged = merge(DEFS, [{"$ref": "#/$defs/Pet"}, {"required": ["tag"], "minProperties": 2}])
    assert merged["required"] == ["id", "name", "tag"]
    assert merged["minProperties"] == 2
    bounds = flatten(DEFS, {"allOf": [{"type": ["integer", "string"], "minimum": 1, "maximum": 9, "multipleOf": 2},
                                      {"type": "number", "minimum": 3, "multipleOf": 3, "example": 6}]})
    assert bounds == {"type": ["integer"], "minimum": 3, "maximum": 9, "multipleOf": 6}
    closed = flatten(DEFS, {"allOf": [{"properties": {"a": {}, "b": {}}, "additionalProperties": False},
                                      {"properties": {"a": {}}, "additionalProperties": False}]})
    assert closed["properties"] == {"a": {}} and closed["additionalProperties"] is False


def test_coerce_reads_strings_as_the_schema_types() -> None:
    shape = shape_of({"type": "array", "items": {"type": "integer"}}, Defs(DEFS))
    assert coerce(["1", "2"], shape, "query.ids") == [1, 2]
    with pytest.raises(CoerceError) as err:
        coerce(["1", "x"], shape, "query.ids")
    assert err.value.path == "query.ids.1"
    assert coerce("true", shape_of({"type": "boolean"}, Defs(DEFS))) is True


def test_request_view_drops_read_only_from_required() -> None:
    stripped = strip_read_only(DEFS["Pet"], Defs(DEFS))
    assert stripped["required"] == ["name"]
    assert DEFS["Pet"]["required"] == ["id", "name"]  # the model's schema is not changed


def test_lazy_schema_reports_problems_and_tolerates_a_broken_schema() -> None:
    out: list[Problem] = []
    LazySchema({"$ref": "#/$defs/Pet"}, reachable_defs(DEFS, {"$ref": "#/$defs/Pet"})).check({"id": 1}, "body", out)
    assert out == [Problem("body.name", "'name' is a required property")]
    broken = LazySchema({"type": "string", "pattern": "("}, {})
    broken.check("x", "body", out)
    assert broken.broken and len(out) == 1
    assert cut("a\nb" + "x" * 500).startswith("a b") and len(cut("x" * 500)) == 200


def test_validators_are_cached_per_schema_and_shared_with_the_generator() -> None:
    checks = Validators(DEFS)
    schema = {"$ref": "#/$defs/Pet"}
    assert checks.validator(schema) is checks.validator(schema)
    assert checks.first_error(schema, {"id": 1, "name": 2}) == "/name: 2 is not of type \"string\""
    gen = DataGenerator(DEFS, seed=1)
    value = gen.compile(schema)(random.Random(1))
    assert gen.first_error(schema, value) is None and gen.is_valid(schema, value)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_schema_package_imports_no_adapter_and_stays_small(path: Path) -> None:
    allowed = ("mockforge.core", "mockforge.errors", "mockforge.schema")
    own = {name for name in _imports(path) if name.split(".")[0] == "mockforge"}
    assert all(name.startswith(allowed) for name in own), (path.name, own)
    assert len(path.read_text().splitlines()) < 800
    assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name} opens without a docstring"
