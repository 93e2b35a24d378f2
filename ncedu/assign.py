r"""Student editions of the book's chapters: the exercises without their solutions.

::

    python -m ncedu.assign book/notation.ipynb book/nc1.ipynb -o student/

For each chapter, the student edition (same file name, in the output folder)

* replaces the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` by the stub
  ``# YOUR CODE HERE`` / ``raise NotImplementedError()``, indented like the BEGIN line, exactly
  as nbgrader's ``ClearSolutions`` preprocessor does (any line containing ``BEGIN SOLUTION`` or
  ``END SOLUTION`` is a marker); the ``check(...)`` calls after it stay, and report the stub as
  "not attempted";
* removes every ```` ```{solution} ```` block (and every ```` ```{solution-start} ```` ...
  ```` ```{solution-end} ```` span) from the markdown cells, keeping the rest of each cell, and
  drops markdown cells left empty;
* clears all outputs and execution counts;
* removes the ``hide-input`` tag from the cells whose solution it cleared, so that students see
  the stub;
* keeps everything else: the Colab set-up cell, the other cells, the notebook's metadata.

A chapter with unbalanced markers (an END without a BEGIN, a BEGIN without an END, nested BEGINs,
an unclosed solution block) is refused with an error naming the file. Files are written
atomically, and never into the folder of a source chapter.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

from ._io import atomic_path

__all__ = ["AssignError", "Report", "CODE_STUB", "clear_code", "strip_solution_text", "student_edition",
           "write_student_editions", "main"]

#: What replaces a solution region: nbgrader's default code stub for Python.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
BEGIN = "BEGIN SOLUTION"
END = "END SOLUTION"
HIDE_TAG = "hide-input"

# A MyST directive fence: up to three spaces, then ``` / ~~~ (or ::: for colon fences), then {name}.
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[A-Za-z0-9_-]+)\}")
_ANY_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,}|:{3,})")


class AssignError(ValueError):
    """A chapter that cannot be turned into a student edition (the message names the file)."""


@dataclass(frozen=True)
class Report:
    """What :func:`student_edition` did to one notebook."""

    code_solutions: int
    text_solutions: int
    cells_dropped: int


# ----------------------------------------------------------------------------------------------
# Code cells
# ----------------------------------------------------------------------------------------------


def clear_code(source: str, stub: str = CODE_STUB) -> tuple[str, int]:
    """Replace each BEGIN/END SOLUTION region of ``source`` by ``stub``, indented like BEGIN.

    Returns the new source and the number of regions replaced. Raises ValueError on unbalanced
    markers (nbgrader also refuses nested BEGINs and a missing END; it ignores a stray END, which
    we refuse too).
    """
    out: list[str] = []
    in_solution = False
    count = 0
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN in line:
            if in_solution:
                raise ValueError(f"line {number}: nested '{BEGIN}' (the previous region has no '{END}')")
            in_solution = True
            count += 1
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif END in line:
            if not in_solution:
                raise ValueError(f"line {number}: '{END}' without a '{BEGIN}' before it")
            in_solution = False
        elif not in_solution:
            out.append(line)
    if in_solution:
        raise ValueError(f"'{BEGIN}' without an '{END}'")
    return "\n".join(out), count


# ----------------------------------------------------------------------------------------------
# Markdown cells
# ----------------------------------------------------------------------------------------------


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened by ``fence`` (same character, at least as long)."""
    stripped = line.strip()
    return (len(line) - len(line.lstrip(" ")) <= 3 and len(stripped) >= len(fence)
            and set(stripped) == {fence[0]})


def _block_end(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the block opened at ``start``; ValueError if it is never closed."""
    for j in range(start + 1, len(lines)):
        if _closes(lines[j], fence):
            return j
    raise ValueError(f"line {start + 1}: the block opened by {lines[start].strip()!r} is never closed")


def strip_solution_text(source: str) -> tuple[str, int]:
    """Remove every ``{solution}`` block and ``{solution-start}`` ... ``{solution-end}`` span.

    Returns the remaining markdown (surplus blank lines collapsed, no leading or trailing blank
    lines) and the number of solutions removed.
    """
    lines = source.split("\n")
    kept: list[str] = []
    open_directives: list[str] = []  # fences of the directives the current line is inside
    count = 0
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if match and match["name"] == "solution":
            i = _block_end(lines, i, match["fence"]) + 1
            count += 1
            continue
        if match and match["name"] == "solution-end":
            raise ValueError(f"line {i + 1}: {{solution-end}} without a {{solution-start}} before it")
        if match and match["name"] == "solution-start":
            j = _block_end(lines, i, match["fence"]) + 1
            while j < len(lines):
                inner = _OPEN.match(lines[j])
                if inner and inner["name"] == "solution-end":
                    break
                if inner and inner["name"] == "solution-start":
                    raise ValueError(f"line {j + 1}: nested {{solution-start}}")
                j += 1
            else:
                raise ValueError(f"line {i + 1}: {{solution-start}} without a {{solution-end}}")
            i = _block_end(lines, j, inner["fence"]) + 1
            count += 1
            continue
        if open_directives and _closes(lines[i], open_directives[-1]):
            open_directives.pop()  # the end of a directive we are inside (an exercise, a note, ...)
            kept.append(lines[i])
            i += 1
            continue
        if match:
            open_directives.append(match["fence"])
            kept.append(lines[i])
            i += 1
            continue
        other = _ANY_OPEN.match(lines[i])
        if other:
            # An ordinary code block: copy it whole, so that solution syntax shown inside it stays.
            try:
                end = _block_end(lines, i, other["fence"])
            except ValueError:
                end = len(lines) - 1  # CommonMark: an unclosed code block runs to the end
            kept.extend(lines[i:end + 1])
            i = end + 1
            continue
        kept.append(lines[i])
        i += 1
    if not count:
        return source, 0
    text = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", "\n".join(kept))
    return text.strip("\n"), count


# ----------------------------------------------------------------------------------------------
# Notebooks
# ----------------------------------------------------------------------------------------------


def _text(source: Union[str, list]) -> str:
    return source if isinstance(source, str) else "".join(source)


def _like(original: Union[str, list], text: str) -> Union[str, list]:
    """``text`` in the representation (one string or a list of lines) of ``original``."""
    return text if isinstance(original, str) else text.splitlines(keepends=True)


def student_edition(nb: dict, name: str = "notebook") -> tuple[dict, Report]:
    """The student edition of the notebook ``nb`` (a dict as read from JSON; not modified).

    ``name`` is used in error messages. Raises :class:`AssignError` on unbalanced markers.
    """
    nb = copy.deepcopy(nb)
    cells = []
    code_solutions = text_solutions = dropped = 0
    for index, cell in enumerate(nb.get("cells", [])):
        kind = cell.get("cell_type")
        source = _text(cell.get("source", ""))
        where = f"{name}, cell {index} ({kind})"
        if kind == "code":
            try:
                new, n = clear_code(source)
            except ValueError as err:
                raise AssignError(f"{where}: unbalanced solution markers: {err}") from None
            if n:
                cell["source"] = _like(cell["source"], new)
                tags = [t for t in cell.get("metadata", {}).get("tags", []) if t != HIDE_TAG]
                if tags:
                    cell["metadata"]["tags"] = tags
                else:
                    cell.get("metadata", {}).pop("tags", None)
                code_solutions += n
            cell["outputs"] = []
            cell["execution_count"] = None
        elif kind == "markdown":
            try:
                new, n = strip_solution_text(source)
            except ValueError as err:
                raise AssignError(f"{where}: unbalanced solution block: {err}") from None
            if n:
                text_solutions += n
                if not new.strip():
                    dropped += 1
                    continue
                cell["source"] = _like(cell["source"], new)
        cells.append(cell)
    nb["cells"] = cells
    return nb, Report(code_solutions, text_solutions, dropped)


def write_student_editions(paths: Sequence[Union[str, Path]], out_dir: Union[str, Path]) -> list[tuple[Path, Report]]:
    """Write the student edition of each chapter in ``paths`` into ``out_dir`` (same file names).

    Every notebook is converted before anything is written, so a refused chapter leaves the
    output folder untouched. Raises :class:`AssignError` if ``out_dir`` is the folder of a
    source chapter, if two chapters share a file name, or if a chapter is refused.
    """
    out_dir = Path(out_dir)
    target = out_dir.resolve()
    names: dict[str, Path] = {}
    editions = []
    for raw in paths:
        path = Path(raw)
        if path.suffix != ".ipynb":
            raise AssignError(f"{path}: not a notebook (.ipynb)")
        if not path.is_file():
            raise AssignError(f"{path}: no such file")
        if path.resolve().parent == target:
            raise AssignError(f"{path}: the output folder {out_dir} is the chapter's own folder; "
                              "choose another one (-o), the source chapters must not be overwritten")
        if path.name in names:
            raise AssignError(f"{path}: same file name as {names[path.name]}; they would overwrite each other")
        names[path.name] = path
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise AssignError(f"{path}: cannot read the notebook: {err}") from None
        editions.append((path, *student_edition(nb, str(path))))
    written = []
    for path, nb, report in editions:
        dest = out_dir / path.name
        with atomic_path(dest, suffix=".ipynb") as tmp:
            tmp.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append((dest, report))
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ncedu.assign",
        description="Write student editions of the book's chapters: solutions replaced by stubs, "
                    "solution text removed, outputs cleared.")
    parser.add_argument("notebooks", nargs="+", help="chapter notebooks (.ipynb)")
    parser.add_argument("-o", "--output", required=True, help="folder for the student editions")
    args = parser.parse_args(argv)
    try:
        written = write_student_editions(args.notebooks, args.output)
    except AssignError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for dest, report in written:
        print(f"wrote {dest}: {report.code_solutions} code solution(s) cleared, "
              f"{report.text_solutions} solution text(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
