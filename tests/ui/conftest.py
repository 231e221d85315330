"""Fixtures of the browser harness for the console (docs/UI.md); the helpers are in
``ui_harness.py``: a real mockforge server with its admin listener on 127.0.0.1 port 0 and a
headless Chromium from the Debian packages driven by Selenium. Without the browser the tests skip,
except under ``CI=true``, where they fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_harness import Console, make_driver, require_browser, start_server

from mockforge.testing.server import MockServer


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (a fresh document per test)."""
    require_browser()
    driver = make_driver()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[MockServer]:
    """A server with the admin listener, a small spec and no token."""
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def console(browser: Any, ui_server: MockServer, tmp_path: Path) -> Iterator[Console]:
    shots = tmp_path / "shots"
    shots.mkdir()
    yield Console(browser, ui_server, shots)
    try:
        browser.execute_script("try { sessionStorage.clear(); } catch (e) {}")
        browser.get("about:blank")
    except Exception:  # the session may be gone with the test that broke it
        pass


@pytest.fixture
def http(ui_server: MockServer) -> Iterator[httpx.Client]:
    """A real HTTP client on the mock's HTTP port (traffic for the pages to show)."""
    with httpx.Client(base_url=ui_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def admin(ui_server: MockServer) -> Iterator[httpx.Client]:
    """A real HTTP client on the admin API."""
    with httpx.Client(base_url=ui_server.admin_url + "/", timeout=10) as client:
        yield client
