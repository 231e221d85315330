"""mockforge: a multi-protocol API mock server.

    from mockforge import MockServer

    with MockServer(spec="petstore.yaml") as mock:
        mock.stub("GET", "/pets/7", json={"id": 7})

The names below are the public API; everything else may change without notice. They are
imported on first use (module ``__getattr__``), so ``import mockforge`` stays light: the CLI and
the server import this package, and neither should pay for the test helpers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ConfigError",
    "FixtureError",
    "ListenError",
    "MockServer",
    "MockforgeError",
    "PluginError",
    "ProtoError",
    "SpecError",
    "StubError",
    "__version__",
    "load_config",
]

#: public name -> the module that owns it
_OWNERS = {
    "ConfigError": "mockforge.errors",
    "FixtureError": "mockforge.errors",
    "ListenError": "mockforge.errors",
    "MockServer": "mockforge.testing.server",
    "MockforgeError": "mockforge.errors",
    "PluginError": "mockforge.errors",
    "ProtoError": "mockforge.errors",
    "SpecError": "mockforge.errors",
    "StubError": "mockforge.errors",
    "__version__": "mockforge.version",
    "load_config": "mockforge.config",
}

if TYPE_CHECKING:
    from mockforge.config import load_config
    from mockforge.errors import (
        ConfigError,
        FixtureError,
        ListenError,
        MockforgeError,
        PluginError,
        ProtoError,
        SpecError,
        StubError,
    )
    from mockforge.testing.server import MockServer
    from mockforge.version import __version__


def __getattr__(name: str) -> Any:
    owner = _OWNERS.get(name)
    if owner is None:
        raise AttributeError(f"module 'mockforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(owner), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
