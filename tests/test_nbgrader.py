"""Grading end to end with nbgrader, offline, on the notation chapter.

A lecturer's whole cycle in a temporary course directory: the instructor's version from
``python -m ncedu.assign --nbgrader-source``, ``nbgrader generate_assignment`` (whose release
must be the committed student edition), three submissions (correct, partly wrong with a tampered
test cell, untouched), ``nbgrader autograde`` and ``nbgrader export`` to CSV; the grades are full
points, fewer, and none. The correct submission starts from ``book/student/notation.ipynb``, the
file the website's Colab button opens, so that what students work on in Colab is what nbgrader
grades.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "notation.ipynb"
STUDENT = ROOT / "book" / "student" / "notation.ipynb"
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebooks")]

CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "neural-collapse"
c.Execute.timeout = 600  # seconds per cell (nbgrader's default, 30, is too short for training cells)
"""
# NC1 without the division by C (the authors' notebook convention): a wrong answer the checker names
WRONG = ("def nc1(H, y):\n    S_W = within_class_covariance(H, y)\n    mu = np.stack([H[y == c].mean(axis=0) for c in "
         "np.unique(y)])\n    M = mu - H.mean(axis=0)\n    S_B = M.T @ M / len(M)\n"
         "    return np.trace(S_W @ np.linalg.pinv(S_B, rcond=1e-10, hermitian=True))\n\n\ncheck(\"nc1\", nc1);")


def _src(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _grader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _solution_only_lines() -> list[str]:
    """Lines of the reference solutions that appear nowhere else in the chapter."""
    cells = json.loads(CHAPTER.read_text())["cells"]
    solution, other, inside = [], set(), False
    for cell in cells:
        for line in _src(cell).split("\n"):
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN SOLUTION" in line
            elif inside:
                solution.append(line.strip())
            else:
                other.add(line.strip())
    return [line for line in solution if line and line not in other]


def _solutions() -> dict[str, str]:
    """The chapter's answer cells with their reference solution, markers removed, by cell id."""
    cells = json.loads(CHAPTER.read_text())["cells"]
    return {c["id"]: "\n".join(line for line in _src(c).split("\n") if "SOLUTION" not in line)
            for c in cells if "BEGIN SOLUTION" in _src(c)}


def _nbgrader(*args, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(Path(sys.executable).with_name("nbgrader")), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    pytest.importorskip("nbgrader")
    if not Path(sys.executable).with_name("nbgrader").exists():
        pytest.skip("the nbgrader command is not installed next to this Python")
    root = tmp_path_factory.mktemp("course")
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root)))
    env = {**os.environ,
           # nbgrader runs alembic (its database migrations) from PATH
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "NCEDU_CACHE": str(root / "runs"), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "ncedu.assign", str(CHAPTER), "-o", str(root / "source" / "notation"),
                           "--nbgrader-source"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    _nbgrader("generate_assignment", "notation", cwd=root, env=env)
    return {"root": root, "env": env, "release": root / "release" / "notation" / "notation.ipynb"}


def test_nbgraders_release_is_the_committed_student_edition(course):
    release = json.loads(course["release"].read_text())
    student = json.loads(STUDENT.read_text())
    text = course["release"].read_text()
    assert "BEGIN SOLUTION" not in text
    secret = _solution_only_lines()
    released = {line.strip() for cell in release["cells"] for line in _src(cell).split("\n")}
    assert secret and [line for line in secret if line in released] == []
    note, *cells = student["cells"]  # the student edition opens with a note and links
    assert "Student edition" in _src(note) and "nbgrader" not in note["metadata"]
    assert [(c["cell_type"], _src(c)) for c in release["cells"]] == [(c["cell_type"], _src(c)) for c in cells]
    ignore = {"checksum", "cell_type"}  # what nbgrader adds for its own bookkeeping
    for theirs, ours in zip(release["cells"], cells):
        assert {k: v for k, v in _grader(theirs).items() if k not in ignore} == _grader(ours)
        assert {k: v for k, v in theirs["metadata"].items() if k != "nbgrader"} == \
            {k: v for k, v in ours["metadata"].items() if k != "nbgrader"}
    tests = [c for c in cells if _grader(c).get("grade")]
    assert len(tests) == 2 and all(_grader(c)["points"] == 1 for c in tests)


@pytest.fixture(scope="module")
def grades(course):
    root, release = course["root"], json.loads(course["release"].read_text())
    solutions = _solutions()
    # alice: the Colab student edition, every stub replaced by the reference solution
    alice = json.loads(STUDENT.read_text())
    for cell in alice["cells"]:
        if _grader(cell).get("solution"):
            cell["source"] = solutions[cell["id"]]
    # bob: one exercise right, the other wrong, and he edited its test cell to pass
    bob = json.loads(json.dumps(release))
    for cell in bob["cells"]:
        grade_id = _grader(cell).get("grade_id", "")
        if grade_id == "answer-nc1":
            cell["source"] = WRONG
        elif _grader(cell).get("solution"):
            cell["source"] = solutions[cell["id"]]
        elif grade_id == "test-nc1":
            cell["source"] = "pass  # nothing to see here"
    # carol: submitted the release untouched
    for student, nb in (("alice", alice), ("bob", bob), ("carol", release)):
        folder = root / "submitted" / student / "notation"
        folder.mkdir(parents=True)
        (folder / "notation.ipynb").write_text(json.dumps(nb, indent=1))
    _nbgrader("autograde", "notation", cwd=root, env=course["env"])
    _nbgrader("export", cwd=root, env=course["env"])
    with open(root / "grades.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    return rows


def test_autograde_gives_full_points_fewer_and_none(grades):
    assert sorted(grades) == ["alice", "bob", "carol"]
    score = {s: (float(r["score"]), float(r["max_score"])) for s, r in grades.items()}
    assert score == {"alice": (2.0, 2.0), "bob": (1.0, 2.0), "carol": (0.0, 2.0)}, score
    assert all(r["assignment"] == "notation" for r in grades.values())


def test_autograde_restores_a_test_cell_that_a_student_edited(course, grades):
    graded = json.loads((course["root"] / "autograded" / "bob" / "notation" / "notation.ipynb").read_text())
    release = {_grader(c).get("grade_id"): c for c in json.loads(course["release"].read_text())["cells"]}
    test = next(c for c in graded["cells"] if _grader(c).get("grade_id") == "test-nc1")
    assert _src(test) == _src(release["test-nc1"]) and "nothing to see" not in _src(test)
    errors = [o for o in test["outputs"] if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["AssertionError"]
    assert "nc1" in errors[0]["evalue"] and "failed" in errors[0]["evalue"]  # the checker's verdict
