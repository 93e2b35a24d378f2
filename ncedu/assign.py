r"""Student editions of the book's chapters: the exercises without their solutions.

::

    python -m ncedu.assign book/notation.ipynb book/nc1.ipynb -o student/
    python -m ncedu.assign book/notation.ipynb -o course/source/notation --nbgrader-source

The student edition of a chapter (same file name, in the output folder) never contains solution
material, however it is marked:

* **code**: the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are replaced by the
  stub ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, indented like the BEGIN line, exactly
  as nbgrader's ``ClearSolutions`` preprocessor does (any line containing ``BEGIN SOLUTION`` or
  ``END SOLUTION`` is a marker); the ``check(...)`` calls after it stay, and report the stub as
  "not attempted";
* **markdown and raw cells**: a ``BEGIN SOLUTION`` ... ``END SOLUTION`` region is replaced by
  nbgrader's text stub ``YOUR ANSWER HERE``; every ``{solution}`` directive and every
  ``{solution-start}`` ... ``{solution-end}`` span is removed, wherever MyST would render it:
  any indentation (inside a list item, a block quote, a footnote or another directive),
  backtick, tilde or colon fences, directive names in any case. A gated span may run across
  cells, as sphinx-exercise allows: the cells inside it are dropped. The markdown is read by
  markdown-it-py with the block syntax MyST uses, so that "a block" means what it means on the
  website; a block in a plain code fence (```` ```text ````) is shown as code and stays;
* **nbgrader metadata**: a cell marked ``metadata.nbgrader.solution`` is cleared even without
  markers (code: the stub; markdown and raw: ``YOUR ANSWER HERE``), and ``BEGIN HIDDEN TESTS`` ...
  ``END HIDDEN TESTS`` regions are removed, as nbgrader does;
* outputs, execution counts and unused cell attachments are cleared, and the ``hide-input`` tag
  is removed from the cells whose solution was cleared, so that students see the stub.

Unless ``--plain`` is given, the edition carries nbgrader cell metadata, so that it can be
graded with nbgrader: each exercise cell is an answer cell (``solution: true``, ``grade: false``),
the Colab set-up cell and the exercise statements are read-only, and after each exercise cell
comes an autograded test cell (1 point per ``check`` call) that re-runs the check quietly and
asserts that it passed. A notebook that already carries nbgrader metadata keeps its own.
``--nbgrader-source`` writes the instructor's version instead: the same cells and metadata with
the solution code kept between its markers, for ``nbgrader generate_assignment``, whose release is
then the student edition.

A notebook that assign cannot read safely is refused, with an error naming the file, the cell
and the line: unbalanced markers, an unclosed solution block, a solution directive where MyST
syntax cannot reach it (an ``{eval-rst}`` block, raw HTML, a fence after text on the same line),
malformed cells or nbgrader metadata, JSON that is not a notebook, an nbformat version other than
4 (nbformat-3 notebooks are converted to version 4 with ``nbformat`` first). Every notebook is
converted before anything is written, files are written atomically, and never into the folder
of a source chapter (nor onto one of the input files).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from ._io import atomic_path

__all__ = ["AssignError", "Report", "CODE_STUB", "TEXT_STUB", "clear_code", "clear_text", "clear_hidden_tests",
           "strip_solution_text", "read_notebook", "student_edition", "nbgrader_source", "write_student_editions",
           "main"]

#: What replaces a solution region in code: nbgrader's default code stub for Python.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
#: What replaces a solution region in markdown and raw cells: nbgrader's default text stub.
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN = "BEGIN SOLUTION"
END = "END SOLUTION"
BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
HIDE_TAG = "hide-input"
SETUP_TAG = "ncedu-setup"
#: Points of each autograded test cell (one per ``check`` call).
POINTS = 1

_CELL_TYPES = ("code", "markdown", "raw")
_SOLUTION_DIRECTIVES = {"solution": "solution", "solution-start": "start", "solution-end": "end"}
# Directives whose body MyST shows as code (or hands to another parser) rather than parsing as markdown.
_LITERAL_DIRECTIVES = {"code", "code-block", "sourcecode", "code-cell", "math", "raw", "eval-rst",
                       "literalinclude", "mermaid", "graphviz", "csv-table"}
_DIRECTIVE = re.compile(r"^\{([^{}\s]+)\}")
# What is left of a solution directive that the parser did not see as one (checked after stripping).
_LEFTOVER = re.compile(r"(?:`{3,}|~{3,}|:{3,})[ \t]*\{solution(?:-start|-end)?\}|\.\.[ \t]+solution(?:-start|-end)?::",
                       re.IGNORECASE)
_EXERCISE = re.compile(r"(?:`{3,}|~{3,}|:{3,})[ \t]*\{exercise(?:-start)?\}", re.IGNORECASE)
_CHECK_CALL = re.compile(r"""\bcheck\(\s*(["'])([A-Za-z0-9_-]+)\1\s*,\s*([A-Za-z_][A-Za-z0-9_]*)""")
_GRADE_ID = re.compile(r"[^A-Za-z0-9_-]+")


class AssignError(ValueError):
    """A notebook or an argument that assign refuses; the message names the file, cell and line.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
    ...       "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": "### END SOLUTION"}]}
    >>> try:
    ...     student_edition(nb, "ch.ipynb")
    ... except AssignError as err:
    ...     print(err)
    ch.ipynb, cell 0 (code), line 1: 'END SOLUTION' without a 'BEGIN SOLUTION' before it (solution markers must pair up)
    """


@dataclass(frozen=True)
class Report:
    r"""What :func:`student_edition` did to one notebook.

    Attributes
    ----------
    code_solutions : int
        ``BEGIN SOLUTION`` regions of code cells replaced by the stub (kept, in the nbgrader source).
    text_solutions : int
        Solution text removed: marker regions of markdown and raw cells, ``{solution}`` blocks and
        gated spans.
    cells_dropped : int
        Cells left out: markdown that held nothing but solutions, and every cell inside a gated span.
    cells_cleared : int
        Cells cleared because their nbgrader metadata marks them as solutions.
    hidden_tests : int
        ``BEGIN HIDDEN TESTS`` regions removed.
    answer_cells, test_cells : int
        nbgrader answer cells marked, and autograded test cells added.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
    ...      "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\ncheck('nc3', f)"}]}
    >>> student_edition(nb)[1]
    Report(code_solutions=1, text_solutions=0, cells_dropped=0, cells_cleared=0, hidden_tests=0,
           answer_cells=1, test_cells=1)
    """

    code_solutions: int
    text_solutions: int
    cells_dropped: int
    cells_cleared: int = 0  # cells cleared because of their nbgrader solution metadata
    hidden_tests: int = 0
    answer_cells: int = 0
    test_cells: int = 0


# ----------------------------------------------------------------------------------------------
# Marker regions (code, markdown and raw cells), with nbgrader's semantics
# ----------------------------------------------------------------------------------------------


def _clear_regions(source: str, begin: str, end: str, stub: Optional[str]) -> tuple[str, int]:
    """Replace each ``begin`` ... ``end`` region by ``stub`` (indented like the begin line; None: remove it)."""
    out: list[str] = []
    inside = False
    count = 0
    begin_line = 0
    for number, line in enumerate(source.split("\n"), start=1):
        if begin in line:
            if inside:
                raise ValueError(f"line {number}: nested '{begin}' (the region opened on line {begin_line} "
                                 f"has no '{end}')")
            inside, begin_line = True, number
            count += 1
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif end in line:
            if not inside:
                raise ValueError(f"line {number}: '{end}' without a '{begin}' before it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"line {begin_line}: '{begin}' without an '{end}'")
    return "\n".join(out), count


def clear_code(source: str, stub: str = CODE_STUB) -> tuple[str, int]:
    r"""Replace each BEGIN/END SOLUTION region of a code cell by a stub, indented like BEGIN.

    Parameters
    ----------
    source : str
        The cell's code. Any line containing ``BEGIN SOLUTION`` (or ``END SOLUTION``) is a marker,
        as in nbgrader.
    stub : str, default :data:`CODE_STUB`
        What replaces each region.

    Returns
    -------
    tuple of (str, int)
        The new source and the number of regions replaced.

    Raises
    ------
    ValueError
        On unbalanced markers, naming the line (nbgrader also refuses nested BEGINs and a missing
        END; it ignores a stray END, which is refused here too).

    Examples
    --------
    >>> print(clear_code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")[0])
    def f():
        # YOUR CODE HERE
        raise NotImplementedError()
    """
    return _clear_regions(source, BEGIN, END, stub)


def clear_text(source: str, stub: str = TEXT_STUB) -> tuple[str, int]:
    r"""Replace each BEGIN/END SOLUTION region of a markdown or raw cell by nbgrader's text stub.

    Parameters
    ----------
    source : str
        The cell's text.
    stub : str, default :data:`TEXT_STUB`
        What replaces each region.

    Returns
    -------
    tuple of (str, int)
        The new text and the number of regions replaced.

    Examples
    --------
    >>> clear_text("Answer:\n<!-- BEGIN SOLUTION -->\nIt is 3.\n<!-- END SOLUTION -->")
    ('Answer:\nYOUR ANSWER HERE', 1)
    """
    return _clear_regions(source, BEGIN, END, stub)


def clear_hidden_tests(source: str) -> tuple[str, int]:
    r"""Remove each ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` region, as nbgrader's ``ClearHiddenTests``.

    Parameters
    ----------
    source : str
        A cell's source.

    Returns
    -------
    tuple of (str, int)
        The source without the regions, and their number.

    Examples
    --------
    >>> clear_hidden_tests("assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS")
    ('assert f(1) == 1', 1)
    """
    return _clear_regions(source, BEGIN_HIDDEN, END_HIDDEN, None)


# ----------------------------------------------------------------------------------------------
# Solution directives in markdown, found as MyST finds them
# ----------------------------------------------------------------------------------------------

_PARSER = None


def _markdown_parser():
    """markdown-it-py with the block syntax of MyST (as configured by Jupyter Book 1.x by default)."""
    global _PARSER
    if _PARSER is None:
        try:
            from markdown_it import MarkdownIt
            from mdit_py_plugins.colon_fence import colon_fence_plugin
            from mdit_py_plugins.dollarmath import dollarmath_plugin
            from mdit_py_plugins.footnote import footnote_plugin
            from mdit_py_plugins.front_matter import front_matter_plugin
            from mdit_py_plugins.myst_blocks import myst_block_plugin
        except ImportError as err:
            raise AssignError("ncedu.assign reads markdown as MyST does and needs markdown-it-py and mdit-py-plugins "
                              f"(pip install markdown-it-py mdit-py-plugins; both come with the book's "
                              f"requirements.txt): {err}") from None
        _PARSER = (MarkdownIt("commonmark").enable("table").use(front_matter_plugin).use(myst_block_plugin)
                   .use(footnote_plugin).use(dollarmath_plugin).use(colon_fence_plugin))
    return _PARSER


@dataclass
class _Block:
    kind: str  # "solution", "start" or "end"
    name: str  # as written
    first: int  # 0-based line of the opening fence
    stop: int  # 0-based line after the block
    closed: bool


def _is_closed(lines: list[str], token) -> bool:
    first, stop = token.map
    if stop - 1 <= first or stop - 1 >= len(lines):
        return False
    last = re.sub(r"^[\s>]*", "", lines[stop - 1]).rstrip()
    return bool(last) and set(last) == {token.markup[0]} and len(last) >= len(token.markup)


def _scan(text: str, offset: int, blocks: list[_Block], literal: list[tuple[int, int]]) -> None:
    """Collect the solution blocks of ``text`` (lines numbered from ``offset``), recursing into directives.

    The body of a directive is parsed as markdown, as MyST does (except for directives whose body
    is code); so is an indented code block, so that a solution fence indented too far is still
    found. Plain code fences are literal: their line ranges go to ``literal``.
    """
    lines = text.split("\n")
    for token in _markdown_parser().parse(text):
        if token.map is None:
            continue
        first, stop = token.map[0] + offset, token.map[1] + offset
        if token.type in ("fence", "colon_fence"):
            match = _DIRECTIVE.match(token.info.strip())
            if not match:
                literal.append((first, stop))
                continue
            name = match.group(1)
            kind = _SOLUTION_DIRECTIVES.get(name.lower())
            if kind:
                blocks.append(_Block(kind, name, first, stop, _is_closed(lines, token)))
            elif name.lower() in _LITERAL_DIRECTIVES:
                if name.lower() != "eval-rst":  # reStructuredText can hold a `.. solution::`: checked after
                    literal.append((first, stop))
            else:
                _scan(token.content, first + 1, blocks, literal)
        elif token.type == "code_block":
            _scan(token.content, first, blocks, literal)


def _strip_directives(text: str, gate: Optional[int]) -> tuple[str, int, bool]:
    """Remove the solution blocks of one cell's text.

    ``gate`` is not None when a ``{solution-start}`` of an earlier cell is still open (the cell
    starts inside the span). Returns the kept text, the number of solutions removed (a gated span
    counts where it starts) and whether a span is still open at the end of the cell. Raises
    ValueError naming the line.
    """
    lines = text.split("\n")
    blocks: list[_Block] = []
    _scan(text, 0, blocks, [])
    remove = [False] * len(lines)
    count = 0
    open_from = 0 if gate is not None else None
    for block in sorted(blocks, key=lambda b: b.first):
        where = f"line {block.first + 1}"
        if not block.closed:
            raise ValueError(f"{where}: the {{{block.name}}} block opened here is never closed")
        if block.kind == "solution":
            if open_from is None:
                remove[block.first:block.stop] = [True] * (block.stop - block.first)
                count += 1
        elif block.kind == "start":
            if open_from is not None:
                raise ValueError(f"{where}: {{{block.name}}} inside a {{solution-start}} ... {{solution-end}} span "
                                 "that is still open")
            open_from = block.first
            count += 1
        else:
            if open_from is None:
                raise ValueError(f"{where}: {{{block.name}}} without a {{solution-start}} before it")
            remove[open_from:block.stop] = [True] * (block.stop - open_from)
            open_from = None
    still_open = open_from is not None
    if still_open:
        remove[open_from:] = [True] * (len(lines) - open_from)
    if not any(remove):
        return text, count, still_open
    kept: list[str] = []
    skipping_blank = False
    for line, gone in zip(lines, remove):
        if gone:
            # blank lines after a removed block are dropped when the text before it ends in one
            skipping_blank = not kept or not kept[-1].strip()
            continue
        if skipping_blank and not line.strip():
            continue
        skipping_blank = False
        kept.append(line)
    return "\n".join(kept).strip("\n"), count, still_open


def _leftover(text: str) -> Optional[tuple[int, str]]:
    """The first line of ``text`` that still looks like a solution directive outside a plain code block."""
    literal: list[tuple[int, int]] = []
    _scan(text, 0, [], literal)
    for number, line in enumerate(text.split("\n")):
        if _LEFTOVER.search(line) and not any(a < number < b for a, b in literal):
            return number + 1, line.strip()
    return None


def strip_solution_text(source: str) -> tuple[str, int]:
    r"""Remove every ``{solution}`` block and ``{solution-start}`` ... ``{solution-end}`` span of one cell.

    Parameters
    ----------
    source : str
        Markdown. Blocks are found as MyST finds them: any indentation, backtick, tilde or colon
        fences, in list items, block quotes, footnotes and other directives.

    Returns
    -------
    tuple of (str, int)
        The remaining markdown (no leading or trailing blank lines when something was removed) and
        the number of solutions removed.

    Raises
    ------
    ValueError
        Naming the line: an unclosed block, a span that does not end in the text, a stray
        ``{solution-end}``.

    Examples
    --------
    >>> strip_solution_text("1. Prove it.\n\n    ```{solution} ex\n    Because.\n    ```\n\n2. Next.")
    ('1. Prove it.\n\n2. Next.', 1)
    """
    text, count, still_open = _strip_directives(source, None)
    if still_open:
        raise ValueError("a {solution-start} without a {solution-end} after it in the same text")
    return text, count


# ----------------------------------------------------------------------------------------------
# Reading notebooks
# ----------------------------------------------------------------------------------------------


def _text(source: Union[str, list]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _like(original: Union[str, list], text: str) -> Union[str, list]:
    """``text`` in the representation (one string or a list of lines) of ``original``."""
    return text if isinstance(original, str) else re.findall(r"[^\n]*\n|[^\n]+$", text)


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "a JSON boolean"
    if value is None:
        return "JSON null"
    return {dict: "a JSON object", list: "a JSON list", str: "a JSON string", int: "a JSON number",
            float: "a JSON number"}.get(type(value), f"a {type(value).__name__}")


def _as_notebook(data, name: str) -> dict:
    """``data`` (parsed JSON) as an nbformat-4 notebook dict, validated enough to clear it safely."""
    if not isinstance(data, dict):
        raise AssignError(f"{name}: not a notebook: the file holds {_json_kind(data)}, a notebook is a JSON "
                          "object with 'nbformat', 'metadata' and 'cells'")
    major = data.get("nbformat")
    if major is None:
        raise AssignError(f"{name}: not a notebook: the JSON object has no 'nbformat' field "
                          f"(its keys: {', '.join(sorted(map(str, data))[:8]) or 'none'})")
    if isinstance(major, bool) or not isinstance(major, int):
        raise AssignError(f"{name}: not a notebook: 'nbformat' is {major!r}, expected the integer 4")
    if major == 3:
        data = _from_v3(data, name)
    elif major != 4:
        raise AssignError(f"{name}: an nbformat-{major} notebook; assign reads nbformat 4 (and converts 3)")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise AssignError(f"{name}: not an nbformat-4 notebook: 'cells' is "
                          f"{'missing' if cells is None else _json_kind(cells)}, expected a list")
    if not isinstance(data.get("metadata", {}), dict):
        raise AssignError(f"{name}: the notebook's 'metadata' is not a JSON object")
    for index, cell in enumerate(cells):
        where = f"{name}, cell {index}"
        if not isinstance(cell, dict):
            raise AssignError(f"{where}: a cell must be a JSON object, got {_json_kind(cell)}")
        kind = cell.get("cell_type")
        if kind not in _CELL_TYPES:
            raise AssignError(f"{where}: unknown cell_type {kind!r} (expected one of {', '.join(_CELL_TYPES)}); "
                              "assign does not know what such a cell shows")
        source = cell.get("source", "")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            raise AssignError(f"{where} ({kind}): 'source' must be a string or a list of strings")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise AssignError(f"{where} ({kind}): 'metadata' must be a JSON object")
        if "nbgrader" in metadata and not isinstance(metadata["nbgrader"], dict):
            raise AssignError(f"{where} ({kind}): metadata.nbgrader must be a JSON object, got "
                              f"{metadata['nbgrader']!r}")
        tags = metadata.get("tags", [])
        if not isinstance(tags, list):
            raise AssignError(f"{where} ({kind}): metadata.tags must be a list")
    return data


def _from_v3(data: dict, name: str) -> dict:
    """An nbformat-3 notebook converted to version 4 by nbformat (code is under 'input' there)."""
    try:
        import nbformat
    except ImportError:
        raise AssignError(f"{name}: an nbformat-3 notebook; converting it to version 4 needs the nbformat package "
                          f"(pip install nbformat), or convert it first: jupyter nbconvert --to notebook "
                          f"--nbformat 4 {name}") from None
    try:
        converted = nbformat.reads(json.dumps(data), as_version=4)
        nbformat.validate(converted)
    except Exception as err:  # nbformat raises jsonschema and its own errors
        message = str(err).strip().split("\n")[0]
        raise AssignError(f"{name}: an nbformat-3 notebook that nbformat cannot convert to version 4: "
                          f"{message}") from None
    out = json.loads(nbformat.writes(converted, version=4))
    for index, cell in enumerate(out.get("cells", [])):  # stable ids instead of random ones
        if "id" in cell:
            cell["id"] = f"cell-{index}"
    return out


def read_notebook(path: Union[str, Path]) -> dict:
    """Read a notebook file as an nbformat-4 dict, converting nbformat 3, validating what assign relies on.

    Parameters
    ----------
    path : str or Path
        A ``.ipynb`` file.

    Returns
    -------
    dict
        The notebook, as JSON gives it (nbformat 4).

    Raises
    ------
    AssignError
        Naming the file: not a ``.ipynb`` name, missing, not UTF-8, not JSON, JSON that is not a
        notebook, an unsupported nbformat, malformed cells.

    Examples
    --------
    >>> _ = Path("list.ipynb").write_text("[1, 2]")
    >>> read_notebook("list.ipynb")
    Traceback (most recent call last):
    ...
    ncedu.assign.AssignError: list.ipynb: not a notebook: the file holds a JSON list, a notebook is a
    JSON object with 'nbformat', 'metadata' and 'cells'
    """
    path = Path(path)
    if path.suffix != ".ipynb":
        raise AssignError(f"{path}: not a notebook file (expected a name ending in .ipynb)")
    if not path.is_file():
        raise AssignError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise AssignError(f"{path}: not a notebook: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise AssignError(f"{path}: cannot read it: {err.strerror or err}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AssignError(f"{path}: not a notebook: not valid JSON (line {err.lineno}, column {err.colno}: "
                          f"{err.msg})") from None
    return _as_notebook(data, str(path))


# ----------------------------------------------------------------------------------------------
# Notebooks
# ----------------------------------------------------------------------------------------------


def _check_calls(source: str) -> list[tuple[str, str]]:
    """The ``check("exercise", function)`` calls of a code cell, in order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): fall back to the text
        return [(m.group(2), m.group(3)) for m in _CHECK_CALL.finditer(source)]
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str) and isinstance(node.args[1], ast.Name)):
            calls.append((node.lineno, node.col_offset, node.args[0].value, node.args[1].id))
    return [(exercise, fn) for *_, exercise, fn in sorted(calls)]


def _test_source(exercise: str, fn: str, points: int) -> str:
    unit = "point" if points == 1 else "points"
    return (f"# Autograded test ({points} {unit}): `{fn}` must pass every hidden case of the exercise "
            f"{json.dumps(exercise)}.\n"
            "from ncedu.exercises import check\n"
            "\n"
            f"_result = check({json.dumps(exercise)}, {fn}, quiet=True)\n"
            "assert _result.passed, _result.message")


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: Optional[int] = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return meta


class _Ids:
    """Unique, valid nbgrader grade ids and cell ids."""

    def __init__(self, nb: dict):
        self.grade = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb["cells"]}
        self.cell = {c.get("id") for c in nb["cells"]}

    @staticmethod
    def _fresh(base: str, used: set) -> str:
        base = _GRADE_ID.sub("-", base).strip("-")[:56] or "cell"
        name, k = base, 2
        while name in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name)
        return name

    def grade_id(self, base: str) -> str:
        return self._fresh(base, self.grade)

    def cell_id(self, base: str) -> str:
        return self._fresh(base, self.cell)


def _lock(cell: dict) -> None:
    cell.setdefault("metadata", {})
    cell["metadata"]["deletable"] = False
    cell["metadata"]["editable"] = False


def _edition(nb: dict, name: str, *, keep_code: bool, nbgrader: bool, note: Optional[str],
             points: int) -> tuple[dict, Report]:
    nb = copy.deepcopy(_as_notebook(nb, name))
    has_grader_metadata = any("nbgrader" in c.get("metadata", {}) for c in nb["cells"])
    add_metadata = nbgrader and not has_grader_metadata
    with_ids = (nb.get("nbformat"), nb.get("nbformat_minor", 0)) >= (4, 5)
    ids = _Ids(nb)
    cells: list[dict] = []
    counts = dict(code=0, text=0, dropped=0, cleared=0, hidden=0, answers=0, tests=0)
    gate: Optional[int] = None  # index of the cell whose {solution-start} is still open
    for index, cell in enumerate(nb["cells"]):
        kind = cell["cell_type"]
        original = cell.get("source", "")
        source = _text(original)
        metadata = cell.setdefault("metadata", {})
        where = f"{name}, cell {index} ({kind})"
        if gate is not None and kind != "markdown":
            counts["dropped"] += 1  # inside a gated solution: solution material, whatever it is
            continue
        try:
            source, hidden = clear_hidden_tests(source)
        except ValueError as err:
            raise AssignError(f"{where}, {err} (hidden-test markers must pair up)") from None
        counts["hidden"] += hidden
        is_solution_cell = bool(metadata.get("nbgrader", {}).get("solution", False))
        if kind == "code":
            try:
                cleared, n = clear_code(source)
            except ValueError as err:
                raise AssignError(f"{where}, {err} (solution markers must pair up)") from None
            if n == 0 and is_solution_cell:
                cleared = CODE_STUB
                counts["cleared"] += 1
            new = _text(original) if keep_code else cleared  # nbgrader clears the source version itself
            cell["source"] = _like(original, new) if new != _text(original) else original
            if n or is_solution_cell:
                tags = [t for t in metadata.get("tags", []) if t != HIDE_TAG]
                if tags:
                    metadata["tags"] = tags
                else:
                    metadata.pop("tags", None)
            counts["code"] += n
            cell["outputs"] = []
            cell["execution_count"] = None
            cells.append(cell)
            if add_metadata and SETUP_TAG in metadata.get("tags", []):
                metadata["nbgrader"] = _nbgrader(ids.grade_id("setup"), locked=True)
                _lock(cell)
            if add_metadata and n:
                calls = _check_calls(cleared)
                base = calls[0][1] if calls else (cell.get("id") or f"cell-{index}")
                metadata["nbgrader"] = _nbgrader(ids.grade_id(f"answer-{base}"), solution=True)
                metadata["deletable"] = False  # as nbgrader's LockCells leaves answer cells
                counts["answers"] += 1
                for k, (exercise, fn) in enumerate(calls):
                    test = {"cell_type": "code", "execution_count": None,
                            "metadata": {"deletable": False, "editable": False,
                                         "nbgrader": _nbgrader(ids.grade_id(f"test-{exercise}"), grade=True,
                                                               locked=True, points=points)},
                            "outputs": [], "source": _like(original, _test_source(exercise, fn, points))}
                    if with_ids:
                        test = {"id": ids.cell_id(f"{cell.get('id') or index}-test" + (f"-{k + 1}" if k else "")),
                                **test}
                    cells.append(test)
                    counts["tests"] += 1
            continue
        # markdown and raw cells
        if keep_code and is_solution_cell and gate is None:
            # nbgrader clears its own solution cells in the release: their regions, or the whole cell;
            # solution blocks outside the regions, which nbgrader does not know, are removed here
            try:
                _, n = clear_text(source)
                if n:
                    text, _, still_open = _strip_directives(source, None)
                    if still_open:
                        raise ValueError("a {solution-start} in an nbgrader solution cell must end in the same cell")
                    cell["source"] = _like(original, text) if text != _text(original) else original
            except ValueError as err:
                raise AssignError(f"{where}, {err}") from None
            cells.append(cell)
            continue
        try:
            text, n = clear_text(source)
        except ValueError as err:
            raise AssignError(f"{where}, {err} (solution markers must pair up)") from None
        counts["text"] += n
        if n == 0 and is_solution_cell and gate is None:
            text = TEXT_STUB
            counts["cleared"] += 1
        else:
            try:
                text, removed, still_open = _strip_directives(text, gate)
            except ValueError as err:
                raise AssignError(f"{where}, {err}") from None
            counts["text"] += removed
            gate = (gate if gate is not None else index) if still_open else None
            if gate is not None and not text.strip():
                counts["dropped"] += 1
                continue
        leftover = _leftover(text)
        if leftover:
            line, shown = leftover
            raise AssignError(f"{where}, line {line}: a solution directive that assign cannot remove ({shown[:80]!r}): "
                              "it is not a MyST directive block (it sits in reStructuredText, raw HTML or after "
                              "other text on its line); write it as a ```{solution} block on lines of its own")
        if text != _text(original):
            if not text.strip():
                counts["dropped"] += 1
                continue
            cell["source"] = _like(original, text)
        if "attachments" in cell:
            used = {k: v for k, v in cell["attachments"].items() if f"attachment:{k}" in text}
            if used:
                cell["attachments"] = used
            else:
                del cell["attachments"]
        if add_metadata and kind == "markdown" and _EXERCISE.search(text):
            metadata["nbgrader"] = _nbgrader(ids.grade_id(f"exercise-{cell.get('id') or index}"), locked=True)
            _lock(cell)
        cells.append(cell)
    if gate is not None:
        raise AssignError(f"{name}, cell {gate} (markdown): a {{solution-start}} without a {{solution-end}} "
                          "in this or any later cell")
    if note:
        first = {"cell_type": "markdown", "metadata": {}, "source": _like(nb["cells"][0]["source"] if nb["cells"]
                                                                          else "", note)}
        if with_ids:
            first = {"id": ids.cell_id("student-edition"), **first}
        cells.insert(0, first)
    nb["cells"] = cells
    nb.get("metadata", {}).pop("celltoolbar", None)
    return nb, Report(counts["code"], counts["text"], counts["dropped"], counts["cleared"], counts["hidden"],
                      counts["answers"], counts["tests"])


def student_edition(nb: dict, name: str = "notebook", *, nbgrader: bool = True, note: Optional[str] = None,
                    points: int = POINTS) -> tuple[dict, Report]:
    r"""The student edition of the notebook ``nb`` (a dict as read from JSON; not modified).

    Parameters
    ----------
    nb : dict
        The chapter, nbformat 4 (or 3, converted with nbformat).
    name : str
        Used in error messages (the file name).
    nbgrader : bool, default True
        Add nbgrader cell metadata and one autograded test cell per ``check`` call (see the
        module's description); False gives a plain edition.
    note : str, optional
        Markdown of a first cell to insert (e.g. that this is the student edition, with links).
    points : int
        Points of each test cell.

    Returns
    -------
    tuple of (dict, Report)
        The student edition and what was done.

    Raises
    ------
    AssignError
        If the notebook holds anything assign cannot clear safely; the message names the file,
        the cell and the line.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "markdown", "id": "m", "metadata": {},
    ...      "source": "```{exercise} E\n:label: e\nFind f.\n```\n\n```{solution} e\nf returns 1.\n```"},
    ...     {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
    ...      "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\ncheck('nc3', f)"}]}
    >>> student, report = student_edition(nb)
    >>> print(student["cells"][0]["source"])
    ```{exercise} E
    :label: e
    Find f.
    ```
    >>> print(student["cells"][1]["source"])
    def f():
        # YOUR CODE HERE
        raise NotImplementedError()
    <BLANKLINE>
    check('nc3', f)
    >>> print(student["cells"][2]["source"])
    # Autograded test (1 point): `f` must pass every hidden case of the exercise "nc3".
    from ncedu.exercises import check
    <BLANKLINE>
    _result = check("nc3", f, quiet=True)
    assert _result.passed, _result.message
    >>> student["cells"][2]["metadata"]["nbgrader"]["points"], student["cells"][1]["metadata"]["nbgrader"]["solution"]
    (1, True)
    """
    return _edition(nb, name, keep_code=False, nbgrader=nbgrader, note=note, points=points)


def nbgrader_source(nb: dict, name: str = "notebook", *, note: Optional[str] = None,
                    points: int = POINTS) -> tuple[dict, Report]:
    r"""The instructor's version of a chapter, for ``nbgrader generate_assignment``.

    It has the student edition's cells and nbgrader metadata, with the solution code kept between
    its markers: nbgrader's release of it is the student edition. Solution text is removed already
    (nbgrader does not know MyST's ``{solution}`` blocks).

    Parameters
    ----------
    nb : dict
        The chapter.
    name : str
        Used in error messages (the file name).
    note : str, optional
        Markdown of a first cell to insert.
    points : int
        Points of each test cell.

    Returns
    -------
    tuple of (dict, Report)
        The instructor's version and what was done.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
    ...      "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n\ncheck('nc3', f)"}]}
    >>> source, _ = nbgrader_source(nb)
    >>> "return 1" in source["cells"][0]["source"], source["cells"][0]["metadata"]["nbgrader"]["grade_id"]
    (True, 'answer-f')
    """
    return _edition(nb, name, keep_code=True, nbgrader=True, note=note, points=points)


def _dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def write_student_editions(paths: Sequence[Union[str, Path]], out_dir: Union[str, Path], *, nbgrader: bool = True,
                           source: bool = False,
                           note: Optional[Callable[[Path], Optional[str]]] = None) -> list[tuple[Path, Report]]:
    r"""Write the student edition of each chapter into a folder (same file names), atomically.

    Every notebook is converted before anything is written, so a refused chapter leaves the
    output folder untouched.

    Parameters
    ----------
    paths : sequence of str or Path
        The chapters (``.ipynb``).
    out_dir : str or Path
        The folder to write; created if needed. Not the folder of a chapter, nor one of ``paths``.
    nbgrader : bool, default True
        Add nbgrader metadata and autograded test cells (see :func:`student_edition`).
    source : bool, default False
        Write the instructor's version instead (:func:`nbgrader_source`).
    note : callable, optional
        ``note(path)`` gives the markdown of a first cell for the chapter at ``path``, or None.

    Returns
    -------
    list of (Path, Report)
        Each file written and what was done to it.

    Raises
    ------
    AssignError
        If ``out_dir`` is a file, one of the inputs or the folder of a chapter, if two chapters
        share a file name, or if a chapter is refused.

    Examples
    --------
    >>> nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "execution_count": None,
    ...      "source": "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"}]}
    >>> Path("book").mkdir()
    >>> _ = Path("book/ch.ipynb").write_text(json.dumps(nb))
    >>> [(str(dest), report.code_solutions) for dest, report in write_student_editions(["book/ch.ipynb"], "student")]
    [('student/ch.ipynb', 1)]
    >>> write_student_editions(["book/ch.ipynb"], "book")
    Traceback (most recent call last):
    ...
    ncedu.assign.AssignError: book/ch.ipynb: the output folder (-o/--output, out_dir) 'book' is the
    chapter's own folder; choose another one, the source chapters must not be overwritten
    """
    out_dir = Path(out_dir)
    target = out_dir.resolve()
    if not paths:
        raise AssignError("no notebooks given")
    inputs = {Path(p).resolve() for p in paths}
    if target in inputs:
        raise AssignError(f"the output folder (-o/--output, out_dir) {str(out_dir)!r} is one of the input notebooks; "
                          "give a folder for the student editions, the chapters must not be overwritten")
    if out_dir.exists() and not out_dir.is_dir():
        raise AssignError(f"the output folder (-o/--output, out_dir) {str(out_dir)!r} exists and is not a folder")
    names: dict[str, Path] = {}
    editions = []
    for raw in paths:
        path = Path(raw)
        if path.resolve().parent == target:
            raise AssignError(f"{path}: the output folder (-o/--output, out_dir) {str(out_dir)!r} is the chapter's own "
                              "folder; choose another one, the source chapters must not be overwritten")
        if path.name in names:
            raise AssignError(f"{path}: same file name as {names[path.name]}; they would overwrite each other")
        names[path.name] = path
        nb = read_notebook(path)
        make = nbgrader_source if source else student_edition
        kwargs = {} if source else {"nbgrader": nbgrader}
        editions.append((path, *make(nb, str(path), note=note(path) if note else None, **kwargs)))
    written = []
    for path, nb, report in editions:
        dest = out_dir / path.name
        with atomic_path(dest, suffix=".ipynb") as tmp:
            tmp.write_text(_dumps(nb), encoding="utf-8")
        written.append((dest, report))
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command ``python -m ncedu.assign NOTEBOOK... -o FOLDER [--plain | --nbgrader-source]``.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: the command line's).

    Returns
    -------
    int
        The exit status: 0, or 1 after printing the refusal to stderr.

    Examples
    --------
    >>> main(["missing.ipynb", "-o", "student"])
    1
    """
    parser = argparse.ArgumentParser(
        prog="python -m ncedu.assign",
        description="Write student editions of the book's chapters: solution code replaced by stubs, solution "
                    "text removed, outputs cleared, nbgrader metadata and autograded test cells added.")
    parser.add_argument("notebooks", nargs="+", help="chapter notebooks (.ipynb)")
    parser.add_argument("-o", "--output", required=True, help="folder for the student editions")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--plain", action="store_true", help="no nbgrader metadata and no autograded test cells")
    kind.add_argument("--nbgrader-source", action="store_true",
                      help="write the instructor's version for nbgrader generate_assignment (solution code kept)")
    args = parser.parse_args(argv)
    try:
        written = write_student_editions(args.notebooks, args.output, nbgrader=not args.plain,
                                         source=args.nbgrader_source)
    except AssignError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for dest, report in written:
        kept = "kept for nbgrader" if args.nbgrader_source else "cleared"
        line = (f"wrote {dest}: {report.code_solutions} code solution(s) {kept}, "
                f"{report.text_solutions} solution text(s) removed")
        if report.cells_cleared:
            line += f", {report.cells_cleared} nbgrader solution cell(s) cleared"
        if report.test_cells:
            line += f", {report.test_cells} autograded test cell(s)"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
