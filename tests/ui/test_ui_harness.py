"""The harness's own rule, without a browser: missing Chromium skips the browser tests with the
reason on a dev machine and fails them under CI=true (a CI run must not pass by skipping)."""

from __future__ import annotations

import pytest
import ui_harness


def test_missing_browser_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui_harness, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        ui_harness.require_browser()
    assert "/nonexistent/chromium" in str(skipped.value) and "make ui-deps" in str(skipped.value)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        ui_harness.require_browser()
    assert "browser tests cannot run in CI" in str(failed.value)
