from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
#: shared/ is a sibling of the repository root (in CI too)
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def _clean_mockforge_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("MOCKFORGE_"):
            monkeypatch.delenv(name)
    yield
