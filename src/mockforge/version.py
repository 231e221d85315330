"""The package version, in a module of its own.

``mockforge/__init__.py`` serves it as ``mockforge.__version__`` (public API, imported on first
use like the other public names, so ``import mockforge`` still loads nothing). Modules that
need it import it from here, not from the package: the package's ``__init__`` names the public
API under ``TYPE_CHECKING`` (``testing.server``, which imports the runtime), so ``from mockforge
import __version__`` in the runtime closed an import cycle (tests/test_architecture.py).
"""

__version__ = "0.1.0"
