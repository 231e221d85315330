from __future__ import annotations

import importlib.util
import logging
import struct
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema_rs
import orjson
import pytest

from mockforge.core.model import Headers
from mockforge.openapi.model import ApiModel, HeaderSpec, MediaType, Operation, ResponseSpec
from mockforge.openapi.responses import (
    ResponseChoice,
    ResponsePlanner,
    ResponseProblem,
    choose_media,
    is_json,
    parse_accept,
)

PET = {
    "type": "object",
    "required": ["id", "name"],
    "xml": {"name": "pet"},
    "properties": {
        "id": {"type": "integer", "minimum": 1, "xml": {"attribute": True}},
        "name": {"type": "string", "minLength": 1},
        "tags": {
            "type": "array",
            "xml": {"wrapped": True, "name": "tags"},
            "items": {"type": "string", "xml": {"name": "tag"}},
            "minItems": 1,
        },
        "secret": {"type": "string", "writeOnly": True},
    },
}
DEFS = {
    "Pet": PET,
    "Error": {"type": "object", "required": ["code"], "properties": {"code": {"type": "integer"}}},
}
PET_REF = {"$ref": "#/$defs/Pet"}


def op(responses: dict[str, ResponseSpec], path: str = "/pets") -> Operation:
    return Operation(
        method="GET",
        path=path,
        responses=responses,
        file="spec.yaml",
        pointer=f"/paths/{path.replace('/', '~1')}/get",
    )


def json_media(schema: Any = None, **kw: Any) -> dict[str, MediaType]:
    return {"application/json": MediaType("application/json", schema=schema, **kw)}


def respond(operation: Operation, headers: dict[str, str] | None = None, **kw: Any) -> ResponseChoice:
    planner = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=1, **kw)
    choice = planner.for_operation(operation).respond(Headers(list((headers or {}).items())))
    assert isinstance(choice, ResponseChoice), choice
    return choice


def problem(operation: Operation, headers: dict[str, str]) -> ResponseProblem:
    planner = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=1)
    answer = planner.for_operation(operation).respond(Headers(list(headers.items())))
    assert isinstance(answer, ResponseProblem), answer
    return answer


def valid(schema: Any, body: bytes) -> bool:
    validator = jsonschema_rs.validator_for({"$defs": DEFS, **schema}, validate_formats=True)
    return bool(validator.is_valid(orjson.loads(body)))


# ---- status


@pytest.mark.parametrize(
    ("documented", "expected"),
    [
        (["404", "201", "200"], 200),
        (["default", "204", "202"], 202),
        (["100", "2XX", "400"], 200),
        (["default", "400"], 200),
        (["400", "302"], 302),
        (["101", "200"], 200),
    ],
)
def test_default_status_is_the_lowest_2xx(documented: list[str], expected: int) -> None:
    assert respond(op({s: ResponseSpec(s) for s in documented})).status == expected


def test_no_responses_gives_an_empty_200() -> None:
    assert respond(op({})) == ResponseChoice(200, None, b"", [])


@pytest.mark.parametrize(
    ("header", "value", "documented", "status", "spec_key"),
    [
        ("prefer", "code=404", ["200", "404"], 404, "404"),
        ("x-mockforge-response-status", "404", ["200", "404"], 404, "404"),
        ("x-mockforge-response-status", "404", ["200", "4XX"], 404, "4XX"),
        ("x-mockforge-response-status", "503", ["200", "default"], 503, "default"),
        ("x-mockforge-response-status", "4XX", ["200", "422", "404"], 404, "404"),
        ("x-mockforge-response-status", "4xx", ["200", "4XX"], 400, "4XX"),
        ("prefer", "code=default", ["200", "default"], 500, "default"),
        ("prefer", "example=x, code=101", ["101", "200"], 101, "101"),
    ],
)
def test_requested_status_picks_a_documented_response(
    header: str, value: str, documented: list[str], status: int, spec_key: str
) -> None:
    specs = {s: ResponseSpec(s, content=json_media({"const": s})) for s in documented}
    choice = respond(op(specs), {header: value})
    assert choice.status == status
    assert orjson.loads(choice.body) == spec_key


def test_undocumented_status_is_a_problem_naming_the_documented_ones() -> None:
    answer = problem(op({"200": ResponseSpec("200"), "404": ResponseSpec("404")}), {"prefer": "code=500"})
    assert answer.choices == ["200", "404"] and answer.status == 400
    assert "500" in answer.message and "200, 404" in answer.message
    assert problem(op({"200": ResponseSpec("200")}), {"x-mockforge-response-status": "teapot"}).choices == [
        "200"
    ]


# ---- media type


def test_accept_parsing_and_media_choice() -> None:
    assert parse_accept("text/*;q=0.5, application/json") == [
        ("text", "*", 0.5),
        ("application", "json", 1.0),
    ]
    content = {n: MediaType(n) for n in ("application/xml", "application/json", "text/plain")}
    assert choose_media(content, None) == "application/json"
    assert choose_media(content, "*/*") == "application/json"
    assert choose_media(content, "application/xml") == "application/xml"
    assert choose_media(content, "text/*;q=0.9, application/xml;q=0.5") == "text/plain"
    assert choose_media(content, "application/json;q=0, */*;q=0.1") == "application/xml"
    assert choose_media(content, "image/png") == "application/json"
    assert (
        choose_media({"text/csv": MediaType("text/csv"), "text/html": MediaType("text/html")}, None)
        == "text/csv"
    )
    assert choose_media({"image/*": MediaType("image/*")}, "image/png") == "image/*"
    assert is_json("application/problem+json; charset=utf-8") and not is_json("text/json-ish")


# ---- examples


def examples_op() -> Operation:
    media = MediaType(
        "application/json",
        schema=PET_REF,
        examples={
            "broken": {"id": "not-a-number", "name": "x"},
            "cat": {"id": 1, "name": "Tom"},
            "dog": {"id": 2, "name": "Rex"},
        },
    )
    return op({"200": ResponseSpec("200", content={"application/json": media})})


def test_first_valid_example_is_the_default_and_invalid_ones_are_counted_once_per_operation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    operation = examples_op()
    with caplog.at_level(logging.WARNING, logger="mockforge.openapi"):
        planner = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=1)
    # checked at start (the start-up log), one line for the operation, counts only
    assert planner.warnings == [
        "spec.yaml: GET /pets: 1 example(s) do not match their schema: 1 repaired, 0 replaced by generated bodies"
    ]
    assert [r.getMessage() for r in caplog.records] == [
        planner.warnings[0] + " (each example: mockforge validate --verbose)"
    ]
    (detail,) = planner.detail_lines()
    assert detail.startswith("spec.yaml: /paths/~1pets/get/responses/200/content/application~1json/examples/broken")
    assert '{"id":"not-a-number","name":"x"}' in detail and "/id" in detail and "repaired to" in detail
    assert (planner.examples_repaired, planner.examples_replaced) == (1, 0)
    responder = planner.for_operation(operation)
    choice = responder.respond(Headers())
    assert orjson.loads(choice.body) == {"id": 1, "name": "Tom"}  # type: ignore[union-attr]
    assert planner.for_operation(operation) is responder
    assert len(planner.warnings) == 1 and len(caplog.records) == 1  # prepared once


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-mockforge-scenario": "dog"}, {"id": 2, "name": "Rex"}),
        ({"prefer": "example=dog"}, {"id": 2, "name": "Rex"}),
    ],
)
def test_named_examples_are_served_as_written(headers: dict[str, str], expected: Any) -> None:
    assert orjson.loads(respond(examples_op(), headers).body) == expected


def test_a_named_example_that_fails_its_schema_is_repaired_keeping_what_is_right() -> None:
    body = orjson.loads(respond(examples_op(), {"prefer": 'example="broken"'}).body)
    assert body["name"] == "x" and isinstance(body["id"], int) and body["id"] >= 1
    assert valid(PET_REF, orjson.dumps(body))


def test_trusted_examples_are_served_as_written(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mockforge.openapi"):
        planner = ResponsePlanner(ApiModel(operations=[examples_op()], defs=DEFS), seed=1, trust_examples=True)
    assert planner.warnings == [
        "spec.yaml: GET /pets: 1 example(s) do not match their schema: served as written (http.examples.trust)"
    ]
    responder = planner.for_operation(planner.model.operations[0])
    named = responder.respond(Headers([("prefer", "example=broken")]))
    assert orjson.loads(named.body) == {"id": "not-a-number", "name": "x"}  # type: ignore[union-attr]
    # trusted: the first example in document order is the default, valid or not
    default = responder.respond(Headers())
    assert orjson.loads(default.body) == {"id": "not-a-number", "name": "x"}  # type: ignore[union-attr]


ORDER = {
    "type": "object",
    "required": ["id", "total", "items", "status"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "total": {"type": "number"},
        "paid": {"type": "boolean"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "items": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["sku"],
                                                              "properties": {"sku": {"type": "string"}}}},
        "meta": {"type": "object", "properties": {"n": {"type": "integer"}}},
    },
}


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        # numbers for strings, numbers and booleans as strings, JSON text for an object
        ({"id": 257, "total": "12.5", "paid": "true", "status": "open", "items": [], "meta": '{"n": 3}'},
         {"id": "257", "total": 12.5, "paid": True, "status": "open", "items": [], "meta": {"n": 3}}),
        # a forbidden property goes, a missing required one is generated, too many items are cut
        ({"id": "a", "total": 1, "status": "open", "extra": 1, "items": [{"sku": "A"}, {"sku": "B"}, {"sku": "C"}]},
         {"id": "a", "total": 1, "status": "open", "items": [{"sku": "A"}, {"sku": "B"}]}),
    ],
)
def test_repair_fixes_only_the_parts_that_fail(example: dict[str, Any], expected: dict[str, Any]) -> None:
    media = json_media(ORDER, example=example)
    planner = ResponsePlanner(ApiModel(operations=[op({"200": ResponseSpec("200", content=media)})], defs=DEFS),
                              seed=1)
    body = orjson.loads(planner.for_operation(planner.model.operations[0]).respond(Headers()).body)  # type: ignore[union-attr]
    assert valid(ORDER, orjson.dumps(body))
    assert body == expected
    assert planner.examples_repaired == 1 and planner.examples_replaced == 0


def test_repair_generates_a_value_outside_the_enum_and_missing_required_parts() -> None:
    example = {"id": "a", "total": 3, "status": "shipped"}
    media = json_media(ORDER, example=example)
    planner = ResponsePlanner(ApiModel(operations=[op({"200": ResponseSpec("200", content=media)})], defs=DEFS),
                              seed=1)
    body = orjson.loads(planner.for_operation(planner.model.operations[0]).respond(Headers()).body)  # type: ignore[union-attr]
    assert body["id"] == "a" and body["total"] == 3 and body["status"] in ("open", "closed")
    assert isinstance(body["items"], list) and valid(ORDER, orjson.dumps(body))


def test_an_example_that_cannot_be_repaired_is_replaced_by_a_generated_body() -> None:
    media = json_media({"type": "array", "items": {"type": "integer"}}, example="not json [")
    planner = ResponsePlanner(ApiModel(operations=[op({"200": ResponseSpec("200", content=media)})], defs=DEFS),
                              seed=1)
    assert (planner.examples_repaired, planner.examples_replaced) == (0, 1)
    body = orjson.loads(planner.for_operation(planner.model.operations[0]).respond(Headers()).body)  # type: ignore[union-attr]
    assert isinstance(body, list) and all(isinstance(v, int) for v in body)
    assert "replaced by a generated body" in planner.detail_lines()[0]


def test_example_details_are_abbreviated_unless_asked_for_whole() -> None:
    long_example = {"id": "x" * 500, "name": "y"}
    media = json_media(PET_REF, example=long_example)
    planner = ResponsePlanner(ApiModel(operations=[op({"200": ResponseSpec("200", content=media)})], defs=DEFS),
                              seed=1)
    short, = planner.detail_lines()
    whole, = planner.detail_lines(limit=None)
    assert "x" * 500 in whole and "x" * 250 not in short and "..." in short


def test_unknown_example_name_lists_the_names() -> None:
    answer = problem(examples_op(), {"x-mockforge-scenario": "bird"})
    assert answer.choices == ["broken", "cat", "dog"] and "bird" in answer.message


def test_scenario_is_ignored_where_no_named_examples_exist() -> None:
    choice = respond(
        op({"200": ResponseSpec("200", content=json_media({"const": 5}))}), {"x-mockforge-scenario": "any"}
    )
    assert choice.body == b"5"


def test_media_example_beats_examples_and_invalid_example_falls_back_to_schema() -> None:
    media = json_media(PET_REF, example={"id": 9, "name": "Ex"}, examples={"a": {"id": 1, "name": "A"}})
    assert orjson.loads(respond(op({"200": ResponseSpec("200", content=media)})).body)["name"] == "Ex"
    bad = json_media(PET_REF, example={"name": 3})
    body = respond(op({"200": ResponseSpec("200", content=bad)})).body
    assert valid(PET_REF, body) and "secret" not in orjson.loads(body)


# ---- generated bodies


def test_generated_body_is_valid_cached_and_reproducible() -> None:
    operation = op({"200": ResponseSpec("200", content=json_media({"type": "array", "items": PET_REF}))})
    planner = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=7)
    responder = planner.for_operation(operation)
    first, second = responder.respond(Headers()), responder.respond(Headers())
    assert isinstance(first, ResponseChoice) and isinstance(second, ResponseChoice)
    assert first is second and first.content_type == "application/json"
    assert valid({"type": "array", "items": PET_REF}, first.body)
    again = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=7).for_operation(operation)
    assert again.respond(Headers()) == first
    other = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=8).for_operation(operation)
    assert other.respond(Headers()) != first


def test_dynamic_bodies_change_per_request_and_stay_valid() -> None:
    schema = {"type": "array", "items": PET_REF, "minItems": 1}
    operation = op({"200": ResponseSpec("200", content=json_media(schema))})
    planner = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=7, dynamic=True)
    responder = planner.for_operation(operation)
    bodies = []
    for _ in range(5):
        choice = responder.respond(Headers())
        assert isinstance(choice, ResponseChoice)
        bodies.append(choice.body)
    assert len(set(bodies)) == 5 and all(valid(schema, b) for b in bodies)
    # seed plus a per-operation request counter: the same sequence again for the same seed
    again = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=7, dynamic=True).for_operation(operation)
    assert [again.respond(Headers()).body for _ in range(5)] == bodies  # type: ignore[union-attr]
    other = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=8, dynamic=True).for_operation(operation)
    assert [other.respond(Headers()).body for _ in range(5)] != bodies  # type: ignore[union-attr]
    static = ResponsePlanner(ApiModel(operations=[operation], defs=DEFS), seed=7).for_operation(operation)
    per_request = {static.respond(Headers([("prefer", "dynamic=true")])).body for _ in range(3)}  # type: ignore[union-attr]
    assert len(per_request) == 3


def test_no_schema_gives_an_empty_body() -> None:
    choice = respond(op({"200": ResponseSpec("200", content=json_media())}))
    assert choice.body == b"" and choice.content_type == "application/json"


def test_xml_rendering_honours_the_xml_keyword() -> None:
    content = {"application/xml": MediaType("application/xml", schema=PET_REF)}
    choice = respond(op({"200": ResponseSpec("200", content=content)}))
    assert choice.content_type == "application/xml"
    root = ElementTree.fromstring(choice.body)
    assert root.tag == "pet" and int(root.attrib["id"]) >= 1
    assert root.find("name") is not None and root.find("id") is None
    tags = root.find("tags")
    assert tags is not None and len(tags) >= 1 and all(t.tag == "tag" for t in tags)


def test_xml_string_example_is_sent_as_is() -> None:
    content = {"text/xml": MediaType("text/xml", schema=PET_REF, example="<pet id='1'><name>A</name></pet>")}
    assert (
        respond(op({"200": ResponseSpec("200", content=content)})).body == b"<pet id='1'><name>A</name></pet>"
    )


def test_text_bodies() -> None:
    plain = {"text/plain": MediaType("text/plain", schema={"type": "string", "const": "pong"})}
    assert respond(op({"200": ResponseSpec("200", content=plain)})).body == b"pong"
    obj = {"text/plain": MediaType("text/plain", schema={"const": {"a": 1}})}
    assert respond(op({"200": ResponseSpec("200", content=obj)})).body == b'{"a":1}'
    csv = {"text/csv": MediaType("text/csv", schema={"const": [{"a": 1, "b": "x,y"}]})}
    assert respond(op({"200": ResponseSpec("200", content=csv)})).body == b'a,b\r\n1,"x,y"\r\n'


def test_binary_bodies_are_of_the_right_kind() -> None:
    binary = {"type": "string", "format": "binary"}
    png = respond(
        op({"200": ResponseSpec("200", content={"image/png": MediaType("image/png", schema=binary)})})
    )
    assert png.body.startswith(b"\x89PNG\r\n\x1a\n")
    length, kind = struct.unpack(">I4s", png.body[8:16])
    assert kind == b"IHDR" and struct.unpack(">I", png.body[16 + length : 20 + length])[0] == zlib.crc32(
        png.body[12 : 16 + length]
    )
    idat = png.body.index(b"IDAT")
    assert zlib.decompress(png.body[idat + 4 : png.body.index(b"IEND") - 8]) == b"\x00\x4f\x8a\xc4"
    pdf = respond(
        op(
            {
                "200": ResponseSpec(
                    "200", content={"application/pdf": MediaType("application/pdf", schema=binary)}
                )
            }
        )
    )
    assert pdf.body.startswith(b"%PDF-1.4") and pdf.body.rstrip().endswith(b"%%EOF")
    raw = {"application/octet-stream": MediaType("application/octet-stream", schema=binary)}
    first = respond(op({"200": ResponseSpec("200", content=raw)})).body
    assert len(first) == 16 and first == respond(op({"200": ResponseSpec("200", content=raw)})).body
    anyimage = respond(
        op({"200": ResponseSpec("200", content={"image/*": MediaType("image/*", schema=binary)})})
    )
    assert anyimage.content_type == "image/png" and anyimage.body.startswith(b"\x89PNG")


def test_documented_headers_are_sent() -> None:
    spec = ResponseSpec(
        "200",
        content=json_media({"const": 1}),
        headers={
            "X-Rate-Limit": HeaderSpec(
                "X-Rate-Limit", schema={"type": "integer", "minimum": 10, "maximum": 10}
            ),
            "X-Request-Id": HeaderSpec("X-Request-Id", schema={"type": "string", "format": "uuid"}),
            "X-Env": HeaderSpec("X-Env", example="staging"),
            "X-Flags": HeaderSpec("X-Flags", schema={"const": [1, 2]}),
            "Content-Type": HeaderSpec("Content-Type", example="text/evil"),
        },
    )
    headers = dict(respond(op({"200": spec})).headers)
    assert headers["X-Rate-Limit"] == "10" and headers["X-Env"] == "staging" and headers["X-Flags"] == "1,2"
    assert len(headers["X-Request-Id"]) == 36 and "Content-Type" not in headers


# ---- corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
HAS_LOADER = importlib.util.find_spec("mockforge.openapi.loader") is not None
DOCS = (
    sorted(p for p in (CORPUS / "openapi").rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    if CORPUS.is_dir()
    else []
)


@pytest.mark.skipif(not HAS_LOADER or not DOCS, reason="needs the loader and the shared corpus")
@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(CORPUS)) for p in DOCS])
def test_corpus_default_bodies_validate(path: Path) -> None:
    from mockforge.openapi.loader import load_specs

    model = load_specs([str(path)])
    planner = ResponsePlanner(model, seed=1)
    failures = []
    for operation in model.operations:
        responder = planner.for_operation(operation)
        choice = responder.respond(Headers())
        assert isinstance(choice, ResponseChoice), (operation.key, choice)
        if responder.default_status is None or choice.content_type is None:
            continue
        spec = operation.responses[responder.default_status]
        media = next(m for name, m in spec.content.items() if choose_media(spec.content, None) == name)
        if media.schema is None or not is_json(choice.content_type):
            continue
        validator = jsonschema_rs.validator_for({"$defs": model.defs, **media.schema}, validate_formats=True)
        if not validator.is_valid(orjson.loads(choice.body)):
            failures.append(operation.key)
    assert failures == []
    assert planner.generator.problems == []
