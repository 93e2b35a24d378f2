"""ncedu: neural collapse for teaching and research.

The companion package of the Neural Collapse book (Papyan, Han & Donoho, PNAS 2020):
exact and fast metrics (:func:`measure`, :class:`NCAccumulator`, :func:`measure_model`),
the simplex ETF (:func:`simplex_etf`), and the data, models and training that the
book's chapters run.

``import ncedu`` stays light: notebook-only libraries (ipywidgets) are imported only
inside the functions that need them.
"""

from . import data, exercises, experiments, models
from .geometry import etf_gram, pairwise_cosines, simplex_etf
from .metrics import (
    METRIC_NAMES,
    NCMetrics,
    between_class_covariance,
    class_means,
    global_mean,
    measure,
    total_covariance,
    within_class_covariance,
)
from .history import History
from .streaming import NCAccumulator, NearestCentreMismatch, measure_model
from .training import train

from ._version import __version__  # noqa: E402  (one place: ncedu/_version.py)


def __getattr__(name: str):
    """``ncedu.theory``, ``ncedu.viz`` and ``ncedu.widgets`` are imported on first use (scipy, pyplot)."""
    if name in ("theory", "viz", "widgets"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ncedu' has no attribute {name!r}")

__all__ = [
    "History",
    "METRIC_NAMES",
    "NCAccumulator",
    "NCMetrics",
    "NearestCentreMismatch",
    "between_class_covariance",
    "data",
    "exercises",
    "experiments",
    "models",
    "theory",
    "class_means",
    "etf_gram",
    "global_mean",
    "measure",
    "measure_model",
    "pairwise_cosines",
    "simplex_etf",
    "total_covariance",
    "train",
    "within_class_covariance",
]
