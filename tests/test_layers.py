"""The structure of lakeml's imports: layers, no cycles, no private names across packages.

The layers are the contract in .importlinter, checked here as `make lint` checks it, so
that `make test` fails on an import that goes up too. Imports inside functions and under
TYPE_CHECKING count: grimp, which import-linter builds its graph with, sees them all.

The allow-lists below hold the violations left on the day the checks were added, each
naming the issue 17 helper whose branch removes it; an entry no longer found fails the
test, so the lists only shrink. They should end empty.
"""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lakeml"

# Imports (importer, imported) that close a cycle today; without them the graph has none.
ALLOWED_CYCLES: dict[tuple[str, str], str] = {}

# Uses of another package's private names: (module, name) -> the helper that removes it.
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {}

# Private attributes of another package's objects read here: (module, name) -> the helper
# that gives the operation a public name.
ALLOWED_REACH_INS: dict[tuple[str, str], str] = {}

# MLflow's loader protocol: a flavor's loader module exposes ``_load_pyfunc``, so the
# top-level flavor modules (lakeml.sklearn...) re-export it from lakeml.models.flavors.
PROTOCOL_NAMES = frozenset({"_load_pyfunc"})


def test_import_layers_contract_holds() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("lakeml", cache_dir=None)


def _cycles(graph: grimp.ImportGraph, skipped: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), ``skipped``
    imports left out."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if (module, imported) in skipped:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _import_lines(graph: grimp.ImportGraph, importer: str, imported: str) -> list[int]:
    return sorted({d["line_number"] for d in graph.get_import_details(importer=importer,
                                                                      imported=imported)})


def test_no_import_cycles() -> None:
    graph = _graph()
    stale = [edge for edge in ALLOWED_CYCLES
             if not graph.direct_import_exists(importer=edge[0], imported=edge[1])]
    assert not stale, f"fixed, remove from ALLOWED_CYCLES: {stale}"
    cycles = _cycles(graph, set(ALLOWED_CYCLES))
    shown = []
    for component in cycles:
        members = set(component)
        shown.append("\n".join(
            f"  {a} -> {b} (line {', '.join(map(str, _import_lines(graph, a, b)))})"
            for a in component for b in sorted(graph.find_modules_directly_imported_by(a))
            if b in members and (a, b) not in ALLOWED_CYCLES))
    assert not cycles, "import cycles:\n" + "\n\n".join(shown)


def test_the_cycle_finder_finds_a_package_importing_its_init_back() -> None:
    graph = grimp.ImportGraph()
    for module in ("p", "p.a", "p.b"):
        graph.add_module(module)
    graph.add_import(importer="p", imported="p.a")  # __init__ re-exports p.a: no cycle
    graph.add_import(importer="p.a", imported="p.b")
    assert _cycles(graph, set()) == []
    graph.add_import(importer="p.b", imported="p")  # p.b imports the __init__ back: a cycle
    assert _cycles(graph, set()) == [["p", "p.a", "p.b"]]


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    """The top-level package of a lakeml module: lakeml.tracking.client -> lakeml.tracking."""
    return ".".join(module.split(".")[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything but names and attributes."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_uses(path: Path) -> list[tuple[str, int, str]]:
    """(module, line, name) of each private name of another lakeml package ``path`` uses:
    ``from lakeml.x.y import _name``, or ``alias._name`` where ``alias`` is a lakeml module
    (or a name) imported from another package."""
    module = _module_name(path)
    here = _package(module)
    tree = _parsed(path)
    bound: dict[str, str] = {}  # local name -> the lakeml object it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(module, node, path.name == "__init__.py")
            if source.split(".")[0] != "lakeml":
                continue
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                if (_private(alias.name) and _package(source) != here
                        and alias.name not in PROTOCOL_NAMES):
                    found.append((module, node.lineno, f"{source}.{alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lakeml":
                    bound[alias.asname or "lakeml"] = alias.name if alias.asname else "lakeml"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        parts = _dotted(node.value)
        if not parts or parts[0] not in bound:
            continue
        target = ".".join([bound[parts[0]], *parts[1:]])
        if _package(target) != here and node.attr not in PROTOCOL_NAMES:
            found.append((module, node.lineno, f"{target}.{node.attr}"))
    return found


def test_no_private_names_used_across_packages() -> None:
    uses = [use for path in sorted(PACKAGE.rglob("*.py")) for use in private_uses(path)]
    stale = set(ALLOWED_PRIVATE) - {(module, name) for module, _, name in uses}
    assert not stale, f"fixed, remove from ALLOWED_PRIVATE: {sorted(stale)}"
    assert [use for use in uses if (use[0], use[2]) not in ALLOWED_PRIVATE] == []


@pytest.mark.parametrize("source, expected", [
    ("from lakeml.tracking.backend import _cache\n", ["lakeml.tracking.backend._cache"]),
    ("from lakeml.tracking import backend\nbackend._cache\n",
     ["lakeml.tracking.backend._cache"]),
    ("import lakeml.tracking.backend as b\nb._cache.clear()\n",
     ["lakeml.tracking.backend._cache"]),
    ("import lakeml.tracking.backend\nlakeml.tracking.backend._cache\n",
     ["lakeml.tracking.backend._cache"]),
    ("from lakeml.cli.args import _UNITS\nfrom .args import _UNITS\n", []),  # own package
    ("from lakeml.models.flavors.sklearn import _load_pyfunc\n", []),  # the loader protocol
    ("from lakeml import config\nconfig.__name__\n", []),  # dunders are public
])
def test_the_private_name_scan(tmp_path: Path, source: str, expected: list[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "lakeml" / "cli"
    folder.mkdir(parents=True)
    (folder / "probe.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert [name for _, _, name in private_uses(folder / "probe.py")] == expected


def _defined_private_names(tree: ast.AST) -> set[str]:
    """The private names a module defines: functions, classes, assignments, attributes
    it sets, parameters."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return {name for name in names if _private(name)}


def test_no_private_attributes_of_other_packages() -> None:
    """``obj._name`` where ``_name`` is defined in another lakeml package and not in this
    one (``client._writable``): a reach-in the import scan cannot see."""
    trees = {path: _parsed(path) for path in sorted(PACKAGE.rglob("*.py"))}
    defined: dict[str, set[str]] = {}
    for path, tree in trees.items():
        defined.setdefault(_package(_module_name(path)), set()).update(
            _defined_private_names(tree))
    found = set()
    for path, tree in trees.items():
        module = _module_name(path)
        own = defined[_package(module)]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                    and _private(node.attr) and node.attr not in own
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls"))
                    and any(node.attr in names for names in defined.values())):
                found.add((module, node.attr))
    assert not set(ALLOWED_REACH_INS) - found, "fixed, remove from ALLOWED_REACH_INS"
    assert sorted(found - set(ALLOWED_REACH_INS)) == []

