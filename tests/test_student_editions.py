"""The student editions in ``book/student/``, the pinned release and the fork command.

* ``book/student/`` holds one student edition per chapter, exactly what ``python scripts/booktools.py
  student`` makes from the chapters (compared as JSON): a hand edit, a changed chapter or a stale
  file fails here and in ``booktools check``;
* the editions are in the repository but not pages of the website, and open with a note linking
  the chapter's page and the full chapter in Colab, both derived from ``_config.yml``;
* the Colab set-up cells install the configured release (``repository.release``), ncedu's version
  comes from one place, and ``booktools set-repository URL --branch B --release TAG`` points the
  configuration, the chapters and the student editions at a fork;
* the Sphinx extension turns a chapter's Colab launch link into the student edition's and adds
  the full chapter as a second, labelled entry (the browser test in test_site.py checks the
  built pages).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import booktools  # noqa: E402

BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
FORK = "https://github.com/someone/their-fork"


def _src(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _first_code(nb: dict) -> str:
    return _src(next(c for c in nb["cells"] if c["cell_type"] == "code"))


@pytest.fixture
def copy(tmp_path):
    """A copy of the book's sources and _config.yml to change."""
    shutil.copytree(BOOK, tmp_path / "book", ignore=shutil.ignore_patterns("_static", "_build"))
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    return tmp_path / "book", tmp_path / "_config.yml"


# ----------------------------------------------------------------------------------------------
# The committed editions
# ----------------------------------------------------------------------------------------------


def test_the_committed_student_editions_are_what_the_command_makes():
    made = booktools.student_editions()
    assert sorted(p.name for p in made) == sorted(p.name for p in CHAPTERS)
    committed = sorted((BOOK / "student").glob("*.ipynb"))
    assert [p.name for p in committed] == sorted(p.name for p in CHAPTERS), "book/student/ has other files"
    stale = [p.name for p in committed if json.loads(p.read_text()) != json.loads(made[p])]
    assert stale == [], (f"student editions that differ from their chapters: {stale}; regenerate them with "
                         "python scripts/booktools.py student")
    assert booktools.student_problems() == []


def test_the_student_command_reports_nothing_to_change():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "booktools.py"), "student", "--check"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_student_editions_are_in_the_repository_but_not_pages_of_the_website():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "book/student" in config["exclude_patterns"]
    assert "student" not in (ROOT / "_toc.yml").read_text()
    assert all(booktools.STUDENT not in p.relative_to(BOOK).parts for p in booktools.notebooks())
    assert len(booktools.notebooks()) == len(CHAPTERS)
    if (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", "book/student/nc1.ipynb"], cwd=ROOT)
        assert ignored.returncode == 1, "book/student/ must not be ignored by git: it is committed"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_each_edition_opens_with_a_note_linking_the_full_chapter(chapter):
    nb = json.loads((BOOK / "student" / chapter.name).read_text())
    note = nb["cells"][0]
    assert note["cell_type"] == "markdown" and "nbgrader" not in note["metadata"]
    text = _src(note)
    assert text.startswith("**Student edition**") and len(text) < 700
    url, branch = booktools.repository()
    owner, name = booktools.github_repository(url)
    page = f"https://{owner.lower()}.github.io/{name}/book/{chapter.stem}.html"
    colab = f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/book/{chapter.name}"
    assert f"]({page})" in text and f"]({colab})" in text, text
    title = re.search(r"(?m)^# (.+)$", _src(json.loads(chapter.read_text())["cells"][0])).group(1)
    assert title in text
    # and it installs what the chapter installs
    assert _first_code(nb) == _first_code(json.loads(chapter.read_text()))


def test_a_hand_edit_a_changed_chapter_and_a_stale_file_are_reported_and_repaired(copy):
    book, config = copy
    assert booktools.problems(book, config) == []
    edition = book / "student" / "nc3.ipynb"
    nb = json.loads(edition.read_text())
    nb["cells"][5]["source"] = "edited by hand"
    edition.write_text(json.dumps(nb))
    chapter = json.loads((book / "nc4.ipynb").read_text())
    chapter["cells"][0]["source"] += "\n\nA new sentence."
    (book / "nc4.ipynb").write_text(json.dumps(chapter, indent=1))
    (book / "student" / "old_chapter.ipynb").write_text("{}")
    (book / "student" / "nc2.ipynb").write_text(json.dumps(json.loads((book / "student" / "nc2.ipynb").read_text())))
    found = booktools.problems(book, config)
    assert len(found) == 3, found
    assert any("student/nc3.ipynb: differs" in f and "cell 5" in f for f in found)
    assert any("student/nc4.ipynb: differs" in f and "cell 1" in f for f in found)  # cell 0: the note
    assert any("student/old_chapter.ipynb: a student edition without a chapter" in f for f in found)
    # nc2 was only reformatted: not a difference
    changed = booktools.write_student_editions(book, config)
    assert sorted(p.name for p in changed) == ["nc2.ipynb", "nc3.ipynb", "nc4.ipynb", "old_chapter.ipynb"]
    assert not (book / "student" / "old_chapter.ipynb").exists()
    assert booktools.problems(book, config) == []
    assert "A new sentence." in (book / "student" / "nc4.ipynb").read_text()


def test_a_missing_student_folder_is_reported(copy):
    book, config = copy
    shutil.rmtree(book / "student")
    found = booktools.student_problems(book, config)
    assert len(found) == len(CHAPTERS) and all("missing" in f for f in found)


# ----------------------------------------------------------------------------------------------
# The release the set-up cells install, and the version
# ----------------------------------------------------------------------------------------------


def test_the_set_up_cells_install_the_configured_release():
    url, _ = booktools.repository()
    ref = booktools.release()
    want = booktools.setup_cell_source(url, ref)
    for path in CHAPTERS + sorted((BOOK / "student").glob("*.ipynb")):
        assert _first_code(json.loads(path.read_text())) == want, path
    assert f'"ncedu @ git+{url}@{ref}"' in want


def test_the_version_comes_from_one_place():
    import ncedu
    from ncedu import _version

    assert ncedu.__version__ == _version.__version__ == booktools.package_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", ncedu.__version__)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"], "pyproject.toml must not repeat the version"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ncedu._version.__version__"}
    from setuptools.config.pyprojecttoml import read_configuration

    config = read_configuration(ROOT / "pyproject.toml", expand=True)
    assert config["project"]["version"] == ncedu.__version__
    elsewhere = [str(p.relative_to(ROOT)) for p in (ROOT / "ncedu").glob("*.py")
                 if p.name != "_version.py" and re.search(r"(?m)^__version__\s*=", p.read_text())]
    assert elsewhere == []


def test_a_release_tag_that_is_not_the_package_version_is_reported(copy):
    book, config = copy
    booktools.set_repository(FORK, "main", book, config, release="v9.9.9")
    found = booktools.problems(book, config)
    assert len(found) == 1 and "repository.release is v9.9.9" in found[0]
    assert f"ncedu's version is {booktools.package_version()}" in found[0]
    booktools.set_repository(FORK, "main", book, config, release=f"v{booktools.package_version()}")
    assert booktools.problems(book, config) == []


# ----------------------------------------------------------------------------------------------
# The fork command
# ----------------------------------------------------------------------------------------------


def test_set_repository_points_config_chapters_and_student_editions_at_a_fork_and_a_release(copy):
    book, config = copy
    before = config.read_text().splitlines()
    changed = booktools.set_repository(FORK, "teaching", book, config, release="v0.2.0")
    assert len(changed) == len(CHAPTERS)
    after = config.read_text().splitlines()
    repo = yaml.safe_load(config.read_text())["repository"]
    assert (repo["url"], repo["branch"], repo["release"]) == (FORK, "teaching", "v0.2.0")
    assert len([a for a in after if a not in before]) <= 3  # url, branch, release: the rest untouched
    assert booktools.problems(book, config) == []
    for path in booktools.notebooks(book) + sorted((book / "student").glob("*.ipynb")):
        assert f'"ncedu @ git+{FORK}@v0.2.0"' in _first_code(json.loads(path.read_text())), path
    note = _src(json.loads((book / "student" / "nc1.ipynb").read_text())["cells"][0])
    assert "](https://someone.github.io/their-fork/book/nc1.html)" in note
    assert "](https://colab.research.google.com/github/someone/their-fork/blob/teaching/book/nc1.ipynb)" in note
    # without --release the set-up cells follow the branch
    booktools.set_repository(FORK, "teaching", book, config)
    assert yaml.safe_load(config.read_text())["repository"]["release"] == "teaching"
    assert all(f"@teaching\"" in _first_code(json.loads(p.read_text())) for p in booktools.notebooks(book))
    assert booktools.problems(book, config) == []


def test_set_repository_adds_the_release_to_a_config_without_one(copy):
    book, config = copy
    text = re.sub(r"(?m)^  release: .*\n", "", config.read_text())
    config.write_text(text)
    assert booktools.release(config) == booktools.repository(config)[1]  # no release: the branch
    booktools.set_repository(FORK, "main", book, config, release="v0.2.0")
    lines = config.read_text().splitlines()
    assert lines[lines.index("  branch: main") + 1] == "  release: v0.2.0"
    assert booktools.release(config) == "v0.2.0"


@pytest.mark.parametrize("args, message", [
    (("github.com/x/y", "main", None), "url must look like"),
    ((FORK, "main; rm -rf /", None), "branch must be a plain branch name"),
    ((FORK, "main", "v1 2"), "release must be a plain tag name"),
])
def test_set_repository_refuses_malformed_arguments(copy, args, message):
    book, config = copy
    before = config.read_text()
    url, branch, release = args
    with pytest.raises(SystemExit, match=message):
        booktools.set_repository(url, branch, book, config, release=release)
    assert config.read_text() == before


def test_the_site_address_is_html_baseurl_or_the_github_pages_address(copy):
    _, config = copy
    owner, name = booktools.github_repository(booktools.repository(config)[0])
    assert booktools.site_url(config) == f"https://{owner.lower()}.github.io/{name}/"
    config.write_text(config.read_text().replace("html:\n", "html:\n  baseurl: https://book.example.org/nc\n", 1))
    assert booktools.site_url(config) == "https://book.example.org/nc/"
    assert booktools.github_repository("file:///tmp/x") is None


# ----------------------------------------------------------------------------------------------
# The launch buttons (the Sphinx extension), without a build
# ----------------------------------------------------------------------------------------------


def _extension():
    spec = importlib.util.spec_from_file_location("ncedu_sphinx_under_test", BOOK / "_ext" / "ncedu_sphinx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _context(pagename: str) -> dict:
    """The header buttons sphinx-book-theme 1.3 builds for a notebook page (header_buttons/launch.py)."""
    url = f"https://colab.research.google.com/github/ncedu/neural-collapse-book/blob/main/{pagename}.ipynb"
    return {"header_buttons": [
        {"type": "group", "label": "download-buttons", "buttons": []},
        {"type": "group", "tooltip": "Launch interactive content", "icon": "fas fa-rocket", "label": "launch-buttons",
         "buttons": [{"type": "link", "text": "Colab", "tooltip": "Launch on Colab",
                      "icon": "_static/images/logo_colab.png", "url": url}]},
    ]}


class _App:
    srcdir = str(ROOT)


def test_the_launch_menu_opens_the_student_edition_then_the_full_chapter():
    ext = _extension()
    context = _context("book/nc1")
    ext._student_edition_links(_App(), "book/nc1", "page.html", context, None)
    buttons = context["header_buttons"][1]["buttons"]
    blob = "https://colab.research.google.com/github/ncedu/neural-collapse-book/blob/main/book"
    assert [(b["text"], b["url"]) for b in buttons] == [
        ("Colab: student edition", f"{blob}/student/nc1.ipynb"), ("Colab: full chapter (with solutions)", f"{blob}/nc1.ipynb")]
    assert all(b["icon"] == "_static/images/logo_colab.png" and b["type"] == "link" for b in buttons)
    assert "solutions" in buttons[0]["tooltip"] and "solution" in buttons[1]["tooltip"]


@pytest.mark.parametrize("pagename", ["book/course_guide", "book/not_a_chapter"])
def test_pages_without_a_student_edition_keep_the_themes_link(pagename):
    ext = _extension()
    context = _context(pagename)
    ext._student_edition_links(_App(), pagename, "page.html", context, None)
    assert context == _context(pagename)
    ext._student_edition_links(_App(), "book/nc1", "page.html", {}, None)  # a page without buttons
