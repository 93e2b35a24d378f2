"""Every public name of ncedu is documented in numpydoc style, and listed on the book's API page.

Each public function and class has a one-line summary, ``Parameters`` naming every argument,
``Returns`` (or ``Yields``) when something comes back, and an ``Examples`` section with a doctest
(which ``tests/test_doctests.py`` runs); public methods and properties have the summary and the
sections they need; arguments documented as arrays are annotated ``ArrayLike``, not ``Any``; and
``book/api.md`` has an entry for every public function and class.

The public names are those of each public module's ``__all__`` (a module without one: the names
it defines without a leading underscore). The modules are found by walking the package, so a new
module is checked too; ``ncedu.data`` and ``ncedu.assign`` are not walked yet. The sections are
found by parsing the docstrings here, independently of numpydoc and of Sphinx, so a missing
section fails even where the API page would render without it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

#: Public modules not walked yet (their docstrings are being completed).
NOT_WALKED = ("ncedu.data", "ncedu.assign")


def _public_submodules(package: str) -> tuple[str, ...]:
    path = importlib.import_module(package).__path__
    return tuple(f"{package}.{info.name}" for info in pkgutil.iter_modules(path) if not info.name.startswith("_"))


#: The modules whose public names must be documented: ``ncedu``, every public module of the package
#: and of ``ncedu.theory`` (found here, so that a new one is walked too), and the registry of
#: ``ncedu.exercises`` (its exercise modules define no public API).
PUBLIC_MODULES = tuple(
    name for name in ("ncedu", *_public_submodules("ncedu"), *_public_submodules("ncedu.theory"))
    if name not in NOT_WALKED
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}$", re.MULTILINE)


# ----------------------------------------------------------------------------------------------
# A small numpydoc reader (sections and parameter names), written for this test
# ----------------------------------------------------------------------------------------------


def sections(doc: str) -> dict[str, str]:
    """The numpydoc sections of a cleaned docstring: title -> body ('' for the summary and text before)."""
    out: dict[str, str] = {}
    matches = list(_HEADER.finditer(doc))
    out[""] = doc[: matches[0].start()] if matches else doc
    for here, nxt in zip(matches, matches[1:] + [None]):
        out[here["title"].strip()] = doc[here.end(): nxt.start() if nxt else len(doc)]
    return out


def documented_types(body: str) -> dict[str, str]:
    """Parameter name -> type, from the unindented ``name : type`` lines of a ``Parameters`` (or
    ``Attributes``) section ('' where no type is given; ``a, b : int`` names two)."""
    types: dict[str, str] = {}
    for line in body.splitlines():
        if not line.strip() or line[0].isspace():
            continue
        head, *kind = re.split(r"\s+:(?:\s|$)", line, maxsplit=1)
        for name in head.split(","):
            types[name.strip().lstrip("*")] = kind[0].strip() if kind else ""
    return types


def documented_names(body: str) -> set[str]:
    """The parameter names of a ``Parameters`` (or ``Attributes``) section."""
    return set(documented_types(body))


def test_the_reader_finds_sections_and_names():
    doc = inspect.cleandoc('''Add two numbers.

    Longer text.

    Parameters
    ----------
    a, b : float
        The numbers.
    *rest : float
    key : str, optional

    Returns
    -------
    float
        ``a + b``.

    Examples
    --------
    >>> 1 + 1
    2
    ''')
    found = sections(doc)
    assert set(found) == {"", "Parameters", "Returns", "Examples"}
    assert documented_names(found["Parameters"]) == {"a", "b", "rest", "key"}
    assert documented_types(found["Parameters"]) == {"a": "float", "b": "float", "rest": "float", "key": "str, optional"}
    assert found[""].startswith("Add two numbers.")


# ----------------------------------------------------------------------------------------------
# What is public
# ----------------------------------------------------------------------------------------------


def public_names(module_name: str) -> Iterator[tuple[str, Any]]:
    """(dotted name, object) for each public function and class of the module."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and getattr(obj, "__module__", None) == module_name]
    for name in names:
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield f"{module_name}.{name}", obj


def members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties a class defines itself (not those it inherits)."""
    for name, attr in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(attr, (staticmethod, classmethod)):
            yield name, attr.__func__
        elif inspect.isfunction(attr) or isinstance(attr, property):
            yield name, attr


def all_public() -> dict[str, tuple[Any, str]]:
    """dotted name -> (object, kind) with kind in function, class, method, property."""
    out: dict[str, tuple[Any, str]] = {}
    seen: set[int] = set()  # ncedu.measure is ncedu.metrics.measure: checked once, under the first name
    for module_name in PUBLIC_MODULES:
        for dotted, obj in public_names(module_name):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                out[dotted] = (obj, "class")
                for name, attr in members(obj):
                    out[f"{dotted}.{name}"] = (attr, "property" if isinstance(attr, property) else "method")
            else:
                out[dotted] = (obj, "function")
    return out


PUBLIC = all_public()


def test_the_walk_finds_the_names_a_reader_looks_for():
    for name in ("ncedu.measure", "ncedu.NCAccumulator", "ncedu.measure_model", "ncedu.train", "ncedu.History",
                 "ncedu.History.save", "ncedu.NCMetrics.as_dict", "ncedu.viz.plot_collapse",
                 "ncedu.theory.webb_lowe_classifier", "ncedu.exercises.check", "ncedu.experiments.flagship"):
        assert name in PUBLIC, name
    assert not any(name.rsplit(".", 1)[-1].startswith("_") for name in PUBLIC)


# ----------------------------------------------------------------------------------------------
# The rules
# ----------------------------------------------------------------------------------------------


def _signature(obj: Any, kind: str) -> inspect.Signature | None:
    target = obj.fget if kind == "property" else obj
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def _parameters(obj: Any, kind: str) -> list[inspect.Parameter]:
    if kind == "property":
        return []
    if kind == "class" and not dataclasses.is_dataclass(obj):
        init = getattr(obj, "__init__", None)
        if not getattr(init, "__module__", "").startswith("ncedu"):
            return []  # the constructor of torch's nn.Module or of Exception: nothing of ours to document
    sig = _signature(obj, kind)
    if sig is None:
        return []
    params = [p for p in sig.parameters.values() if not p.name.startswith("_")]
    if kind == "method" and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return params


def _returns_something(obj: Any, kind: str) -> bool:
    signature = _signature(obj, kind) if kind in ("function", "method") else None
    return signature is not None and signature.return_annotation not in (None, "None", type(None))


def problems(name: str, obj: Any, kind: str) -> list[str]:
    """What the docstring of ``obj`` lacks, in words (empty when it is complete)."""
    target = obj.fget if kind == "property" else obj
    doc = inspect.getdoc(target) if kind != "class" else obj.__dict__.get("__doc__")
    if not doc or not doc.strip():
        return ["no docstring"]
    doc = inspect.cleandoc(doc)
    found = sections(doc)
    out = []
    for title in ("Parameters", "Attributes"):  # napoleon reads every unindented line there as an entry
        stray = [name for name in documented_names(found.get(title, "")) if not _IDENTIFIER.fullmatch(name)]
        if stray:
            out.append(f"{title} has lines that are not 'name : type' entries ({stray[0][:40]!r}...): "
                       "move prose to the summary or a Notes section")
    summary = found[""].strip().split("\n\n", 1)[0]
    if not summary or "\n" in summary:
        out.append("the summary is not one line (a blank line must follow it)")
    if kind == "property":
        return out
    signature = _signature(obj, kind)
    if kind in ("function", "method") and signature is not None and signature.return_annotation is inspect.Signature.empty:
        out.append("no return annotation")
    params = _parameters(obj, kind)
    if params:
        section = "Parameters"
        if kind == "class" and dataclasses.is_dataclass(obj) and "Parameters" not in found:
            section = "Attributes"  # a record: its fields are its attributes
        if section not in found:
            out.append(f"no {section} section (it takes {', '.join(p.name for p in params)})")
        else:
            missing = [p.name for p in params if p.name not in documented_names(found[section])]
            if missing:
                out.append(f"{section} does not name {', '.join(missing)}")
    if _returns_something(obj, kind):
        if inspect.isgeneratorfunction(obj):
            if "Yields" not in found:
                out.append("no Yields section")
        elif "Returns" not in found:
            out.append("no Returns section")
    if kind in ("function", "class"):
        if "Examples" not in found:
            out.append("no Examples section")
        elif ">>>" not in found["Examples"]:
            out.append("the Examples section has no doctest (>>>)")
    return out


@pytest.mark.parametrize("name", sorted(PUBLIC), ids=str)
def test_every_public_name_has_a_numpydoc_docstring(name):
    obj, kind = PUBLIC[name]
    found = problems(name, obj, kind)
    assert not found, f"{name} ({kind}): " + "; ".join(found)


def _annotation(param: inspect.Parameter) -> str:
    return param.annotation if isinstance(param.annotation, str) else inspect.formatannotation(param.annotation)


def array_inputs_typed_any(obj: Any, kind: str) -> list[str]:
    """Arguments documented as arrays or tensors but annotated ``Any``: they should say ``ArrayLike``."""
    if kind not in ("function", "method", "class"):
        return []
    doc = inspect.getdoc(obj) if kind != "class" else obj.__dict__.get("__doc__")
    body = sections(inspect.cleandoc(doc or "")).get("Parameters", "")
    types = documented_types(body)
    out = []
    for param in _parameters(obj, kind):
        documented = types.get(param.name, "").lower()
        if ("array" in documented or "tensor" in documented) and re.fullmatch(r"(Optional\[)?Any\]?", _annotation(param)):
            out.append(param.name)
    return out


@pytest.mark.parametrize("name", sorted(PUBLIC), ids=str)
def test_array_inputs_are_annotated_as_array_like(name):
    obj, kind = PUBLIC[name]
    loose = array_inputs_typed_any(obj, kind)
    assert not loose, f"{name}: {', '.join(loose)} documented as arrays but annotated Any (use ncedu._validation.ArrayLike)"


def test_the_rules_catch_an_undocumented_function():
    def f(x: int, y: int = 0) -> int:
        """Add.

        Parameters
        ----------
        x : int
        """
        return x + y

    found = problems("f", f, "function")
    assert any("does not name y" in p for p in found)
    assert "no Returns section" in found
    assert "no Examples section" in found
    assert problems("g", lambda: None, "function") == ["no docstring"]

    def g(x: int) -> None:
        """Nothing.

        Parameters
        ----------
        x : int
            A number.

        A paragraph that napoleon would render as a parameter.
        """

    assert any("not 'name : type' entries" in p for p in problems("g", g, "function"))

    def h(x: Any, y: "ArrayLike") -> None:
        """Nothing.

        Parameters
        ----------
        x, y : array of shape (N,)
            Two arrays.
        """

    assert array_inputs_typed_any(h, "function") == ["x"]


# ----------------------------------------------------------------------------------------------
# The API reference page lists them
# ----------------------------------------------------------------------------------------------

API_PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"
_AUTO = re.compile(r"^\.\. (?:auto(?:function|class|exception|data)|py:data):: (\S+)", re.MULTILINE)
#: ``automodule`` with ``:members:`` (no list): every name of the module's ``__all__``.
_MODULE = re.compile(r"^\.\. automodule:: (\S+)\n((?:[ \t]+:[\w-]+:.*\n)*)", re.MULTILINE)


def resolve(dotted: str) -> Any:
    """The object a dotted path names, as autodoc finds it: attributes from the package down, a
    submodule only where no attribute has the name (``ncedu.train`` is the function)."""
    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=2):
        obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(".".join(parts[:i]))
    return obj


def test_the_api_page_documents_every_public_function_and_class():
    text = API_PAGE.read_text()
    listed = _AUTO.findall(text)
    assert "ncedu.measure" in listed and "ncedu.History" in listed
    for module, options in _MODULE.findall(text):
        if re.search(r":members:\s*$", options, re.MULTILINE):
            listed += [f"{module}.{name}" for name in resolve(module).__all__]
    on_page = {id(resolve(name)) for name in listed}
    missing = [name for name, (obj, kind) in PUBLIC.items() if kind in ("function", "class") and id(obj) not in on_page]
    assert not missing, f"book/api.md does not document {missing}: add an autofunction/autoclass line in its group"
