"""A spec's ``$ref`` reads only regular files inside the spec's folder or ``core.file_roots``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockforge.core.files import FileRoots
from mockforge.errors import SpecError
from mockforge.openapi.loader import load_specs

SPEC = """openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /leak:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "REF"}
"""


def write_spec(folder: Path, ref: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "api.yaml"
    path.write_text(SPEC.replace("REF", ref))
    return path


def test_ref_outside_the_spec_folder_and_roots_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("type: string\nexample: the-secret\n")
    spec = write_spec(tmp_path / "api", "../outside/secret.yaml")
    model = load_specs([spec], roots=FileRoots.of([tmp_path / "config"]))
    # like any broken $ref, the operation is skipped with a warning naming the file and why
    assert not model.operations
    (warning,) = model.warnings
    assert "GET /leak skipped" in warning and "secret.yaml" in warning
    assert "outside the spec's folder and core.file_roots" in warning


def test_ref_to_etc_passwd_is_refused(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "/etc/passwd")
    model = load_specs([spec], roots=FileRoots.of([tmp_path]))
    assert not model.operations
    assert "/etc/passwd: a $ref leads outside" in model.warnings[0]


def test_ref_inside_a_listed_root_is_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "pet.yaml").write_text("type: object\nproperties: {name: {type: string}}\n")
    spec = write_spec(tmp_path / "api", "../shared/pet.yaml")
    model = load_specs([spec], roots=FileRoots.of([shared]))
    assert any("pet" in name.lower() for name in model.defs)


def test_a_fifo_spec_or_ref_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        load_specs([fifo])
    spec = write_spec(tmp_path / "api", "../pipe.yaml")
    model = load_specs([spec], roots=FileRoots.of([tmp_path]))
    assert not model.operations
    assert "pipe.yaml: is not a regular file" in model.warnings[0]
