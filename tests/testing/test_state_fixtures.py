"""The pytest fixtures and state namespaces, run as users run them (pytester, pytest-xdist): every
test using ``mockforge`` has its own namespace; ``mockforge_session`` shares one per worker."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


def test_namespaces_under_xdist(pytester: pytest.Pytester) -> None:
    shutil.copy(ROOT / "examples" / "petstore.yaml", pytester.path / "petstore.yaml")
    (pytester.path / "mockforge.yaml").write_text("http:\n  specs: [petstore.yaml]\n  state: {mode: on}\n")
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    ini += "mockforge_config = mockforge.yaml\n"
    pytester.makefile(".ini", pytest=ini)
    pytester.makepyfile(
        test_ns="""
        import os
        import httpx
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_each(mockforge_session, n):
            ns = mockforge_session.namespace
            assert ns == "session-" + os.environ["PYTEST_XDIST_WORKER"]
            h = mockforge_session.state_headers
            httpx.post(mockforge_session.url + "/pets", json={"name": f"p{n}", "kind": "dog"}, headers=h)
            names = [p["name"] for p in mockforge_session.state("pets").items()]
            assert f"p{n}" in names  # the worker's namespace keeps what its tests created

        @pytest.mark.parametrize("n", range(4))
        def test_own(mockforge, n):
            assert mockforge.namespace.startswith("test-")
            pet = {"id": n + 1, "name": "x", "kind": "cat", "created_at": "2026-01-01T00:00:00Z"}
            mockforge.state("pets").seed([pet])
            listed = httpx.get(mockforge.url + "/pets", headers=mockforge.state_headers).json()
            assert [p["id"] for p in listed] == [n + 1]
            assert httpx.get(mockforge.url + "/pets").json() == []  # the default namespace is another world
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=10)
