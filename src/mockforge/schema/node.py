"""The compiled form of a schema: a ``Node`` is a closure ``(rng, depth) -> value`` and a weight.

``schema/generate.py`` compiles a schema once into nested nodes, so producing a value per request
is one call with no schema inspection. A node that cannot satisfy its schema on this attempt raises
``Unsat``; the caller retries with the same rng (the values stay repeatable for a seed) or falls
back to the schema's example. Kept apart from the walker so that the scalar and pattern builders
(``scalars.py``, ``patterns.py``) share these few names without importing the walker.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (rng) -> value: what ``DataGenerator.compile`` hands out.
Gen = Callable[[random.Random], Any]
#: (rng, depth) -> value: what a node runs.
NodeGen = Callable[[random.Random, int], Any]
#: Weight of a reference still being compiled (a recursion).
HEAVY = 100


class Unsat(Exception):
    """This attempt could not satisfy the schema (the caller retries or falls back)."""


@dataclass(slots=True)
class Node:
    gen: NodeGen
    #: Rough size of the smallest value; at the depth bound choices take the lightest branch.
    weight: int


def unsat(rng: random.Random, d: int) -> Any:
    """The generator of a schema no value satisfies."""
    raise Unsat("unsatisfiable")


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (the caller may change what it is given)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def constant(value: Any, weight: int = 1) -> Node:
    """A node that always gives (a copy of) ``value``."""
    return Node(lambda rng, d: clone(value), weight)
