"""A spec that would serve nothing, or whose schemas only ``$ref`` each other in a cycle, is no
longer loaded without a word: one warning names the file and the JSON pointer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from mockforge.openapi.loader import load_specs
from mockforge.testing.server import MockServer

INFO = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}
OP = {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"example": [1]}}}}}}


def write(path: Path, doc: dict[str, object]) -> str:
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize(("extra", "where"), [({"paths": {}}, "/paths"), ({}, "/")])
def test_a_document_with_no_operations_is_warned_about(tmp_path: Path, extra: dict[str, object], where: str) -> None:
    spec = write(tmp_path / "empty.yaml", {**INFO, **extra})
    model = load_specs([spec])
    assert model.warnings == [f"{spec} at {where}: no operations: this document serves nothing"]
    assert model.errors == []


def test_only_the_empty_one_of_two_documents_is_named(tmp_path: Path) -> None:
    full = write(tmp_path / "full.yaml", {**INFO, "paths": {"/a": OP}})
    empty = write(tmp_path / "empty.yaml", {**INFO, "paths": {"x-note": 1}})
    model = load_specs([full, empty])
    assert [o.key for o in model.operations] == ["GET /a"]
    assert model.warnings == [f"{empty} at /paths: no operations: this document serves nothing"]


def test_schemas_that_only_ref_each_other_in_a_cycle_are_warned_about(tmp_path: Path) -> None:
    schemas = {
        "A": {"$ref": "#/components/schemas/B"},
        "B": {"$ref": "#/components/schemas/C"},
        "C": {"$ref": "#/components/schemas/A"},
        "Self": {"$ref": "#/components/schemas/Self"},
        "Alias": {"$ref": "#/components/schemas/Real"},  # a chain that ends in a schema is fine
        "Real": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Real"}}},
    }
    spec = write(tmp_path / "cyc.yaml", {**INFO, "paths": {"/a": OP}, "components": {"schemas": schemas}})
    model = load_specs([spec])
    assert sorted(model.warnings) == [
        f"{spec} at /components/schemas/A: schemas that only $ref each other in a cycle (A -> B -> C -> A) "
        "describe no value",
        f"{spec} at /components/schemas/Self: schemas that only $ref each other in a cycle (Self -> Self) "
        "describe no value",
    ]


def test_the_cycle_in_another_file_is_named_by_that_file(tmp_path: Path) -> None:
    parts = tmp_path / "parts.yaml"
    parts.write_text("Ping: {$ref: '#/Pong'}\nPong: {$ref: '#/Ping'}\n")
    op = {"get": {"responses": {"200": {"description": "ok", "content": {
        "application/json": {"schema": {"$ref": "parts.yaml#/Ping"}}}}}}}
    spec = write(tmp_path / "api.yaml", {**INFO, "paths": {"/p": op}})
    (warning,) = load_specs([spec]).warnings
    assert warning.startswith(f"{parts} at /Ping: schemas that only $ref each other in a cycle (Ping -> Pong -> Ping)")


def test_a_server_start_prints_the_warnings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spec = write(tmp_path / "empty.yaml", {**INFO, "paths": {}})
    caplog.set_level(logging.WARNING, logger="mockforge")
    with MockServer(spec=spec):
        pass
    assert [r.getMessage() for r in caplog.records if "no operations" in r.getMessage()] == [
        f"{spec} at /paths: no operations: this document serves nothing"
    ]
