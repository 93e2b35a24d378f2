"""The package's shape: no import cycle, small modules, the documented module map, a light import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ncedu"

#: Modules allowed over MAX_LINES, each with the reason.
LONG_MODULES = {
    "ncedu/data.py": "every dataset's loader, checksums and download in one place (split when a dataset is added)",
    "ncedu/assign.py": "the student-edition generator and its nbgrader metadata, one job with many marker forms",
}
MAX_LINES = 600


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_at_module_level(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                out.add(target)
            for alias in node.names:  # "from . import data" imports the module ncedu.data
                out.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("ncedu"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ncedu"):
            out.add(node.module)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """A cycle of the directed graph as a list of nodes (first == last), or [] if there is none."""
    colour: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if colour.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        colour[node] = 2
        path.pop()
        return []

    for node in sorted(graph):
        if colour.get(node) is None:
            found = visit(node)
            if found:
                return found
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_of_ncedu_imports_itself_back_through_another():
    """Edges from a package to its own submodules (an __init__ re-exporting them) are not cycles;
    a submodule that imports its package's __init__ back, or two modules importing each other, are."""
    mods = modules()
    graph = {m: {t for t in imports_at_module_level(m, p) if t in mods and t != m and not t.startswith(m + ".")}
             for m, p in mods.items()}
    cycle = find_cycle(graph)
    assert not cycle, " -> ".join(cycle)


@pytest.mark.parametrize("name", sorted(modules()), ids=str)
def test_modules_stay_small(name):
    path = modules()[name]
    lines = len(path.read_text().splitlines())
    key = str(path.relative_to(ROOT))
    if key in LONG_MODULES:
        return
    assert lines <= MAX_LINES, f"{key} has {lines} lines (> {MAX_LINES}); split it or say why in LONG_MODULES"


def test_the_architecture_document_lists_every_module():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    def named(module: str) -> bool:
        forms = {module, module.split(".", 1)[-1], module.rsplit(".", 1)[-1]}  # ncedu.theory.sphere, theory.sphere, sphere
        return any(f"`{form}`" in text for form in forms)

    missing = [name for name in modules() if not named(name)]
    assert not missing, f"ARCHITECTURE.md does not mention {missing}"


def test_import_ncedu_loads_neither_pyplot_nor_scipy_nor_the_exercises():
    code = ("import sys, ncedu; print(sorted(m for m in ('matplotlib.pyplot', 'scipy', 'ipywidgets', "
            "'ncedu.exercises', 'ncedu.viz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
