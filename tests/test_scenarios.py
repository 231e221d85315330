from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from mockforge.core.scenarios import STARTED, ScenarioStore


def test_every_scenario_starts_in_started() -> None:
    store = ScenarioStore()
    assert store.state("checkout") == STARTED == "Started"
    store.register("checkout")
    assert store.list() == {"checkout": "Started"}


def test_set_reset_and_list() -> None:
    store = ScenarioStore()
    store.set("b", "Paid")
    store.register("a")
    store.register("b")  # registering keeps the state it has
    assert store.list() == {"a": "Started", "b": "Paid"}
    store.reset()
    assert store.list() == {"a": "Started", "b": "Started"}


def test_transition_needs_the_required_state() -> None:
    store = ScenarioStore()
    assert not store.try_transition("s", "Paid", "Shipped")
    assert store.try_transition("s", "Started", "Paid")
    assert not store.try_transition("s", "Started", "Paid")
    assert store.try_transition("s", None, "Anything")
    assert store.state("s") == "Anything"


def test_fifty_threads_racing_for_one_transition_have_one_winner() -> None:
    store = ScenarioStore()
    barrier = threading.Barrier(50)

    def attempt(_: int) -> bool:
        barrier.wait()
        return store.try_transition("race", "Started", "Won")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    assert results.count(True) == 1
    assert store.state("race") == "Won"


async def test_fifty_tasks_racing_for_one_transition_have_one_winner() -> None:
    store = ScenarioStore()
    start = asyncio.Event()

    async def attempt() -> bool:
        await start.wait()
        return store.try_transition("race", "Started", "Won")

    tasks = [asyncio.create_task(attempt()) for _ in range(50)]
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 1
