"""Issue 14 item 5 over real sockets: ``Prefer: dynamic=true`` per request and
``http.responses.dynamic`` per server give a fresh, valid body per request, repeatable for a seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import yaml

from mockforge.testing.server import MockServer

ROOT = Path(__file__).resolve().parents[2]
PETSTORE = ROOT / "examples" / "petstore.yaml"


def owner_validator() -> Any:
    doc = yaml.safe_load(PETSTORE.read_text())
    schemas = doc["components"]["schemas"]
    schema = {"$ref": "#/components/schemas/Owner", "components": {"schemas": schemas}}
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def bodies(server: MockServer, n: int, prefer: str | None = None) -> list[Any]:
    headers = {"Prefer": prefer} if prefer else {}
    with httpx.Client(base_url=server.url) as client:
        return [client.get("/pets/7/owner", headers=headers).json() for _ in range(n)]


def test_prefer_dynamic_gives_a_fresh_valid_body_per_request_and_the_same_sequence_for_a_seed() -> None:
    check = owner_validator()
    with MockServer(spec=PETSTORE, seed=3) as server:
        stable = bodies(server, 2)
        assert stable[0] == stable[1]
        fresh = bodies(server, 4, "dynamic=true")
        assert len({repr(b) for b in fresh}) == 4 and all(check.is_valid(b) for b in fresh)
        assert bodies(server, 1)[0] == stable[0]  # the stable body is untouched
    with MockServer(spec=PETSTORE, seed=3) as again:
        assert bodies(again, 4, "dynamic=true") == fresh
    with MockServer(spec=PETSTORE, seed=4) as other:
        assert bodies(other, 4, "dynamic=true") != fresh


def test_server_wide_dynamic_and_per_request_opt_out() -> None:
    config = {"http": {"specs": [str(PETSTORE)], "responses": {"dynamic": True}}, "core": {"seed": 5}}
    with MockServer(config) as server:
        fresh = bodies(server, 3)
        assert len({repr(b) for b in fresh}) == 3
        pinned = bodies(server, 2, "dynamic=false")
        assert pinned[0] == pinned[1]


def test_dynamic_combines_with_code_and_example_tokens() -> None:
    with MockServer(spec=PETSTORE, seed=3) as server, httpx.Client(base_url=server.url) as client:
        named = [client.get("/pets/7", headers={"Prefer": "dynamic=true, example=tom"}).json() for _ in range(2)]
        assert named[0]["name"] == "Tom" and named[0] == named[1]  # a named example stays as written
        r = client.get("/pets/7", headers={"Prefer": "code=404; dynamic=true"})
        assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "no such pet"}


def test_hostile_prefer_headers_are_bounded() -> None:
    with MockServer(spec=PETSTORE, seed=3) as server, httpx.Client(base_url=server.url) as client:
        stable = client.get("/pets/7/owner").json()
        # thousands of tokens: only the first few are read, so a late dynamic=true is ignored
        flood = ", ".join(f"x{i}=1" for i in range(3000)) + ", dynamic=true"
        r = client.get("/pets/7/owner", headers={"Prefer": flood})
        assert r.status_code == 200 and r.json() == stable
        # an overlong token is skipped whole, the next one is still read
        r = client.get("/pets/7", headers={"Prefer": "example=" + "a" * 5000 + ", code=404"})
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = client.get("/pets/7/owner", headers={"Prefer": "dynamic=maybe"})
        assert r.json() == stable
