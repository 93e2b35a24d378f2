"""Tools for the book's notebooks: the Colab set-up cell and the student editions, derived from _config.yml.

The repository URL, branch and release live in one place, ``_config.yml`` (``repository.url``,
``repository.branch`` and ``repository.release``). The first code cell of every chapter installs
``ncedu`` from that URL at the release (a tag such as ``v0.2.0``; the branch when no release is
set) when it runs in Google Colab and does nothing elsewhere. After forking, one command points
the launch buttons, every set-up cell and the student editions at the fork:

    python scripts/booktools.py set-repository https://github.com/YOU/FORK --branch main [--release v0.2.0]

Without ``--release`` the set-up cells follow the branch. ``python scripts/booktools.py student``
writes the student edition of every chapter into ``book/student/`` (same file names; generated
by ``ncedu.assign``, never edited by hand): solutions removed, nbgrader metadata and autograded
test cells added, and a first cell that links the chapter's page on the website (``html.baseurl``
of ``_config.yml``, by default the repository's GitHub Pages address) and the full chapter in
Colab. ``python scripts/booktools.py check`` reports notebooks whose set-up cell disagrees with
``_config.yml`` or that carry outputs, student editions that differ from what ``student`` makes
from the chapters, and a version tag that is not ncedu's version.

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
STUDENT = "student"  # book/student/: the student editions, generated from the chapters
VERSION_FILE = ROOT / "ncedu" / "_version.py"
_REF = re.compile(r"^[\w][\w./-]*$")


def _config(config_path: Path) -> dict:
    return yaml.safe_load(Path(config_path).read_text()) or {}


def repository(config_path: Path = CONFIG) -> tuple[str, str]:
    """The repository URL and branch from ``_config.yml``."""
    repo = _config(config_path)["repository"]
    return str(repo["url"]).rstrip("/"), str(repo.get("branch", "main"))


def release(config_path: Path = CONFIG) -> str:
    """What the set-up cells install: ``repository.release`` (a tag), or the branch when it is not set."""
    repo = _config(config_path)["repository"]
    value = repo.get("release")
    return str(value) if value not in (None, "") else str(repo.get("branch", "main"))


def package_version(version_file: Path = VERSION_FILE) -> str:
    """ncedu's version, read from ``ncedu/_version.py`` without importing the package."""
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', version_file.read_text(), re.M)
    if not match:
        raise SystemExit(f"{version_file}: no __version__ = \"...\" line")
    return match.group(1)


def github_repository(url: str) -> tuple[str, str] | None:
    """``(owner, name)`` of a GitHub repository URL, or None for any other URL."""
    match = re.match(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", url)
    return (match.group(1), match.group(2)) if match else None


def site_url(config_path: Path = CONFIG) -> str | None:
    """The published website's address, ending in "/": ``html.baseurl`` when set, else the GitHub
    Pages address of the repository (``https://OWNER.github.io/NAME/``); None if neither exists."""
    config = _config(config_path)
    base = str((config.get("html") or {}).get("baseurl") or "").strip()
    if base:
        return base.rstrip("/") + "/"
    parts = github_repository(repository(config_path)[0])
    return f"https://{parts[0].lower()}.github.io/{parts[1]}/" if parts else None


def colab_link(path_in_repository: str, config_path: Path = CONFIG) -> str | None:
    """The Colab address that opens ``path_in_repository`` (e.g. ``book/nc1.ipynb``) at the configured branch."""
    config = _config(config_path)
    url, branch = repository(config_path)
    parts = github_repository(url)
    colab = str((config.get("launch_buttons") or {}).get("colab_url") or "").rstrip("/")
    if not parts or not colab:
        return None
    prefix = str(config["repository"].get("path_to_book") or "").strip("/")
    path = f"{prefix}/{path_in_repository}" if prefix else path_in_repository
    return f"{colab}/github/{parts[0]}/{parts[1]}/blob/{branch}/{path}"


def setup_cell_source(url: str, ref: str) -> str:
    """The source of the set-up cell that installs ncedu from ``url`` at ``ref`` (tag or branch) in Colab."""
    return (
        "# Set-up: in Google Colab this installs ncedu from the book's repository; elsewhere it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "ncedu @ git+{url}@{ref}"'
    )


def setup_cell(url: str, ref: str) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [SETUP_TAG, "remove-cell"]},
        "outputs": [],
        "source": setup_cell_source(url, ref),
    }


def notebooks(book: Path = BOOK) -> list[Path]:
    """The chapters: every notebook of the book, except the student editions in ``book/student/``."""
    return sorted(p for p in book.rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and p.relative_to(book).parts[0] != STUDENT)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def first_code_cell(nb: dict) -> dict | None:
    return next((c for c in nb["cells"] if c["cell_type"] == "code"), None)


def problems(book: Path = BOOK, config_path: Path = CONFIG) -> list[str]:
    """Every chapter whose set-up cell disagrees with _config.yml, or that has outputs; every student
    edition that differs from what :func:`student_editions` makes; a version tag that is not ncedu's."""
    url, _ = repository(config_path)
    ref = release(config_path)
    want = setup_cell_source(url, ref)
    found = []
    if re.match(r"^v\d+(\.\d+)*$", ref) and VERSION_FILE.exists() and ref != f"v{package_version()}":
        found.append(f"_config.yml: repository.release is {ref} but ncedu's version is {package_version()} "
                     f"(ncedu/_version.py): tag v{package_version()} and run set-repository --release "
                     f"v{package_version()}, or set the version to {ref[1:]}")
    for path in notebooks(book):
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        if cell is None or _source(cell) != want:
            found.append(f"{path.relative_to(book.parent)}: first code cell is not the set-up cell for {url}@{ref}")
        for i, c in enumerate(nb["cells"]):
            if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count")):
                found.append(f"{path.relative_to(book.parent)}: cell {i} has outputs (commit notebooks without them)")
                break
    return found + student_problems(book, config_path)


def set_repository(url: str, branch: str, book: Path = BOOK, config_path: Path = CONFIG,
                   release: str | None = None) -> list[Path]:
    """Point _config.yml, every chapter's set-up cell and the student editions at ``url``/``branch``.

    The set-up cells install ``release`` (a tag, e.g. ``v0.2.0``) when given, else the branch;
    _config.yml records it as ``repository.release``. Returns the chapters whose set-up cell changed.
    """
    if not re.match(r"^(https|file)://[^\s\"']+$", url):
        raise SystemExit(f"url must look like https://github.com/OWNER/REPO, got {url!r}")
    if not _REF.match(branch):
        raise SystemExit(f"branch must be a plain branch name, got {branch!r}")
    if release is not None and not _REF.match(release):
        raise SystemExit(f"release must be a plain tag name such as v0.2.0, got {release!r}")
    url = url.rstrip("/")
    ref = release or branch
    text = config_path.read_text()
    text = re.sub(r"(?m)^(  url: ).*$", lambda m: m.group(1) + url, text, count=1)
    text = re.sub(r"(?m)^(  branch: ).*$", lambda m: m.group(1) + branch, text, count=1)
    if re.search(r"(?m)^  release: ", text):
        text = re.sub(r"(?m)^(  release: ).*$", lambda m: m.group(1) + ref, text, count=1)
    elif release is not None:
        text = re.sub(r"(?m)^(  branch: .*)$", lambda m: m.group(1) + f"\n  release: {release}", text, count=1)
    config_path.write_text(text)
    changed = []
    for path in notebooks(book):
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        new = setup_cell(url, ref)
        if cell is not None and SETUP_TAG in cell.get("metadata", {}).get("tags", []):
            if _source(cell) == new["source"]:
                continue
            cell["source"] = new["source"]
        else:
            nb["cells"].insert(0, new)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        changed.append(path)
    write_student_editions(book, config_path)
    return changed


# ----------------------------------------------------------------------------------------------
# Student editions (book/student/), generated by ncedu.assign
# ----------------------------------------------------------------------------------------------


def _assign():
    """``ncedu.assign`` of this checkout (importable whether or not ncedu is installed)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from ncedu import assign

    return assign


def _title(nb: dict, fallback: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"(?m)^#\s+(.+?)\s*$", _source(cell))
            if match:
                return match.group(1)
    return fallback


def student_note(chapter: Path, nb: dict, has_exercises: bool, book: Path = BOOK,
                 config_path: Path = CONFIG) -> str:
    """The first cell of a student edition: what it is, and where the full chapter is."""
    rel = chapter.relative_to(Path(config_path).parent).as_posix()
    links = []
    site = site_url(config_path)
    if site:
        links.append(f"[on the book's website]({site}{rel[: -len('.ipynb')]}.html)")
    colab = colab_link(rel, config_path)
    if colab:
        links.append(f"[in Colab]({colab})")
    if not links:
        links.append(f"`{rel}` in the book's repository")
    where = " and ".join(links)
    title = _title(nb, chapter.stem)
    if not has_exercises:
        return (f"**Student edition** of *{title}*. This chapter has no exercises to hide, so it is the full "
                f"chapter, also {where}.")
    return (f"**Student edition** of *{title}*: the solutions of the exercises are removed. Replace each "
            "`raise NotImplementedError()` with your code and run the cell: `check` says whether your code is "
            "right, and the test cell after it is what a course grades. The full chapter, with every solution, "
            f"is {where}.")


def student_editions(book: Path = BOOK, config_path: Path = CONFIG) -> dict[Path, str]:
    """The text of the student edition of every chapter, by its path in ``book/student/`` (nothing is written)."""
    assign = _assign()
    out = {}
    for chapter in notebooks(book):
        nb = assign.read_notebook(chapter)
        _, report = assign.student_edition(nb, str(chapter))
        has_exercises = bool(report.code_solutions or report.text_solutions or report.cells_cleared)
        note = student_note(chapter, nb, has_exercises, book, config_path)
        edition, _ = assign.student_edition(nb, str(chapter), note=note)
        dest = book / STUDENT / chapter.relative_to(book)
        out[dest] = json.dumps(edition, indent=1, ensure_ascii=False) + "\n"
    return out


def write_student_editions(book: Path = BOOK, config_path: Path = CONFIG) -> list[Path]:
    """Write ``book/student/`` from the chapters; remove editions whose chapter is gone. Returns what changed."""
    editions = student_editions(book, config_path)
    from ncedu._io import atomic_path  # importable: student_editions put this checkout on sys.path

    changed = []
    for dest, text in editions.items():
        if dest.exists() and dest.read_text(encoding="utf-8") == text:
            continue
        with atomic_path(dest, suffix=".ipynb") as tmp:
            tmp.write_text(text, encoding="utf-8")
        changed.append(dest)
    folder = book / STUDENT
    for stale in sorted(folder.rglob("*.ipynb")) if folder.is_dir() else []:
        if stale not in editions and ".ipynb_checkpoints" not in stale.parts:
            stale.unlink()
            changed.append(stale)
    return changed


def student_problems(book: Path = BOOK, config_path: Path = CONFIG) -> list[str]:
    """Student editions that are missing, differ from what :func:`student_editions` makes (compared as
    JSON, so formatting does not count), or have no chapter."""
    editions = student_editions(book, config_path)
    hint = "run python scripts/booktools.py student"
    found = []
    for dest, text in editions.items():
        rel = dest.relative_to(book.parent)
        if not dest.exists():
            found.append(f"{rel}: missing ({hint})")
            continue
        try:
            committed = json.loads(dest.read_text(encoding="utf-8"))
        except ValueError as err:
            found.append(f"{rel}: not valid JSON ({err}); {hint}")
            continue
        wanted = json.loads(text)
        if committed != wanted:
            old, new = committed.get("cells", []), wanted["cells"]
            first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
            found.append(f"{rel}: differs from the student edition of its chapter (from cell {first} on; "
                         f"edited by hand, or the chapter or _config.yml changed): {hint}")
    folder = book / STUDENT
    for stale in sorted(folder.rglob("*.ipynb")) if folder.is_dir() else []:
        if stale not in editions and ".ipynb_checkpoints" not in stale.parts:
            found.append(f"{stale.relative_to(book.parent)}: a student edition without a chapter ({hint} removes it)")
    return found


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
    s = sub.add_parser("set-repository", help="point launch buttons, set-up cells and student editions at a fork")
    s.add_argument("url")
    s.add_argument("--branch", default="main")
    s.add_argument("--release", help="tag the set-up cells install (e.g. v0.2.0); default: the branch")
    sub.add_parser("check", help="report set-up cells that disagree with _config.yml, committed outputs, "
                                 "stale student editions")
    st = sub.add_parser("student", help="write the student edition of every chapter into book/student/")
    st.add_argument("--check", action="store_true", help="only report editions that differ; write nothing")
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
        changed = set_repository(args.url, args.branch, release=args.release)
        print(f"_config.yml now points at {args.url}@{args.branch}, set-up cells install "
              f"@{args.release or args.branch}; {len(changed)} chapter(s) updated, student editions regenerated")
        return 0
    if args.command == "student":
        if args.check:
            found = student_problems()
            print("\n".join(found) if found else "every student edition is what the chapters make")
            return 1 if found else 0
        changed = write_student_editions()
        for path in changed:
            print(f"{path.relative_to(ROOT)}: {'written' if path.exists() else 'removed (no chapter)'}")
        print(f"{len(changed)} student edition(s) changed in {(BOOK / STUDENT).relative_to(ROOT)}/")
        return 0
    found = problems()
    print("\n".join(found) if found else "all notebooks agree with _config.yml, have no outputs, and the student "
          "editions are up to date")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
