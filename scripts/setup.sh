#!/usr/bin/env bash
# Set up everything the book build and the tests need, on a fresh Debian/Ubuntu machine or a laptop:
#   * system packages (apt, when run as root): the Fashion-MNIST IDX files (dataset-fashion-mnist)
#     and Chromium for the browser tests of the built site;
#   * a virtual environment in .venv with the pinned requirements.txt and ncedu installed editable.
# Re-running is cheap: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
APT_PACKAGES=(dataset-fashion-mnist chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  else
    echo "== note: not root (or no apt): skipping ${missing[*]}; tests that need them are skipped" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== pip install -r requirements.txt (pinned) and ncedu (editable)"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r requirements.txt
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

# MathJax, vendored into the site so that math is typeset without a CDN (scripts/fetch_mathjax.py).
"$VENV/bin/python" scripts/fetch_mathjax.py
