"""The pytest plugin, run as users run it: pytest in a subprocess (``pytester``) over test files
written here, with the plugin loaded from its entry point."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "TESTING.md"
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder with the repository's examples and the ini of docs/TESTING.md."""
    shutil.copytree(ROOT / "examples", pytester.path / "examples", ignore=shutil.ignore_patterns("plugins"))
    pytester.makefile(".ini", pytest=INI)
    return pytester


def doc_examples() -> dict[str, str]:
    """The test modules of docs/TESTING.md: python blocks whose first line names the file."""
    out = {}
    for block in re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S):
        first = block.splitlines()[0]
        assert first.startswith("# test_"), f"a python block of TESTING.md must start with its file name: {first}"
        out[first[2:].strip()] = block
    return out


def test_session_server_isolates_stubs_log_scenarios_and_faults(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_isolation="""
        import httpx

        seen = []

        def test_first_adds_state(mockforge_session):
            seen.append(mockforge_session.url)
            mockforge_session.stub("GET", "/temp", json="first")
            mockforge_session.add_stub({"request": {"path": "/go"}, "scenario": {"name": "s", "new_state": "B"}})
            mockforge_session.fault(status=500, rate=1.0)
            assert httpx.get(mockforge_session.url + "/go").status_code == 500
            assert len(mockforge_session.requests()) == 1

        def test_second_sees_a_clean_server(mockforge_session):
            seen.append(mockforge_session.url)
            assert seen[0] == seen[1]  # the same server
            assert mockforge_session.requests() == []
            assert mockforge_session.stubs() == []
            assert httpx.get(mockforge_session.url + "/temp").status_code == 404
            scenarios = mockforge_session.server.services.stubs.scenario_store.list()
            assert scenarios == {"s": "Started"}
            mockforge_session.verify("GET", "/temp", times=1)
        """
    )
    result = project.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_xdist_workers_each_run_their_own_server(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_workers="""
        import os
        import httpx
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_each(mockforge_session, mockforge, n):
            worker = os.environ["PYTEST_XDIST_WORKER"]
            mockforge_session.stub("GET", "/who", json=worker)
            assert httpx.get(mockforge_session.url + "/who").json() == worker
            mockforge_session.verify("GET", "/who", times=1)
            assert mockforge.url != mockforge_session.url
            with open(f"ports-{worker}.txt", "a") as fh:
                fh.write(f"{mockforge_session.url}\\n")
        """
    )
    result = project.runpytest_subprocess("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=8)
    files = sorted(project.path.glob("ports-*.txt"))
    assert [f.name for f in files] == ["ports-gw0.txt", "ports-gw1.txt"]
    urls = [set(f.read_text().split()) for f in files]
    assert all(len(u) == 1 for u in urls)  # one session server per worker
    assert urls[0] != urls[1]


def test_failed_verification_shows_the_near_miss_report(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fails="""
        import httpx

        def test_wrong_call(mockforge):
            mockforge.stub("GET", "/pets/{id}", json={"id": 8})
            httpx.get(mockforge.url + "/pets/8?kind=cat")
            mockforge.verify("GET", "/pets/7", query={"kind": "dog"})
        """
    )
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*mockforge.verify("GET", "/pets/7", query={"kind": "dog"})',
            'E*AssertionError: expected GET /pets/7 with query kind="dog" at least 1 time, but it was received 0 times',
            "E*Closest logged requests:",
            "E*1. #1 GET /pets/8 (distance *)",
            'E*- path: expected "/pets/7", got "/pets/8"',
            'E*- query.kind: expected equals "dog", got "cat"',
            "E*Logged requests (1): #1 GET /pets/8 -> 200",
        ]
    )
    # The traceback stops at the test: mockforge's own frames are hidden.
    assert "testing/server.py" not in result.stdout.str()


def test_async_tests_use_the_fixtures_and_the_callers_loop(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_async="""
        import asyncio
        import httpx
        from mockforge import MockServer

        async def test_fixture_from_async_code(mockforge):
            mockforge.stub("GET", "/a", json=[1])
            async with httpx.AsyncClient(base_url=mockforge.url) as client:
                answers = await asyncio.gather(*(client.get("/a") for _ in range(20)))
            assert [r.json() for r in answers] == [[1]] * 20
            mockforge.verify("GET", "/a", times=20)

        async def test_server_on_the_test_loop():
            async with MockServer() as mock:
                assert mock.server.runtime is mock.runtime
                mock.stub("POST", "/b", status=202)
                async with httpx.AsyncClient(base_url=mock.url) as client:
                    assert (await client.post("/b")).status_code == 202
                mock.verify("POST", "/b", times=1)
        """
    )
    project.runpytest_subprocess().assert_outcomes(passed=2)


def test_marker_and_ini_options_configure_the_servers(project: pytest.Pytester) -> None:
    project.makefile(".ini", pytest=INI + "mockforge_spec = examples/petstore.yaml\n")
    project.makepyfile(
        test_config="""
        import httpx
        import pytest

        def test_ini_spec(mockforge):
            assert httpx.get(mockforge.url + "/pets/3").status_code == 200

        def test_ini_spec_on_session_server(mockforge_session):
            assert httpx.get(mockforge_session.url + "/pets/3").status_code == 200

        @pytest.mark.mockforge(stubs=[{"request": {"path": "/marked"}, "response": {"body": "yes"}}], seed=4)
        def test_marker_adds_to_ini(mockforge):
            assert httpx.get(mockforge.url + "/marked").json() == "yes"
            assert httpx.get(mockforge.url + "/pets/3").status_code == 200
            assert mockforge.config.core.seed == 4

        @pytest.mark.mockforge(config={"admin": {"enabled": True}})
        def test_marker_config_dict(mockforge):
            assert mockforge.admin_url != mockforge.url + "/__mockforge"
            assert httpx.get(mockforge.admin_url + "/stubs").json() == {"stubs": []}
        """
    )
    project.runpytest_subprocess().assert_outcomes(passed=4)


def test_bad_config_stops_the_run_before_any_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_bad="""
        import pytest

        def test_not_using_mockforge():
            pass

        @pytest.mark.mockforge(config={"core": {"max_request_logs": "many"}})
        def test_bad(mockforge):
            pass
        """
    )
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mockforge: ConfigError: <config> at core.max_request_logs: *test_bad.py::test_bad*"])
    assert "passed" not in result.stdout.str()


def test_bad_spec_in_ini_stops_the_run_before_any_test(project: pytest.Pytester) -> None:
    (project.path / "broken.yaml").write_text("openapi: 3.0.0\npaths: {/x: [\n")
    project.makefile(".ini", pytest=INI + "mockforge_spec = broken.yaml\n")
    project.makepyfile(test_spec="def test_uses(mockforge_session):\n    pass\n")
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mockforge: SpecError: *broken.yaml at line 3*"])


def test_plugin_imports_nothing_of_mockforge_until_a_fixture_is_used(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_light="""
        import sys

        def test_plain():
            assert "mockforge.testing.pytest_plugin" in sys.modules
            loaded = sorted(m for m in sys.modules if m.startswith("mockforge"))
            assert loaded == ["mockforge", "mockforge.testing", "mockforge.testing.pytest_plugin"]
        """
    )
    project.runpytest_subprocess().assert_outcomes(passed=1)


def test_docs_examples_run(project: pytest.Pytester) -> None:
    examples = doc_examples()
    assert {"test_sync_clients.py", "test_async_clients.py", "test_websocket_client.py", "test_grpc_client.py"} <= set(
        examples
    )
    for name, code in examples.items():
        (project.path / name).write_text(code)
    result = project.runpytest_subprocess("-p", "no:randomly", "-v")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == sum(code.count("\ndef test_") + code.count("\nasync def test_")
                                     + code.count("    def test_") for code in examples.values())


def test_benchmark_script_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pytest_plugin_bench.py"), "--tests", "10", "--starts", "3"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "start+stop median" in proc.stdout and "mockforge_session" in proc.stdout


def test_bad_ini_config_under_xdist_stops_the_run_and_a_bad_marker_fails_its_test(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.mockforge(config={"core": {"max_request_logs": "many"}})
        def test_bad(mockforge):
            pass

        def test_fine():
            pass
        """
    )
    marked = project.runpytest_subprocess("-n", "2", "-p", "xdist")
    marked.assert_outcomes(passed=1, errors=1)
    marked.stdout.fnmatch_lines(["*ConfigError: <config> at core.max_request_logs: Expected `int`, got `str`*"])

    project.makefile(".ini", pytest=INI + "mockforge_config = missing.yaml\n")
    result = project.runpytest_subprocess("-n", "2", "-p", "xdist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mockforge: ConfigError: *missing.yaml: config file not found*"])


def test_a_user_error_shows_the_test_line_and_one_message_not_a_library_traceback(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_user_errors="""
        from mockforge.testing.server import MockServer

        def test_bad_stub(mockforge):
            mockforge.stub("GET", "/x", status="nope")

        def test_bad_fault(mockforge):
            mockforge.fault(status="slow")

        def test_bad_config():
            MockServer(config={"http": {"port": 70000}})

        def test_bad_spec(tmp_path):
            MockServer(spec=tmp_path / "missing.yaml").start()
        """
    )
    result = project.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    assert "mockforge.errors.StubError: response.status: expected an HTTP status from 100 to 599" in out
    assert "mockforge.errors.ConfigError: <config> at http.port: expected a port from 0 to 65535" in out
    assert "mockforge.errors.SpecError: " in out and "missing.yaml" in out
    assert "mockforge.errors.ConfigError" in out  # the fault error too
    for library in ("stub_parsing.py", "config.py", "testing/server.py", "faults.py", "concurrent/futures"):
        assert library not in out, f"a library frame ({library}) is shown"
