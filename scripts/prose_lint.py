"""Find run-dependent numbers typed by hand into the book's prose.

The rule of the book: every number, ratio, epoch of an event, timing and comparison that the
prose quotes about a run comes from a cell (myst-nb ``{glue:text}`` or ``ncedu.prose.glue``),
so a rebuild on another machine, thread count or torch version cannot make a sentence false.
This module strips what is not prose from a chapter's markdown (math, code, roles such as glue
and citations, directive options, link targets) and reports what is left that looks like a
number about a run:

* decimals (``0.77``, ``8.9``);
* factors and percentages (``250x``, ``34×``, ``fiftyfold``, ``40 %``), angles (``9.75°``);
* the epoch of an event (``epoch 112``, ``epochs 23``);
* approximate quantities (``about 40``, ``roughly 3``, ``near 0``, ``nearly 100``);
* timings (``15 s``, ``half a minute``, ``under a minute``);
* run-dependent comparisons of size (``orders of magnitude``).

A short allow-list (:data:`ALLOWED`) holds the paper's own facts, attributed to it in the text.

    python scripts/prose_lint.py            # every chapter; exit status 1 when anything is found
    python scripts/prose_lint.py book/nc1.ipynb
    python scripts/prose_lint.py --executed /tmp/nc1-run.ipynb   # also: every glue key the text
                                            # uses is glued by a cell of that executed copy
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

#: Phrases that may stay as typed, per chapter stem ("*" for every chapter): the paper's facts
#: and the settings of the authors' public notebook, each attributed to them where it appears.
ALLOWED: dict[str, tuple[str, ...]] = {
    "*": (
        "epochs 116 and 233",  # the authors' notebook: 350 epochs, drops after 116 and 233
    ),
}

_NUMBER_WORDS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    "sixty|seventy|eighty|ninety|hundred|thousand|million"
)

#: (kind, pattern) of what counts as a typed run number once non-prose is stripped.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("decimal", re.compile(r"(?<![\w.])\d+\.\d+(?!\.?\d)(?![A-Za-z_])")),
    ("factor", re.compile(r"(?<![\w.])\d[\d,.]*\s?(?:×|x\b|-?fold\b|times\b)", re.IGNORECASE)),
    ("factor", re.compile(rf"\b(?:{_NUMBER_WORDS})-?fold\b", re.IGNORECASE)),
    ("percent", re.compile(r"\d\s?(?:%|percent\b)")),
    ("angle", re.compile(r"\d\s?(?:°|degrees?\b)")),
    ("epoch", re.compile(r"\bepochs?\s+\d+(?!\s*(?:epochs?|,\s*\d+\s+epochs))", re.IGNORECASE)),
    ("approximate", re.compile(r"\b(?:about|around|roughly|approximately|nearly|almost|near|some|only|just|over|under|below|above)\s+\d", re.IGNORECASE)),
    ("timing", re.compile(r"\d\s?(?:s|ms|sec|seconds?|minutes?|min|hours?)\b")),
    ("timing", re.compile(r"\b(?:half a|a|one|two|a few|several|under a|within a)\s+(?:minute|minutes|second|seconds)\b", re.IGNORECASE)),
    ("comparison", re.compile(r"\borders?\s+of\s+magnitude\b", re.IGNORECASE)),
    ("timing", re.compile(r"\b(?:in|within|under)\s+(?:a\s+few\s+)?(?:seconds|minutes)\b", re.IGNORECASE)),
    ("step", re.compile(r"\b(?:step|iteration)s?\s+\d[\d,]*\b(?!\s*(?:steps|iterations))", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Finding:
    path: str
    cell: int
    kind: str
    text: str
    context: str

    def __str__(self) -> str:
        return f"{self.path} cell {self.cell}: {self.kind} {self.text!r} in “…{self.context}…”"


_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_NON_PROSE_DIRECTIVES = ("math", "code", "code-block", "code-cell", "glue:math", "raw", "mermaid")


def strip_non_prose(markdown: str) -> str:
    """The prose of a markdown cell: math, code, roles, options and link targets removed.

    Directive fences (```` ```{prf:proof} ````) keep their body, which is prose; code fences and
    ``{math}`` blocks are removed with their body. Each removed piece becomes one space, so
    words on either side do not merge.
    """
    out: list[str] = []
    open_directives: list[str] = []  # the fences of the directives whose body we are in
    skip_until: str | None = None  # the fence that closes the code block we are skipping
    for line in markdown.splitlines():
        stripped = line.strip()
        fence = _FENCE.match(stripped)
        if skip_until is not None:
            if fence and not fence.group(2).strip() and _closes(fence.group(1), skip_until):
                skip_until = None
            continue
        if fence:
            marks, info = fence.group(1), fence.group(2).strip()
            directive = re.match(r"\{([\w:-]+)\}", info)
            if not info and open_directives and _closes(marks, open_directives[-1]):
                open_directives.pop()
                out.append(" ")
            elif directive is not None and directive.group(1) not in _NON_PROSE_DIRECTIVES:
                open_directives.append(marks)
                out.append(info[directive.end():])  # a directive's title is prose
            else:
                skip_until = marks  # code, math or an anonymous block
            continue
        if re.match(r"^\s*:[\w-]+:", line):  # a directive option such as :label: or :class:
            continue
        out.append(line)
    text = "\n".join(out)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.DOTALL)
    text = re.sub(r"(?<!\\)\$(?:\\.|[^$\\])+\$", " ", text)
    text = re.sub(r"\{glue(?::\w+)?\}`[^`]*`", " <glued> ", text)  # a value the kernel inserts
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # other roles: {cite:t}`x`, {prf:ref}`y`
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "] ", text)  # link targets
    text = re.sub(r"(?m)^\s*(?:\d+\.|[-*+])\s+", " ", text)  # list markers
    text = re.sub(r"\(\d+\)", " ", text)  # equation or item numbers like (1)
    return text


def _closes(marks: str, opener: str) -> bool:
    """A bare fence closes a block opened with ``opener`` if it uses the same character, at least as many."""
    return marks[0] == opener[0] and len(marks) >= len(opener)


def _allowed(stem: str) -> tuple[str, ...]:
    return ALLOWED.get("*", ()) + ALLOWED.get(stem, ())


def find_typed_numbers(path: Path) -> list[Finding]:
    """Every run-dependent number typed into the prose of the notebook or markdown file ``path``."""
    path = Path(path)
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        sources = [(i, _source(c)) for i, c in enumerate(cells) if c["cell_type"] == "markdown"]
    else:
        sources = [(0, path.read_text())]
    found = []
    for index, source in sources:
        prose = strip_non_prose(source)
        for phrase in _allowed(path.stem):
            prose = prose.replace(phrase, " ")
        for kind, pattern in PATTERNS:
            for m in pattern.finditer(prose):
                start, end = max(0, m.start() - 40), min(len(prose), m.end() + 40)
                context = " ".join(prose[start:end].split())
                found.append(Finding(_display(path), index, kind, m.group(0), context))
    return found


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def chapters(book: Path = BOOK) -> list[Path]:
    """The book's notebooks and markdown pages."""
    return sorted(p for p in list(book.glob("*.ipynb")) + list(book.glob("*.md")))


_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")


def glue_keys_used(path: Path) -> list[str]:
    """The glue keys that the markdown of notebook ``path`` refers to, in order of first use."""
    cells = json.loads(Path(path).read_text())["cells"]
    keys: list[str] = []
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for m in _GLUE_ROLE.finditer(_source(cell)):
                key = m.group(1).split(":", 1)[0]  # {glue:text}`key:format`
                if key not in keys:
                    keys.append(key)
    return keys


def glue_keys_defined(executed: Path) -> list[str]:
    """The glue keys recorded in the outputs of an executed notebook."""
    keys = []
    for cell in json.loads(Path(executed).read_text())["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None:
                keys.append(name)
    return keys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    executed = None
    if "--executed" in args:
        i = args.index("--executed")
        executed = Path(args[i + 1])
        del args[i : i + 2]
    paths = [Path(a) for a in args] or ([executed] if executed else chapters())
    findings = [f for p in paths for f in find_typed_numbers(p)]
    for f in findings:
        print(f)
    print(f"{len(findings)} typed run number(s) in {len(paths)} file(s)", file=sys.stderr)
    problems = len(findings)
    if executed is not None:
        defined = glue_keys_defined(executed)
        used = glue_keys_used(executed)
        for key in used:
            if key not in defined:
                print(f"{executed}: the text uses glue key {key!r} that no cell glues")
                problems += 1
        for key in sorted({k for k in defined if defined.count(k) > 1}):
            print(f"{executed}: glue key {key!r} is glued more than once")
            problems += 1
        for key in defined:
            if key not in used:
                print(f"{executed}: note: glue key {key!r} is glued but the text does not use it")
        print(f"{len(used)} glue key(s) used, {len(set(defined))} glued", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
