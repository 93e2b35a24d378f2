"""Small Sphinx fixes for the book's website (loaded by _config.yml as a local extension).

* sphinx-thebe registers its configuration script once per reading pass, so a page can carry
  it twice and the browser reports "Identifier 'THEBE_JS_URL' has already been declared";
  duplicate scripts are dropped from each page.
* pydata-sphinx-theme logs a console error when no default colour mode is set; the book uses
  the light mode (its figures have white backgrounds).
* Notebooks executed by the build have no live kernel behind them on the website, so
  ``ncedu.widgets.epoch_scrubber`` must return its self-contained HTML player there: the
  extension sets ``NCEDU_STATIC_WIDGETS=1`` in the build's environment, which the kernels
  that execute the chapters inherit, whatever command started the build.
* Every figure a chapter displays is checked for what makes it hard to read on the page (text
  too small once scaled to the content width, overlapping text, legends over other panels:
  ``ncedu._layout``). The kernels start with an IPython start-up file that installs the check;
  a problem is written to the cell's stderr, which the build (``stderr_output: remove-warn``
  with ``-W``) turns into an error naming the chapter.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

_STARTUP = """\
try:
    from ncedu._layout import install_display_check
except ImportError:  # a kernel without ncedu: nothing to check
    pass
else:
    install_display_check()
"""


def _kernel_startup_dir() -> str:
    """An IPYTHONDIR whose default profile installs the figure check in every kernel the build starts."""
    folder = Path(tempfile.mkdtemp(prefix="ncedu-ipython-"))
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-ncedu-figure-check.py").write_text(_STARTUP)
    atexit.register(shutil.rmtree, folder, True)
    return str(folder)


def _drop_duplicate_scripts(app, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for js in scripts:
        attributes = getattr(js, "attributes", {}) or {}
        key = (getattr(js, "filename", str(js)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    scripts[:] = unique  # in place: the builder keeps appending to this same list


def _set_default_mode(app, config) -> None:
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")  # a template variable of pydata-sphinx-theme
    config.html_context = context


def setup(app):
    os.environ["NCEDU_STATIC_WIDGETS"] = "1"
    os.environ["IPYTHONDIR"] = _kernel_startup_dir()
    app.connect("config-inited", _set_default_mode)
    # early: html-page-context stops at the first handler that returns a template name
    app.connect("html-page-context", _drop_duplicate_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
