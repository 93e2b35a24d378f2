"""A simulated Colab start: every chapter runs top to bottom in a bare environment with Colab's versions.

The environment is a fresh virtual environment with what Colab ships, at Colab's versions
(``tests/colab-pins.txt``, copied from Colab's published package list): pip 24.1.2, never
upgraded; numpy 2.1.3, matplotlib 3.10.0, scipy 1.16.3, scikit-learn 1.6.1, tqdm, pillow,
ipywidgets 7.7.1 and the kernel stack that runs notebooks there (ipykernel 6.17.1, IPython
7.34.0), with their dependencies at Colab's versions too. Two things differ, as the pins file
explains: torch is the local 2.13.0 CPU wheel (Colab has 2.11; this machine has no other CPU
wheel of torch, and none for Colab's Python 3.13), so the interpreter is Python 3.11 (3.12 and
3.13 are checked without torch in tests/test_python_versions.py); setuptools is the nearest
version torch 2.13 accepts.

``google.colab`` is present in ``sys.modules`` (an IPython start-up file puts a stand-in there),
so each notebook's own set-up cell runs its ``%pip install`` of ncedu from the repository's git
URL. The set-up cells are pointed at this checkout (by the same fork command a lecturer uses), at
the commit under test. Colab gives every notebook a fresh machine, so every notebook starts with
its own empty run cache (``NCEDU_CACHE``) and user cache (``XDG_CACHE_HOME``), and trains what
it needs; each notebook's cold time is written to ``_build/colab-cold-times.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import booktools  # noqa: E402

PINS = Path(__file__).with_name("colab-pins.txt")
COLAB_FREEZE = ROOT.parent / "shared" / "colab" / "pip-freeze.txt"  # the project's copy; absent in CI

# What the chapters and ncedu import (ncedu's own dependencies, the optional scipy and scikit-learn,
# pillow for the animations, the widget and kernel stack); all preinstalled on Colab.
COLAB_IMPORTS = [
    "torch", "numpy", "matplotlib", "scipy", "scikit-learn", "tqdm", "pillow", "ipywidgets", "ipykernel", "ipython",
]
FAKE_COLAB = "import sys, types\nsys.modules.setdefault('google.colab', types.ModuleType('google.colab'))\n"
TIMES = ROOT / "_build" / "colab-cold-times.json"
# The simulation (the tests that use the ``colab`` fixture) is slow, and in one xdist group with the
# site build: both execute every chapter, one after the other, so each chapter's training gets the
# CPU as it would alone.

# The last cell appended to every notebook: where ncedu came from and the versions the set-up cell left.
REPORT_CELL = """\
import json, importlib.metadata as md, ncedu
print("@@" + json.dumps({"ncedu": ncedu.__file__, "versions": {n: md.version(n) for n in %r}}))
""" % (COLAB_IMPORTS,)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, tuple[str, bool]]:
    """``{canonical name: (version, differs from Colab)}`` of a pins or freeze file's ``name==version`` lines."""
    pins = {}
    for line in path.read_text().splitlines():
        requirement, _, comment = line.partition("#")
        if "==" in requirement:
            name, version = (s.strip() for s in requirement.split("==", 1))
            pins[canonical(name)] = (version, "differs from Colab" in comment)
    return pins


def same_version(installed: str, pinned: str) -> bool:
    """``==`` as pip reads it: a pin without a local label (``+cpu``) matches any local build."""
    return installed == pinned or ("+" not in pinned and installed.split("+")[0] == pinned)


# ----------------------------------------------------------------------------------------------
# The pins themselves (quick: no environment is built)
# ----------------------------------------------------------------------------------------------


def test_the_pins_cover_every_package_the_chapters_import():
    pins = read_pins(PINS)
    missing = [n for n in COLAB_IMPORTS + ["pip"] if canonical(n) not in pins]
    assert missing == [], f"{PINS.name} has no pin for {missing}"
    assert pins["pip"] == ("24.1.2", False), "the simulation keeps Colab's pip"
    assert pins["ipywidgets"][0] == "7.7.1" and pins["ipykernel"][0] == "6.17.1" and pins["ipython"][0] == "7.34.0"


def test_the_pins_are_colabs_versions_except_where_marked():
    if not COLAB_FREEZE.exists():
        pytest.skip(f"Colab's package list is not here ({COLAB_FREEZE})")
    colab = read_pins(COLAB_FREEZE)
    colab_urls = {canonical(line.split(" @ ")[0]) for line in COLAB_FREEZE.read_text().splitlines() if " @ " in line}
    wrong, unmarked = [], []
    for name, (version, differs) in read_pins(PINS).items():
        if differs:
            # a marked deviation must really differ, and from a package Colab has
            assert name in colab or name in colab_urls, f"{name} is marked as differing but Colab has no {name}"
            assert name not in colab or colab[name][0] != version, f"{name} {version} is Colab's: unmark it"
            continue
        if name not in colab:
            unmarked.append(name)
        elif colab[name][0] != version:
            wrong.append(f"{name}: pinned {version}, Colab has {colab[name][0]}")
    assert wrong == [] and unmarked == [], f"not Colab's versions: {wrong}; not in Colab's list: {unmarked}"


# ----------------------------------------------------------------------------------------------
# The simulated Colab
# ----------------------------------------------------------------------------------------------


def pip(python: Path, *args: str, timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"pip {' '.join(args)}:\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    base = tmp_path_factory.mktemp("colab")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Colab's pip, exactly (the venv bundles another); it is never upgraded afterwards.
    pip(python, "install", "--quiet", "-c", str(PINS), "pip")
    start = time.perf_counter()
    pip(python, "install", "--quiet", "-c", str(PINS), *COLAB_IMPORTS)
    install_seconds = time.perf_counter() - start
    ipython_dir = base / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-fake-colab.py").write_text(FAKE_COLAB)
    kernel_dir = base / "jupyter" / "kernels" / "colab-sim"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab (simulated)",
        "language": "python",
        # NCEDU_CACHE and XDG_CACHE_HOME come from the test, fresh for every notebook
        "env": {"IPYTHONDIR": str(ipython_dir), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    }))
    # Point the set-up cells at this checkout, at the commit under test.
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(ROOT / "book", base / "book", ignore=shutil.ignore_patterns("_static", "_build"))
    shutil.copy(ROOT / "_config.yml", base / "_config.yml")
    booktools.set_repository(f"file://{ROOT}", commit, base / "book", base / "_config.yml")
    return {"python": python, "book": base / "book", "jupyter_path": base / "jupyter", "base": base,
            "install_seconds": install_seconds}


def installed_versions(python: Path) -> dict[str, str]:
    out = pip(python, "list", "--format", "json", timeout=120).stdout
    return {canonical(p["name"]): p["version"] for p in json.loads(out)}


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
def test_the_environment_starts_without_ncedu(colab):
    proc = subprocess.run(
        [str(colab["python"]), "-c", "import ncedu"], capture_output=True, text=True, cwd=colab["book"]
    )
    assert proc.returncode != 0 and "No module named 'ncedu'" in proc.stderr


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
def test_the_environment_has_colabs_versions(colab):
    installed = installed_versions(colab["python"])
    pins = read_pins(PINS)
    missing = [n for n in COLAB_IMPORTS if canonical(n) not in installed]
    assert missing == [], f"not installed: {missing}"
    wrong = [f"{n} {installed[n]} (pinned {v})" for n, (v, _) in pins.items() if n in installed and not same_version(installed[n], v)]
    assert wrong == [], f"versions other than the pins: {wrong}"
    assert installed["pip"] == "24.1.2"
    if COLAB_FREEZE.exists():  # and nothing pip added on its own has a version Colab does not have
        colab = read_pins(COLAB_FREEZE)
        other = [f"{n} {v} (Colab {colab[n][0]})" for n, v in installed.items()
                 if n in colab and n not in pins and not same_version(v, colab[n][0])]
        assert other == [], f"unpinned packages at versions Colab does not have: {other}"


# The chapters: notebooks of the book's table of contents (student editions are generated from them).
CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_runs_cold_top_to_bottom_after_its_set_up_cell(colab, name, monkeypatch, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(colab["jupyter_path"]))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in Colab: the inline backend
    # A fresh machine per notebook: empty run cache and user cache (downloads, nothing shared).
    monkeypatch.setenv("NCEDU_CACHE", str(tmp_path / "runs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NCEDU_DATA", raising=False)
    path = colab["book"] / name
    nb = nbformat.read(path, as_version=4)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    assert booktools.SETUP_TAG in nb.cells[setup].metadata.get("tags", []), f"{name}: first code cell is not the set-up cell"
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    client = NotebookClient(
        nb, kernel_name="colab-sim", timeout=600, allow_errors=True, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    record_time(name, seconds)
    setup_output = "".join(o.get("text", "") + o.get("evalue", "") for o in nb.cells[setup].get("outputs", []))
    errors = [(i, o["ename"], o["evalue"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert errors == [], f"set-up cell said: {setup_output[-2000:]}\nerrors: {errors}"
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    report = json.loads(last.rsplit("@@", 1)[1])
    assert str(colab["python"].parents[1]) in report["ncedu"], f"ncedu came from {report['ncedu']}, not the installed copy"
    pins = read_pins(PINS)
    changed = {n: v for n, v in report["versions"].items() if not same_version(v, pins[canonical(n)][0])}
    assert changed == {}, f"the set-up cell changed Colab's packages: {changed}"


def record_time(name: str, seconds: float) -> None:
    """Keep each chapter's cold time (seconds, one thread) in _build/colab-cold-times.json."""
    TIMES.parent.mkdir(exist_ok=True)
    try:
        times = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        times = {}
    times[name] = round(seconds, 1)
    TIMES.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")


_WIDGET_SCRIPT = r"""
import json, sys, time
import ipywidgets, numpy as np
import ncedu
from ncedu import widgets
from ncedu.history import History

rng = np.random.default_rng(0)
C, p, S = 3, 6, 5
labels = np.repeat(np.arange(C), S)
h = History({"num_classes": C}, sample_labels=labels, class_counts=np.full(C, S))
target = 3 * ncedu.simplex_etf(C, p, seed=0)
start = rng.standard_normal((C, p))
for k, epoch in enumerate([1, 2, 4, 8, 16]):
    t = k / 4
    means = (1 - t) * start + t * target
    feats = means[labels] + (1 - 0.9 * t) * rng.standard_normal((C * S, p))
    W = means - means.mean(0) + (1 - t) * rng.standard_normal((C, p))
    m = ncedu.measure(feats, labels, W, np.zeros(C))
    h.append(epoch=epoch, train_acc=0.5 + t / 2, **m.as_dict(), class_means=m.class_means, W=W, b=np.zeros(C),
             sample_features=feats)
out = {"ipywidgets": ipywidgets.__version__}
for view in widgets.VIEWS:
    if view == "layers":  # needs per-layer metrics this synthetic run does not have
        continue
    box = widgets.epoch_scrubber(h, view=view, fps=100)
    first = box.image.value
    box.forward.click()                      # what a click on "forward" sends to the kernel
    stepped = (box.slider.index, box.view.index, box.image.value != first)
    box.play_button.value = True             # what a click on "play" sends to the kernel
    box.player.join(timeout=30)
    played = (box.slider.index, box.view.index, box.play_button.value, box.play_button.description)
    links = [w for w in ipywidgets.Widget.widgets.values() if type(w).__name__ in ("Link", "DirectionalLink")]
    plays = [w for w in box.children[0].children if isinstance(w, ipywidgets.Play)]
    out[view] = {"stepped": stepped, "played": played, "links": len(links), "plays": len(plays),
                 "labels": [w.description for w in box.children[0].children[:3]]}
print("@@" + json.dumps(out))
"""


@pytest.mark.slow
@pytest.mark.xdist_group("notebooks")
def test_the_scrubber_plays_and_steps_on_colabs_ipywidgets_without_a_front_end(colab):
    """On ipywidgets 7.7.1, clicks and Play reach the kernel and move the slider and the frame; no jslink."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "NCEDU_STATIC_WIDGETS": "0"}
    proc = subprocess.run([str(colab["python"]), "-c", _WIDGET_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.rsplit("@@", 1)[1])
    assert report["ipywidgets"] == "7.7.1"
    for view, result in report.items():
        if view == "ipywidgets":
            continue
        assert result["stepped"] == [1, 1, True], view
        assert result["played"][:3] == [4, 4, False] and result["played"][3].endswith("play"), view
        assert result["links"] == 0 and result["plays"] == 0, view  # kernel-side only, no icon-only Play widget
        assert all(label.strip() for label in result["labels"]), view
