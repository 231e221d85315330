"""The public API of ``mockforge``: the names in ``__all__`` are pinned, sorted, importable, and
``import mockforge`` stays light (the CLI and the server import the package)."""

from __future__ import annotations

import subprocess
import sys

import mockforge

PUBLIC = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert mockforge.__all__ == PUBLIC
    assert mockforge.__all__ == sorted(mockforge.__all__)


def test_every_public_name_resolves_to_its_owner() -> None:
    from mockforge import config, errors
    from mockforge.testing import server

    assert mockforge.MockServer is server.MockServer
    assert mockforge.load_config is config.load_config
    for name in ("ConfigError", "FixtureError", "ListenError", "PluginError", "ProtoError", "SpecError", "StubError"):
        cls = getattr(mockforge, name)
        assert cls is getattr(errors, name)
        assert issubclass(cls, mockforge.MockforgeError)
    assert isinstance(mockforge.__version__, str)
    assert set(PUBLIC) <= set(dir(mockforge))


def test_unknown_name_raises_attribute_error() -> None:
    try:
        mockforge.Server  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'Server'" in str(exc)
    else:
        raise AssertionError("mockforge.Server should not be public")


def test_import_mockforge_does_not_import_the_server_stack() -> None:
    code = (
        "import sys, mockforge; "
        "print(sorted(m for m in sys.modules if m.startswith('mockforge'))); "
        "print(sorted(m for m in ('asyncio', 'msgspec', 'yaml', 'uvloop', 'httptools', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["['mockforge']", "[]"]


def test_star_import_gives_exactly_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from mockforge import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC)
