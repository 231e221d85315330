"""Error answers that obey the spec: when mockforge refuses a request (validation) or a stateful
read misses, the answer is the error the operation documents, not mockforge's own shape.

    answers = ErrorAnswers(planner)
    resp = answers.answer(op, (400, 422), "request does not match POST /pets: body.kind: ...",
                          [{"location": "body.kind", "reason": "..."}], accept=request.headers.get("accept"))
    # None when the operation documents none of the statuses, no 4XX and no default

Status: the first of ``statuses`` the operation documents exactly, else its ``4XX`` range, else
``default``, answered with the first of ``statuses`` as the code. Body: what the response
planner serves for that status (a valid example, else a body generated from its schema, in the
media type ``Accept`` picks), then, for a JSON object, the summary written into the text fields
the schema has (``message``, ``detail``, ``error``, ``title``, ``description``...), at the top
level or one object below (``{"error": {"message": ...}}``), each kept only if the body still
validates against its schema. The full list of problems goes into the ``X-Mockforge-Problems``
header (compact JSON, ASCII, at most ``MAX_PROBLEMS_HEADER`` characters: problems past that are
counted in a last entry) and into the request log entry (``problems``).

Operations documenting no such error keep mockforge's own error shape (``core/responses.py``),
with the same header. Only refusals pay for this: the served path never comes here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

from mockforge.core.headers import clean_header
from mockforge.core.model import Headers, Response
from mockforge.openapi.model import Operation
from mockforge.openapi.responses import STATUS_HEADER, ResponseChoice, ResponsePlanner, is_json

__all__ = ["MAX_PROBLEMS_HEADER", "PROBLEMS_HEADER", "ErrorAnswers", "problems_header", "refusal_statuses"]

PROBLEMS_HEADER = "x-mockforge-problems"
#: Characters of the ``X-Mockforge-Problems`` value (well under every client's header limit).
MAX_PROBLEMS_HEADER = 2048
#: Property names that hold an error's human text, in the order they are filled.
TEXT_FIELDS = frozenset({
    "message", "detail", "error", "title", "description", "error_description", "errormessage",
    "error_message", "msg", "reason", "summary", "details",
})
#: Objects below the top level the summary is written into (``{"error": {"message": ...}}``).
_MAX_DEPTH = 2
#: Text fields filled per answer (each costs one validation of the body).
_MAX_FIELDS = 8


def refusal_statuses(configured: int, problems: Sequence[dict[str, str]]) -> tuple[int, ...]:
    """The documented statuses a validation refusal looks for, in order: 415 when the media type
    is the problem, the configured status (``http.validation.status``), 400, 422, and 404 when a
    path parameter is the problem (the path names no such thing)."""
    locations = [str(p.get("location", "")) for p in problems]
    out: list[int] = []
    if any(loc == "header.content-type" for loc in locations):
        out.append(415)
    out += [configured, 400, 422]
    if any(loc.startswith("path.") for loc in locations):
        out.append(404)
    return tuple(dict.fromkeys(out))


def problems_header(problems: Sequence[dict[str, str]]) -> tuple[str, str]:
    """``("x-mockforge-problems", '[{"location":"query.limit","reason":"..."}]')``: compact JSON
    with non-ASCII escaped, cut to whole entries within ``MAX_PROBLEMS_HEADER`` (a last entry
    ``{"location":"","reason":"N more problems, see the request log"}`` says how many were cut),
    then passed through ``core/headers.py`` like every header built from input."""
    kept: list[dict[str, str]] = []
    size = 2
    for i, p in enumerate(problems):
        item = {"location": str(p.get("location", ""))[:200], "reason": str(p.get("reason", ""))[:400]}
        text = json.dumps(item, ensure_ascii=True, separators=(",", ":"))
        if size + len(text) + 1 > MAX_PROBLEMS_HEADER - 80:
            kept.append({"location": "", "reason": f"{len(problems) - i} more problems, see the request log"})
            break
        kept.append(item)
        size += len(text) + 1
    value = json.dumps(kept, ensure_ascii=True, separators=(",", ":"))
    cleaned = clean_header(PROBLEMS_HEADER, value)
    return cleaned if cleaned is not None else (PROBLEMS_HEADER, "[]")


class ErrorAnswers:
    """Documented error answers of one model (``planner``: the spec step's response planner, so
    error bodies come from the same examples, seed and caches as every other answer)."""

    def __init__(self, planner: ResponsePlanner) -> None:
        self.planner = planner
        self.gen = planner.generator

    @staticmethod
    def documented_status(op: Operation, statuses: Sequence[int]) -> str | None:
        """The response key answering an error of one of ``statuses`` (exact, ``4XX``, ``default``)."""
        keys = {str(k).upper(): str(k) for k in op.responses}
        for code in statuses:
            if str(code) in keys:
                return keys[str(code)]
        for code in statuses:
            if f"{str(code)[0]}XX" in keys:
                return keys[f"{str(code)[0]}XX"]
        return keys.get("DEFAULT")

    def answer(
        self,
        op: Operation,
        statuses: Sequence[int],
        summary: str,
        problems: Sequence[dict[str, str]],
        accept: str | None = None,
        source: str = "spec",
    ) -> Response | None:
        key = self.documented_status(op, statuses)
        if key is None or not statuses:
            return None
        code = int(key) if key.isdigit() else int(statuses[0])
        if not key.isdigit() and key.upper() != "DEFAULT":  # a range: the first wanted code in it
            code = next((c for c in statuses if str(c)[0] == key[0]), int(key[0]) * 100)
        # the planner looks the code up as exact, then its range, then default: the same order
        wanted = Headers([(STATUS_HEADER, str(code))])
        if accept:
            wanted.add("accept", accept)
        choice = self.planner.for_operation(op).respond(wanted)
        if not isinstance(choice, ResponseChoice):
            return None
        body = choice.body
        if choice.content_type and is_json(choice.content_type) and body:
            body = self._with_summary(op, key, choice.content_type, body, summary)
        headers = [("content-type", choice.content_type)] if choice.content_type else []
        headers += choice.headers
        headers.append(problems_header(problems))
        return Response(status=code, headers=headers, body=body, source=source,
                        problems=[dict(p) for p in problems])

    def _with_summary(self, op: Operation, key: str, content_type: str, body: bytes, summary: str) -> bytes:
        spec = op.responses.get(key)
        if spec is None:
            return body
        base = content_type.split(";", 1)[0].strip().lower()
        media = spec.content.get(content_type) or next(
            (m for n, m in spec.content.items() if n.split(";", 1)[0].strip().lower() == base),
            next((m for n, m in spec.content.items() if is_json(n)), None),
        )
        if media is None or media.schema is None:
            return body
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(value, dict):
            return body
        schema = media.schema
        if not self.gen.is_valid(schema, value):
            return body  # an example served as written: leave it alone
        filled = 0
        for holder, name in self._text_slots(value, schema):
            if filled >= _MAX_FIELDS:
                break
            old = holder.get(name, _ABSENT)
            holder[name] = summary
            if self.gen.is_valid(schema, value):
                filled += 1
                continue
            if old is _ABSENT:  # the schema refuses the summary here (enum, pattern, length)
                del holder[name]
            else:
                holder[name] = old
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS) if filled else body

    def _text_slots(self, value: dict[str, Any], schema: Any) -> list[tuple[dict[str, Any], str]]:
        """(object, property) pairs where the summary may go: text fields present in the body,
        and string text fields the schema declares but the body lacks; one level of nesting."""
        out: list[tuple[dict[str, Any], str]] = []
        todo: list[tuple[dict[str, Any], Any, int]] = [(value, schema, 0)]
        while todo:
            obj, sub, depth = todo.pop(0)
            props = self._properties(sub)
            names = list(obj) + [n for n in props if n not in obj]
            for name in names:
                current = obj.get(name, _ABSENT)
                declared = props.get(name)
                if name.lower() in TEXT_FIELDS and (
                    isinstance(current, str) or (current is _ABSENT and self._is_string(declared))
                ):
                    out.append((obj, name))
                elif isinstance(current, dict) and depth < _MAX_DEPTH - 1:
                    todo.append((current, declared, depth + 1))
        return out

    def _properties(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return {}
        try:
            flat = self.gen.flatten(schema)
        except (KeyError, TypeError, ValueError, IndexError, RecursionError):
            return {}
        props = flat.get("properties") if isinstance(flat, dict) else None
        return props if isinstance(props, dict) else {}

    def _is_string(self, schema: Any) -> bool:
        resolved = self.gen.resolve(schema) if isinstance(schema, dict) else None
        if not isinstance(resolved, dict):
            return False
        kind = resolved.get("type")
        return kind == "string" or (isinstance(kind, list) and "string" in kind)


_ABSENT: Any = object()
