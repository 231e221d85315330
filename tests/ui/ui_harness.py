"""Helpers of the browser harness for the console (docs/UI.md; fixtures in conftest.py): a real
mockforge server with its admin listener on 127.0.0.1 port 0, and a headless Chromium from the
Debian packages driven by Selenium (``/usr/bin/chromium``, ``/usr/bin/chromedriver``; ``make
ui-deps`` installs them).

Without the binaries the browser tests skip with the reason, except in CI (``CI=true``), where
they fail: a CI run that silently skipped them would prove nothing.

    def test_x(console, http):
        http.get("/pets")
        console.open("traffic")                        # waits until the page mounted
        console.find("[data-test=traffic-row]")

Screenshots go to the test's tmp folder (``console.shot("name")``); with
``MOCKFORGE_UI_SCREENSHOTS=docs/ui`` the ones taken with ``keep=True`` are also written there
(the README's pictures).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockforge.testing.server import MockServer

CHROMIUM = os.environ.get("MOCKFORGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MOCKFORGE_CHROMEDRIVER", "/usr/bin/chromedriver")
ROOT = Path(__file__).resolve().parents[2]
#: Where kept screenshots go; read at import, since tests/conftest.py clears MOCKFORGE_* per test.
SCREENSHOTS = os.environ.get("MOCKFORGE_UI_SCREENSHOTS")
#: Seconds a wait may take before the test fails (generous: CI shares 2 cores).
WAIT_S = 20.0


def _browser_missing() -> str | None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        return f"{' and '.join(missing)} not found (run `make ui-deps`, or apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing (make setup installs it)"
    return None


def require_browser() -> None:
    """Skip (or fail in CI) when the browser cannot run here."""
    reason = _browser_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_S, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns a truthy value (returned); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # an element replaced while reading it: poll again
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        time.sleep(interval)


def make_driver(width: int = 1400, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", "--disable-background-networking",
                "--disable-default-apps", "--disable-sync", "--mute-audio", f"--window-size={width},{height}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


class Console:
    """The console in the browser, pointed at one server."""

    def __init__(self, driver: Any, server: MockServer, shots: Path) -> None:
        self.driver = driver
        self.server = server
        self.shots = shots
        driver.get_log("browser")  # drop what earlier tests left: severe_logs() sees this test's only

    @property
    def base(self) -> str:
        return self.server.admin_url + "/ui/"

    def open(self, page: str, *, ready: bool = True) -> Console:
        """Load the console at ``#/<page>`` (a fresh document) and wait until the page mounted."""
        if str(self.driver.current_url).startswith(self.base):
            self.driver.get("about:blank")  # else only the hash changes: no new document
        self.driver.get(self.base + "#/" + page)
        if ready:
            self.wait_ready(page.split("/")[0])
        return self

    def wait_ready(self, page: str) -> None:
        wait_for(lambda: self.driver.execute_script(
            "const m = document.getElementById('main');"
            "return m && m.dataset.page === arguments[0] && m.dataset.ready === 'true';", page),
            f"the {page} page to mount")

    def go(self, page: str) -> None:
        """Navigate within the loaded console (hash change, no reload)."""
        self.driver.execute_script("location.hash = arguments[0]", "#/" + page)
        self.wait_ready(page.split("/")[0])

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return wait_for(lambda: self.driver.find_element(By.CSS_SELECTOR, css), f"element {css}")

    def find_all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def test_id(self, name: str) -> Any:
        return self.find(f'[data-test="{name}"]')

    def text_of(self, css: str) -> str:
        return str(self.find(css).text)

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def severe_logs(self) -> list[str]:
        """Console errors logged by the page (CSP violations show up here)."""
        return [e["message"] for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def shot(self, name: str, *, keep: bool = False) -> Path:
        """A screenshot in the tmp folder; ``keep`` also writes it to $MOCKFORGE_UI_SCREENSHOTS."""
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        if keep and SCREENSHOTS:
            out = Path(SCREENSHOTS) if Path(SCREENSHOTS).is_absolute() else ROOT / SCREENSHOTS
            out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / f"{name}.png")
        return path


UI_SPEC = """
openapi: 3.0.3
info: {title: console, version: "1"}
paths:
  /pets:
    get:
      operationId: listPets
      responses:
        "200":
          description: ok
          content: {application/json: {example: [{id: 1, name: Rex}]}}
    post:
      operationId: createPet
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: object, required: [name], properties: {name: {type: string}}}
      responses:
        "201": {description: created, content: {application/json: {example: {id: 2, name: Tom}}}}
"""


def start_server(tmp_path: Path, config: dict[str, Any] | None = None, *, stubs: list[dict[str, Any]] | None = None,
                 spec: bool = True) -> MockServer:
    data: dict[str, Any] = {"admin": {"enabled": True}, "core": {"file_roots": [str(tmp_path)]}}
    for key, value in (config or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    spec_path = None
    if spec:
        spec_path = tmp_path / "console-spec.yaml"
        spec_path.write_text(UI_SPEC)
    return MockServer(data, spec=spec_path, stubs=stubs).start()
