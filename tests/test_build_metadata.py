"""ncedu's packaging metadata builds cleanly with the newest setuptools: no deprecation warning.

setuptools deprecates what later becomes an error (the TOML-table ``project.license`` stops
building on 2027-02-18), and pip builds ncedu from its git URL with whatever setuptools is newest
when a student runs the Colab set-up cell. So the sdist and the wheel are built here, in an
isolated virtual environment with the newest setuptools the package index offers, and any
``SetuptoolsDeprecationWarning`` (or other deprecation notice) fails the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# Runs inside the isolated environment: both PEP 517 builds, every warning recorded.
BUILD = r"""
import json, sys, warnings
from setuptools import build_meta, __version__
from setuptools.warnings import SetuptoolsDeprecationWarning
out = sys.argv[1]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    sdist = build_meta.build_sdist(out)
    wheel = build_meta.build_wheel(out)
print("@@" + json.dumps({
    "setuptools": __version__, "sdist": sdist, "wheel": wheel,
    "warnings": [{"category": w.category.__name__, "message": str(w.message)[:2000],
                  "deprecation": issubclass(w.category, (SetuptoolsDeprecationWarning, DeprecationWarning))}
                 for w in caught],
}))
"""

IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "_build", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "book",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("packaging")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "setuptools"],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        pytest.skip(f"the newest setuptools could not be installed (no package index?): {proc.stderr[-500:]}")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    out = base / "dist"
    out.mkdir()
    proc = subprocess.run(
        [str(python), "-c", BUILD, str(out)], cwd=src, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"the build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.rsplit("@@", 1)[1])
    return {"report": report, "log": proc.stdout.rsplit("@@", 1)[0] + proc.stderr, "dist": out}


def test_the_newest_setuptools_builds_sdist_and_wheel_without_a_deprecation_warning(built):
    report = built["report"]
    assert int(report["setuptools"].split(".")[0]) >= 77, report["setuptools"]
    deprecations = [w for w in report["warnings"] if w["deprecation"]]
    assert deprecations == [], f"setuptools {report['setuptools']} warns: {deprecations}"
    assert "deprecat" not in built["log"].lower(), built["log"][-3000:]


def test_the_wheel_declares_the_licence_as_an_spdx_expression_with_its_file(built):
    wheel = built["dist"] / built["report"]["wheel"]
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(metadata_name).decode()
        licence_files = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert licence_files, f"LICENSE is not in the wheel: {names}"
        assert "MIT License" in zf.read(licence_files[0]).decode()
    headers = [line for line in metadata.splitlines() if ":" in line and not line.startswith(" ")]
    assert "License-Expression: MIT" in headers
    assert "License-File: LICENSE" in headers
    assert not any(h.startswith("License: ") for h in headers), "the legacy License field is deprecated"
    assert not any(h.startswith("Classifier: License ::") for h in headers), "licence classifiers are deprecated"


def test_the_sdist_carries_the_licence_and_the_package(built):
    sdist = built["dist"] / built["report"]["sdist"]
    with tarfile.open(sdist) as tf:
        names = {Path(n).relative_to(Path(n).parts[0]).as_posix() for n in tf.getnames() if len(Path(n).parts) > 1}
    assert {"LICENSE", "pyproject.toml", "README.md", "ncedu/__init__.py", "ncedu/metrics.py"} <= names
