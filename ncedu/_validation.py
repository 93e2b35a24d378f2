"""Input checks shared by the public functions.

Every public ``ncedu`` function validates its inputs here first, so that bad input
fails with a message naming the argument and the expected form (in the style of
scikit-learn), never with a silent wrong number or a traceback from inside torch.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

__all__ = [
    "ArrayLike",
    "check_int",
    "check_real",
    "check_bool",
    "check_seed",
    "as_tensor",
    "check_features",
    "raise_if_not_finite",
    "check_labels",
    "check_classifier",
    "check_num_classes",
    "compute_dtype",
]

#: What the public functions accept as an array input: a numpy array, a torch tensor (any device and
#: dtype) or a nested sequence of numbers (converted with ``numpy.asarray``). For type hints only: the
#: checks below decide what is valid (shape, dtype, finiteness) and say so by the argument's name.
ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[Any]]


def _scalar(value: Any) -> Any:
    """A 0-d numpy array or torch tensor as its Python scalar; anything else unchanged."""
    if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 0:
        return value.item()
    return value


def check_int(value: Any, name: str, *, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """An integer (Python, numpy or 0-d tensor; not a bool, not a float) within the bounds.

    A ``TypeError`` names ``name`` for the wrong type, a ``ValueError`` for a value out of range,
    as scikit-learn's ``check_scalar``.
    """
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return int(value)


def check_real(value: Any, name: str, *, minimum: Optional[float] = None, maximum: Optional[float] = None,
               include_minimum: bool = True, include_maximum: bool = True) -> float:
    """A finite real number (Python, numpy or 0-d tensor; not a bool) within the bounds.

    ``TypeError`` for the wrong type (a string such as ``"0.9"`` included), ``ValueError`` for NaN,
    an infinity or a value out of range; both name ``name``.
    """
    value = _scalar(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (not include_minimum and value == minimum)):
        raise ValueError(f"{name} must be {'at least' if include_minimum else 'greater than'} {minimum:g}, got {value:g}")
    if maximum is not None and (value > maximum or (not include_maximum and value == maximum)):
        raise ValueError(f"{name} must be {'at most' if include_maximum else 'less than'} {maximum:g}, got {value:g}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``True`` or ``False`` (numpy bools too); a ``TypeError`` naming ``name`` otherwise."""
    if isinstance(value, np.bool_):
        return bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed for numpy's and torch's generators: an integer from 0 to 2**63 - 1."""
    return check_int(seed, name, minimum=0, maximum=2**63 - 1)


def as_tensor(x: Any, name: str) -> torch.Tensor:
    """Return ``x`` as a torch tensor without copying when possible.

    Accepts torch tensors (any device, any dtype), numpy arrays and nested
    sequences. Anything else raises a ``TypeError`` naming ``name``.
    """
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "OUSV":
            raise TypeError(
                f"{name} must be a numeric array, got a numpy array of dtype {x.dtype}"
                + (" (strings: map class names to indices 0..C-1 first, e.g. np.unique(labels, return_inverse=True)[1])"
                   if x.dtype.kind in "US" else "")
            )
        return torch.from_numpy(np.ascontiguousarray(x))
    if isinstance(x, (list, tuple)):
        try:
            array = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a numeric array or tensor; could not convert it: {err}") from None
        return as_tensor(array, name)
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
    if y.dtype != torch.int64:
        y = y.to(torch.int64)
    if n_samples == 0:
        raise ValueError(f"{name} is empty")
    lo, hi = torch.aminmax(y)  # one reduction, one synchronisation
    lo, hi = int(lo), int(hi)
    if lo < 0:
        raise ValueError(f"{name} must be non-negative class indices 0..C-1, found {lo}")
    if num_classes is None:
        num_classes = hi + 1
        if num_classes > max(n_samples, 1000):  # raw class ids, not indices: say so before allocating per class
            distinct = int(torch.unique(y).numel())
            raise ValueError(
                f"{name} reach class {hi}, so {num_classes:,} classes would be inferred for {n_samples:,} samples "
                f"({distinct:,} distinct values occur): labels must be class indices 0..C-1; relabel them, e.g. "
                "np.unique(labels, return_inverse=True)[1]"
            )
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
            shown = str(empty) if len(empty) <= 10 else f"[{', '.join(map(str, empty[:10]))}, ...] ({len(empty):,} classes)"
            raise ValueError(
                f"class(es) {shown} have no samples in {name}; every class 0..{num_classes - 1} needs at "
                "least one (relabel the classes to 0..C-1 or pass the samples of the missing classes)"
            )
    return y, num_classes


def check_num_classes(num_classes: Any, name: str = "num_classes") -> int:
    """Validate a number of classes: an integer of at least 2."""
    return check_int(num_classes, name, minimum=2)


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
