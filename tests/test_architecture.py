"""The architecture rules of issue 13, as tests: each fails when its rule breaks.

The counting lives in ``benchmarks/architecture_report.py`` (which prints the same findings);
these tests assert each count is 0. The first tests check the counter itself on a small made-up
package, so a rule cannot pass because the counter went blind.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import architecture_report as arch  # noqa: E402

MODULES = arch.load_modules()


# --------------------------------------------------------------------------- the counter itself
def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, arch.Module]:
    for rel, text in files.items():
        path = tmp_path / "mockforge" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return arch.load_modules(tmp_path)


def test_counter_sees_function_local_relative_and_type_checking_cycles(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "import mockforge.b\n",
            "b.py": "def later():\n    from . import a\n",  # a cycle through a function-local import
            "pkg/__init__.py": "from mockforge.c import x\n",
            "c.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    import mockforge.pkg\n"  # a package: an edge to its __init__
                "x = 1\n"
            ),
            "d.py": "from .pkg import sub\n",
            "pkg/sub.py": "from ..d import y\n",  # `from .pkg import sub`: the module pkg.sub
        },
    )
    runtime = arch.import_cycles(modules, with_type_checking=False)
    typed = arch.import_cycles(modules, with_type_checking=True)
    assert runtime == [
        "2 modules: mockforge.a -> mockforge.b -> mockforge.a",
        "2 modules: mockforge.d -> mockforge.pkg.sub -> mockforge.d",
    ]
    assert "2 modules: mockforge.c -> mockforge.pkg -> mockforge.c" in typed and len(typed) == 3


def test_counter_sees_service_lookups_long_modules_and_layering(tmp_path: Path) -> None:
    modules = _package(
        tmp_path,
        {
            "__init__.py": "",
            "core/__init__.py": "",
            "core/step.py": "from mockforge.http import app\nfrom mockforge.plugins import cli\n",
            "http/__init__.py": "",
            "http/app.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from mockforge.ws.hub import Hub\n"
                "def f(rt, services):\n"
                "    return rt.services.get('stubs'), services['ws'], 'grpc' in rt.services, rt.services.get(k)\n"
            ),
            "ws/__init__.py": "",
            "ws/hub.py": "class Hub: ...\n" + "\n" * 801,
            "plugins/__init__.py": "",
            "plugins/cli.py": "",
        },
    )
    assert sorted(f.split(": ", 1)[1] for f in arch.service_lookups(modules)) == [
        "'grpc' in rt.services",
        "rt.services.get('stubs')",
        "services['ws']",
    ]
    assert [f.rsplit(": ", 1)[1] for f in arch.long_modules(modules)] == ["802 lines"]
    assert [f.split(": ", 1)[1] for f in arch.adapter_imports(modules)] == ["mockforge.http.app -> mockforge.ws.hub"]
    assert [f.split(": ", 1)[1] for f in arch.lower_imports(modules)] == [
        "mockforge.core.step -> mockforge.http.app",
        "mockforge.core.step -> mockforge.plugins.cli",
    ]


# --------------------------------------------------------------------------- the rules on src/
def test_no_runtime_import_cycle() -> None:
    assert arch.import_cycles(MODULES, with_type_checking=False) == []


def test_no_import_cycle_under_type_checking_either() -> None:
    assert arch.import_cycles(MODULES, with_type_checking=True) == []


def test_no_string_keyed_service_lookup() -> None:
    assert arch.service_lookups(MODULES) == []


def test_no_module_over_800_lines() -> None:
    assert arch.long_modules(MODULES) == []


def test_adapters_do_not_import_each_other() -> None:
    assert arch.adapter_imports(MODULES) == []


def test_core_and_schema_import_no_adapter_server_or_cli() -> None:
    assert arch.lower_imports(MODULES) == []


def test_public_names_are_pinned() -> None:
    """``__all__`` is pinned in tests/test_public_api.py; this only ties the rule to it."""
    spec = importlib.util.spec_from_file_location("_public_api_pins", Path(__file__).with_name("test_public_api.py"))
    assert spec is not None and spec.loader is not None
    pins = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pins)
    import mockforge

    assert mockforge.__all__ == pins.PUBLIC


#: ``python -m mockforge`` runs the CLI when imported; it is the entry point, tested by the CLI tests
_NOT_IMPORTED_ALONE = {"mockforge.__main__"}

_IMPORT_EACH = """
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "mockforge" or m.startswith("mockforge.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = traceback.format_exception_only(exc)[-1].strip()
print(json.dumps(failed))
"""


def test_every_module_imports_alone() -> None:
    """Each module imports first, in a process where no other mockforge module is loaded (an
    import cycle shows up here as an ImportError that depends on which module came first)."""
    names = sorted(set(MODULES) - _NOT_IMPORTED_ALONE)
    assert len(names) > 50
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, json.dumps(names)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert json.loads(out.stdout.splitlines()[-1]) == {}
