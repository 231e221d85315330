"""The stub model, one for every protocol: a declarative, immutable ``Stub``.

A ``Stub`` is a request pattern (``core/matching.py``: the same ``RequestPattern`` and operator
table for HTTP, gRPC and WebSocket), a response definition, a priority, an optional scenario and
``times``, and ``spec`` (the definition as given, for listing and files). The response definition
is the protocol's part: ``ResponseDefinition`` below for HTTP (status, headers, body, delay, fault,
plugin), ``grpc/stubs.GrpcResponse`` for gRPC; ``Stub`` is generic over it and defaults to HTTP,
so ``Stub`` alone means an HTTP stub. Edits make a new stub (``dataclasses.replace``).

Declared vs sent: ``ResponseDefinition`` is what the stub says; ``build`` renders the ``Response``
that goes on the wire (templates, ``body_file`` read at answer time).

    Stub(id="get-pet", request=RequestPattern.compile({"path": "/pets/{id}"}, "request"),
         response=ResponseDefinition(status=200), priority=1)
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic

import orjson

from mockforge.core.faults import FaultSpec
from mockforge.core.files import FileAccessError, FileRoots, FileTooLarge
from mockforge.core.matching import RequestPattern
from mockforge.core.model import Request, Response
from mockforge.core.responses import error_response
from mockforge.core.templating import CompiledValue, Template, TemplateContext

if TYPE_CHECKING:  # a TypeVar default (PEP 696) is for the type checker only; Python 3.11 has none
    from typing_extensions import TypeVar

    R = TypeVar("R", default="ResponseDefinition")
else:
    from typing import TypeVar

    R = TypeVar("R")

DEFAULT_PRIORITY = 5
SOURCE_API = "api"
SOURCE_CONFIG = "config"
#: The keys of an HTTP stub definition, in the order ``to_dict`` writes them.
STUB_KEYS = ("id", "name", "priority", "enabled", "request", "response", "scenario", "times", "validate",
             "metadata")

# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class ScenarioRule:
    """``required_state``: the stub answers only in that state; ``new_state``: then moves there."""

    name: str
    required_state: str | None = None
    new_state: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseDefinition:
    """What a stub says to answer (declared); ``build`` turns it into the ``Response`` sent."""

    status: int = 200
    headers: tuple[tuple[str, Template], ...] = ()
    json_body: CompiledValue | None = None
    text_body: Template | None = None
    raw_body: bytes | None = None
    body_file: str | None = None
    #: The roots and read cap ``body_file`` was checked against (checked again on every read).
    files: FileRoots | None = None
    delay_ms: int = 0
    fault: FaultSpec | None = None
    plugin: str | None = None
    plugin_params: Mapping[str, Any] = field(default_factory=dict)

    def build(
        self, request: Request, path_params: Mapping[str, str], *, expand: bool, source: str
    ) -> Response:
        """Render the answer. With ``expand`` templates are rendered (``http.response_template_expand``),
        otherwise sent as written. ``body_file`` is read now, so edits show without a reload: this
        blocks on the disk, so the HTTP step calls it off the event loop for such stubs."""
        ctx = TemplateContext(request, dict(path_params)) if expand else None
        ctype: str | None = None
        body = b""
        if self.json_body is not None:
            value = self.json_body.render(ctx) if ctx is not None else self.json_body.value
            body, ctype = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), "application/json"
        elif self.text_body is not None:
            text = self.text_body.render(ctx) if ctx is not None else self.text_body.text
            body, ctype = text.encode(), "text/plain; charset=utf-8"
        elif self.raw_body is not None:
            body, ctype = self.raw_body, "application/octet-stream"
        elif self.body_file is not None:
            try:
                body = (self.files or FileRoots.default()).read(self.body_file, what="body_file")
            except FileAccessError as exc:
                code = "stub_body_file_too_large" if isinstance(exc, FileTooLarge) else "stub_body_file"
                resp = error_response(500, code, exc.message)
                resp.source = source
                return resp
            ctype = mimetypes.guess_type(self.body_file)[0] or "application/octet-stream"
        headers = [(name, tpl.render(ctx) if ctx is not None else tpl.text) for name, tpl in self.headers]
        if ctype is not None and not any(name.lower() == "content-type" for name, _ in headers):
            headers.insert(0, ("content-type", ctype))
        return Response(status=self.status, headers=headers, body=body, source=source)


@dataclass(frozen=True, slots=True)
class Stub(Generic[R]):
    """One immutable stub. ``spec`` is the definition as given (with ``id``), for listing;
    ``index`` is the insertion order the store assigns (newer is higher). ``scenario``, ``times``,
    ``validate``, ``enabled`` and ``source`` are HTTP's (gRPC stubs leave the defaults)."""

    id: str
    request: RequestPattern
    response: R
    priority: int = DEFAULT_PRIORITY
    scenario: ScenarioRule | None = None
    times: int | None = None
    validate: bool = False
    source: str = SOURCE_API
    index: int = 0
    #: A disabled stub stays stored and listed but answers nothing (``enabled: false``).
    enabled: bool = True
    spec: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Stable key order, defaults omitted (so that files written from it diff cleanly)."""
        out: dict[str, Any] = {"id": self.id}
        for key in STUB_KEYS[1:]:
            if key in self.spec and self.spec[key] is not None:
                out[key] = self.spec[key]
        out["priority"] = self.priority
        out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class StubMatch:
    stub: Stub
    path_params: dict[str, str]

    def build_response(self, request: Request, *, expand: bool) -> Response:
        return self.stub.response.build(
            request, self.path_params, expand=expand, source=f"stub:{self.stub.id}"
        )


@dataclass(frozen=True, slots=True)
class NearMiss:
    stub: Stub
    distance: float
    diffs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stub": self.stub.id,
            "request": self.stub.request.describe(),
            "distance": round(self.distance, 3),
            "diffs": self.diffs,
        }
