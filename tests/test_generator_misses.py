"""Issue 14 item 4: schemas the generator used to miss now give values that validate, and ECMA-262
patterns are spelled for our engines at load (``schema/ecma.py``)."""

from __future__ import annotations

import random
from typing import Any

import jsonschema_rs
import pytest

from mockforge.core.regex import try_user_regex
from mockforge.schema.ecma import translate
from mockforge.schema.generate import DataGenerator

A = {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}, "z": {"type": "boolean"}}}
DEFS: dict[str, Any] = {"A": A}


def values_of(schema: dict[str, Any], n: int = 8) -> list[Any]:
    gen = DataGenerator(DEFS, seed=0)
    make = gen.compile(schema)
    validator = jsonschema_rs.validator_for({"$defs": DEFS, **schema}, validate_formats=True)
    values = [make(random.Random(seed)) for seed in range(n)]
    for value in values:
        assert validator.is_valid(value), (schema, value, [e.message for e in validator.iter_errors(value)])
    assert gen.problems == []
    return values


MISSES: list[tuple[str, dict[str, Any]]] = [
    ("property forbidden by not: {}", {"type": "object", "required": ["b"],
                                       "properties": {"a": {"not": {}}, "b": {"type": "string"}}}),
    ("not required", {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                      "not": {"required": ["a"]}}),
    ("not anyOf required", {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"},
                                                             "c": {"type": "integer"}},
                            "not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}]}}),
    ("additionalProperties false beside allOf", {"allOf": [{"$ref": "#/$defs/A"}], "additionalProperties": False,
                                                 "properties": {"x": {"type": "string"}, "y": {"type": "integer"}}}),
    ("closed allOf member", {"allOf": [{"type": "object", "properties": {"x": {"type": "string"}},
                                        "additionalProperties": False},
                                       {"properties": {"y": {"type": "integer"}}}]}),
    ("propertyNames pattern", {"type": "object", "propertyNames": {"pattern": "^[a-z]{2}-[A-Z]{2}$"},
                               "additionalProperties": {"type": "string"}, "minProperties": 2}),
    ("propertyNames enum", {"type": "object", "propertyNames": {"enum": ["x", "y", "z"]},
                            "additionalProperties": {"type": "integer"}, "minProperties": 1}),
    ("patternProperties only", {"type": "object", "patternProperties": {"^S_": {"type": "string"},
                                                                        "^I_": {"type": "integer"}},
                                "additionalProperties": False, "minProperties": 2}),
    ("integer-like strings by pattern", {"type": "object", "required": ["id", "userId", "count", "price"],
                                         "properties": {"id": {"type": "string", "pattern": "^[0-9]+$"},
                                                        "userId": {"type": "string", "pattern": "^\\d{1,10}$"},
                                                        "count": {"type": "string", "pattern": "^-?[1-9]\\d*$"},
                                                        "price": {"type": "string", "pattern": "^\\d+\\.\\d{2}$"}}}),
    ("number example given as a string", {"type": "number", "example": "12.5", "minimum": 1}),
    ("unicode property class", {"type": "string", "pattern": "^\\p{Lu}\\p{L}+$"}),
]


@pytest.mark.parametrize(("name", "schema"), MISSES, ids=[m[0] for m in MISSES])
def test_generated_values_validate(name: str, schema: dict[str, Any]) -> None:
    values = values_of(schema)
    if name.startswith("not"):
        assert all("a" not in v for v in values)
    if name == "not anyOf required":
        assert all("b" not in v for v in values) and any("c" in v for v in values)
    if name == "patternProperties only":
        assert all(len(v) >= 2 and all(k[:2] in ("S_", "I_") for k in v) for v in values)
    if name == "integer-like strings by pattern":
        assert all(v["id"].isdigit() and v["userId"].isdigit() for v in values)
    if name == "number example given as a string":
        assert all(isinstance(v, float | int) for v in values)


def test_a_required_property_a_closed_schema_forbids_is_reported_with_the_reason() -> None:
    gen = DataGenerator(DEFS, seed=0)
    gen.compile({"allOf": [{"$ref": "#/$defs/A"}], "additionalProperties": False})(random.Random(0))
    assert len(gen.problems) == 1
    assert "required property 'x' is forbidden by additionalProperties: false" in gen.problems[0]


@pytest.mark.parametrize(
    ("ecma", "ours", "matches", "rejects"),
    [
        ("^(?<year>\\d{4})-\\d{2}$", "^(?P<year>\\d{4})-\\d{2}$", "2024-05", "24-05"),
        ("^[\\w-.]+$", "^[\\w\\-.]+$", "a-b.c", "a b"),
        ("^[.\\d-]+$", "^[.\\d\\-]+$", "1.2-3", "x"),
        ("^{x}$", "^\\{x\\}$", "{x}", "x"),
        ("^a{,3}$", "^a\\{,3\\}$", "a{,3}", "aa"),
        ("^[a-z]{2,3}$", "^[a-z]{2,3}$", "abc", "abcd"),
        ("^[^]$", "^[\\s\\S]$", "\n", "ab"),
        ("^caf\\u00e9$", "^caf\\x{00e9}$", "café", "cafe"),
        ("^\\p{L}+$", "^\\p{L}+$", "Ωmega", "a1"),
        ("(?<=a)b", "(?<=a)b", None, None),
    ],
)
def test_ecma_patterns_are_spelled_for_our_engines(ecma: str, ours: str, matches: str | None,
                                                    rejects: str | None) -> None:
    assert translate(ecma) == ours
    if matches is None:
        return
    rx = try_user_regex(ours)
    assert rx is not None and rx.test(matches) and not rx.test(rejects or "")
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": ours})
    assert validator.is_valid(matches) and not validator.is_valid(rejects)


def test_translation_leaves_plain_patterns_alone_and_escapes_stay_escapes() -> None:
    plain = "^[A-Z]{2}-[0-9]{3}$"
    assert translate(plain) is plain
    assert translate("^\\{a\\}\\[$") == "^\\{a\\}\\[$"
    assert translate("^\\\\u0041$") == "^\\\\u0041$"  # an escaped backslash, then "u0041"
