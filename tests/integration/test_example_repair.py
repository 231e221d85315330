"""Issue 14 item 4 over real sockets: examples that fail their schema are repaired (or replaced)
unless ``http.examples.trust``, and the start-up log says so once per operation."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from mockforge.testing.server import MockServer

SPEC = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /errors:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Error"}
              examples:
%s
  /fees:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [fees]
                properties: {fees: {type: array, items: {type: object, properties: {total: {type: integer}}}}}
              example: {fees: '[{"total": "120"}]'}
components:
  schemas:
    Error:
      type: object
      required: [errorCode, message]
      additionalProperties: false
      properties: {errorCode: {type: string}, message: {type: string}}
"""
EXAMPLES = "\n".join(f"                e{i}: {{value: {{errorCode: {250 + i}, message: m{i}, debug: true}}}}"
                     for i in range(40))


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "api.yaml"
    path.write_text(SPEC % EXAMPLES)
    return path


def test_broken_examples_are_repaired_and_logged_once_per_operation(
    spec: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (caplog.at_level(logging.WARNING, logger="mockforge.openapi"), MockServer(spec=spec, seed=1) as server,
          httpx.Client(base_url=server.url) as client):
        started = [r.getMessage() for r in caplog.records if r.name == "mockforge.openapi"]
        assert client.get("/errors").json() == {"errorCode": "250", "message": "m0"}
        assert client.get("/errors", headers={"Prefer": "example=e7"}).json() == {
            "errorCode": "257", "message": "m7"}
        assert client.get("/fees").json() == {"fees": [{"total": 120}]}
    # 41 broken examples, two operations: two lines, at start, before any request
    assert len(started) == 2, started
    assert started[0].startswith(f"{spec}: GET /errors: 40 example(s) do not match their schema: 40 repaired, 0")
    assert started[1].startswith(f"{spec}: GET /fees: 1 example(s) do not match their schema: 1 repaired, 0")
    assert len([r for r in caplog.records if r.name == "mockforge.openapi"]) == 2


def test_with_state_on_each_broken_example_is_still_logged_once(
    spec: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the state step's error answers have a planner of their own: it must not check and log
    # every example a second time (double the start-up time on a large spec)
    with caplog.at_level(logging.WARNING, logger="mockforge.openapi"), \
            MockServer({"http": {"state": {"mode": "on"}}}, spec=spec, seed=1) as server, \
            httpx.Client(base_url=server.url) as client:
        assert client.get("/fees").json() == {"fees": [{"total": 120}]}
    lines = [r.getMessage() for r in caplog.records if r.name == "mockforge.openapi"]
    assert len(lines) == 2, lines
    assert "GET /errors: 40 example(s)" in lines[0] and "GET /fees: 1 example(s)" in lines[1]


def test_trusted_examples_are_served_as_written(spec: Path) -> None:
    config = {"http": {"specs": [str(spec)], "examples": {"trust": True}}, "core": {"seed": 1}}
    with MockServer(config) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/errors").json() == {"errorCode": 250, "message": "m0", "debug": True}
        assert client.get("/fees").json() == {"fees": '[{"total": "120"}]'}
