"""``MatchSubject``: what matchers look at, whatever the protocol.

One subject type for every protocol, so that one request pattern and one matcher table serve all:
HTTP fills method, path, query, headers and body; a gRPC call is ``POST /pkg.Service/Method``
with its metadata as headers and its message (as proto-JSON) as the body; a WebSocket frame is a
body. Decoding is lazy and done once per subject (text, JSON, form), so a stub that never looks
at the body costs nothing for it.

    MatchSubject.from_request(request)                     # a live HTTP request
    MatchSubject("POST", "/pkg.Pets/Get", headers=metadata, json_value={"id": 7}, json_parsed=True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import msgspec

from mockforge.core.limits import JsonTooDeep, decode_request_json
from mockforge.core.model import Headers, LogEntry, Request


class MatchSubject:
    """What matchers look at, whatever the protocol: built from a live ``Request`` or from a
    logged ``LogEntry`` (whose body is only the stored excerpt; ``body_truncated`` marks a cut one).

    ``MatchSubject("pkg.Pets/Get", "/pkg.Pets/Get", body=b'{"id": 7}')`` also works (gRPC).
    """

    __slots__ = (
        "_body",
        "_form",
        "_json",
        "_json_done",
        "_text",
        "body_truncated",
        "client_cert",
        "headers",
        "method",
        "path",
        "query",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | None = None,
        headers: Headers | Mapping[str, str] | None = None,
        body: bytes | str = b"",
        *,
        body_truncated: bool = False,
        json_value: Any = None,
        json_parsed: bool = False,
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.query: Mapping[str, list[str]] = query or {}
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers(headers.items())
        self.headers: Headers = headers
        self._body = body
        self._text: str | None = body if isinstance(body, str) else None
        self.body_truncated = body_truncated
        self._json = json_value
        self._json_done = json_parsed
        self._form: dict[str, list[str]] | None = None
        #: Mutual TLS: a ``ClientCert`` (live request) or its dict (logged entry), else None.
        self.client_cert: Any = None

    @classmethod
    def from_request(cls, request: Request) -> MatchSubject:
        subject = cls(request.method, request.path, request.query, request.headers, request.body)
        subject.client_cert = request.client_cert
        if request._json_parsed:
            subject._json = request._json
            subject._json_done = True
        return subject

    @classmethod
    def from_entry(cls, entry: LogEntry) -> MatchSubject:
        """Logged headers hold one value per name (repeats joined with ", ")."""
        subject = cls(
            entry.method,
            entry.path,
            entry.query,
            entry.headers,
            entry.body_excerpt,
            body_truncated=entry.body_truncated,
        )
        subject.client_cert = entry.client_cert
        return subject

    @property
    def text(self) -> str:
        if self._text is None:
            body = self._body
            self._text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return self._text

    def is_empty_body(self) -> bool:
        return not self._body

    def json(self) -> Any:
        """The body as JSON, or ``None`` when empty or not JSON (parsed once). A live request's
        body nested past ``http.max_json_depth`` raises ``JsonTooDeep`` (a 400); a logged excerpt
        (text) that deep is treated as not JSON."""
        if not self._json_done:
            if self._body:
                try:
                    self._json = decode_request_json(self._body)
                except msgspec.DecodeError:
                    self._json = None
                except JsonTooDeep:
                    if isinstance(self._body, bytes):
                        raise
                    self._json = None
            self._json_done = True
        return self._json

    def form(self) -> dict[str, list[str]]:
        if self._form is None:
            self._form = parse_qs(self.text, keep_blank_values=True) if self._body else {}
        return self._form

