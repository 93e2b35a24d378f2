r"""The unconstrained features model (UFM): last-layer features as free variables.

A network with enough capacity can produce whatever last-layer features it likes, so treat the
features themselves as parameters (Mixon, Parshall & Pi 2020; the layer-peeled model of Fang, He,
Long & Su 2021). With labels ``y_i`` in ``{0..C-1}``, ``n_c`` samples of class ``c`` and
``N = sum_c n_c``, minimise over the features ``H`` (N, p), the classifier ``W`` (C, p) and the bias
``b`` (C,)

.. math::

    f(H, W, b) = \frac1N \sum_{i=1}^N \ell(W h_i + b, y_i)
    + \frac{\lambda_W}{2}\|W\|_F^2 + \frac{\lambda_H}{2N}\|H\|_F^2 + \frac{\lambda_b}{2}\|b\|^2,

with the cross-entropy :math:`\ell(z, y) = -\log \operatorname{softmax}(z)_y` or the squared
error :math:`\ell(z, y) = \tfrac12\|z - e_y\|^2`. Equivalently the feature decay is per sample,
:math:`\frac1N\sum_i (\ell_i + \frac{\lambda_H}{2}\|h_i\|^2)`, the normalisation of the book
(chapter 9). Zhu et al. (2021) and Zhou et al. (2022) write :math:`\frac{\lambda_H}{2}\|H\|_F^2`
instead: their ``lambda_H`` is ours divided by ``N``. The squared error here is the UFM
literature's (half the squared norm, averaged over samples), not :func:`ncedu.train`'s
``loss="mse"``, which averages over the ``N C`` entries.

* :func:`ufm_objective` and :func:`ufm_gradients` evaluate ``f`` and its gradient;
* :func:`train_ufm` runs gradient descent (full batch, or SGD on seeded minibatches, with
  momentum) from a seeded random start and returns a :class:`UFMHistory`, an
  :class:`ncedu.History` whose "epochs" are iterations, drawn by :mod:`ncedu.viz` and
  :func:`ncedu.widgets.epoch_scrubber` like a network run;
* :func:`ufm_optimum` (in :mod:`ncedu.theory.ufm_optima`) gives the global minimiser in closed
  form where one is known, to test against.

Everything is float64 numpy and deterministic for a seed.

References
----------
D. G. Mixon, H. Parshall, J. Pi, "Neural collapse with unconstrained features", Sampling Theory,
Signal Processing, and Data Analysis 20 (2022); arXiv:2011.11619 (2020).

C. Fang, H. He, Q. Long, W. J. Su, "Exploring deep neural networks via layer-peeled model:
Minority collapse in imbalanced training", PNAS 118(43), 2021.

Z. Zhu, T. Ding, J. Zhou, X. Li, C. You, J. Sulam, Q. Qu, "A geometric analysis of neural collapse
with unconstrained features", NeurIPS 2021.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, Optional

import numpy as np
import torch

from .._validation import ArrayLike, as_tensor, check_bool, check_int, check_labels, check_real, check_seed
from ..history import History
from ..metrics import measure
from ._inputs import _record_steps

__all__ = ["LOSSES", "UFMHistory", "ufm_objective", "ufm_gradients", "train_ufm", "ufm_labels"]

#: The two losses of the model.
LOSSES = ("cross_entropy", "mse")


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------


def _check_loss(loss: Any) -> str:
    if not isinstance(loss, str):
        raise TypeError(f"loss must be one of {LOSSES}, got {type(loss).__name__} {loss!r}")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def _check_counts(num_classes: Any, per_class: Any) -> np.ndarray:
    """``n_c`` for every class: one positive integer for all, or one per class."""
    C = check_int(num_classes, "num_classes", minimum=2)
    if isinstance(per_class, (numbers.Integral, np.integer)) or (
            isinstance(per_class, (np.ndarray, torch.Tensor)) and per_class.ndim == 0):
        return np.full(C, check_int(per_class, "per_class", minimum=1), dtype=np.int64)
    if isinstance(per_class, (str, bytes)) or not hasattr(per_class, "__len__"):
        raise TypeError(f"per_class must be a positive integer or a sequence of {C} positive integers, "
                        f"got {type(per_class).__name__} {per_class!r}")
    values = list(np.asarray(per_class, dtype=object).reshape(-1)) if np.ndim(per_class) == 1 else None
    if values is None:
        raise ValueError(f"per_class must be a 1-D sequence of {C} counts, got shape {np.shape(per_class)}")
    if len(values) != C:
        raise ValueError(f"per_class has {len(values)} entries but num_classes is {C}: give one count per class")
    return np.array([check_int(v, f"per_class[{c}]", minimum=1) for c, v in enumerate(values)], dtype=np.int64)


def _check_decays(lambda_H: Any, lambda_W: Any, lambda_b: Any) -> tuple[float, float, float]:
    return (check_real(lambda_H, "lambda_H", minimum=0.0), check_real(lambda_W, "lambda_W", minimum=0.0),
            check_real(lambda_b, "lambda_b", minimum=0.0))


def _array(x: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A finite float64 numpy copy of ``x`` with exactly this shape."""
    t = as_tensor(x, name)
    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must be real, got dtype {t.dtype}")
    a = t.to("cpu", torch.float64).numpy().copy()
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return a


def ufm_labels(num_classes: int, per_class: Any) -> np.ndarray:
    """The labels of the model's samples, in blocks: ``n_0`` zeros, then ``n_1`` ones, and so on.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``.
    per_class : int or sequence of C ints
        ``n_c >= 1``, the samples of each class (one number for balanced classes).

    Returns
    -------
    numpy.ndarray of shape (N,), int64

    Examples
    --------
    >>> ufm_labels(3, [2, 1, 3]).tolist()
    [0, 0, 1, 2, 2, 2]
    """
    counts = _check_counts(num_classes, per_class)
    return np.repeat(np.arange(len(counts)), counts)


# ----------------------------------------------------------------------------------------------
# The objective and its gradient
# ----------------------------------------------------------------------------------------------


def _loss_and_dz(Z: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """The mean loss over the rows of ``Z`` and its gradient with respect to ``Z``."""
    n = Z.shape[0]
    rows = np.arange(n)
    if loss == "cross_entropy":
        top = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - top)
        total = E.sum(axis=1, keepdims=True)
        value = float(np.mean(np.log(total[:, 0]) + top[:, 0] - Z[rows, y]))
        G = E / total
    else:
        G = Z.copy()
        G[rows, y] -= 1.0
        value = 0.5 * float(np.mean(np.sum(G * G, axis=1)))
        return value, G / n
    G[rows, y] -= 1.0
    return value, G / n


def _penalty(H: np.ndarray, W: np.ndarray, b: np.ndarray, lam: tuple[float, float, float]) -> float:
    lambda_H, lambda_W, lambda_b = lam
    return 0.5 * (lambda_W * float(np.sum(W * W)) + lambda_H * float(np.sum(H * H)) / H.shape[0]
                  + lambda_b * float(np.sum(b * b)))


def _prepare(H: Any, W: Any, b: Any, labels: Any, loss: Any, lambdas: tuple[Any, Any, Any]):
    loss = _check_loss(loss)
    lam = _check_decays(*lambdas)
    Hm = as_tensor(H, "H")
    if Hm.ndim != 2 or Hm.shape[0] == 0 or Hm.shape[1] == 0:
        raise ValueError(f"H must be a non-empty 2-D array of shape (N, p), got shape {tuple(Hm.shape)}")
    N, p = Hm.shape
    Wt = as_tensor(W, "W")
    if Wt.ndim != 2 or Wt.shape[1] != p:
        raise ValueError(f"W must have shape (C, {p}) (one row per class, as many columns as H), got {tuple(Wt.shape)}")
    C = int(Wt.shape[0])
    if C < 2:
        raise ValueError(f"W must have at least 2 rows (classes), got {C}")
    Hm, Wm = _array(H, "H", (N, p)), _array(W, "W", (C, p))
    bm = np.zeros(C) if b is None else _array(b, "b", (C,))
    y, _ = check_labels(labels, N, C, require_all_classes=False)
    return Hm, Wm, bm, y.cpu().numpy(), loss, lam


def ufm_objective(H: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], labels: ArrayLike, *,
                  loss: str = "cross_entropy", lambda_H: float = 1e-2, lambda_W: float = 1e-2,
                  lambda_b: float = 1e-2) -> float:
    r"""The UFM objective :math:`f(H, W, b)` of the module docstring at one configuration.

    .. math::

        f = \frac1N\sum_i \ell(W h_i + b, y_i) + \frac{\lambda_W}{2}\|W\|_F^2
            + \frac{\lambda_H}{2N}\|H\|_F^2 + \frac{\lambda_b}{2}\|b\|^2 .

    Parameters
    ----------
    H : array of shape (N, p)
        The features, one row per sample.
    W : array of shape (C, p)
        The classifier, one row per class.
    b : array of shape (C,), or None
        The bias (None: no bias, i.e. zero).
    labels : array of shape (N,)
        Class indices in ``0..C-1``.
    loss : {"cross_entropy", "mse"}
        The cross-entropy, or the squared error ``(1/2) ||W h + b - e_y||^2``.
    lambda_H, lambda_W, lambda_b : float
        The weight decays (``>= 0``).

    Returns
    -------
    float

    Examples
    --------
    >>> bool(np.isclose(ufm_objective(np.zeros((4, 2)), np.zeros((2, 2)), None, [0, 0, 1, 1]), np.log(2)))
    True
    """
    Hm, Wm, bm, y, loss, lam = _prepare(H, W, b, labels, loss, (lambda_H, lambda_W, lambda_b))
    value, _ = _loss_and_dz(Hm @ Wm.T + bm, y, loss)
    return value + _penalty(Hm, Wm, bm, lam)


def ufm_gradients(H: ArrayLike, W: ArrayLike, b: Optional[ArrayLike], labels: ArrayLike, *,
                  loss: str = "cross_entropy", lambda_H: float = 1e-2, lambda_W: float = 1e-2,
                  lambda_b: float = 1e-2) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    r"""The objective and its gradients with respect to ``H``, ``W`` and ``b``.

    With the scores :math:`Z = H W^\top + \mathbf 1 b^\top` and
    :math:`G = \frac1N \partial\big(\sum_i \ell_i\big)/\partial Z` (for the cross-entropy
    :math:`G = (\operatorname{softmax}(Z) - Y)/N`, for the squared error :math:`G = (Z - Y)/N`, with
    ``Y`` the one-hot labels),

    .. math::

        \nabla_H f = G W + \frac{\lambda_H}{N} H, \qquad
        \nabla_W f = G^\top H + \lambda_W W, \qquad
        \nabla_b f = G^\top \mathbf 1 + \lambda_b b .

    Parameters
    ----------
    H, W, b, labels, loss, lambda_H, lambda_W, lambda_b :
        As in :func:`ufm_objective`. With ``b=None`` the model has no bias and the returned
        bias gradient is ``None``.

    Returns
    -------
    (float, numpy.ndarray, numpy.ndarray, numpy.ndarray or None)
        ``f``, then the gradients of shapes (N, p), (C, p) and (C,).

    Examples
    --------
    >>> f, dH, dW, db = ufm_gradients(np.eye(2), np.eye(2), np.zeros(2), [0, 1], lambda_b=0.0)
    >>> np.allclose(db, 0), dH.shape
    (True, (2, 2))
    """
    Hm, Wm, bm, y, loss, lam = _prepare(H, W, b, labels, loss, (lambda_H, lambda_W, lambda_b))
    value, G = _loss_and_dz(Hm @ Wm.T + bm, y, loss)
    lambda_H, lambda_W, lambda_b = lam
    dH = G @ Wm + (lambda_H / Hm.shape[0]) * Hm
    dW = G.T @ Hm + lambda_W * Wm
    db = None if b is None else G.sum(axis=0) + lambda_b * bm
    return value + _penalty(Hm, Wm, bm, lam), dH, dW, db


# ----------------------------------------------------------------------------------------------
# Gradient descent
# ----------------------------------------------------------------------------------------------


class UFMHistory(History):
    """A :class:`ncedu.History` of :func:`train_ufm`, with the final state kept in float64.

    Its "epochs" are iterations (``history["epoch"]``: the number of updates made); every field
    of a network's History is there (``train_loss`` is the data term of the objective, ``test_*``
    are NaN), so every plot and widget of ``ncedu`` draws it.

    Parameters
    ----------
    config, sample_labels, class_counts :
        As for :class:`ncedu.History`; :func:`train_ufm` fills them in.

    Attributes
    ----------
    objective : numpy.ndarray of shape (E,)
        The full objective :math:`f(H, W, b)` (with the weight decays) at each recorded iteration.
    features : numpy.ndarray of shape (N, p)
        ``H`` after the last iteration (the History's ``sample_features`` are a float32 sample).
    labels : numpy.ndarray of shape (N,)
        The labels of all ``N`` samples, in blocks (:func:`ufm_labels`).

    Notes
    -----
    These three are not written by :meth:`~ncedu.History.save`; a loaded file is a History with them
    empty.

    Examples
    --------
    >>> run = train_ufm(3, 2, 4, steps=50, num_records=2)
    >>> isinstance(run, History), run.features.shape, run.labels.tolist(), len(run.objective)
    (True, (12, 2), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], 2)
    """

    def __init__(self, config: Any = None, sample_labels: Any = None, class_counts: Any = None) -> None:
        super().__init__(config=config, sample_labels=sample_labels, class_counts=class_counts)
        self.objective = np.zeros(0)
        self.features: Optional[np.ndarray] = None
        self.labels: Optional[np.ndarray] = None


def _initial_state(init: Any, N: int, C: int, p: int, bias: bool, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The given start, or ``H`` with N(0, 1) entries and ``W`` with N(0, 1/p) entries (torch's generator), b = 0."""
    if init is None:
        g = torch.Generator().manual_seed(seed)
        H = torch.randn(N, p, dtype=torch.float64, generator=g).numpy()
        W = (torch.randn(C, p, dtype=torch.float64, generator=g) / p ** 0.5).numpy()
        return H, W, np.zeros(C)
    if not isinstance(init, (tuple, list)) or len(init) != 3:
        raise TypeError("init must be a tuple (H, W, b) of the starting point (b may be None), "
                        f"got {type(init).__name__}")
    H0, W0, b0 = init
    H, W = _array(H0, "init H", (N, p)), _array(W0, "init W", (C, p))
    b = np.zeros(C) if b0 is None else _array(b0, "init b", (C,))
    if not bias and np.any(b != 0):
        raise ValueError("init b must be None or zero when bias=False")
    return H, W, b


def _diverged(step: int, steps: int, value: float, lr: float, momentum: float) -> ValueError:
    tips = [f"a smaller lr (e.g. lr={lr / 10:g})"]
    if momentum > 0:
        tips.append(f"less momentum (momentum={momentum:g} multiplies the effective step by up to "
                    f"{1 / (1 - momentum):.3g})")
    tips.append("larger weight decays, which keep the norms bounded")
    return ValueError(
        f"the UFM objective became non-finite ({value}) at iteration {step} of {steps}: gradient descent "
        f"diverged with lr={lr:g}; try " + ", or ".join(tips)
    )


def train_ufm(
    num_classes: int,
    dim: int,
    per_class: Any = 20,
    *,
    loss: str = "cross_entropy",
    lambda_H: float = 1e-2,
    lambda_W: float = 1e-2,
    lambda_b: float = 1e-2,
    bias: bool = True,
    steps: int = 3000,
    lr: float = 1.0,
    momentum: float = 0.9,
    batch_size: Optional[int] = None,
    seed: int = 0,
    record_at: Optional[Sequence[int]] = None,
    num_records: int = 30,
    samples_per_class: Optional[int] = 20,
    init: Optional[tuple[ArrayLike, ArrayLike, Optional[ArrayLike]]] = None,
) -> UFMHistory:
    r"""Gradient descent on the unconstrained features model, recorded like a training run.

    Minimises :math:`f(H, W, b)` of the module docstring with the heavy-ball iteration of
    ``torch.optim.SGD`` (``v <- momentum * v + g``, ``theta <- theta - lr * v``, ``v = 0`` at the
    start) on ``H``, ``W`` and, with ``bias=True``, ``b``. With ``batch_size=None`` ``g`` is the
    exact gradient (:func:`ufm_gradients`); otherwise each iteration takes the next minibatch ``B``
    of a seeded random order of the samples (a fresh order on every pass) and ``g`` is the unbiased
    estimate in which ``(1/N) sum_i`` becomes ``(1/|B|) sum_{i in B}`` (the last batch of a pass
    holds what is left, so it may be smaller): rows of ``H`` outside ``B``
    get no gradient that iteration, and ``W`` and ``b`` their full weight decay.

    The gradient with respect to a feature carries the factor ``1/N`` of the objective, so the
    features move ``N`` times more slowly than the classifier for the same ``lr``; full-batch runs
    need an ``lr`` of order 1 and momentum (the defaults) to collapse in a few thousand iterations.

    Parameters
    ----------
    num_classes : int
        ``C >= 2``.
    dim : int
        ``p >= 1``, the feature dimension (a simplex ETF needs ``p >= C - 1``).
    per_class : int or sequence of C ints, default 20
        ``n_c >= 1``: one count for balanced classes, or one per class (imbalance). The samples are
        in blocks of classes (:func:`ufm_labels`).
    loss : {"cross_entropy", "mse"}
        The loss of the module docstring.
    lambda_H, lambda_W, lambda_b : float, default 1e-2
        Weight decays ``>= 0`` on the features (per sample), the classifier and the bias.
    bias : bool, default True
        Whether the model has a bias (False: ``b = 0`` throughout, ``lambda_b`` unused).
    steps : int, default 3000
        The number of iterations (updates).
    lr : float, default 1.0
        The step size ``> 0``. The largest stable step depends on the scale of the start: the
        squared error, features of large dimension or very few samples need a smaller one (a
        diverging run stops with a ValueError that names the iteration and what to try).
    momentum : float, default 0.9
        In ``[0, 1)``.
    batch_size : int, optional
        Minibatch size for SGD (``1..N``); None for full-batch gradient descent.
    seed : int, default 0
        Seeds the start (``H`` with standard normal entries, ``W`` with normal entries of variance
        ``1/p``, through ``torch.Generator().manual_seed(seed)``, so that it equals
        ``torch.manual_seed(seed); torch.randn(N, p); torch.randn(C, p) / p ** 0.5``; ``b = 0``) and
        the minibatch order (numpy's ``default_rng(seed)``).
    record_at : sequence of int, optional
        Iterations (``0..steps``; 0 is the start) at which to record; ``steps`` is always added.
        Default: ``num_records`` log-spaced iterations from 1 to ``steps``.
    num_records : int, default 30
        See ``record_at``.
    samples_per_class : int or None, default 20
        Features of the first ``samples_per_class`` samples of each class (all of a smaller class)
        are kept at every record as ``sample_features`` (None: all samples).
    init : tuple (H, W, b), optional
        Start here instead (shapes (N, p), (C, p), (C,); ``b`` may be None). ``seed`` still seeds
        the minibatch order.

    Returns
    -------
    UFMHistory
        At each recorded iteration: the step size, the data term of the objective (``train_loss``),
        the training accuracy of ``argmax_c (w_c . h_i + b_c)``, every metric of
        :func:`ncedu.measure` (of all ``N`` features), the class means, ``W``, ``b`` and the sampled
        features; ``class_counts``, ``sample_labels`` and the settings in ``config``; the
        objective at each record and the final features in float64.

    Raises
    ------
    ValueError
        For ``C < 2``, ``p < 1``, counts of the wrong length or below 1, negative weight decays, a
        step size that is not positive, momentum outside ``[0, 1)``, or a start of the wrong shape;
        and, naming the iteration, when the objective becomes non-finite (the step size diverges).
    TypeError
        For arguments of the wrong type.

    References
    ----------
    Mixon, Parshall & Pi (2020/2022); Fang, He, Long & Su (2021); Zhu et al. (2021), NeurIPS.

    Examples
    --------
    >>> run = train_ufm(4, 3, 10, steps=300)
    >>> int(run["epoch"][-1]), bool(run["nc1"][-1] < run["nc1"][0]), run.class_counts.tolist()
    (300, True, [10, 10, 10, 10])
    """
    counts = _check_counts(num_classes, per_class)
    C = len(counts)
    p = check_int(dim, "dim", minimum=1)
    loss = _check_loss(loss)
    lam = _check_decays(lambda_H, lambda_W, lambda_b)
    bias = check_bool(bias, "bias")
    steps = check_int(steps, "steps", minimum=1)
    lr = check_real(lr, "lr", minimum=0.0, include_minimum=False)
    momentum = check_real(momentum, "momentum", minimum=0.0, maximum=1.0, include_maximum=False)
    seed = check_seed(seed)
    y = np.repeat(np.arange(C), counts)
    N = len(y)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=N)
    if samples_per_class is not None:
        samples_per_class = check_int(samples_per_class, "samples_per_class", minimum=1)
    record = _record_steps(steps, record_at, num_records)
    H, W, b = _initial_state(init, N, C, p, bias, seed)

    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    keep = np.concatenate([s + np.arange(n if samples_per_class is None else min(n, samples_per_class))
                           for s, n in zip(starts, counts)])
    config = {"model": "ufm", "loss": loss, "num_classes": C, "dim": p, "per_class": counts.tolist(),
              "lambda_H": lam[0], "lambda_W": lam[1], "lambda_b": lam[2], "bias": bias, "steps": steps, "lr": lr,
              "momentum": momentum, "batch_size": batch_size, "seed": seed,
              "init": "random" if init is None else "given"}
    history = UFMHistory(config=config, sample_labels=y[keep], class_counts=counts)
    history.labels = y
    objective: list[float] = []

    def record_now(t: int) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            Z = H @ W.T + b
            data, _ = _loss_and_dz(Z, y, loss)
            value = data + _penalty(H, W, b, lam)
        # (features beyond float32's range would be infinite in the History's float32 sample)
        if not math.isfinite(value) or np.abs(H[keep]).max() > np.finfo(np.float32).max:
            raise _diverged(t, steps, value, lr, momentum)
        m = measure(H, y, W, b, num_classes=C)
        history.append(epoch=t, lr=lr, train_loss=data, train_acc=float(np.mean(Z.argmax(axis=1) == y)),
                       class_means=m.class_means, W=W.copy(), b=b.copy(), sample_features=H[keep],
                       **m.as_dict())
        objective.append(value)

    lambda_H_, lambda_W_, lambda_b_ = lam
    vH, vW, vb = np.zeros_like(H), np.zeros_like(W), np.zeros_like(b)
    order = np.random.default_rng(seed)
    queue = np.zeros(0, dtype=np.int64)
    j = 0
    if record[0] == 0:
        record_now(0)
        j = 1
    for t in range(1, steps + 1):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if batch_size is None:
                value, G = _loss_and_dz(H @ W.T + b, y, loss)
                gH = G @ W + (lambda_H_ / N) * H
                gW = G.T @ H + lambda_W_ * W
                gb = G.sum(axis=0) + lambda_b_ * b
            else:
                if queue.size == 0:                          # a new pass: a fresh random order
                    queue = order.permutation(N)
                batch, queue = queue[:batch_size], queue[batch_size:]
                Hb = H[batch]
                value, G = _loss_and_dz(Hb @ W.T + b, y[batch], loss)
                gH = np.zeros_like(H)
                gH[batch] = G @ W + (lambda_H_ / len(batch)) * Hb
                gW = G.T @ Hb + lambda_W_ * W
                gb = G.sum(axis=0) + lambda_b_ * b
            value += _penalty(H, W, b, lam)
            if not math.isfinite(value):
                raise _diverged(t, steps, value, lr, momentum)
            vH *= momentum
            vH += gH
            H -= lr * vH
            vW *= momentum
            vW += gW
            W -= lr * vW
            if bias:
                vb *= momentum
                vb += gb
                b -= lr * vb
        if j < len(record) and t == record[j]:
            record_now(t)
            j += 1
    history.objective = np.array(objective)
    history.features = H
    return history
