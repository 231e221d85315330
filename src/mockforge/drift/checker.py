"""Check one exchange (a request and the answer a real backend gave) against the OpenAPI model.

Why hand-written: it is a thin layer over what mockforge already has. Routing is the spec
route table (``openapi/routes.py``), the request check is the request validator
(``openapi/validation.py``), and bodies and headers are checked by the same jsonschema-rs
validators as request validation and response examples (``schema/validate.py``). What is ours is
turning their problems into findings with JSON pointers and spec locations, in this order:

1. no operation matches: one ``undocumented_endpoint`` finding, nothing else is checked;
2. the request itself (``request_invalid``, pointer ``/request/<location>``);
3. the status: exact code, then ``4XX``, then ``default`` (``undocumented_status``, ``/status``);
4. documented headers: ``missing_header`` when required and absent, ``invalid_header`` when the
   value does not match its schema (``/headers/<name>``);
5. the content type against the documented media types (``undocumented_content_type``);
6. a JSON body against the media type's schema: one finding per schema error, its kind from the
   failing keyword (``wrong_type``, ``missing_property``, ``extra_property``, ``enum``,
   ``format``, else ``schema``), its pointer the instance location (plus the property name for
   ``required`` and ``additionalProperties``).

JSON bodies are decoded with the request JSON depth bound (``http.max_json_depth``), and at most
``MAX_FINDINGS_PER_EXCHANGE`` findings come out of one exchange.

    checker = DriftChecker(model)
    findings = checker.check(request, status, headers, body)
"""

from __future__ import annotations

from typing import Any

import msgspec

from mockforge.core.limits import LimitError, decode_request_json
from mockforge.core.model import Headers, Request
from mockforge.drift.findings import MAX_FINDINGS_PER_EXCHANGE, Finding, cut, pointer_token
from mockforge.openapi.model import ApiModel, MediaType, Operation, ResponseSpec
from mockforge.openapi.responses import is_json
from mockforge.openapi.routes import Matched, RouteTable
from mockforge.openapi.validation import RequestValidator
from mockforge.schema.coerce import CoerceError, scalar
from mockforge.schema.defs import Defs
from mockforge.schema.validate import Validators

_KIND_OF_KEYWORD = {
    "type": "wrong_type",
    "required": "missing_property",
    "additionalProperties": "extra_property",
    "unevaluatedProperties": "extra_property",
    "enum": "enum",
    "const": "enum",
    "format": "format",
}


def _base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _media_for(content: dict[str, MediaType], got: str) -> MediaType | None:
    """The documented media type ``got`` matches (exact, then ``type/*``, then ``*/*``)."""
    for name, media in content.items():
        if _base(name) == got:
            return media
    major = got.split("/", 1)[0]
    for name, media in content.items():
        base = _base(name)
        if base == f"{major}/*" or base == "*/*":
            return media
    return None


class DriftChecker:
    """Checks exchanges against one ``ApiModel``; validators are built on first use and kept."""

    def __init__(self, model: ApiModel) -> None:
        self.model = model
        self.routes = RouteTable(model.operations)
        self.requests = RequestValidator(model.defs)
        self.validators = Validators(model.defs)
        self.defs = Defs(model.defs)

    def check(self, request: Request, status: int, headers: Headers, body: bytes | None) -> list[Finding]:
        """The findings of one exchange (empty when the backend told the truth); ``body`` None: an
        answer too large to hold (streamed through), whose body is not checked."""
        target = f"{request.path}?{request.raw_query}" if request.raw_query else request.path
        match = self.routes.match(request.method, target, request.headers)
        if not isinstance(match, Matched):
            name = f"{request.method} {request.path}"
            return [Finding(cut(name), "undocumented_endpoint", "", "a documented operation", cut(name))]
        op = match.operation
        out: list[Finding] = []
        for problem in self.requests.for_operation(op).validate(request, match.params):
            out.append(self._finding(op, "request_invalid", f"/request/{problem.location}",
                                     "a valid request", problem.reason, op.pointer))
        key, spec = self._response(op, status)
        if spec is None:
            documented = ", ".join(op.responses) or "none"
            out.append(self._finding(op, "undocumented_status", "/status", documented, str(status),
                                     f"{op.pointer}/responses"))
            return out[:MAX_FINDINGS_PER_EXCHANGE]
        where = f"{op.pointer}/responses/{pointer_token(key)}"
        self._check_headers(op, spec, where, headers, out)
        if spec.content:
            self._check_content(op, spec, where, headers, body, out)
        return out[:MAX_FINDINGS_PER_EXCHANGE]

    @staticmethod
    def _response(op: Operation, status: int) -> tuple[str, ResponseSpec | None]:
        for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
            spec = op.responses.get(key)
            if spec is not None:
                return key, spec
        return "", None

    def _finding(self, op: Operation, kind: str, pointer: str, expected: str, got: str, spec_pointer: str) -> Finding:
        return Finding(op.key, kind, pointer, cut(expected), cut(got), op.file, spec_pointer)

    def _check_headers(self, op: Operation, spec: ResponseSpec, where: str, headers: Headers,
                       out: list[Finding]) -> None:
        for name, hspec in spec.headers.items():
            lname = name.lower()
            if lname == "content-type":
                continue
            pointer = f"/headers/{pointer_token(lname)}"
            spec_pointer = f"{where}/headers/{pointer_token(name)}"
            value = headers.get(lname)
            if value is None:
                if hspec.required:
                    out.append(self._finding(op, "missing_header", pointer, "present (required)", "absent",
                                             spec_pointer))
                continue
            if hspec.schema is None:
                continue
            try:
                typed = scalar(value, self.defs.types(hspec.schema), pointer)
            except CoerceError as exc:
                out.append(self._finding(op, "invalid_header", pointer, "the header schema", exc.reason,
                                         spec_pointer))
                continue
            error = self.validators.first_error(hspec.schema, typed)
            if error is not None:
                out.append(self._finding(op, "invalid_header", pointer, "the header schema",
                                         error.split(": ", 1)[-1], spec_pointer))

    def _check_content(self, op: Operation, spec: ResponseSpec, where: str, headers: Headers,
                       body: bytes | None, out: list[Finding]) -> None:
        content_type = headers.get("content-type")
        if content_type is None:
            if body:
                out.append(self._finding(op, "undocumented_content_type", "/headers/content-type",
                                         ", ".join(spec.content), "absent", f"{where}/content"))
            return
        got = _base(content_type)
        media = _media_for(spec.content, got)
        if media is None:
            out.append(self._finding(op, "undocumented_content_type", "/headers/content-type",
                                     ", ".join(spec.content), got, f"{where}/content"))
            return
        if body is None or media.schema is None or not is_json(got) or got == "*/*":
            return
        schema_pointer = f"{where}/content/{pointer_token(media.content_type)}/schema"
        try:
            value = decode_request_json(body)
        except (msgspec.DecodeError, LimitError) as exc:
            out.append(self._finding(op, "invalid_body", "", "JSON", str(exc), schema_pointer))
            return
        self._check_body(op, media.schema, value, schema_pointer, out)

    def _check_body(self, op: Operation, schema: Any, value: Any, schema_pointer: str, out: list[Finding]) -> None:
        validator = self.validators.validator(schema)
        if validator is None or validator.is_valid(value):
            return
        for err in validator.iter_errors(value):
            if len(out) >= MAX_FINDINGS_PER_EXCHANGE:
                return
            at = "".join(f"/{pointer_token(str(p))}" for p in err.instance_path)
            keyword = str(err.schema_path[-1]) if err.schema_path else ""
            kind = _KIND_OF_KEYWORD.get(keyword, "schema")
            if kind == "missing_property":
                prop = str(err.kind.property)
                out.append(self._finding(op, kind, f"{at}/{pointer_token(prop)}", "present (required)",
                                         "absent", schema_pointer))
            elif kind == "extra_property" and keyword == "additionalProperties":
                for prop in err.kind.unexpected:
                    out.append(self._finding(op, kind, f"{at}/{pointer_token(str(prop))}",
                                             "no additional properties", str(prop), schema_pointer))
            else:
                out.append(self._finding(op, kind, at, err.message, _show(err.instance), schema_pointer))


def _show(value: Any) -> str:
    try:
        return cut(msgspec.json.encode(value).decode())
    except (TypeError, msgspec.EncodeError):
        return cut(repr(value))
