"""pytest plugin (entry point ``pytest11``): the ``mockforge`` and ``mockforge_session`` fixtures.

    def test_client(mockforge):
        mockforge.stub("GET", "/users/1", json={"id": 1})
        assert my_client(mockforge.url).get_user(1)["id"] == 1
        mockforge.verify("GET", "/users/1", times=1)

Configure with ``@pytest.mark.mockforge(spec=..., config=..., protos=..., stubs=...)`` or the ini
options ``mockforge_spec`` and ``mockforge_config``. Servers bind port 0, so xdist workers never
clash. Nothing is imported from mockforge's server until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockforge.testing.server import MockServer


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockforge_spec", "OpenAPI document for the mockforge fixtures", default="")
    parser.addini("mockforge_config", "mockforge config file for the mockforge fixtures", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockforge(spec=None, config=None, protos=None, stubs=None, seed=None): configure the mockforge fixture",
    )


def _options(request: pytest.FixtureRequest, *, use_marker: bool) -> dict[str, Any]:
    root = Path(str(request.config.rootpath))
    opts: dict[str, Any] = {}
    spec = request.config.getini("mockforge_spec")
    cfg = request.config.getini("mockforge_config")
    if spec:
        opts["spec"] = str(root / spec)
    if cfg:
        opts["config"] = str(root / cfg)
    if use_marker:
        marker = request.node.get_closest_marker("mockforge")
        if marker is not None:
            opts.update({k: v for k, v in marker.kwargs.items() if v is not None})
    return opts


@pytest.fixture
def mockforge(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    """A fresh in-process mock server for one test (function scope)."""
    from mockforge.testing.server import MockServer

    server = MockServer(**_options(request, use_marker=True))
    with server:
        yield server


@pytest.fixture(scope="session")
def _mockforge_session_server(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    from mockforge.testing.server import MockServer

    server = MockServer(**_options(request, use_marker=False))
    with server:
        yield server


@pytest.fixture
def mockforge_session(_mockforge_session_server: MockServer) -> Iterator[MockServer]:
    """One server for the whole session; what a test adds (stubs, scenario state, log entries)
    is removed after it."""
    server = _mockforge_session_server
    mark = server.checkpoint()
    try:
        yield server
    finally:
        server.rollback(mark)
