"""Builders for the answers mockforge gives itself (admin API, errors), so every protocol's
admin endpoints and every error share one JSON shape:

    {"error": {"code": "not_found", "message": "...", "details": [{"location": "query.limit", "reason": "..."}]}}
"""

from __future__ import annotations

from typing import Any

import orjson

from mockforge.core.model import Response

JSON = "application/json"


def encode_json(data: Any) -> bytes:
    """The encoder of every admin answer; ``TypeError`` (``orjson.JSONEncodeError``) when ``data``
    cannot be sent (an int past 64 bits, nesting past 254, bytes...). Stores check with it first."""
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    body = encode_json(data)
    return Response(status=status, headers=[("content-type", JSON), *(headers or [])], body=body, source="admin")


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    resp = json_response({"error": err}, status, headers)
    resp.source = "mockforge"
    return resp


def detail(location: str, reason: str) -> dict[str, str]:
    return {"location": location, "reason": reason}
