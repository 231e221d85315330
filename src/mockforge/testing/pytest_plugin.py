"""pytest plugin (entry point ``pytest11``): the ``mockforge`` and ``mockforge_session`` fixtures.

    def test_client(mockforge):
        mockforge.stub("GET", "/users/1", json={"id": 1})
        assert my_client(mockforge.url).get_user(1)["id"] == 1
        mockforge.verify("GET", "/users/1", times=1)

Configure with ``@pytest.mark.mockforge(spec=..., config=..., protos=..., stubs=..., seed=...)``
(function-scope fixture only) or the ini options ``mockforge_spec`` and ``mockforge_config``
(both fixtures); relative paths are taken from the rootdir. Servers bind port 0, so xdist workers
never clash. This module is loaded in every pytest run once mockforge is installed, so it imports
nothing of mockforge until a collected test asks for one of the fixtures.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockforge.testing.server import MockServer

_FIXTURES = frozenset({"mockforge", "mockforge_tls", "mockforge_session"})
_MARKER_KEYS = ("spec", "config", "protos", "stubs", "seed")
_PATH_KEYS = ("spec", "config", "protos", "stubs")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockforge_spec", "OpenAPI document for the mockforge fixtures", default="")
    parser.addini("mockforge_config", "mockforge config file for the mockforge fixtures", default="")
    parser.addini("mockforge_drift", "fail the session when a fixture server reported drift", type="bool",
                  default=False)
    parser.addoption("--mockforge-drift", action="store_true", dest="mockforge_drift",
                     help="fail the session when a mockforge fixture server reported drift (docs/DRIFT.md)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockforge(spec=None, config=None, protos=None, stubs=None, seed=None): configure the mockforge fixture",
    )


def _resolve(value: Any, base: Path) -> Any:
    """Relative paths (also in a list) from ``base``; dicts (a config, stubs) are left alone."""
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, str | Path) and not Path(value).is_absolute():
        return str(base / value)
    return value


def _options(config: pytest.Config, node: pytest.Item | None) -> dict[str, Any]:
    """Constructor arguments from the ini options, then the marker of ``node`` (when given)."""
    root = Path(str(config.rootpath))
    ini_base = Path(str(config.inipath)).parent if config.inipath is not None else root
    opts: dict[str, Any] = {}
    spec = config.getini("mockforge_spec")
    cfg = config.getini("mockforge_config")
    if spec:
        opts["spec"] = str(ini_base / spec)
    if cfg:
        opts["config"] = str(ini_base / cfg)
    marker = node.get_closest_marker("mockforge") if node is not None else None
    if marker is not None:
        unknown = sorted(set(marker.kwargs) - set(_MARKER_KEYS))
        if marker.args or unknown:
            raise pytest.UsageError(
                f"{node.nodeid if node else ''}: @pytest.mark.mockforge takes keyword arguments "
                f"{', '.join(_MARKER_KEYS)} (got {', '.join(unknown) or 'positional arguments'})"
            )
        for key, value in marker.kwargs.items():
            if value is not None:
                opts[key] = _resolve(value, root) if key in _PATH_KEYS else value
    return opts


def _problem(opts: dict[str, Any]) -> str | None:
    """What is wrong with these options (config, spec), as ``mockforge serve`` would say it."""
    from mockforge.errors import MockforgeError
    from mockforge.testing.server import make_config

    try:
        cfg = make_config(**opts)
        if cfg.http.specs:
            from mockforge.openapi.loader import load_specs

            load_specs(list(cfg.http.specs), cache_dir=cfg.core.cache_dir)
    except MockforgeError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _xdist_role(config: pytest.Config) -> str | None:
    if hasattr(config, "workerinput"):
        return "worker"
    return "controller" if getattr(config.option, "numprocesses", None) else None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under xdist the controller collects nothing, so it checks the ini options here (a worker
    stopping the run in its collection would crash xdist; a bad marker fails its tests instead)."""
    config = session.config
    if _xdist_role(config) != "controller":
        return
    if config.getini("mockforge_spec") or config.getini("mockforge_config"):
        problem = _problem(_options(config, None))
        if problem is not None:
            raise pytest.UsageError(f"mockforge: {problem}")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the config and spec of every server the collected tests will start, so that a
    mistake stops the run before any test runs instead of failing each test."""
    if _xdist_role(config) == "worker":
        return
    checked: dict[str, str | None] = {}
    for item in items:
        names = _FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if not names:
            continue
        node = item if names & {"mockforge", "mockforge_tls"} else None
        opts = _options(config, node)
        key = repr(sorted(opts.items()))
        if key not in checked:
            checked[key] = _problem(opts)
        problem = checked[key]
        if problem is not None:
            where = f" (used by {item.nodeid})" if node is not None and node.get_closest_marker("mockforge") else ""
            raise pytest.UsageError(f"mockforge: {problem}{where}")


@pytest.fixture
def mockforge(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """A fresh in-process mock server for one test (function scope)."""
    from mockforge.testing.server import MockServer

    with MockServer(**_options(request.config, request.node)) as server:
        server.namespace = "test-" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
        yield server
        _keep_drift(request.config, server)


@pytest.fixture
def mockforge_tls(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """Like ``mockforge``, over HTTPS: ``.url`` is ``https://``, ``.ca_path`` the CA to trust (one
    local CA in the user cache folder, shared by every test and session)."""
    from mockforge.testing.server import MockServer

    with MockServer(**_options(request.config, request.node), tls=True) as server:
        yield server
        _keep_drift(request.config, server)


@pytest.fixture(scope="session")
def _mockforge_session_server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    from mockforge.testing.server import MockServer

    with MockServer(**_options(request.config, None)) as server:
        yield server
        _keep_drift(request.config, server)


@pytest.fixture
def mockforge_session(_mockforge_session_server: MockServer) -> Iterator[MockServer]:
    """One server for the whole session (per xdist worker); what a test adds (stubs, scenario
    state, global fault, log entries) is removed after it."""
    server = _mockforge_session_server
    server.namespace = "session-" + os.environ.get("PYTEST_XDIST_WORKER", "main")
    mark = server.checkpoint()
    try:
        yield server
    finally:
        server.rollback(mark)


def _keep_drift(config: pytest.Config, server: MockServer) -> None:
    if config.getoption("mockforge_drift", False) or config.getini("mockforge_drift"):
        from mockforge.testing.drift_gate import collect

        collect(config, server)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With the drift option, a session whose servers saw drift fails (exit status 1)."""
    if "mockforge.testing.drift_gate" in sys.modules:
        from mockforge.testing.drift_gate import enabled, summary_lines

        if enabled(session.config) and summary_lines(session.config) and exitstatus == 0:
            session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if "mockforge.testing.drift_gate" in sys.modules:
        from mockforge.testing.drift_gate import summary_lines

        lines = summary_lines(config)
        if lines:
            terminalreporter.section("mockforge drift: the upstream disagrees with the spec", sep="=", red=True)
            for line in lines:
                terminalreporter.line(line)
