"""The book's sources: notebooks without outputs, set-up cells that follow _config.yml, a complete TOC."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import booktools  # noqa: E402


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


def chapter_notebooks() -> list[Path]:
    return booktools.notebooks(ROOT / "book")


def test_every_notebook_has_the_set_up_cell_of_config_and_no_outputs():
    assert chapter_notebooks(), "the book has no notebooks"
    assert booktools.problems() == []


def test_the_set_up_cell_installs_from_the_configured_url_only_in_colab():
    url, branch = booktools.repository()
    source = booktools.setup_cell_source(url, branch)
    assert '"google.colab" in sys.modules' in source
    assert f"git+{url}@{branch}" in source
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


def test_the_fork_command_rewrites_config_and_every_set_up_cell(tmp_path):
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    fork = "https://github.com/someone/their-fork"
    changed = booktools.set_repository(fork, "teaching", tmp_path / "book", tmp_path / "_config.yml")
    assert len(changed) == len(chapter_notebooks())
    assert booktools.repository(tmp_path / "_config.yml") == (fork, "teaching")
    assert booktools.problems(tmp_path / "book", tmp_path / "_config.yml") == []
    for path in booktools.notebooks(tmp_path / "book"):
        assert f"git+{fork}@teaching" in path.read_text()
    # the rest of _config.yml is untouched
    before = (ROOT / "_config.yml").read_text().splitlines()
    after = (tmp_path / "_config.yml").read_text().splitlines()
    assert sum(a != b for a, b in zip(before, after)) == 3 and len(before) == len(after)  # url, branch, release


def test_a_notebook_that_disagrees_with_config_is_reported(tmp_path):
    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    path = chapter_notebooks()[0]
    nb = json.loads(path.read_text())
    booktools.first_code_cell(nb)["source"] = "import sys  # no set-up"
    (tmp_path / "book" / path.name).write_text(json.dumps(nb))
    assert any(path.name in p for p in booktools.problems(tmp_path / "book", tmp_path / "_config.yml"))


def test_the_table_of_contents_lists_every_chapter_and_nothing_missing():
    files = toc_files()
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f"{f} in _toc.yml does not exist"
    for nb in chapter_notebooks():
        assert str(nb.relative_to(ROOT).with_suffix("")) in files, f"{nb.name} is not in _toc.yml"


# the introduction and the reference page on the History record are not chapters with exercises
@pytest.mark.parametrize("path", [p for p in chapter_notebooks() if p.stem not in ("intro", "history")],
                         ids=lambda p: p.stem)
def test_each_chapter_has_learning_goals_exercises_and_solutions(path):
    text = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in json.loads(path.read_text())["cells"]
    )
    assert "Learning goals" in text
    exercises = re.findall(r"```\{exercise\}", text)
    solutions = re.findall(r"```\{solution(?:-start)?\}", text)
    assert len(exercises) >= 3, f"{path.name} has {len(exercises)} exercises"
    assert len(solutions) >= len(exercises), f"{path.name}: every exercise needs a solution"
    assert all(":class: dropdown" in block for block in re.findall(r"```\{solution[^`]*", text))
    assert "check(" in text, f"{path.name} has no automatically checked coding exercise"


def test_chapters_without_a_successful_execution_are_listed_until_they_execute(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    jupyter_cache = pytest.importorskip("jupyter_cache")
    book = tmp_path / "book"
    book.mkdir()
    done, failed = book / "done.ipynb", book / "failed.ipynb"
    for path, code in ((done, "x = 1"), (failed, "raise RuntimeError")):
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, str(path))
    cache = tmp_path / "cache"
    assert booktools.unexecuted(book, cache) == [done, failed]  # no cache yet: nothing has executed
    store = jupyter_cache.get_cache(str(cache))
    store.cache_notebook_file(str(done), check_validity=False)
    assert booktools.unexecuted(book, cache) == [failed]
    nb = nbformat.read(str(done), as_version=4)
    nb.cells[0].source = "x = 2"  # edited code: the cached execution no longer applies
    nbformat.write(nb, str(done))
    assert booktools.unexecuted(book, cache) == [done, failed]
