"""What :func:`ncedu.train` records beyond the paper's training-set metrics, when asked.

* **Test-set metrics** (with ``test=``): at each measured epoch the :data:`~ncedu.history.TEST_FIELDS`
  of the test features. ``test_nc1``, the ``test_nc2_*_means``, ``test_nc3``, ``test_nc1_trace_ratio``
  and ``test_cdnv`` are :func:`ncedu.measure` on the test features with the test set's *own* class
  means ``mu_c^test`` and sample mean (so ``test_nc1 = Tr(Sigma_W^test (Sigma_B^test)^+) / C``, the
  spread of the test features about their own means); ``test_nc4`` is the paper's NCC off the
  training set: the fraction of test samples ``h`` with
  ``argmax_c (w_c . h + b_c) != argmin_c ||h - mu_c^train||``, the nearest *training* class mean
  (:func:`ncedu.nearest_centre`).
* **Layers** (with ``record_layers=``): at each measured epoch the :data:`~ncedu.history.LAYER_FIELDS`
  of each named layer on the training data, from :func:`ncedu.measure_layers` (two more forward
  passes over the training set in eval mode).
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ._layers import LayerTaps, resolve_layers
from .history import LAYER_FIELDS, TEST_FIELDS
from .hooks import measure_layers
from .metrics import measure, nearest_centre

__all__ = ["check_record_layers", "check_test_classes", "record_test_metrics", "record_layer_metrics"]


@torch.no_grad()
def check_record_layers(model: nn.Module, record_layers: Any, example: torch.Tensor) -> list[str]:
    """The names of the layers to record, checked before training: each must be a module of ``model``
    that runs once in a forward pass of ``example`` (in eval mode) and returns (N, ...) features."""
    named = resolve_layers(model, record_layers, "record_layers")
    was_training = model.training
    model.eval()
    try:
        with LayerTaps(named, name="record_layers") as taps:
            model(example)
            taps.take(example.shape[0])
    finally:
        model.train(was_training)
    return [n for n, _ in named]


def check_test_classes(labels: torch.Tensor, num_classes: int) -> bool:
    """Whether every class has test samples; if not, a warning that the test-set metrics will be NaN."""
    counts = torch.bincount(labels, minlength=num_classes)
    missing = torch.nonzero(counts == 0).flatten().tolist()
    if missing:
        warnings.warn(
            f"test labels have no samples of class(es) {missing}: the test-set metrics ({', '.join(TEST_FIELDS)}) "
            "need every class and are recorded as NaN; test_loss and test_acc are recorded as usual",
            RuntimeWarning,
            stacklevel=3,
        )
    return not missing


def record_test_metrics(features: torch.Tensor, labels: torch.Tensor, W: torch.Tensor, b: Optional[torch.Tensor],
                train_means: np.ndarray, num_classes: int) -> dict[str, float]:
    """The :data:`~ncedu.history.TEST_FIELDS` of one measured epoch (module docstring)."""
    if not bool(torch.isfinite(features).all()):
        warnings.warn("the test features contain NaN or infinite values at this epoch; the test-set metrics are "
                      "recorded as NaN", RuntimeWarning, stacklevel=3)
        return {}
    m = measure(features, labels, W, b, num_classes=num_classes)
    logits = features.double() @ W.double().T
    if b is not None:
        logits = logits + b.double()
    ncc = torch.from_numpy(nearest_centre(features, train_means))
    out = {field: getattr(m, field[len("test_"):]) for field in TEST_FIELDS}
    out["test_nc4"] = float((logits.argmax(1) != ncc).double().mean())
    return out


def record_layer_metrics(model: nn.Module, head: nn.Linear, x: torch.Tensor, y: torch.Tensor, names: list[str],
                 num_classes: int, device: torch.device, batch_size: int = 2048) -> dict[str, np.ndarray]:
    """The :data:`~ncedu.history.LAYER_FIELDS` of one measured epoch: arrays of shape (L,) in the order of ``names``."""
    batches = [(x[s: s + batch_size], y[s: s + batch_size]) for s in range(0, x.shape[0], batch_size)]
    found = measure_layers(model, batches, names, classifier=head, num_classes=num_classes, device=device,
                           distributed=False)
    return {field: np.array([getattr(found[n], field[len("layer_"):]) for n in names], dtype=np.float64)
            for field in LAYER_FIELDS}
