"""A fixed last layer: the classifier set to given weights and frozen before training.

:func:`fix_classifier` is re-exported by :mod:`ncedu.models` (``ncedu.models.fix_classifier``), which
every model of the book comes from; it lives here to keep that module small.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ._validation import ArrayLike

__all__ = ["fix_classifier"]


def fix_classifier(model: nn.Module, W: ArrayLike, b: Optional[ArrayLike] = None) -> nn.Module:
    r"""Set the last layer of ``model`` to the given weights and freeze it: a fixed classifier.

    ``model.classifier.weight`` becomes ``W`` and ``model.classifier.bias`` becomes ``b`` (zero
    when not given), both with ``requires_grad=False``, so that training moves only the layers
    below: the logits are :math:`W h + b` with :math:`W, b` fixed and the features :math:`h`
    learned. An optimiser built on ``model.parameters()`` skips the frozen tensors (they get no
    gradient), weight decay included. With ``W`` the rows of a simplex ETF
    (:func:`ncedu.simplex_etf`) this is the fixed ETF classifier of Yang et al. (NeurIPS 2022);
    Hoffer, Hubara & Soudry (ICLR 2018) fix the classifier in the same way.

    Parameters
    ----------
    model : torch.nn.Module
        A model with a ``classifier`` attribute that is an ``nn.Linear(p, C)`` (every model of
        this module).
    W : array_like of shape (C, p)
        The fixed weights, one row per class; finite.
    b : array_like of shape (C,), optional
        The fixed bias (default zeros).

    Returns
    -------
    torch.nn.Module
        ``model`` itself, changed in place.

    References
    ----------
    Y. Yang, S. Chen, X. Li, L. Xie, Z. Lin, D. Tao, "Inducing neural collapse in imbalanced
    learning: Do we really need a learnable classifier at the end of deep neural network?",
    NeurIPS 2022. E. Hoffer, I. Hubara, D. Soudry, "Fix your classifier: the marginal value of
    training the last weight layer", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from ncedu.models import MLP, count_parameters
    >>> model = fix_classifier(MLP(8, 3, width=4, depth=1), np.eye(3, 4))
    >>> model.classifier.weight.requires_grad, count_parameters(model, trainable_only=True)
    (False, 40)
    """
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Linear):
        raise TypeError(f"model must have a `classifier` that is an nn.Linear, got {type(head).__name__}")
    C, p = head.out_features, head.in_features
    values = {}
    for name, value, shape in (("W", W, (C, p)), ("b", b, (C,))):
        arr = torch.zeros(shape) if value is None else value if isinstance(value, torch.Tensor) else np.asarray(value)
        if (arr.dtype == torch.bool or arr.is_complex()) if isinstance(arr, torch.Tensor) else arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
        t = torch.as_tensor(arr)
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} to fit the classifier nn.Linear({p}, {C}), got {tuple(t.shape)}")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        values[name] = t.to(dtype=head.weight.dtype, device=head.weight.device)
    if head.bias is None and bool(values["b"].ne(0).any()):
        raise ValueError("b was given but the classifier has no bias")
    with torch.no_grad():
        head.weight.copy_(values["W"])
        if head.bias is not None:
            head.bias.copy_(values["b"])
    for param in head.parameters():
        param.requires_grad_(False)
    return model
