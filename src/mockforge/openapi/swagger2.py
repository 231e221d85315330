"""Swagger 2.0 operation parts rewritten into the 3.x-shaped model.

Hand-written: no offline Python converter exists (reference/python-stack.md), and converting the
whole document first would walk it twice. Only what a mock serves is mapped:

    in: body                      -> request body, one media type per ``consumes`` (default JSON)
    in: formData                  -> object body, multipart/form-data when a ``type: file`` is
                                     among them, else application/x-www-form-urlencoded
    type/items/enum/... on params -> the parameter's ``schema``
    collectionFormat              -> style + explode (csv, ssv, pipes, tsv, multi)
    response schema/examples      -> one media type per ``produces`` (default JSON)
"""

from __future__ import annotations

from typing import Any

from mockforge.openapi.model import MISSING, HeaderSpec, MediaType, Parameter, RequestBodySpec, ResponseSpec
from mockforge.openapi.resolver import Resolver, escape

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

#: Keywords of a 2.0 parameter, header or items object that describe its value.
_VALUE_KEYS = (
    "type",
    "format",
    "items",
    "enum",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
)
#: collectionFormat -> (style for query/cookie, explode); path and header use "simple".
_COLLECTION = {
    "csv": ("form", False),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "tsv": ("tabDelimited", False),
    "multi": ("form", True),
}

RawParam = tuple[dict[str, Any], str, str]  # (node, file, pointer) after $ref


class Malformed(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def media_types(value: Any, fallback: list[str]) -> list[str]:
    if isinstance(value, list):
        kinds = [v for v in value if isinstance(v, str)]
        if kinds:
            return kinds
    return fallback


def value_schema(node: dict[str, Any]) -> dict[str, Any]:
    """The schema described inline by a 2.0 parameter or header (before conversion)."""
    return {k: node[k] for k in _VALUE_KEYS if k in node}


def parameter(res: Resolver, node: dict[str, Any], file: str) -> Parameter:
    """A path, query or header parameter (``in: body``/``formData`` go to ``request_body``)."""
    loc = node["in"]
    is_array = node.get("type") == "array"
    if is_array:
        fmt = node.get("collectionFormat", "csv")
        style, explode = _COLLECTION.get(fmt if isinstance(fmt, str) else "csv", ("form", False))
        if loc in ("path", "header"):
            style = "simple"
    else:
        style, explode = ("form", True) if loc == "query" else ("simple", False)
    return Parameter(
        name=node["name"],
        location=loc,
        required=bool(node.get("required")) or loc == "path",
        schema=res.schema(value_schema(node), file, False),
        style=style,
        explode=explode,
        allow_empty_value=bool(node.get("allowEmptyValue")),
        example=node.get("x-example", MISSING),
    )


def request_body(
    res: Resolver, body: RawParam | None, form: list[RawParam], consumes: list[str]
) -> RequestBodySpec | None:
    if body is not None:
        node, file, _ = body
        raw = node.get("schema")
        schema = res.schema(raw, file, False) if raw is not None else None
        example = node.get("x-example", MISSING)
        return RequestBodySpec(
            required=bool(node.get("required")),
            content={ct: MediaType(ct, schema, example=example) for ct in consumes},
        )
    if not form:
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    has_file = False
    for node, file, _ in form:
        properties[node["name"]] = res.schema(value_schema(node), file, False)
        if node.get("required"):
            required.append(node["name"])
        has_file = has_file or node.get("type") == "file"
    form_schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        form_schema["required"] = required
    kinds = [ct for ct in consumes if ct.split(";")[0].strip().lower() in (FORM, MULTIPART)]
    if not kinds:
        kinds = [MULTIPART if has_file else FORM]
    return RequestBodySpec(required=bool(required), content={ct: MediaType(ct, form_schema) for ct in kinds})


def responses(
    res: Resolver, raw: Any, file: str, pointer: str, produces: list[str]
) -> dict[str, ResponseSpec]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Malformed("'responses' is not a mapping")
    out: dict[str, ResponseSpec] = {}
    for code, value in raw.items():
        status = str(code)
        if status.startswith("x-"):
            continue
        node, f, _ = res.deref(value, file, f"{pointer}/responses/{escape(status)}")
        if not isinstance(node, dict):
            raise Malformed(f"response {status} is not a mapping")
        schema = res.schema(node["schema"], f, False) if node.get("schema") is not None else None
        raw_examples = node.get("examples")
        examples: dict[str, Any] = raw_examples if isinstance(raw_examples, dict) else {}
        content: dict[str, MediaType] = {}
        if schema is not None:
            for ct in produces:
                content[ct] = MediaType(ct, schema, example=examples.get(ct, MISSING))
        for ct, example in examples.items():
            if ct not in content:
                content[str(ct)] = MediaType(str(ct), schema, example=example)
        headers: dict[str, HeaderSpec] = {}
        raw_headers = node.get("headers")
        if isinstance(raw_headers, dict):
            for name, header in raw_headers.items():
                if isinstance(header, dict):
                    headers[str(name)] = HeaderSpec(
                        name=str(name),
                        schema=res.schema(value_schema(header), f, False),
                        example=header.get("x-example", MISSING),
                    )
        out[status] = ResponseSpec(
            status=status, description=str(node.get("description") or ""), content=content, headers=headers
        )
    return out


def split_parameters(params: list[RawParam]) -> tuple[list[RawParam], RawParam | None, list[RawParam]]:
    """(path/query/header params, the body param, formData params)."""
    plain: list[RawParam] = []
    body: RawParam | None = None
    form: list[RawParam] = []
    for item in params:
        loc = item[0]["in"]
        if loc == "body":
            body = item
        elif loc == "formData":
            form.append(item)
        else:
            plain.append(item)
    if body is not None and form:
        raise Malformed("an operation cannot have both 'body' and 'formData' parameters")
    return plain, body, form
