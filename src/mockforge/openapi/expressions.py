"""OpenAPI runtime expressions (``{$request.body#/callbackUrl}``): how a callback finds its URL
in the request that triggered it.

    url_of("{$request.body#/callbackUrl}/done?id={$request.path.id}", request, response)

Supported, per the OpenAPI specification: ``$url``, ``$method``, ``$statusCode``,
``$request.header.NAME``, ``$request.query.NAME``, ``$request.path.NAME``,
``$request.body`` and ``$request.body#/json/pointer``, and the same ``header`` and ``body``
sources of ``$response``. A template may mix text and ``{...}`` expressions. Hand-written: no
library implements the expression grammar; it is a few string splits.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson

from mockforge.core.limits import JsonTooDeep, decode_request_json
from mockforge.core.model import Request, Response

__all__ = ["ExpressionError", "evaluate", "url_of"]

_EMBEDDED = re.compile(r"\{([^{}]*)\}")
_NO_VALUE = object()


class ExpressionError(ValueError):
    """A runtime expression that is unknown or finds no value in this exchange."""


def url_of(template: str, request: Request, response: Response) -> str:
    """The text of ``template`` with each ``{expression}`` replaced by its value; a template that
    is one bare expression (``$request.body#/url``) is evaluated as a whole."""
    if "{" not in template:
        return _text(evaluate(template, request, response)) if template.startswith("$") else template
    return _EMBEDDED.sub(lambda m: _text(evaluate(m[1].strip(), request, response)), template)


def evaluate(expression: str, request: Request, response: Response) -> Any:
    """The value of one runtime expression; ``ExpressionError`` when there is none."""
    if expression == "$url":
        host = request.headers.get("host") or "localhost"
        return f"http://{host}{request.path}" + (f"?{request.raw_query}" if request.raw_query else "")
    if expression == "$method":
        return request.method
    if expression == "$statusCode":
        return response.status
    value: Any = _NO_VALUE
    if expression.startswith("$request."):
        value = _source(expression[len("$request."):], request.headers.get, request.body, request)
    elif expression.startswith("$response."):
        value = _source(expression[len("$response."):], response.header, response.body, None)
    else:
        raise ExpressionError(f"unknown runtime expression {expression[:80]!r}")
    if value is _NO_VALUE or value is None:
        raise ExpressionError(f"{expression[:80]} has no value in this exchange")
    return value


def _source(rest: str, header: Any, body: bytes, request: Request | None) -> Any:
    kind, _, name = rest.partition(".")
    if kind == "header" and name:
        return header(name)
    if request is not None and kind == "query" and name:
        values = request.query.get(name)
        return values[0] if values else None
    if request is not None and kind == "path" and name:
        return request.path_params.get(name)
    if rest == "body" or rest.startswith("body#"):
        try:
            doc = decode_request_json(body) if body else None
        except (msgspec.DecodeError, JsonTooDeep):
            raise ExpressionError("the body is not JSON (or nests too deep)") from None
        pointer = rest[len("body#"):] if rest.startswith("body#") else ""
        return _walk(doc, pointer)
    raise ExpressionError(f"unknown runtime expression source {rest[:80]!r}")


def _walk(node: Any, pointer: str) -> Any:
    if not pointer:
        return node
    if not pointer.startswith("/"):
        raise ExpressionError(f"{pointer[:80]!r} is not a JSON pointer")
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
