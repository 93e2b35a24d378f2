"""Where output goes: a live notebook, or a page rendered once with no kernel behind it.

The book's build executes every chapter and publishes the outputs as static HTML. There,
interactive widgets (the epoch scrubber, tqdm's notebook progress bar) would render as empty
boxes that load their JavaScript from a CDN. The build sets ``NCEDU_STATIC_WIDGETS=1`` (its
Sphinx extension does so for every build); ncedu then draws self-contained HTML instead and
shows no progress bars.
"""

from __future__ import annotations

import os

STATIC_ENV_VAR = "NCEDU_STATIC_WIDGETS"


def static_output() -> bool:
    """True when outputs are rendered once into a static page (the book build)."""
    return os.environ.get(STATIC_ENV_VAR) == "1"
