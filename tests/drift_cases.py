"""The seeded drift cases shared by the checker tests: (method, path, status, headers, body), and
the one finding (kind, pointer) each must produce; ``CLEAN`` answers must produce none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC = Path(__file__).parent / "drift_data" / "api.yaml"
JSON = [("content-type", "application/json")]
PET = {"id": 1, "name": "Rex", "status": "available", "born": "2020-01-02"}


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# (label, method, path, status, headers, body, expected kind, expected pointer)
SEEDED: list[tuple[str, str, str, int, list[tuple[str, str]], bytes, str, str]] = [
    ("wrong type", "GET", "/pets/1", 200, JSON, body({**PET, "id": "one"}), "wrong_type", "/id"),
    ("missing required", "GET", "/pets/2", 200, JSON,
     body({k: v for k, v in PET.items() if k != "name"}), "missing_property", "/name"),
    ("extra property", "GET", "/pets/3", 200, JSON, body({**PET, "colour": "red"}), "extra_property", "/colour"),
    ("undocumented status", "GET", "/pets/4", 500, JSON, body({"message": "boom"}), "undocumented_status", "/status"),
    ("wrong content type", "GET", "/pets/5", 200, [("content-type", "text/html")], b"<p>rex</p>",
     "undocumented_content_type", "/headers/content-type"),
    ("missing header", "GET", "/pets", 200, JSON, body([PET]), "missing_header", "/headers/x-total"),
    ("enum", "GET", "/pets/6", 200, JSON, body({**PET, "status": "lost"}), "enum", "/status"),
    ("format", "GET", "/owners/ann", 200, JSON, body({"id": "ann", "email": "not-an-email"}), "format", "/email"),
    ("undocumented endpoint", "GET", "/vets", 200, JSON, body([]), "undocumented_endpoint", ""),
    ("array item shape", "GET", "/pets?page=2", 200, [*JSON, ("x-total", "2")],
     body([PET, {"id": 2, "name": "Tom"}]), "missing_property", "/1/status"),
]

CLEAN: list[tuple[str, str, int, list[tuple[str, str]], bytes]] = [
    ("GET", "/pets/11", 200, JSON, body(PET)),
    ("GET", "/pets/9", 404, JSON, body({"message": "no pet 9"})),
    ("GET", "/pets?limit=1", 200, [*JSON, ("x-total", "1")], body([PET])),
    ("GET", "/owners/bob", 200, [("content-type", "application/json; charset=utf-8")],
     body({"id": "ann", "email": "ann@example.com"})),
]
