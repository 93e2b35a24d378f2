#!/usr/bin/env bash
# Build the book from a fresh clone: sets up .venv (scripts/setup.sh), executes the chapters and
# writes the website to _build/html (open _build/html/index.html).
# With --fresh the execution cache is cleared first, as CI does; warnings are errors (-W).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--fresh" ]; then rm -rf _build; fi

.venv/bin/jupyter-book build . -W -n --keep-going
echo "The book is at $(pwd)/_build/html/index.html"
