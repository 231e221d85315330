"""The architecture rules of issue 13, counted on the source: what a newcomer trips over first.

    python benchmarks/architecture_report.py            # counts, then each finding
    python benchmarks/architecture_report.py --quiet    # counts only

For ``src/mockforge`` it counts:

    runtime import cycles        groups of modules that import each other at run time
    type-checking import cycles  the same with the imports under ``if TYPE_CHECKING:`` added
    string service lookups       ``services.get("x")``, ``services["x"]``, ``"x" in services``
    modules over 800 lines
    adapters importing adapters  ``http``, ``ws``, ``grpc`` among themselves (any import)
    core/schema importing up     ``core``/``schema`` importing an adapter, the server or a CLI

How imports are read: every ``.py`` file is parsed with ``ast`` (nothing is imported, so a
broken module is still counted). Every ``import`` statement counts wherever it stands: at the
top, inside a function (it runs on the first call, and a cycle through it still ties the two
modules together), or under ``if TYPE_CHECKING:`` (counted only in the second graph). Relative
names are resolved against the module's package; ``import a.b`` is an edge to ``a.b``; ``from a
import b`` is an edge to ``a.b`` when that is a module, else to ``a``; a package stands for its
``__init__.py``. The parent packages a dotted import also runs are not edges: every module would
otherwise reach ``mockforge/__init__.py``, which says nothing about the design. A cycle is
counted once per strongly connected group of modules (a group of five tangled modules is one
finding, listed with its members and one concrete loop).

tests/test_architecture.py calls the same functions and asserts each count is 0. Runs in well
under a second: a parse of ~80 files.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "mockforge"
MAX_LINES = 800
ADAPTERS = ("http", "ws", "grpc")
#: packages that decide answers and must not know who asked
LOWER = ("core", "schema")
#: what a lower package must not import: the adapters, the server that wires them, and CLIs
UPPER_MODULES = ("server", "cli", "__main__")
SERVICE_NAMES = frozenset({"services"})


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``
    local: bool  # inside a function


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    tree: ast.Module
    lines: int
    edges: list[Edge] = field(default_factory=list)


# --------------------------------------------------------------------------- reading the source
def load_modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of ``package`` under ``src``, parsed, with its import edges."""
    modules: dict[str, Module] = {}
    for path in sorted((src / package).rglob("*.py")):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        text = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        modules[name] = Module(name, path, is_package, ast.parse(text, str(path)), text.count("\n"))
    for module in modules.values():
        module.edges = list(_edges(module, modules))
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, type_only: bool, local: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    """Every node below ``node`` with whether it sits under ``if TYPE_CHECKING:`` / in a function."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True, local
                yield from _walk(stmt, True, local)
            for stmt in child.orelse:
                yield stmt, type_only, local
                yield from _walk(stmt, type_only, local)
            continue
        inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield child, type_only, inner
        yield from _walk(child, type_only, inner)


def _resolve_from(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _edges(module: Module, modules: dict[str, Module]) -> Iterator[Edge]:
    def known(name: str) -> str | None:
        while name and name not in modules:  # ``import mockforge.x.attr`` style: nearest module
            name = name.rpartition(".")[0]
        return name or None

    for node, type_only, local in _walk(module.tree, False, False):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(module, node)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.append(full if full in modules else base)
        for target in targets:
            if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
                continue
            resolved = known(target)
            if resolved is not None and resolved != module.name:
                yield Edge(module.name, resolved, getattr(node, "lineno", 0), type_only, local)


# --------------------------------------------------------------------------- the rules
def graph(modules: dict[str, Module], *, with_type_checking: bool) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in modules}
    for module in modules.values():
        for edge in module.edges:
            if with_type_checking or not edge.type_only:
                out[edge.source].add(edge.target)
    return out


def import_cycles(modules: dict[str, Module], *, with_type_checking: bool) -> list[str]:
    """Each group of modules that import each other (a strongly connected component of two or
    more): its size, one concrete loop through it, and its other members; sorted."""
    g = graph(modules, with_type_checking=with_type_checking)
    found = []
    for group in _components(g):
        if len(group) < 2:
            continue
        loop = _loop(g, group)
        rest = sorted(group - set(loop))
        also = f" (also in the group: {', '.join(rest)})" if rest else ""
        found.append(f"{len(group)} modules: {' -> '.join(loop)}{also}")
    return sorted(found)


def _components(g: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iterative (no recursion limit to think about)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    counter = 0
    for start in sorted(g):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _loop(g: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest loop from the group's first member back to itself (breadth first)."""
    start = min(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(g[node] & group):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start]


def _is_services(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in SERVICE_NAMES) or (
        isinstance(node, ast.Attribute) and node.attr in SERVICE_NAMES
    )


def _is_str(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def service_lookups(modules: dict[str, Module]) -> list[str]:
    """``file:line: code`` for every service looked up by a string key."""
    found: list[str] = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            hit = False
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                func = node.func
                hit = (
                    func.attr in ("get", "pop", "setdefault")
                    and _is_services(func.value)
                    and bool(node.args)
                    and _is_str(node.args[0])
                )
            elif isinstance(node, ast.Subscript):
                hit = _is_services(node.value) and _is_str(node.slice)
            elif isinstance(node, ast.Compare):
                hit = (
                    _is_str(node.left)
                    and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
                    and any(_is_services(c) for c in node.comparators)
                )
            if hit:
                found.append(f"{_where(module, node)}: {ast.unparse(node)[:80]}")
    return sorted(found)


def long_modules(modules: dict[str, Module], limit: int = MAX_LINES) -> list[str]:
    return sorted(f"{_rel(m.path)}: {m.lines} lines" for m in modules.values() if m.lines > limit)


def _area(name: str) -> str:
    """``mockforge.http.app`` -> ``http``; a top-level module is its own area."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_upper(name: str) -> bool:
    parts = name.split(".")
    return _area(name) in ADAPTERS or (len(parts) >= 2 and parts[-1] in UPPER_MODULES)


def adapter_imports(modules: dict[str, Module]) -> list[str]:
    """An adapter importing another adapter (runtime or TYPE_CHECKING)."""
    return sorted(
        f"{_where(m, e)}: {e.source} -> {e.target}"
        for m in modules.values()
        for e in m.edges
        if _area(e.source) in ADAPTERS and _area(e.target) in ADAPTERS and _area(e.source) != _area(e.target)
    )


def lower_imports(modules: dict[str, Module]) -> list[str]:
    """``core``/``schema`` importing an adapter, the server or a CLI module."""
    return sorted(
        f"{_where(m, e)}: {e.source} -> {e.target}"
        for m in modules.values()
        for e in m.edges
        if _area(e.source) in LOWER and _is_upper(e.target)
    )


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _where(module: Module, node: ast.AST | Edge) -> str:
    return f"{_rel(module.path)}:{getattr(node, 'lineno', None) or getattr(node, 'line', 0)}"


# --------------------------------------------------------------------------- report
def report(modules: dict[str, Module]) -> dict[str, list[str]]:
    """Rule name -> its findings (each a printable line); every rule wants none."""
    return {
        "runtime import cycles": import_cycles(modules, with_type_checking=False),
        "type-checking import cycles": import_cycles(modules, with_type_checking=True),
        "string-keyed service lookups": service_lookups(modules),
        f"modules over {MAX_LINES} lines": long_modules(modules),
        "adapters importing each other": adapter_imports(modules),
        "core/schema importing an adapter, server or CLI": lower_imports(modules),
    }


def _print(findings: dict[str, list[str]], quiet: bool, out: Iterable[str] = ()) -> None:
    width = max(len(rule) for rule in findings)
    for rule, items in findings.items():
        print(f"{rule:<{width}}  {len(items)}")
    if quiet:
        return
    for rule, items in findings.items():
        if items:
            print(f"\n{rule}:")
            for item in items:
                print(f"  {item}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    args = parser.parse_args(argv)
    modules = load_modules()
    findings = report(modules)
    print(f"{len(modules)} modules in {_rel(SRC / PACKAGE)}")
    _print(findings, args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
