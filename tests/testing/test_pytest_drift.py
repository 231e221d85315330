"""The pytest plugin's ``drift`` option, run as users run it (pytest in a subprocess)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SPEC = Path(__file__).resolve().parents[1] / "drift_data" / "api.yaml"
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
TESTS = """
import httpx
import pytest
from mockforge.testing.server import MockServer

# the "real backend": a mock answering a pet whose id is a string and whose status is off the enum
UPSTREAM = MockServer(stubs=[{"request": {"method": "GET", "path": "/pets/1"},
                              "response": {"status": 200, "body": {"id": "one", "name": "Rex", "status": "lost"}}}])
UPSTREAM.start()
PROXY = {"core": {"proxy": {"upstream": UPSTREAM.url}}, "http": {"drift": {"mode": "report"}}}

@pytest.mark.mockforge(spec="api.yaml", config=PROXY)
def test_client_reads_a_pet(mockforge):
    assert httpx.get(mockforge.url + "/pets/1").json()["name"] == "Rex"
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(SPEC, pytester.path / "api.yaml")
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_client=TESTS)
    return pytester


def test_with_the_option_a_session_with_drift_fails_with_a_summary(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:randomly", "--mockforge-drift")
    result.assert_outcomes(passed=1)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*mockforge drift: the upstream disagrees with the spec*",
        "GET /pets/{petId}: enum at /status x1: expected *, got \"lost\"",
        "GET /pets/{petId}: wrong_type at /id x1: expected *, got \"one\"",
    ])


def test_without_the_option_the_session_passes(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert "mockforge drift" not in result.stdout.str()
