"""ncedu: neural collapse for teaching and research.

The companion package of the Neural Collapse book (Papyan, Han & Donoho, PNAS 2020):
exact and fast metrics (:func:`measure`, :class:`NCAccumulator`, :func:`measure_model`),
the simplex ETF (:func:`simplex_etf`), and the data, models and training that the
book's chapters run.

``import ncedu`` stays light: notebook-only libraries (ipywidgets) are imported only inside the
functions that need them, and the modules that need pyplot or scipy on first use. The module
map, and what each module may import, is in ``ARCHITECTURE.md``.
"""

from . import analysis, cost, data, experiments, models, nc1_analysis, ood, probe
from ._validation import ArrayLike
from ._version import __version__
from .geometry import etf_gram, pairwise_cosines, simplex_etf
from .history import History
from .metrics import (
    METRIC_NAMES,
    NCMetrics,
    between_class_covariance,
    class_means,
    global_mean,
    measure,
    nearest_centre,
    self_duality,
    total_covariance,
    within_class_covariance,
)
from .hooks import LayerMetrics, measure_layers, measure_model
from .streaming import NCAccumulator, NearestCentreMismatch, SecondPass
from .training import train

#: Modules imported on first use: they pull in scipy, pyplot or the exercise registry.
_LAZY = ("exercises", "prose", "theory", "viz", "widgets")


def __getattr__(name: str):
    """``ncedu.exercises``, ``ncedu.prose``, ``ncedu.theory``, ``ncedu.viz`` and ``ncedu.widgets`` are
    imported on first use."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ncedu' has no attribute {name!r}")


__all__ = [
    # measuring collapse
    "measure",
    "NCMetrics",
    "METRIC_NAMES",
    "NCAccumulator",
    "SecondPass",
    "NearestCentreMismatch",
    "measure_model",
    "measure_layers",
    "LayerMetrics",
    # the statistics and the geometry behind the metrics
    "class_means",
    "global_mean",
    "within_class_covariance",
    "between_class_covariance",
    "total_covariance",
    "nearest_centre",
    "self_duality",
    "simplex_etf",
    "etf_gram",
    "pairwise_cosines",
    # training and its record
    "train",
    "History",
    # modules
    "data",
    "models",
    "experiments",
    "probe",
    "ood",
    "cost",
    "analysis",
    "nc1_analysis",
    "exercises",
    "prose",
    "theory",
    "viz",
    "widgets",
    "__version__",
    # for type hints: what the functions accept as an array (numpy, torch or a nested sequence)
    "ArrayLike",
]
