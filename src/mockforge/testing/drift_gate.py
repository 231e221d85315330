"""The pytest plugin's ``drift`` option: fail a session whose mock servers saw drift (issue 16).

Opt-in with the ini option ``mockforge_drift = true`` or ``--mockforge-drift``. Each server a
mockforge fixture started hands its drift findings (``http.drift.mode: report`` with a proxy
upstream, docs/DRIFT.md) to ``collect`` before it stops; at the end of the session
``summary_lines`` gives one line per (operation, kind) group and the session's exit status
becomes 1. Imported by the plugin only when a fixture server has a drift service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mockforge.testing.server import MockServer

FINDINGS = pytest.StashKey[list[str]]()


def enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("mockforge_drift", False) or config.getini("mockforge_drift"))


def collect(config: pytest.Config, server: MockServer) -> None:
    """Keep the findings of ``server`` (one line per group) for the end of the session."""
    services = getattr(server.server, "services", None)
    drift = getattr(services, "drift", None)
    if drift is None:
        return
    lines = config.stash.setdefault(FINDINGS, [])
    for group in drift.ledger.groups.values():
        ex = group.example
        where = f" at {ex.pointer}" if ex.pointer else ""
        lines.append(f"{group.operation}: {group.kind}{where} x{group.count}: expected {ex.expected}, got {ex.got}")


def summary_lines(config: pytest.Config) -> list[str]:
    """One line per (server, operation, kind) group, sorted."""
    lines: list[str] = config.stash.get(FINDINGS, [])
    return sorted(lines)
