"""Input checks shared by the public functions.

Every public ``ncedu`` function validates its inputs here first, so that bad input
fails with a message naming the argument and the expected form (in the style of
scikit-learn), never with a silent wrong number or a traceback from inside torch.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

__all__ = [
    "as_tensor",
    "check_features",
    "raise_if_not_finite",
    "check_labels",
    "check_classifier",
    "check_num_classes",
    "compute_dtype",
]


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` as a torch tensor without copying when possible.

    Accepts torch tensors (any device, any dtype), numpy arrays and nested
    sequences. Anything else raises a ``TypeError`` naming ``name``.
    """
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype == object:
            raise TypeError(f"{name} must be a numeric array, got a numpy array of dtype object")
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, (list, tuple)):
        try:
            return torch.from_numpy(np.asarray(x))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a numeric array or tensor; could not convert it: {err}") from None
    raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The floating dtype the heavy products run in: float64 stays, everything else is float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); all entries must be finite")


def check_features(features: Any, name: str = "features", finite: bool = True) -> torch.Tensor:
    """Validate an (N, p) feature matrix: 2-D, real, non-empty and (unless ``finite=False``) finite.

    Callers that pass ``finite=False`` must check finiteness themselves, e.g. cheaply through
    sums they compute anyway, and then call :func:`raise_if_not_finite` for the message.
    """
    h = as_tensor(features, name)
    if h.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape {tuple(h.shape)}"
        )
    if h.shape[0] == 0 or h.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {tuple(h.shape)}")
    if h.is_complex() or h.dtype == torch.bool:
        raise TypeError(f"{name} must be real floating point, got dtype {h.dtype}")
    if not h.is_floating_point():
        h = h.to(torch.float64)
    if finite:
        _check_finite(h, name)
    return h


def raise_if_not_finite(x: torch.Tensor, name: str) -> None:
    """Raise the standard error if ``x`` has NaN or inf; otherwise say its values overflow a float64 sum."""
    _check_finite(x, name)
    raise ValueError(f"{name} has values so large that their sums overflow float64; rescale the features")


def check_labels(
    labels: Any,
    n_samples: int,
    num_classes: Optional[int] = None,
    name: str = "labels",
    require_all_classes: bool = True,
) -> tuple[torch.Tensor, int]:
    """Validate integer class labels in ``0..C-1`` and return them as int64 with ``C``.

    ``C`` is ``num_classes`` when given, otherwise ``max(labels) + 1``. With
    ``require_all_classes`` every class must have at least one sample (the class
    means are undefined otherwise) and there must be at least two classes.
    """
    y = as_tensor(labels, name)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {tuple(y.shape)}")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"{name} has length {y.shape[0]} but features has {n_samples} rows; they must match"
        )
    if y.is_floating_point():
        if not bool(torch.isfinite(y).all()) or not bool((y == torch.round(y)).all()):
            raise ValueError(f"{name} must be integer class indices 0..C-1, got non-integer values")
        y = y.to(torch.int64)
    elif y.dtype == torch.bool or y.is_complex():
        raise TypeError(f"{name} must be integer class indices, got dtype {y.dtype}")
    y = y.to(torch.int64)
    if n_samples == 0:
        raise ValueError(f"{name} is empty")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0:
        raise ValueError(f"{name} must be non-negative class indices 0..C-1, found {lo}")
    if num_classes is None:
        num_classes = hi + 1
    else:
        num_classes = check_num_classes(num_classes)
        if hi >= num_classes:
            raise ValueError(f"{name} contains class {hi} but num_classes={num_classes}")
    if require_all_classes:
        if num_classes < 2:
            raise ValueError(f"neural collapse needs at least 2 classes; {name} has only {num_classes}")
        counts = torch.bincount(y, minlength=num_classes)
        empty = torch.nonzero(counts == 0).flatten().tolist()
        if empty:
            raise ValueError(
                f"class(es) {empty} have no samples in {name}; every class 0..{num_classes - 1} needs at "
                "least one (relabel the classes to 0..C-1 or pass the samples of the missing classes)"
            )
    return y, num_classes


def check_num_classes(num_classes: Any, name: str = "num_classes") -> int:
    """Validate a number of classes: an integer of at least 2."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(num_classes).__name__}")
    if num_classes < 2:
        raise ValueError(f"{name} must be at least 2, got {num_classes}")
    return int(num_classes)


def check_classifier(
    W: Any, b: Any, num_classes: int, dim: int
) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Validate a last-layer classifier: ``W`` of shape (C, p) and ``b`` of shape (C,) or None."""
    if W is None:
        if b is not None:
            raise ValueError("b was given without W; pass the classifier weights W (C, p) too")
        return None, None
    Wt = as_tensor(W, "W")
    if Wt.ndim != 2 or tuple(Wt.shape) != (num_classes, dim):
        hint = ""
        if Wt.ndim == 2 and tuple(Wt.shape) == (dim, num_classes):
            hint = " (it looks transposed: pass W with one row per class, as nn.Linear.weight stores it)"
        elif Wt.ndim == 2 and Wt.shape[1] == dim and Wt.shape[0] > num_classes:
            hint = (
                f" (W has {Wt.shape[0]} classes but the labels only reach class {num_classes - 1}: "
                "every class needs samples, or pass num_classes to have the missing ones named)"
            )
        raise ValueError(
            f"W must have shape (num_classes, n_features) = ({num_classes}, {dim}), got {tuple(Wt.shape)}{hint}"
        )
    if not Wt.is_floating_point():
        Wt = Wt.to(torch.float64)
    _check_finite(Wt, "W")
    bt = None
    if b is not None:
        bt = as_tensor(b, "b")
        if tuple(bt.shape) != (num_classes,):
            raise ValueError(f"b must have shape (num_classes,) = ({num_classes},), got {tuple(bt.shape)}")
        if not bt.is_floating_point():
            bt = bt.to(torch.float64)
        _check_finite(bt, "b")
    return Wt, bt
