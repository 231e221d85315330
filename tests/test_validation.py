from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockforge.core.model import Headers, Request
from mockforge.openapi.model import MediaType, Operation, Parameter, RequestBodySpec
from mockforge.openapi.validation import MAX_PROBLEMS, MAX_REASON, Problem, RequestValidator

INT = {"type": "integer"}
INTS = {"type": "array", "items": INT}
POINT = {"type": "object", "properties": {"x": INT, "y": INT}}
ROLE = {"type": "object", "properties": {"role": {"type": "string"}, "age": INT}}

DEFS: dict[str, Any] = {
    "Pet": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string", "minLength": 1},
            "owner": {"$ref": "#/$defs/Owner"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
        },
    },
    "Owner": {
        "type": "object",
        "required": ["created"],
        "properties": {"created": {"$ref": "#/$defs/Stamp"}},
    },
    "Stamp": {"type": "string", "format": "date-time", "readOnly": True},
    "Item": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    "Base": {"type": "object", "properties": {"uid": {"type": "string", "readOnly": True}}},
    "Derived": {"allOf": [{"$ref": "#/$defs/Base"}, {"required": ["uid", "kind"]}]},
}


def param(name: str, where: str, schema: Any = None, **kw: Any) -> Parameter:
    defaults = {"path": ("simple", False), "header": ("simple", False)}
    style, explode = defaults.get(where, ("form", True))
    kw.setdefault("style", style)
    kw.setdefault("explode", kw["style"] == "form" if where not in defaults else explode)
    return Parameter(name, where, schema=schema, **kw)


def operation(*params: Parameter, body: RequestBodySpec | None = None) -> Operation:
    return Operation("POST", "/things/{id}", parameters=list(params), request_body=body)


def run(
    op: Operation,
    query: str = "",
    path: dict[str, str] | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> list[tuple[str, str]]:
    hs = list(headers or [])
    if content_type:
        hs.append(("Content-Type", content_type))
    request = Request("http", op.method, "/things/1", raw_query=query, headers=Headers(hs), body=body)
    problems = RequestValidator(DEFS).for_operation(op).validate(request, path or {})
    assert all(isinstance(p, Problem) for p in problems)
    return [(p.location, p.reason) for p in problems]


def locations(problems: list[tuple[str, str]]) -> list[str]:
    return [loc for loc, _ in problems]


# --------------------------------------------------------------------------- query


def test_query_integer_is_coerced_and_invalid_one_names_the_type() -> None:
    op = operation(param("limit", "query", {"type": "integer", "maximum": 10}, required=True))
    assert run(op, "limit=5") == []
    assert run(op, "limit=abc") == [("query.limit", "expected integer, got 'abc'")]
    [(loc, reason)] = run(op, "limit=11")
    assert loc == "query.limit" and "10" in reason


def test_query_number_boolean_and_nullable_coercion() -> None:
    op = operation(
        param("ratio", "query", {"type": "number", "minimum": 0}),
        param("flag", "query", {"type": "boolean"}),
        param("n", "query", {"type": ["integer", "null"]}),
    )
    assert run(op, "ratio=0.5&flag=true&n=3") == []
    assert run(op, "ratio=1e3&flag=false&n=null") == []
    assert run(op, "n=") == []
    assert run(op, "ratio=x&flag=yes&n=z") == [
        ("query.ratio", "expected number, got 'x'"),
        ("query.flag", "expected boolean, got 'yes'"),
        ("query.n", "expected integer or null, got 'z'"),
    ]
    [(loc, reason)] = run(op, "ratio=-1")
    assert loc == "query.ratio" and "minimum" in reason


def test_missing_required_query_parameter() -> None:
    op = operation(param("q", "query", {"type": "string"}, required=True))
    assert run(op, "") == [("query.q", "required query parameter is missing")]
    assert run(op, "other=1") == [("query.q", "required query parameter is missing")]


def test_empty_required_query_value_is_a_value_not_missing() -> None:
    assert run(operation(param("q", "query", {"type": "string"}, required=True)), "q=") == []
    [(loc, reason)] = run(
        operation(param("q", "query", {"type": "string", "minLength": 1}, required=True)), "q="
    )
    assert loc == "query.q" and "missing" not in reason
    assert run(operation(param("q", "query", INT, required=True)), "q=") == [
        ("query.q", "expected integer, got ''")
    ]
    assert run(operation(param("q", "query", INT, required=True, allow_empty_value=True)), "q=") == []


def test_query_form_exploded_array() -> None:
    op = operation(param("ids", "query", INTS))
    assert run(op, "ids=1&ids=2") == []
    assert run(op, "ids=1&ids=x") == [("query.ids.1", "expected integer, got 'x'")]


def test_query_form_unexploded_array() -> None:
    op = operation(param("ids", "query", INTS, explode=False))
    assert run(op, "ids=1,2,3") == []
    assert run(op, "ids=1,x") == [("query.ids.1", "expected integer, got 'x'")]
    op = operation(param("ids", "query", {**INTS, "minItems": 1}, explode=False))
    [(loc, _)] = run(op, "ids=")
    assert loc == "query.ids"


def test_query_form_exploded_object_reads_properties_as_keys() -> None:
    op = operation(param("point", "query", {**POINT, "required": ["x"]}, required=True))
    assert run(op, "x=1&y=2") == []
    assert run(op, "x=1&y=z") == [("query.point.y", "expected integer, got 'z'")]
    # the unexploded spelling is not what an exploded object looks like
    assert run(op, "point=x,1,y,2") == [("query.point", "required query parameter is missing")]


def test_query_form_unexploded_object() -> None:
    op = operation(param("point", "query", POINT, explode=False))
    assert run(op, "point=x,1,y,2") == []
    assert run(op, "point=x,1,y,b") == [("query.point.y", "expected integer, got 'b'")]
    [(loc, reason)] = run(op, "point=x,1,y")
    assert loc == "query.point" and "key,value" in reason


def test_query_space_and_pipe_delimited() -> None:
    space = operation(param("ids", "query", INTS, style="spaceDelimited", explode=False))
    assert run(space, "ids=1%202%203") == []
    assert run(space, "ids=1+2") == []
    assert run(space, "ids=1%20x") == [("query.ids.1", "expected integer, got 'x'")]
    pipe = operation(param("ids", "query", INTS, style="pipeDelimited", explode=False))
    assert run(pipe, "ids=1|2|3") == []
    assert run(pipe, "ids=1%7C2") == []
    assert run(pipe, "ids=x|2") == [("query.ids.0", "expected integer, got 'x'")]


def test_query_deep_object() -> None:
    op = operation(param("filter", "query", {**POINT, "required": ["x"]}, style="deepObject", required=True))
    assert run(op, "filter[x]=1&filter[y]=2") == []
    assert run(op, "filter%5Bx%5D=1") == []
    assert run(op, "filter[x]=1&filter[y]=b") == [("query.filter.y", "expected integer, got 'b'")]
    assert run(op, "filter[y]=2") == [("query.filter.x", "'x' is a required property")]
    assert run(op, "x=1") == [("query.filter", "required query parameter is missing")]


def test_query_deep_object_nested() -> None:
    schema = {"type": "object", "properties": {"range": POINT}}
    op = operation(param("f", "query", schema, style="deepObject"))
    assert run(op, "f[range][x]=1") == []
    assert run(op, "f[range][x]=a") == [("query.f.range.x", "expected integer, got 'a'")]


def test_query_parameter_with_json_content() -> None:
    p = param("filter", "query", {**POINT, "required": ["x"]}, content_type="application/json")
    op = operation(p)
    assert run(op, "filter=%7B%22x%22%3A1%7D") == []
    assert run(op, 'filter={"x":"a"}') == [("query.filter.x", '"a" is not of type "integer"')]
    [(loc, reason)] = run(op, "filter={x")
    assert loc == "query.filter" and reason.startswith("invalid JSON")


def test_query_format_is_validated() -> None:
    op = operation(param("mail", "query", {"type": "string", "format": "email"}))
    assert run(op, "mail=a@example.com") == []
    assert locations(run(op, "mail=nope")) == ["query.mail"]


def test_unknown_query_parameters_are_allowed() -> None:
    assert run(operation(param("a", "query", INT)), "zzz=1") == []


# --------------------------------------------------------------------------- path


@pytest.mark.parametrize(
    ("style", "explode", "value"),
    [
        ("simple", False, "5"),
        ("label", False, ".5"),
        ("matrix", False, ";id=5"),
    ],
)
def test_path_primitive_styles(style: str, explode: bool, value: str) -> None:
    op = operation(param("id", "path", INT, style=style, explode=explode, required=True))
    assert run(op, path={"id": value}) == []
    bad = value.replace("5", "x")
    assert run(op, path={"id": bad}) == [("path.id", "expected integer, got 'x'")]


@pytest.mark.parametrize(
    ("style", "explode", "good", "bad"),
    [
        ("simple", False, "3,4,5", "3,x"),
        ("simple", True, "3,4,5", "3,x"),
        ("label", False, ".3,4,5", ".3,x"),
        ("label", True, ".3.4.5", ".3.x"),
        ("matrix", False, ";id=3,4,5", ";id=3,x"),
        ("matrix", True, ";id=3;id=4;id=5", ";id=3;id=x"),
    ],
)
def test_path_array_styles(style: str, explode: bool, good: str, bad: str) -> None:
    op = operation(param("id", "path", INTS, style=style, explode=explode, required=True))
    assert run(op, path={"id": good}) == []
    assert run(op, path={"id": bad}) == [("path.id.1", "expected integer, got 'x'")]


@pytest.mark.parametrize(
    ("style", "explode", "good", "bad"),
    [
        ("simple", False, "role,admin,age,5", "role,admin,age,x"),
        ("simple", True, "role=admin,age=5", "role=admin,age=x"),
        ("label", False, ".role,admin,age,5", ".role,admin,age,x"),
        ("label", True, ".role=admin.age=5", ".role=admin.age=x"),
        ("matrix", False, ";id=role,admin,age,5", ";id=role,admin,age,x"),
        ("matrix", True, ";role=admin;age=5", ";role=admin;age=x"),
    ],
)
def test_path_object_styles(style: str, explode: bool, good: str, bad: str) -> None:
    op = operation(param("id", "path", ROLE, style=style, explode=explode, required=True))
    assert run(op, path={"id": good}) == []
    assert run(op, path={"id": bad}) == [("path.id.age", "expected integer, got 'x'")]


def test_path_label_and_matrix_prefixes_are_checked() -> None:
    label = operation(param("id", "path", INT, style="label", required=True))
    [(loc, reason)] = run(label, path={"id": "5"})
    assert loc == "path.id" and "'.'" in reason
    matrix = operation(param("id", "path", INT, style="matrix", required=True))
    [(loc, reason)] = run(matrix, path={"id": ";other=5"})
    assert loc == "path.id" and ";id=" in reason


def test_missing_path_parameter() -> None:
    op = operation(param("id", "path", INT, required=True))
    assert run(op) == [("path.id", "required path parameter is missing")]


# --------------------------------------------------------------------------- header


def test_required_header_missing_and_names_are_case_insensitive() -> None:
    op = operation(param("X-Rate", "header", INT, required=True))
    assert run(op) == [("header.x-rate", "required header is missing")]
    assert run(op, headers=[("x-RATE", "5")]) == []
    assert run(op, headers=[("X-Rate", "fast")]) == [("header.x-rate", "expected integer, got 'fast'")]


def test_header_array_and_objects() -> None:
    arr = operation(param("X-Ids", "header", INTS))
    assert run(arr, headers=[("X-Ids", "1, 2, 3")]) == []
    assert run(arr, headers=[("X-Ids", "1"), ("X-Ids", "2")]) == []
    assert run(arr, headers=[("X-Ids", "1,b")]) == [("header.x-ids.1", "expected integer, got 'b'")]
    flat = operation(param("X-Obj", "header", ROLE))
    assert run(flat, headers=[("X-Obj", "role,admin,age,5")]) == []
    assert run(flat, headers=[("X-Obj", "role,admin,age,x")]) == [
        ("header.x-obj.age", "expected integer, got 'x'")
    ]
    exploded = operation(param("X-Obj", "header", ROLE, explode=True))
    assert run(exploded, headers=[("X-Obj", "role=admin,age=5")]) == []
    assert run(exploded, headers=[("X-Obj", "role=admin,age=x")]) == [
        ("header.x-obj.age", "expected integer, got 'x'")
    ]


def test_accept_content_type_and_authorization_header_parameters_are_ignored() -> None:
    op = operation(
        *(param(n, "header", INT, required=True) for n in ("Accept", "Content-Type", "Authorization"))
    )
    assert run(op) == []


def test_header_string_keeps_commas() -> None:
    op = operation(param("X-Note", "header", {"type": "string", "maxLength": 3}))
    [(loc, _)] = run(op, headers=[("X-Note", "a,b,c")])
    assert loc == "header.x-note"


# --------------------------------------------------------------------------- cookie


def test_cookie_form_styles() -> None:
    op = operation(
        param("session", "cookie", {"type": "string"}, required=True),
        param("ids", "cookie", INTS, explode=False),
        param("n", "cookie", INT),
    )
    assert run(op, headers=[("Cookie", "session=abc; ids=1,2; n=3")]) == []
    assert run(op, headers=[("Cookie", "ids=1,x; n=y")]) == [
        ("cookie.session", "required cookie is missing"),
        ("cookie.ids.1", "expected integer, got 'x'"),
        ("cookie.n", "expected integer, got 'y'"),
    ]
    obj = operation(param("point", "cookie", POINT, explode=False))
    assert run(obj, headers=[("Cookie", "point=x,1,y,2")]) == []
    assert run(obj, headers=[("Cookie", "point=x,1,y,q")]) == [
        ("cookie.point.y", "expected integer, got 'q'")
    ]


# --------------------------------------------------------------------------- bodies


def json_body(schema: Any, required: bool = True, media: str = "application/json") -> RequestBodySpec:
    return RequestBodySpec(required=required, content={media: MediaType(media, schema)})


PET_OP = operation(body=json_body({"$ref": "#/$defs/Pet"}))


def test_json_body_valid_and_nested_locations() -> None:
    assert run(PET_OP, body=b'{"name": "Rex"}', content_type="application/json") == []
    problems = run(
        PET_OP, body=b'{"name": "", "items": [{"name": "a"}, {}]}', content_type="application/json"
    )
    assert locations(problems) == ["body.name", "body.items.1.name"]
    assert problems[1][1] == "'name' is a required property"


def test_required_body_missing() -> None:
    assert run(PET_OP) == [("body", "request body is required")]
    optional = operation(body=json_body({"$ref": "#/$defs/Pet"}, required=False))
    assert run(optional) == []


def test_invalid_json_body_reports_decoder_message() -> None:
    [(loc, reason)] = run(PET_OP, body=b'{"name": ', content_type="application/json")
    assert loc == "body" and reason.startswith("invalid JSON") and len(reason) > len("invalid JSON: ")


def test_content_type_mismatch_and_missing() -> None:
    [(loc, reason)] = run(PET_OP, body=b"<pet/>", content_type="application/xml")
    assert loc == "header.content-type" and "application/xml" in reason and "application/json" in reason
    # no Content-Type: the body is read as the documented JSON type (clients forget the header)
    assert locations(run(PET_OP, body=b"{}")) == ["body.name"]
    assert run(PET_OP, body=b'{"name": "a"}') == []
    [(loc, reason)] = run(PET_OP, body=b"<pet/>")
    assert loc == "body" and "invalid JSON" in reason
    # JSON under another JSON type, and with a byte order mark, is still read as JSON
    assert run(PET_OP, body=b'{"name": "a"}', content_type="text/json") == []
    assert run(PET_OP, body=b'\xef\xbb\xbf{"name": "a"}', content_type="application/json") == []
    assert locations(run(PET_OP, body=b'\xef\xbb\xbf{}', content_type="application/json")) == ["body.name"]


def test_content_type_parameters_wildcards_and_json_suffix() -> None:
    assert run(PET_OP, body=b'{"name": "a"}', content_type="Application/JSON; charset=utf-8") == []
    # a +json media type is validated against the documented application/json schema
    assert locations(run(PET_OP, body=b"{}", content_type="application/merge-patch+json")) == ["body.name"]
    vendor = operation(body=json_body({"$ref": "#/$defs/Item"}, media="application/vnd.api+json"))
    assert locations(run(vendor, body=b"{}", content_type="application/vnd.api+json")) == ["body.name"]
    ranged = operation(body=json_body({"type": "string"}, media="text/*"))
    assert run(ranged, body=b"hello", content_type="text/plain") == []
    assert locations(run(ranged, body=b"{}", content_type="application/json")) == ["header.content-type"]
    anything = operation(body=json_body({"$ref": "#/$defs/Item"}, media="*/*"))
    assert run(anything, body=b"\x00\x01", content_type="application/octet-stream") == []
    assert locations(run(anything, body=b"{}", content_type="application/json")) == ["body.name"]


def test_other_media_types_are_not_validated() -> None:
    op = operation(body=json_body({"type": "integer"}, media="text/plain"))
    assert run(op, body=b"not a number", content_type="text/plain") == []


def test_read_only_properties_are_not_required_in_requests() -> None:
    # Pet.id is readOnly and required: a request may leave it out
    assert run(PET_OP, body=b'{"name": "a"}', content_type="application/json") == []
    # readOnly through a $ref'd property schema
    owner = operation(body=json_body({"$ref": "#/$defs/Owner"}))
    assert run(owner, body=b"{}", content_type="application/json") == []
    assert run(PET_OP, body=b'{"name": "a", "owner": {}}', content_type="application/json") == []
    # readOnly declared in an allOf member
    derived = operation(body=json_body({"$ref": "#/$defs/Derived"}))
    assert run(derived, body=b"{}", content_type="application/json") == [
        ("body.kind", "'kind' is a required property")
    ]
    # the shared defs are left untouched for response generation
    assert DEFS["Pet"]["required"] == ["id", "name"]


def test_form_urlencoded_body_is_coerced_per_property() -> None:
    schema = {
        "type": "object",
        "required": ["name", "age"],
        "properties": {
            "name": {"type": "string"},
            "age": INT,
            "admin": {"type": "boolean"},
            "tags": {"type": "array", "items": INT},
            "codes": {"type": "array", "items": INT},
            "meta": {"type": "object", "properties": {"a": INT}},
        },
    }
    media = MediaType(
        "application/x-www-form-urlencoded",
        schema,
        encoding={"codes": {"style": "form", "explode": False}, "meta": {"contentType": "application/json"}},
    )
    op = operation(body=RequestBodySpec(True, {media.content_type: media}))
    ct = "application/x-www-form-urlencoded"
    good = b"name=Rex&age=3&admin=true&tags=1&tags=2&codes=3,4&meta=%7B%22a%22%3A1%7D"
    assert run(op, body=good, content_type=ct) == []
    assert run(op, body=b"name=Rex&age=old", content_type=ct) == [("body.age", "expected integer, got 'old'")]
    assert run(op, body=b"name=Rex&age=1&codes=3,x", content_type=ct) == [
        ("body.codes.1", "expected integer, got 'x'")
    ]
    assert run(op, body=b"name=Rex&age=1&meta=%7B%22a%22%3A%22b%22%7D", content_type=ct) == [
        ("body.meta.a", '"b" is not of type "integer"')
    ]
    assert run(op, body=b"age=1", content_type=ct) == [("body.name", "'name' is a required property")]


def test_form_urlencoded_deep_object_encoding() -> None:
    schema = {"type": "object", "properties": {"range": POINT, "q": {"type": "string"}}}
    media = MediaType(
        "application/x-www-form-urlencoded",
        schema,
        encoding={"range": {"style": "deepObject", "explode": True}},
    )
    op = operation(body=RequestBodySpec(True, {media.content_type: media}))
    ct = "application/x-www-form-urlencoded"
    assert run(op, body=b"range[x]=1&range[y]=2&q=a", content_type=ct) == []
    assert run(op, body=b"range[x]=1&range[y]=b", content_type=ct) == [
        ("body.range.y", "expected integer, got 'b'")
    ]


def multipart(fields: list[tuple[str, str | None, str | None, bytes]], boundary: str = "XyZ") -> bytes:
    out = b""
    for name, filename, ctype, data in fields:
        out += f"--{boundary}\r\n".encode()
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"Content-Disposition: {disp}\r\n".encode()
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["title", "file"],
    "properties": {
        "title": {"type": "string", "minLength": 2},
        "count": INT,
        "file": {"type": "string", "format": "binary", "maxLength": 8},
        "tags": {"type": "array", "items": INT},
        "meta": {"type": "object", "required": ["a"], "properties": {"a": INT}},
    },
}
MULTIPART_OP = operation(
    body=RequestBodySpec(True, {"multipart/form-data": MediaType("multipart/form-data", MULTIPART_SCHEMA)})
)
MP = "multipart/form-data; boundary=XyZ"


def test_multipart_body_valid() -> None:
    body = multipart(
        [
            ("title", None, None, b"Holiday"),
            ("count", None, None, b"3"),
            ("file", "a.bin", "application/octet-stream", b"\x00\xff\x10"),
            ("tags", None, None, b"1"),
            ("tags", None, None, b"2"),
            ("meta", None, "application/json", b'{"a": 1}'),
        ]
    )
    assert run(MULTIPART_OP, body=body, content_type=MP) == []


def test_multipart_body_problems() -> None:
    body = multipart(
        [
            ("title", None, None, b"H"),
            ("count", None, None, b"many"),
            ("file", "big.bin", None, b"0123456789"),
        ]
    )
    problems = run(MULTIPART_OP, body=body, content_type=MP)
    assert ("body.count", "expected integer, got 'many'") in problems
    body = multipart(
        [("title", None, None, b"Holiday"), ("tags", None, None, b"x"), ("meta", None, None, b"{}")]
    )
    problems = run(MULTIPART_OP, body=body, content_type=MP)
    assert problems[0] == ("body.tags.0", "expected integer, got 'x'")
    body = multipart([("title", None, None, b"Holiday"), ("meta", None, None, b"{}")])
    assert run(MULTIPART_OP, body=body, content_type=MP) == [
        ("body.file", "'file' is a required property"),
        ("body.meta.a", "'a' is a required property"),
    ]
    body = multipart([("title", None, None, b"Hi"), ("file", "f", None, b"0123456789")])
    [(loc, _)] = run(MULTIPART_OP, body=body, content_type=MP)
    assert loc == "body.file"


def test_multipart_without_boundary_or_with_another_one() -> None:
    [(loc, reason)] = run(MULTIPART_OP, body=b"--x\r\n", content_type="multipart/form-data")
    assert loc == "header.content-type" and "boundary" in reason
    body = multipart([("title", None, None, b"Holiday")], boundary="other")
    assert run(MULTIPART_OP, body=body, content_type=MP) == [("body", "malformed multipart body")]


# --------------------------------------------------------------------------- mechanics


def test_operation_validator_is_prepared_once_and_compiles_lazily() -> None:
    validator = RequestValidator(DEFS)
    op = operation(param("limit", "query", INT), body=json_body({"$ref": "#/$defs/Pet"}))
    first = validator.for_operation(op)
    assert validator.for_operation(op) is first
    assert validator.for_operation(operation(param("limit", "query", INT))) is not first
    lazy = first._query[0].schema
    assert lazy is not None and lazy._validator is None
    request = Request("http", "POST", "/", raw_query="limit=1")
    assert first.validate(request, {}) == [Problem("body", "request body is required")]
    assert lazy._validator is not None


def test_validator_bundles_only_reachable_defs() -> None:
    op = operation(body=json_body({"$ref": "#/$defs/Pet"}))
    check = RequestValidator(DEFS).for_operation(op)._exact["application/json"]
    assert check.schema is not None
    assert set(check.schema.schema["$defs"]) == {"Pet", "Owner", "Item", "Stamp"}


def test_reasons_are_one_line_and_truncated() -> None:
    schema = {"type": "string", "enum": [f"value-number-{i}" for i in range(100)]}
    [(loc, reason)] = run(operation(param("v", "query", schema)), "v=zzz")
    assert loc == "query.v" and len(reason) <= MAX_REASON and "\n" not in reason


def test_problem_count_is_bounded() -> None:
    schema = {"type": "array", "items": {"type": "string", "maxLength": 1}}
    op = operation(body=json_body(schema))
    body = json.dumps(["long"] * 100).encode()
    assert len(run(op, body=body, content_type="application/json")) == MAX_PROBLEMS


def test_broken_schema_is_not_the_requests_fault() -> None:
    op = operation(param("v", "query", {"type": "string", "pattern": "("}))
    assert run(op, "v=a") == []


def test_problem_str() -> None:
    assert (
        str(Problem("query.limit", "expected integer, got 'abc'"))
        == "query.limit: expected integer, got 'abc'"
    )


# --------------------------------------------------------------------------- corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
STYLE_SPEC = CORPUS / "openapi" / "oas-examples" / "3.0" / "json" / "parameters-style.json"


def test_corpus_parameter_styles_document() -> None:
    if not STYLE_SPEC.exists():
        pytest.skip("corpus not available")
    loader = pytest.importorskip("mockforge.openapi.loader")
    model = loader.load_specs([STYLE_SPEC])
    validator = RequestValidator(model.defs)
    by_id = {op.operation_id: op for op in model.operations}
    assert len(by_id) == 25

    def check(op_id: str, query: str = "", path: dict[str, str] | None = None, **kw: Any) -> list[str]:
        op = by_id[op_id]
        request = Request("http", op.method, op.path, raw_query=query, headers=Headers(kw.get("headers", [])))
        return [p.location for p in validator.for_operation(op).validate(request, path or {})]

    assert check("query_form_exploded", "primitive=a&array=b&array=c&name=n&description=d") == []
    assert check("query_form_nonExploded", "primitive=a&array=b,c&object=name,n,description,d") == []
    assert check("query_form_nonExploded", "object=name,n,description") == ["query.object"]
    assert check("query_spaceDelimited_nonExploded", "array=a%20b&object=name%20n") == []
    assert check("query_pipeDelimited_nonExploded", "array=a|b&object=name|n") == []
    assert check("query_deepObject_nonExploded", "object[name]=n&object[description]=d") == []
    matrix = {"primitive": ";primitive=a", "array": ";array=b;array=c", "object": ";name=n;description=d"}
    assert check("paths_matrix_exploded", path=matrix) == []
    assert check("paths_matrix_exploded", path={"primitive": "a", "array": "b", "object": "c"}) == [
        "path.primitive",
        "path.array",
        "path.object",
    ]
    label = {"primitive": ".a", "array": ".b,c", "object": ".name,n,description,d"}
    assert check("paths_label_nonExploded", path=label) == []
    headers = [("primitive", "a"), ("array", "b,c"), ("object", "name=n,description=d")]
    assert check("headers_simple_exploded", headers=headers) == []
    cookie = [("Cookie", "primitive=a; array=b,c; object=name,n,description,d")]
    assert check("cookies_form_nonExploded", headers=cookie) == []


def test_a_byte_order_mark_does_not_lift_the_json_depth_bound() -> None:
    from mockforge.core.limits import JsonTooDeep

    deep = b"\xef\xbb\xbf" + b"[" * 5000 + b"]" * 5000
    with pytest.raises(JsonTooDeep):
        run(PET_OP, body=deep, content_type="application/json")
