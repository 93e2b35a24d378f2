"""Check one chapter the way the book build and CI will: typed numbers, execution, glue, figures, time.

    python scripts/check_chapter.py book/nc1.ipynb            # warm run cache (the shared one)
    python scripts/check_chapter.py book/nc1.ipynb --cold     # empty run cache: trains every run it needs

It (1) lists run numbers typed into the prose (``scripts/prose_lint.py``); (2) executes the
notebook in a fresh kernel as the website build does (``NCEDU_STATIC_WIDGETS=1``, the figure check
of ``ncedu._layout`` installed in the kernel, one thread unless ``OMP_NUM_THREADS`` says
otherwise), writing the executed copy to ``_build/check/<name>.ipynb``; (3) checks that every glue
key the text uses is glued once; (4) reports what cells wrote to stderr (the build treats that as
an error: figure-check findings, warnings); (5) prints the total time and the slowest cell, against
the budgets (90 s warm, 120 s cold, no cell over 60 s). Exit status 1 when anything fails.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import prose_lint  # noqa: E402

STARTUP = """\
from ncedu._layout import install_display_check
install_display_check()
"""


def seconds(cell: dict) -> float:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--cold", action="store_true", help="an empty run cache (as Colab and a first build)")
    args = parser.parse_args(argv)
    import nbclient
    import nbformat

    problems = 0
    findings = prose_lint.find_typed_numbers(args.notebook)
    for f in findings:
        print("typed number:", f)
    problems += len(findings)

    with tempfile.TemporaryDirectory() as folder:
        ipython = Path(folder) / "ipython" / "profile_default" / "startup"
        ipython.mkdir(parents=True)
        (ipython / "00-figure-check.py").write_text(STARTUP)
        # the inline backend, as in the build: figures are displayed, so the figure check sees them
        env = {"NCEDU_STATIC_WIDGETS": "1", "IPYTHONDIR": str(Path(folder) / "ipython"),
               "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
        env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
        if args.cold:
            env["NCEDU_CACHE"] = str(Path(folder) / "cache")
        os.environ.update(env)
        nb = nbformat.read(str(args.notebook), as_version=4)
        client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                         resources={"metadata": {"path": str(args.notebook.resolve().parent)}})
        t0 = time.perf_counter()
        try:
            client.execute()
        except Exception as err:  # report and go on to what can still be checked
            print(f"execution failed: {type(err).__name__}: {str(err)[:2000]}")
            problems += 1
        total = time.perf_counter() - t0
    out = ROOT / "_build" / "check" / args.notebook.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))

    used, defined = prose_lint.glue_keys_used(out), prose_lint.glue_keys_defined(out)
    for key in used:
        if key not in defined:
            print(f"glue: the text uses {key!r} but no cell glues it")
            problems += 1
    for key in sorted({k for k in defined if defined.count(k) > 1}):
        print(f"glue: {key!r} is glued more than once")
        problems += 1
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                for line in output.get("text", "").splitlines():
                    if line.strip():
                        print(f"stderr of cell {index}: {line.strip()}")
                        problems += 1
    slowest = max(((seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code"), default=(0.0, -1))
    budget = 120.0 if args.cold else 90.0
    print(f"{args.notebook.name}: {total:.1f} s {'cold' if args.cold else 'warm'} (budget {budget:.0f} s), "
          f"slowest cell {slowest[1]} {slowest[0]:.1f} s (limit 60 s); {len(used)} glue keys; "
          f"executed copy: {out.relative_to(ROOT)}")
    if total > budget or slowest[0] > 60:
        problems += 1
    print("OK" if not problems else f"{problems} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
