"""Tools for the book's notebooks: the Colab set-up cell, derived from _config.yml.

The repository URL and branch live in one place, ``_config.yml`` (``repository.url`` and
``repository.branch``). The first code cell of every chapter installs ``ncedu`` from that same
URL when it runs in Google Colab and does nothing elsewhere. After forking, one command points
the launch buttons and every set-up cell at the fork:

    python scripts/booktools.py set-repository https://github.com/YOU/FORK --branch main

``python scripts/booktools.py check`` reports notebooks whose set-up cell disagrees with
``_config.yml`` or that carry outputs.

``python scripts/booktools.py executed [--touch]`` lists the chapters whose current code has no
successful execution in the build's cache (``_build/.jupyter_cache``): a build that failed, or
was interrupted, leaves them so. With ``--touch`` it marks them changed, so that the next
``jupyter-book build`` reads and executes them again instead of keeping the failed page;
``scripts/book.sh`` does both around every build. ``python scripts/booktools.py stderr`` shows what
cells wrote to stderr (which the build treats as an error), such as the figure check's findings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
BOOK = ROOT / "book"
SETUP_TAG = "ncedu-setup"


def repository(config_path: Path = CONFIG) -> tuple[str, str]:
    """The repository URL and branch from ``_config.yml``."""
    repo = yaml.safe_load(config_path.read_text())["repository"]
    return str(repo["url"]).rstrip("/"), str(repo.get("branch", "main"))


def setup_cell_source(url: str, branch: str) -> str:
    """The source of the set-up cell that installs ncedu from ``url`` at ``branch`` in Colab."""
    return (
        "# Set-up: in Google Colab this installs ncedu from the book's repository; elsewhere it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "ncedu @ git+{url}@{branch}"'
    )


def setup_cell(url: str, branch: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [SETUP_TAG, "remove-cell"]},
        "outputs": [],
        "source": setup_cell_source(url, branch),
    }


def notebooks(book: Path = BOOK) -> list[Path]:
    return sorted(p for p in book.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def problems(book: Path = BOOK, config_path: Path = CONFIG) -> list[str]:
    """Every notebook whose set-up cell disagrees with _config.yml, or that has outputs."""
    url, branch = repository(config_path)
    want = setup_cell_source(url, branch)
    found = []
    for path in notebooks(book):
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        if cell is None or _source(cell) != want:
            found.append(f"{path.relative_to(book.parent)}: first code cell is not the set-up cell for {url}@{branch}")
        for i, c in enumerate(nb["cells"]):
            if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count")):
                found.append(f"{path.relative_to(book.parent)}: cell {i} has outputs (commit notebooks without them)")
                break
    return found


def set_repository(url: str, branch: str, book: Path = BOOK, config_path: Path = CONFIG) -> list[Path]:
    """Point _config.yml and every notebook's set-up cell at ``url``/``branch``. Returns changed notebooks."""
    if not re.match(r"^(https|file)://[^\s\"']+$", url):
        raise SystemExit(f"url must look like https://github.com/OWNER/REPO, got {url!r}")
    if not re.match(r"^[\w./-]+$", branch):
        raise SystemExit(f"branch must be a plain branch name, got {branch!r}")
    text = config_path.read_text()
    text = re.sub(r"(?m)^(  url: ).*$", lambda m: m.group(1) + url.rstrip("/"), text, count=1)
    text = re.sub(r"(?m)^(  branch: ).*$", lambda m: m.group(1) + branch, text, count=1)
    config_path.write_text(text)
    changed = []
    for path in notebooks(book):
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        new = setup_cell(url.rstrip("/"), branch)
        if cell is not None and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            if _source(cell) == new["source"]:
                continue
            cell["source"] = new["source"]
        else:
            nb["cells"].insert(0, new)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        changed.append(path)
    return changed


def unexecuted(book: Path = BOOK, cache: Path = ROOT / "_build" / ".jupyter_cache") -> list[Path]:
    """The notebooks whose current code cells have no successful execution in the build's cache.

    jupyter-cache keys an execution by the notebook's code cells and kernel; myst-nb stores only
    executions that succeeded, so a chapter whose last execution failed (an error, a timeout, an
    interrupted build) is listed here until it executes successfully.
    """
    paths = notebooks(book)
    if not Path(cache).is_dir():
        return paths
    import nbformat
    from jupyter_cache import get_cache

    store = get_cache(str(cache))
    missing = []
    for path in paths:
        try:
            store.match_cache_notebook(nbformat.read(str(path), as_version=4))
        except KeyError:
            missing.append(path)
    return missing


def cached_stderr(book: Path = BOOK, cache: Path = ROOT / "_build" / ".jupyter_cache") -> list[str]:
    """What the chapters' cells wrote to stderr in their cached executions, one line each.

    The build treats stderr as an error (``stderr_output: remove-warn`` with ``-W``) and names only
    the cell; this shows what was written, e.g. the figure check's findings (``ncedu._layout``).
    """
    if not Path(cache).is_dir():
        return []
    import nbformat
    from jupyter_cache import get_cache

    store = get_cache(str(cache))
    lines = []
    for path in notebooks(book):
        try:
            record = store.match_cache_notebook(nbformat.read(str(path), as_version=4))
        except KeyError:
            continue
        executed = store.get_cache_bundle(record.pk).nb  # the code cells only, in order
        source = json.loads(path.read_text())["cells"]
        code_cells = [i for i, c in enumerate(source) if c["cell_type"] == "code"]
        for k, cell in enumerate(executed.cells):
            index = code_cells[k] if k < len(code_cells) else k
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    for line in out.get("text", "").splitlines():
                        if line.strip():
                            lines.append(f"{path.relative_to(book.parent)} cell {index}: {line.strip()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("set-repository", help="point launch buttons and set-up cells at a fork")
    s.add_argument("url")
    s.add_argument("--branch", default="main")
    sub.add_parser("check", help="report set-up cells that disagree with _config.yml, and committed outputs")
    e = sub.add_parser("executed", help="list chapters without a successful execution in the build cache")
    e.add_argument("--touch", action="store_true", help="mark them changed so the next build executes them")
    sub.add_parser("stderr", help="what the chapters' cells wrote to stderr in their cached executions")
    args = parser.parse_args(argv)
    if args.command == "stderr":
        lines = cached_stderr()
        print("\n".join(lines) if lines else "no cell of a cached execution wrote to stderr")
        return 1 if lines else 0
    if args.command == "executed":
        missing = unexecuted()
        for path in missing:
            if args.touch:
                os.utime(path)
            print(f"{path.relative_to(ROOT)}: no successful execution in the build cache"
                  + (" (marked for re-execution)" if args.touch else ""))
        return 1 if missing and not args.touch else 0
    if args.command == "set-repository":
        changed = set_repository(args.url, args.branch)
        print(f"_config.yml now points at {args.url}@{args.branch}; {len(changed)} notebook(s) updated")
        return 0
    found = problems()
    print("\n".join(found) if found else "all notebooks agree with _config.yml and have no outputs")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
