#!/usr/bin/env bash
# Run the test suite from a fresh clone: sets up .venv (scripts/setup.sh), then pytest.
# Extra arguments go to pytest, e.g.  bash scripts/test.sh -k nc1  or  bash scripts/test.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MPLBACKEND=Agg
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
