"""Every example in ncedu's docstrings runs and prints what it says (doctests of every module)."""

from __future__ import annotations

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

from .test_architecture import modules  # noqa: E402


@pytest.mark.parametrize("name", sorted(modules()), ids=str)
def test_the_examples_in_the_docstrings_run(name, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (run pytest -s to see them)"
