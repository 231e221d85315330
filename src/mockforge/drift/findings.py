"""The drift finding: one way an exchange disagrees with the spec.

A finding names the operation (``GET /pets/{petId}``, or ``METHOD path`` for an undocumented
endpoint), a ``kind`` from a small fixed vocabulary (so metric labels stay bounded), where in the
exchange it is (a JSON pointer into the response body, ``/headers/x-rate``, ``/status``, or
``/request/...``), what the spec says, what came back, and where the spec says it (file and JSON
pointer), so a report can point a reader at the line to fix on either side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: Every kind a finding can have (metrics label values come only from here).
KINDS = (
    "undocumented_endpoint",
    "request_invalid",
    "undocumented_status",
    "missing_header",
    "invalid_header",
    "undocumented_content_type",
    "invalid_body",
    "wrong_type",
    "missing_property",
    "extra_property",
    "enum",
    "format",
    "schema",
    # mockforge drift diff: a recording against the live answer (pointer: a JSON path, $.a[*].b)
    "diff_status",
    "diff_content_type",
    "diff_missing_path",
    "diff_extra_path",
    "diff_type",
    "diff_value",
)
#: At most this many findings are kept per exchange (a huge wrong body stays cheap).
MAX_FINDINGS_PER_EXCHANGE = 20
#: ``expected`` and ``got`` are cut to this many characters.
MAX_TEXT = 200


def cut(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def pointer_token(text: str) -> str:
    """One JSON pointer token (RFC 6901 escapes)."""
    return text.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True, slots=True)
class Finding:
    operation: str
    kind: str
    #: JSON pointer in the response body (``/items/0/name``), or ``/status``, ``/headers/<name>``,
    #: ``/headers/content-type``, ``/request/<location>``.
    pointer: str
    expected: str
    got: str
    spec_file: str = ""
    spec_pointer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.operation} {self.kind} at {self.pointer}: expected {self.expected}, got {self.got}"
