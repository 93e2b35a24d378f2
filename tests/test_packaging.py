"""ncedu installs with pip from a git URL (as Colab does) and keeps its own dependencies loose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    tomllib = None

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(tomllib is None, reason="tomllib needs Python 3.11")
def test_own_dependencies_are_lower_bounds_only_so_colabs_torch_is_kept():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("torch>=") for d in deps)
    pinned = [d for d in deps if "==" in d or "<" in d]
    assert not pinned, f"ncedu must not pin or cap its dependencies: {pinned}"


@pytest.mark.slow
def test_pip_installs_ncedu_from_a_git_url(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    target = tmp_path / "site"
    url = f"ncedu @ git+file://{REPO}"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), url],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Import the installed copy (not this checkout) and use it.
    code = (
        "import ncedu, numpy as np; print(ncedu.__file__); "
        "V = ncedu.simplex_etf(4, 3); m = ncedu.measure(np.repeat(V, 2, 0), np.repeat(np.arange(4), 2), W=V); "
        "print(m.nc1 < 1e-12, m.nc3 < 1e-12, m.nc4 == 0.0)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    installed, checks = out.stdout.strip().splitlines()
    assert installed.startswith(str(target)), installed
    assert checks == "True True True"


def test_importing_ncedu_needs_none_of_the_optional_packages():
    # Colab's minimal set (torch, numpy, matplotlib) must be enough for `import ncedu`:
    # scipy (theory), scikit-learn (digits), ipywidgets (widgets) are imported on use only.
    code = "import sys, ncedu; print(sorted(m for m in ('scipy', 'sklearn', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
