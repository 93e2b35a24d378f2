"""Benchmark: how long the book takes to build and each chapter to run cold, beside a busy process.

Two measurements, each optionally beside one other CPU-bound process (``--busy``, the benchmark
starts ``python -c "while True: pass"`` itself, as a laptop with a browser or a second notebook
has):

* ``--build``: the whole book from scratch (``jupyter-book build . -W``) in a temporary copy of the
  repository with an empty run cache, as a new user's first ``bash scripts/book.sh`` does; prints
  the total time (budget: 10 minutes beside one busy process) and each chapter's execution time.
* ``--chapters``: every chapter alone, as Colab runs it, in a fresh kernel with its own empty run
  cache (so it trains every run it needs); prints the chapter's time (budget: 120 s cold on
  2 CPU threads) and its slowest cell (at most half the build's 120-s cell limit).

Run:  python benchmarks/bench_book.py --build --chapters --busy
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import booktools  # noqa: E402

CHAPTER_BUDGET_S = 120.0
CELL_LIMIT_S = 120.0
BUILD_BUDGET_S = 600.0


@contextmanager
def busy_neighbour(enabled: bool):
    """One other CPU-bound process for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if enabled else None
    try:
        if proc is not None:
            time.sleep(0.5)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def copy_repository(target: Path) -> None:
    ignore = shutil.ignore_patterns("_build", ".venv", ".git", ".pytest_cache", ".hypothesis", "__pycache__")
    shutil.copytree(ROOT, target, ignore=ignore)


def build(busy: bool) -> None:
    print(f"== the whole book from scratch, empty run cache{' , beside one busy process' if busy else ''}")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "book"
        copy_repository(copy)
        env = {**os.environ, "NCEDU_CACHE": str(Path(folder) / "cache")}
        env.setdefault("OMP_NUM_THREADS", "1")
        with busy_neighbour(busy):
            t0 = time.perf_counter()
            done = subprocess.run([str(ROOT / ".venv/bin/jupyter-book"), "build", str(copy), "-W", "-n", "--keep-going"],
                                  env=env, capture_output=True, text=True)
            total = time.perf_counter() - t0
        times = re.findall(r"(\S+\.ipynb): Executed notebook in ([\d.]+) seconds", done.stdout + done.stderr)
        for path, seconds in times:
            print(f"  {Path(path).stem:20s} {float(seconds):6.1f} s")
        status = "OK" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
        print(f"  total {total:6.1f} s (budget {BUILD_BUDGET_S:.0f} s): {status}; load average {os.getloadavg()[0]:.2f}")
        if done.returncode:
            print(done.stdout[-3000:], done.stderr[-3000:])
    print()


def run_chapter(path: Path, cache: Path) -> tuple[float, float, int, bool]:
    """Execute one chapter in a fresh kernel; (total seconds, slowest cell's seconds, its index, ok)."""
    import nbclient
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    os.environ["NCEDU_CACHE"] = str(cache)
    os.environ["NCEDU_STATIC_WIDGETS"] = "1"
    client = nbclient.NotebookClient(nb, timeout=int(CELL_LIMIT_S * 3), kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    ok = True
    try:
        client.execute()
    except Exception as err:  # a failed cell: report it, go on with the next chapter
        ok = False
        print(f"    {path.stem}: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
    total = time.perf_counter() - t0
    slowest, where = 0.0, -1
    for index, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).get("execution", {})
        start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if start and end:
            from datetime import datetime

            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(start.replace("Z", "+00:00"))).total_seconds()
            if seconds > slowest:
                slowest, where = seconds, index
    return total, slowest, where, ok


def chapters(busy: bool, threads: int) -> None:
    print(f"== every chapter alone with an empty run cache ({threads} threads allowed)"
          f"{', beside one busy process' if busy else ''}")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    print(f"  {'chapter':20s} {'total':>7s} {'slowest cell':>13s}")
    rows = []
    with busy_neighbour(busy):
        for path in booktools.notebooks():
            with tempfile.TemporaryDirectory() as cache:
                total, slowest, where, ok = run_chapter(path, Path(cache))
            rows.append((path.stem, total, slowest, where, ok))
            flag = "" if ok and total <= CHAPTER_BUDGET_S and slowest <= CELL_LIMIT_S / 2 else "  <- over budget" if ok else "  <- FAILED"
            print(f"  {path.stem:20s} {total:6.1f}s {slowest:7.1f}s (cell {where}){flag}", flush=True)
    print(f"  slowest chapter {max(r[1] for r in rows):.1f} s (budget {CHAPTER_BUDGET_S:.0f} s), slowest cell "
          f"{max(r[2] for r in rows):.1f} s (half the cell limit: {CELL_LIMIT_S / 2:.0f} s); "
          f"load average {os.getloadavg()[0]:.2f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true", help="the whole book from scratch")
    parser.add_argument("--chapters", action="store_true", help="every chapter alone, cold")
    parser.add_argument("--busy", action="store_true", help="beside one other CPU-bound process")
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS for the chapters (Colab: 2 vCPUs)")
    args = parser.parse_args()
    if not (args.build or args.chapters):
        parser.error("choose --build and/or --chapters")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}\n")
    if args.build:
        build(args.busy)
    if args.chapters:
        chapters(args.busy, args.threads)


if __name__ == "__main__":
    main()
