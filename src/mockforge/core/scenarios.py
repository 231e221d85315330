"""Scenarios: named state machines that stubs read (``required_state``) and move (``new_state``).

Every scenario starts in ``Started``. A stub that moves a scenario does it with
``try_transition``, a compare-and-set under one lock, so that when 50 requests race for the same
transition exactly one wins and the others see the new state (WireMock lost updates here).
The lock is a ``threading.Lock``: held for a dict read and write only, it is safe from asyncio
tasks and from threads alike.

    scenarios = ScenarioStore()
    scenarios.try_transition("checkout", "Started", "Paid")   # True
    scenarios.try_transition("checkout", "Started", "Paid")   # False: already moved
    scenarios.state("checkout")                               # "Paid"
"""

from __future__ import annotations

import threading
from typing import Protocol

STARTED = "Started"


class ScenarioStates(Protocol):
    """Scenario state, kept behind this interface so that a shared store can replace it."""

    def register(self, name: str) -> None: ...

    def state(self, name: str) -> str: ...

    def set(self, name: str, state: str) -> None: ...

    def reset(self) -> None: ...

    def list(self) -> dict[str, str]: ...

    def try_transition(self, name: str, required_state: str | None, new_state: str) -> bool: ...


class ScenarioStore:
    """The in-memory ``ScenarioStates``."""

    def __init__(self) -> None:
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, name: str) -> None:
        """Make a scenario known (listed in ``Started``) without changing a state it already has."""
        with self._lock:
            self._states.setdefault(name, STARTED)

    def state(self, name: str) -> str:
        return self._states.get(name, STARTED)

    def set(self, name: str, state: str) -> None:
        with self._lock:
            self._states[name] = state

    def reset(self) -> None:
        """Every known scenario back to ``Started`` (names stay listed)."""
        with self._lock:
            for name in self._states:
                self._states[name] = STARTED

    def list(self) -> dict[str, str]:
        with self._lock:
            return dict(sorted(self._states.items()))

    def try_transition(self, name: str, required_state: str | None, new_state: str) -> bool:
        """Move ``name`` to ``new_state`` if it is in ``required_state`` (any state when None);
        False when another caller moved it first."""
        with self._lock:
            current = self._states.get(name, STARTED)
            if required_state is not None and current != required_state:
                return False
            self._states[name] = new_state
            return True
