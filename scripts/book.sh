#!/usr/bin/env bash
# Build the book from a fresh clone: sets up .venv (scripts/setup.sh), executes the chapters and
# writes the website to _build/html (open _build/html/index.html).
# With --fresh the execution cache is cleared first, as CI does; warnings are errors (-W).
# A chapter whose last execution failed is executed again, and the script fails while any chapter
# has no successful execution, so a failed build is never reported as a good one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--fresh" ]; then rm -rf _build; fi

.venv/bin/python scripts/booktools.py executed --touch
status=0
.venv/bin/jupyter-book build . -W -n --keep-going || status=$?
if ! .venv/bin/python scripts/booktools.py executed; then
  echo "The book has chapters that did not execute (see above and _build/html/reports/)." >&2
  exit 1
fi
if [ "$status" != 0 ]; then
  .venv/bin/python scripts/booktools.py stderr >&2 || true
  echo "The build failed (status $status); see the warnings above (and what cells wrote to stderr)." >&2
  exit "$status"
fi
echo "The book is at $(pwd)/_build/html/index.html"
