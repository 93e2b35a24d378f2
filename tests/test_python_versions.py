"""ncedu's source compiles, and its pure-Python parts import, under Python 3.12 and 3.13.

Colab runs Python 3.13, and this machine has no torch wheel for it, so the simulated Colab
(tests/test_colab.py) runs Python 3.11. What can be checked on newer interpreters without
torch is checked here, with the interpreters installed under ``~/.pyenv/versions`` (skipped
where they are absent):

* every module of ``ncedu`` (subpackages included) byte-compiles with warnings as errors (3.12 made invalid escape
  sequences a ``SyntaxWarning``, a future ``SyntaxError``);
* every module whose imports, followed through the package, reach only the standard library
  is imported and run at top level. ``ncedu/__init__.py`` imports torch, so these modules
  are loaded as submodules of a namespace stand-in for the package, the way they would load
  if the package's ``__init__`` were lazy.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ncedu"
PYENV = Path.home() / ".pyenv" / "versions"


def interpreter(version: str):
    """The newest ``~/.pyenv/versions/<version>.*`` interpreter, or None."""
    found = sorted(PYENV.glob(f"{version}.*/bin/python{version}"), key=lambda p: [int(x) for x in p.parts[-3].split(".")])
    return found[-1] if found else None


VERSIONS = ["3.12", "3.13"]


def module_name(path: Path) -> str:
    """``metrics``, ``exercises._engine``, ``exercises`` (a subpackage's ``__init__``); ``""`` is ncedu itself."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def module_imports(name: str) -> tuple[set, set]:
    """(ncedu modules, top-level names of other packages) that module ``name`` imports at module level.

    Importing ``a.b`` runs the ``__init__`` of package ``a`` first, so parent packages count too
    (except ncedu's own, which the check replaces by a stand-in).
    """
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    internal, external = set(), set()

    def add_internal(dotted: str, names=()) -> None:
        internal.add(dotted)
        internal.update(f"{dotted}.{n}".strip(".") for n in names if f"{dotted}.{n}".strip(".") in MODULES)

    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:  # module level only: imports inside functions run on use
        for stmt in node.body if isinstance(node, (ast.Try, ast.If)) else [node]:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    top, _, rest = alias.name.partition(".")
                    if top == "ncedu":
                        add_internal(rest)
                    else:
                        external.add(top)
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
                top, _, rest = (stmt.module or "").partition(".")
                if top == "ncedu":
                    add_internal(rest, [a.name for a in stmt.names])
                elif top != "__future__":
                    external.add(top)
            elif isinstance(stmt, ast.ImportFrom):  # relative
                base = package.split(".") if package else []
                base = base[: len(base) - (stmt.level - 1)] if stmt.level > 1 else base
                target = ".".join(base + (stmt.module.split(".") if stmt.module else []))
                add_internal(target, [a.name for a in stmt.names])
    for dep in list(internal):  # the parent packages of every module imported
        parts = dep.split(".")
        internal.update(".".join(parts[:i]) for i in range(1, len(parts)))
    parts = name.split(".")
    internal.update(".".join(parts[:i]) for i in range(1, len(parts)))
    internal.discard(name)
    return internal, external


def standard_library_only_modules() -> list[str]:
    """Modules of ncedu whose module-level imports, followed through the package, are all standard library."""
    direct = {m: module_imports(m) for m in MODULES if m}
    stdlib = set(sys.stdlib_module_names)

    def pure(name: str, seen: frozenset = frozenset()) -> bool:
        if name not in direct:
            return False  # ncedu's own __init__ (it imports torch), or a name that is not a module
        internal, external = direct[name]
        if not external <= stdlib:
            return False
        return all(s in seen or pure(s, seen | {name}) for s in internal)

    return sorted(m for m in direct if pure(m))


def test_the_dependency_scan_sees_torch_where_it_is():
    # the scan that picks the modules to import must itself be right
    assert "torch" in module_imports("metrics")[1]
    assert "_io" in module_imports("assign")[0]
    pure = standard_library_only_modules()
    assert "_io" in pure and "metrics" not in pure and "history" not in pure, pure
    subpackages = {m.split(".")[0] for m in MODULES if "." in m}
    for sub in subpackages:  # a subpackage's modules need its __init__
        for m in MODULES:
            if m.startswith(sub + "."):
                assert sub in module_imports(m)[0]


CHECK = r"""
import importlib, json, py_compile, sys, tempfile, types, warnings
from pathlib import Path
package, pure = Path(sys.argv[1]), json.loads(sys.argv[2])
warnings.simplefilter("error")
out = Path(tempfile.mkdtemp())
compiled = []
for source in sorted(package.rglob("*.py")):
    name = source.relative_to(package).as_posix()
    py_compile.compile(str(source), cfile=str(out / (name.replace("/", "__") + "c")), doraise=True)
    compiled.append(name)
stand_in = types.ModuleType("ncedu")
stand_in.__path__ = [str(package)]
sys.modules["ncedu"] = stand_in
imported = []
for name in pure:
    importlib.import_module("ncedu." + name)
    imported.append(name)
assert "torch" not in sys.modules and "numpy" not in sys.modules
print(json.dumps({"version": sys.version.split()[0], "compiled": compiled, "imported": imported}))
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_ncedu_compiles_and_its_pure_python_modules_import(version, tmp_path):
    python = interpreter(version)
    if python is None:
        pytest.skip(f"no Python {version} under {PYENV}")
    pure = standard_library_only_modules()
    proc = subprocess.run(
        [str(python), "-I", "-c", CHECK, str(PACKAGE), json.dumps(pure)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"Python {version}:\n{proc.stderr[-3000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["version"].startswith(version + ".")
    assert result["compiled"] == sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))
    assert result["imported"] == pure and pure, "no pure-Python module was imported"
