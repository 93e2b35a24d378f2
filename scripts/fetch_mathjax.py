"""Vendor MathJax 3 into book/_static/mathjax so that the website typesets math offline.

Downloads the npm package tarball from the npm registry (no node needed), checks its SHA-256,
and extracts the ``es5`` build. Does nothing if it is already there. Run by scripts/setup.sh.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "3.2.2"
URL = f"https://registry.npmjs.org/mathjax/-/mathjax-{VERSION}.tgz"
SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"
DEST = Path(__file__).resolve().parents[1] / "book" / "_static" / "mathjax"


# What the site loads: the TeX-input, HTML-output combined build and what it may load on demand
# (TeX extensions, the menu, accessibility, fonts). Skips the SVG builds and the speech engine.
KEEP = ("tex-chtml.js", "input/", "output/chtml", "ui/", "a11y/", "adaptors/", "core.js", "loader.js", "startup.js")


def _wanted(name: str) -> bool:
    prefix = "package/es5/"
    return name.startswith(prefix) and name[len(prefix):].startswith(KEEP)


def main() -> int:
    marker = DEST / f".version-{VERSION}"
    if marker.exists():
        return 0
    print(f"== fetching MathJax {VERSION} from the npm registry")
    with urllib.request.urlopen(URL, timeout=120) as response:
        payload = response.read()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != SHA256:
        print(f"MathJax tarball checksum mismatch: got {digest}, expected {SHA256}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(dir=DEST.parent if DEST.parent.exists() else None))
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and _wanted(m.name)]
            for m in members:
                target = tmp / m.name[len("package/es5/"):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(m).read())
        (tmp / marker.name).write_text(URL + "\n")
        if DEST.exists():
            shutil.rmtree(DEST)
        DEST.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(DEST)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
