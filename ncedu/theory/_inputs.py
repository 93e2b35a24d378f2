"""Input checks and small numerical helpers shared by the theory tools (float64 numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch

from .._validation import as_tensor, check_features, check_int
from ..history import History


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function 1 / (1 + e^{-x}), computed without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scipy_nnls():
    """scipy's non-negative least squares, imported on use (scipy is an optional dependency)."""
    try:
        from scipy.optimize import nnls
    except ImportError:
        raise ImportError("max_margin_direction needs scipy: pip install scipy") from None
    return nnls


def _matrix(x: Any, name: str) -> np.ndarray:
    """A validated (N, d) float64 numpy copy of ``x``."""
    return check_features(x, name).to("cpu", torch.float64).numpy()


def _vector(x: Any, name: str, dim: Optional[int] = None) -> np.ndarray:
    v = as_tensor(x, name).to("cpu")
    if v.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector, got shape {tuple(v.shape)}")
    if dim is not None and v.shape[0] != dim:
        raise ValueError(f"{name} has length {v.shape[0]} but must have length {dim} (the number of columns of X)")
    if v.is_complex() or v.dtype == torch.bool:
        raise TypeError(f"{name} must be a real vector, got dtype {v.dtype}")
    v = v.to(torch.float64).numpy()
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return v


def _binary_labels(y: Any, n_samples: int, name: str = "y") -> np.ndarray:
    """Binary labels in {0, 1} or {-1, +1}, returned as float64 signs in {-1, +1}.

    Both classes must occur; 0 and -1 both mean the negative class, so mixing {-1, 0, 1} is an error.
    """
    t = as_tensor(y, name).to("cpu")
    if t.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of binary labels, got shape {tuple(t.shape)}")
    if t.shape[0] != n_samples:
        raise ValueError(f"{name} has length {t.shape[0]} but X has {n_samples} rows; they must match")
    if t.is_complex():
        raise TypeError(f"{name} must be real binary labels, got dtype {t.dtype}")
    v = t.to(torch.float64).numpy()
    values = set(np.unique(v).tolist())
    if not (values <= {0.0, 1.0} or values <= {-1.0, 1.0}):
        shown = sorted(values)[:6]
        raise ValueError(
            f"{name} must hold binary labels, either in {{0, 1}} or in {{-1, +1}}; found values {shown}"
            " (these tools are for two classes)"
        )
    if len(values) < 2:
        raise ValueError(f"{name} holds only one class ({sorted(values)}); a separator needs at least 2 classes")
    return np.where(v > 0, 1.0, -1.0)


def _record_steps(steps: int, record_at: Optional[Sequence[int]], num_records: int) -> np.ndarray:
    """The sorted steps to record: ``record_at`` (each in ``0..steps``) or ``num_records`` log-spaced ones, and ``steps``."""
    if record_at is None:
        num_records = check_int(num_records, "num_records", minimum=1)
        chosen = np.geomspace(1, steps, num_records).round().astype(np.int64)
    else:
        if isinstance(record_at, (str, bytes)) or not hasattr(record_at, "__iter__"):
            raise TypeError(f"record_at must be a sequence of step numbers, got {type(record_at).__name__}")
        chosen = np.array([check_int(t, "record_at entries", minimum=0, maximum=steps) for t in record_at],
                          dtype=np.int64)
    return np.unique(np.append(chosen, steps))


def _history(history: Any) -> History:
    """``history`` itself, checked to be a History with measured epochs of sample features, W and b."""
    if not isinstance(history, History):
        raise TypeError(f"history must be an ncedu.History, got {type(history).__name__}")
    missing = [k for k in ("sample_features", "W", "b") if k not in history]
    if len(history) == 0 or missing or history.sample_labels is None:
        raise ValueError("history must have measured epochs with sample_features, sample_labels, W and b "
                         "(ncedu.train records them)")
    return history
