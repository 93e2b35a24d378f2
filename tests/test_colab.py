"""A simulated Colab start: every chapter runs top to bottom in a bare environment.

The environment has only what Colab ships for these purposes (python, pip, torch, numpy,
matplotlib, ipywidgets 7.7.1 and the ipykernel that runs notebooks), and ``google.colab`` is
present in ``sys.modules``, so each notebook's own set-up cell runs ``%pip install`` of ncedu
from the repository's git URL. The set-up cells are pointed at this checkout (by the same
fork command a lecturer uses), at the commit under test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import booktools  # noqa: E402

# One xdist group with the site build: both execute every chapter, and run one after the other so
# that each chapter's training gets the CPU as it would alone.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebooks")]

# What a Colab runtime has preinstalled, among the packages the chapters import (scipy is there too:
# chapter 8's exact max-margin solver needs it, and ncedu declares it only as the extra "theory").
COLAB_DEFAULTS = ["torch==2.13.0", "numpy", "matplotlib", "scipy", "ipywidgets==7.7.1", "ipykernel"]
FAKE_COLAB = "import sys, types\nsys.modules.setdefault('google.colab', types.ModuleType('google.colab'))\n"


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Colab's pip is recent; the pip that a new venv bundles may be too old for git+file URLs
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True, capture_output=True)
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *COLAB_DEFAULTS], capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ipython_dir = base / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-fake-colab.py").write_text(FAKE_COLAB)
    kernel_dir = base / "jupyter" / "kernels" / "colab-sim"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (simulated)",
        "language": "python",
        "env": {"IPYTHONDIR": str(ipython_dir), "NCEDU_CACHE": str(base / "runs"),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    }))
    # Point the set-up cells at this checkout, at the commit under test.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(ROOT / "book", base / "book", ignore=shutil.ignore_patterns("_static"))
    shutil.copy(ROOT / "_config.yml", base / "_config.yml")
    booktools.set_repository(f"file://{ROOT}", commit, base / "book", base / "_config.yml")
    return {"python": python, "book": base / "book", "jupyter_path": base / "jupyter"}


def test_the_environment_starts_without_ncedu(colab):
    proc = subprocess.run(
        [str(colab["python"]), "-c", "import ncedu"], capture_output=True, text=True, cwd=colab["book"]
    )
    assert proc.returncode != 0 and "No module named 'ncedu'" in proc.stderr


@pytest.mark.parametrize("name", [p.name for p in booktools.notebooks(ROOT / "book")])
def test_each_chapter_runs_top_to_bottom_after_its_set_up_cell(colab, name, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in Colab: the inline backend
    path = colab["book"] / name
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import ncedu, ipywidgets\nprint(ncedu.__file__, ipywidgets.__version__)"))
    client = NotebookClient(
        nb, kernel_name="colab-sim", timeout=600, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    setup_output = "".join(o.get("text", "") + o.get("evalue", "") for o in nb.cells[1].get("outputs", []))
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == [], f"set-up cell said: {setup_output[-2000:]}\nerrors: {errors}"
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    installed, widgets_version = last.split()
    assert str(colab["python"].parents[1]) in installed, f"ncedu came from {installed}, not the installed copy"
    assert widgets_version == "7.7.1"
